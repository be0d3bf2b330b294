import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import type { LakeConfig } from '../config.js';
import { WattError } from '../errors.js';
import type { Catalog } from '../catalog/catalog.js';
import type { Logger } from '../log.js';
import { appendTrail } from '../trail/trail.js';
import { completeRetentionIntents } from './intents.js';
import { destinationUri, openLake, readObject, type Lake } from '../store/index.js';
import { lakeLocation } from '../lock.js';
import { committedInTableLog, DEFAULT_GRACE_MS, isDeadRun, listLake, orphanVerdict, unmanifested } from './integrity.js';

/** One object recovery deleted or left, with why. */
export interface RecoveredObject {
  key: string;
  reason: string;
}

/** What {@link recoverLake} did. */
export interface RecoveryResult {
  /** Catalog runs of this lake left `running` by a dead process, now marked failed. */
  runs_failed: string[];
  /** The same, but their manifest is in the lake: complete, now recorded as such. */
  runs_completed: string[];
  /** Objects of unfinished runs deleted from the lake (a trail entry each). */
  deleted: RecoveredObject[];
  /** Unmanifested objects left in place (a live run, or within the grace period). */
  kept: RecoveredObject[];
  /** Stale spool files removed from `<WATT_HOME>/tmp`. */
  spool_files: number;
  /** Set when recovery could not finish (e.g. the lake is unreachable); the caller carries on. */
  error?: string;
  /** Exit code of that error (2: refused, e.g. a symlink out of the lake; 3: storage). */
  error_exit_code?: number;
  /** `when-due` and nothing due: the lake was not listed. */
  skipped_scan?: boolean;
  /** Interrupted manifest rewrites of a purge by age completed (their expired objects deleted). */
  retention_intents?: number;
}

export interface RecoverOptions {
  /** The lake to clean: an open lake, or its configuration (opened and closed here). */
  lake: Lake | LakeConfig;
  prefix: string;
  /** URI of the lake folder (`destinationUri`), as runs record it; derived from the lake when absent. */
  destination?: string;
  /** WATT_HOME: the spool folder `tmp/` is cleaned. */
  home: string;
  /** Without a catalog (verify from an empty WATT_HOME) nothing is deleted: no trail to record it. */
  catalog?: Catalog;
  logger: Logger;
  /** The run doing the recovery (named in trail entries). */
  runId: string;
  /** Grace period for objects of unknown origin, ms (default {@link DEFAULT_GRACE_MS}). */
  graceMs?: number;
  now?: Date;
  signal?: AbortSignal;
  /**
   * `always` (purge, verify --repair): list the lake every time. `when-due` (ingest, default):
   * list it only when there is a reason: no scan of this lake from this WATT_HOME within the grace
   * period, a dead run of this lake, or a failed run that wrote objects since the last scan. An
   * orphan of unknown origin only becomes deletable after the grace period anyway, so it is
   * removed within two grace periods at worst; the listing of a large lake is not paid per ingest.
   */
  scan?: 'always' | 'when-due';
}

/** Unmanifested objects left in place that are named one by one in the debug log. */
const KEPT_LOGGED = 20;

/** Spool files are named after their run: `<run_id>.csv`, `<run_id>.rejects.jsonl`, `<run_id>-erasure.csv`... */
const SPOOL_RUN = /^(\d{8}T\d{6}Z-(?:[a-z0-9]{10}|[a-z0-9]{6}))[.-]/;

/**
 * Finish the cleanup that a killed run, or a run whose store failed, left behind. Called by every
 * verb that opens a lake (ingest, purge, verify --repair) once it holds its lock:
 *
 * 1. catalog runs left `running` by a process that no longer exists on this host are marked
 *    `failed`;
 * 2. stale spool files in `<WATT_HOME>/tmp` (pseudonymised rows that erasure and retention would
 *    never see) are removed when their run is over or dead, or, of unknown run, older than the grace
 *    period;
 * 3. manifest rewrites of an interrupted purge by age are completed ({@link completeRetentionIntents});
 *    then data objects (CSV or Parquet, any number per run) and quarantine files under `<prefix>/`
 *    whose run has no manifest are deleted, a
 *    `recovery.delete` trail entry each written before the delete, when {@link orphanVerdict}
 *    says they are garbage (dead or ended run; unknown run past the grace period);
 * 4. the local lake's temp files of dead processes are removed.
 *
 * Never throws: a failure is logged as a warning and returned in `error`, so that the verb itself
 * reports the storage problem it meets.
 */
export async function recoverLake(options: RecoverOptions): Promise<RecoveryResult> {
  const { logger, catalog, prefix } = options;
  const now = options.now ?? new Date();
  const grace = options.graceMs ?? DEFAULT_GRACE_MS;
  const result: RecoveryResult = { runs_failed: [], runs_completed: [], deleted: [], kept: [], spool_files: 0 };
  let lake: Lake | undefined;
  const opened = !('put' in options.lake);
  try {
    result.spool_files = await cleanSpool(options, now, grace);
    const known = options.destination ?? (opened ? destinationUri(options.lake as LakeConfig) : undefined);
    if (result.spool_files && catalog && known) {
      appendTrail(catalog.db, [{ action: 'recovery.delete_spool', lake: known, count: result.spool_files, run_id: options.runId, detail: { folder: 'WATT_HOME/tmp' } }]);
    }
    const scanFile = known ? scanRecord(options.home, known) : undefined;
    if (options.scan !== 'always' && scanFile && !(await scanDue(scanFile, catalog, options.runId, now, grace))) {
      result.skipped_scan = true;
      logger.debug('lake listed for recovery less than a grace period ago and no dead or failed run since: not listed again', { step: 'recover' });
      return result;
    }
    lake = opened ? await openLake(options.lake as LakeConfig) : (options.lake as Lake);
    const destination = known ?? lake.uri(prefix);
    // A purge by age killed between a manifest's rewrite and the deletion of the objects it no
    // longer names: finish it (the objects are past retention, and no manifest names them).
    if (catalog) result.retention_intents = await completeRetentionIntents({ lake, catalog, destination, runId: options.runId, logger, now });
    const listing = await listLake(lake, prefix, options.signal);
    if (catalog) {
      const here = lakeLocation(destination);
      for (const run of catalog.runningRuns()) {
        if (run.run_id === options.runId || !isDeadRun(run) || !run.destination || lakeLocation(run.destination) !== here) continue;
        const manifest = listing.manifests.get(run.run_id);
        if (manifest) {
          // Killed after its manifest: the run is complete (the commit rule), only the catalog lagged.
          const m = await readManifest(lake, manifest.key);
          catalog.finishRun(run.run_id, { status: m.rejected ? 'rejected' : 'succeeded', rows: m.rows, rejected: m.rejected, manifest_uri: lake.uri(manifest.key), error: `completed in the lake; the process (pid ${run.pid}) died before recording it` });
          result.runs_completed.push(run.run_id);
          logger.warn(`run ${run.run_id} died after writing its manifest: recorded as complete`, { step: 'recover', dead_run: run.run_id });
          continue;
        }
        catalog.finishRun(run.run_id, { status: 'failed', error: `the process (pid ${run.pid}) ended without finishing the run; cleaned up by run ${options.runId}` });
        result.runs_failed.push(run.run_id);
        logger.warn(`run ${run.run_id} was left running by a process that is gone (pid ${run.pid}): marked failed`, { step: 'recover', dead_run: run.run_id });
      }
    }
    const orphans = unmanifested(listing);
    // Committed files of the table log are never garbage, even when their manifest is lost.
    const logged = orphans.length ? await committedInTableLog(lake, prefix) : undefined;
    for (const o of orphans) {
      if (options.signal?.aborted) break; // stopping between deletes is safe: the next run goes on
      const verdict = orphanVerdict(o, catalog, now, grace, logged);
      const died = result.runs_failed.find((r) => o.key.includes(r));
      if (died) verdict.reason = `run ${died} died (its process is gone) before its manifest`;
      if (!verdict.garbage || !catalog) {
        result.kept.push({ key: o.key, reason: catalog ? verdict.reason : 'no catalog to record a deletion' });
        continue;
      }
      appendTrail(catalog.db, [{ action: 'recovery.delete', lake: destination, key: o.key, count: 1, run_id: options.runId, detail: { reason: verdict.reason, bytes: o.size } }]);
      const del = await lake.delete([o.key]);
      if (del.errors.length) {
        appendTrail(catalog.db, [{ action: 'recovery.delete_failed', lake: destination, key: o.key, count: 0, run_id: options.runId, detail: { message: del.errors[0]!.message.slice(0, 200) } }]);
        result.kept.push({ key: o.key, reason: `delete refused: ${del.errors[0]!.message.slice(0, 120)}` });
        continue;
      }
      catalog.markLakeObjectsDeleted(lake.provider, lake.bucket, [o.key], now.toISOString());
      result.deleted.push({ key: o.key, reason: verdict.reason });
      logger.warn(`removed ${lake.uri(o.key)}: ${verdict.reason}`, { step: 'recover', key: o.key });
    }
    for (const k of result.kept.slice(0, KEPT_LOGGED)) logger.debug(`left ${k.key} without a manifest: ${k.reason}`, { step: 'recover', key: k.key });
    if (result.kept.length > KEPT_LOGGED) logger.debug(`left ${result.kept.length - KEPT_LOGGED} more objects without a manifest`, { step: 'recover', kept: result.kept.length });
    if (lake.provider === 'local' && 'removeStaleTemp' in lake) await (lake as { removeStaleTemp(graceMs: number): Promise<number> }).removeStaleTemp(grace);
    if (scanFile && !options.signal?.aborted) await writeScanRecord(scanFile, now);
  } catch (err) {
    result.error = (err as Error).message.split('\n')[0]!.slice(0, 200);
    result.error_exit_code = err instanceof WattError ? err.exitCode : 3;
    logger.warn(`could not finish the recovery of earlier runs: ${result.error}`, { step: 'recover' });
  } finally {
    if (opened) await lake?.close().catch(() => undefined);
  }
  return result;
}

/** Remove spool files of runs that are over or dead; of unknown runs, those older than the grace period. */
async function cleanSpool(options: RecoverOptions, now: Date, grace: number): Promise<number> {
  const dir = path.join(options.home, 'tmp');
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return 0;
  }
  let removed = 0;
  for (const name of names) {
    const runId = SPOOL_RUN.exec(name)?.[1];
    if (runId === options.runId) continue;
    const run = runId ? options.catalog?.getRun(runId) : undefined;
    let stale: boolean;
    if (run && run.host === os.hostname() && typeof run.pid === 'number') stale = run.status !== 'running' || isDeadRun(run);
    else {
      const s = await stat(path.join(dir, name)).catch(() => undefined);
      stale = !!s && (s.isFile() || s.isDirectory()) && now.getTime() - s.mtime.getTime() >= grace;
    }
    if (!stale) continue;
    // a folder: the spool of stdin (`<run_id>.stdin/stdin`, src/ingest/sources.ts)
    await rm(path.join(dir, name), { force: true, recursive: true });
    removed++;
  }
  if (removed) options.logger.warn(`removed ${removed} stale spool file${removed > 1 ? 's' : ''} of earlier runs from ${dir}`, { step: 'recover', spool_files: removed });
  return removed;
}

async function readManifest(lake: Lake, key: string): Promise<{ rows: number | null; rejected: number | null }> {
  try {
    const m = JSON.parse((await readObject(lake, key)).toString('utf8')) as { rows?: unknown; rejected?: unknown };
    return { rows: typeof m.rows === 'number' ? m.rows : null, rejected: typeof m.rejected === 'number' ? m.rejected : null };
  } catch {
    return { rows: null, rejected: null };
  }
}

/** `<home>/recovery/<hash of the lake location>.json`: when this WATT_HOME last listed that lake for recovery. */
function scanRecord(home: string, destination: string): string {
  return path.join(home, 'recovery', `${createHash('sha256').update(lakeLocation(destination)).digest('hex').slice(0, 24)}.json`);
}

/** Whether a `when-due` recovery must list the lake (see {@link RecoverOptions.scan}). */
async function scanDue(file: string, catalog: Catalog | undefined, runId: string, now: Date, grace: number): Promise<boolean> {
  let last: number;
  try {
    last = Date.parse((JSON.parse(await readFile(file, 'utf8')) as { last_scan: string }).last_scan);
  } catch {
    return true;
  }
  if (!Number.isFinite(last) || now.getTime() - last >= grace) return true;
  if (!catalog) return true;
  if (catalog.runningRuns().some((r) => r.run_id !== runId && isDeadRun(r))) return true;
  return catalog.failedRunsWithObjectsSince(new Date(last).toISOString());
}

async function writeScanRecord(file: string, now: Date): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify({ last_scan: now.toISOString() }) + '\n', { mode: 0o600 });
  await rename(tmp, file);
}
