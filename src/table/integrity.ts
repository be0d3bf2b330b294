import os from 'node:os';
import { InterruptedError } from '../errors.js';
import type { Catalog, RunRecord } from '../catalog/catalog.js';
import type { Lake, ObjectInfo } from '../store/types.js';
import { isDataKey, runIdOf } from './layout.js';
import { readTableSnapshot } from './delta-log.js';
import { isAlive } from '../lock.js';

/**
 * What a lake folder holds, read from one listing: the commit rule of the lake (ARCHITECTURE.md,
 * after Delta Lake's protocol) says a run is complete exactly when `<prefix>/_manifests/<run_id>.json`
 * exists, so a data object or quarantine file whose run has no manifest is garbage of an
 * unfinished run.
 */
export interface LakeListing {
  /** Manifest keys by run_id. */
  manifests: Map<string, ObjectInfo>;
  /** Data objects (dated `.csv` and `.parquet` keys, either layout). */
  data: ObjectInfo[];
  /** Quarantine files (`_rejects/*.jsonl`). */
  rejects: ObjectInfo[];
  /** Trail anchors (`_audit/*.json`). */
  anchors: ObjectInfo[];
  /**
   * Schemas stored beside the data (`_schemas/<sha256>.json`): content-addressed, shared by every
   * run checked against the same schema, holding no personal data; never garbage.
   */
  schemas: ObjectInfo[];
  /** Anything else under the prefix (left alone). */
  other: ObjectInfo[];
}

/**
 * List `<prefix>/` once and sort what is there by role.
 * @throws StorageError when the store cannot be listed; InterruptedError when `signal` aborts.
 */
export async function listLake(lake: Lake, prefix: string, signal?: AbortSignal): Promise<LakeListing> {
  const root = prefix + '/';
  const out: LakeListing = { manifests: new Map(), data: [], rejects: [], anchors: [], schemas: [], other: [] };
  for await (const o of lake.list(root)) {
    // A partial listing must never be acted upon (an object whose manifest was not listed yet would look like garbage).
    if (signal?.aborted) throw new InterruptedError('interrupted while listing the lake; nothing was changed');
    if (!o.key.startsWith(root)) continue;
    const rest = o.key.slice(root.length);
    const run = runIdOf(o.key);
    if (rest.startsWith('_manifests/') && o.key.endsWith('.json') && run) out.manifests.set(run, o);
    else if (rest.startsWith('_rejects/') && o.key.endsWith('.jsonl')) out.rejects.push(o);
    else if (rest.startsWith('_audit/') && o.key.endsWith('.json')) out.anchors.push(o);
    else if (rest.startsWith('_schemas/') && o.key.endsWith('.json')) out.schemas.push(o);
    else if (isDataKey(prefix, o.key)) out.data.push(o);
    else out.other.push(o);
  }
  return out;
}

/** Data objects and quarantine files whose run has no manifest: candidates for garbage. */
export function unmanifested(listing: LakeListing): ObjectInfo[] {
  return [...listing.data, ...listing.rejects].filter((o) => {
    const run = runIdOf(o.key);
    return !run || !listing.manifests.has(run);
  });
}

/**
 * Grace period before an object of unknown origin (its run is not in this machine's catalog, or
 * ran on another host) counts as garbage: 1 hour, measured from the object's last-modified time.
 * Like Delta Lake's VACUUM retention (7 days there, for readers of old versions; here only a
 * writer between its data object and its manifest needs protecting), it keeps a concurrent
 * ingest on another machine from losing its object. `WATT_RECOVERY_GRACE_MINUTES` overrides it.
 */
export const DEFAULT_GRACE_MS = 60 * 60 * 1000;

/** The grace period from `WATT_RECOVERY_GRACE_MINUTES` (minutes, >= 0), or the default. */
export function graceMs(env: Record<string, string | undefined> = process.env): number {
  const text = env.WATT_RECOVERY_GRACE_MINUTES;
  if (text === undefined || text === '') return DEFAULT_GRACE_MS;
  const minutes = Number(text);
  return Number.isFinite(minutes) && minutes >= 0 ? minutes * 60_000 : DEFAULT_GRACE_MS;
}

/** Whether a catalog run is `running` in a process that no longer exists on this host. */
export function isDeadRun(run: Pick<RunRecord, 'status' | 'pid' | 'host'>): boolean {
  return run.status === 'running' && typeof run.pid === 'number' && run.host === os.hostname() && !isAlive(run.pid);
}

/** What to do with an unmanifested object, and why (one line, no personal data). */
export interface OrphanVerdict {
  garbage: boolean;
  reason: string;
  /**
   * The catalog records the run as committed (succeeded or rejected) and the trail records no
   * deletion of its manifest: its manifest is missing, the object is committed data (never garbage).
   */
  committed?: boolean;
}

/**
 * Decide whether an object no manifest names is garbage:
 * - its run is in the catalog and ran on this host: garbage when the run ended (any status) or
 *   its process is gone; kept while that process lives;
 * - otherwise (another machine, a lost catalog, or a run before pids were recorded): garbage once
 *   older than the grace period.
 * Never garbage: an object the table log's latest version lists (`logged`, {@link committedInTableLog})
 * or of a run the catalog records as committed; both are `committed` (a lost manifest).
 */
export function orphanVerdict(o: ObjectInfo, catalog: Catalog | undefined, now: Date, grace: number, logged?: ReadonlySet<string>): OrphanVerdict {
  const runId = runIdOf(o.key);
  // The table log is the lake's own record of committed files, written by whichever machine
  // committed: an object its latest version holds is committed data, whatever this catalog knows,
  // unless this catalog's trail records the deliberate deletion of its manifest (an interrupted purge).
  if (logged?.has(o.key) && !(catalog && runId && manifestDeletionRecorded(catalog, runId))) {
    return { garbage: false, committed: true, reason: `${runId ? `run ${runId}: ` : ''}the table log's latest version lists it as committed but no manifest names it: committed data, kept (restore the manifest)` };
  }
  const run = runId ? catalog?.getRun(runId) : undefined;
  // Never delete committed data (issue 21): a run the catalog records as landed whose manifest a
  // purge did not delete (no retention.delete / recovery.delete of it in the trail) lost its manifest.
  if (run && catalog && (run.status === 'succeeded' || run.status === 'rejected') && run.command === 'ingest' && !manifestDeletionRecorded(catalog, run.run_id)) {
    return { garbage: false, committed: true, reason: `run ${run.run_id} ${run.status === 'succeeded' ? 'succeeded' : 'committed'} per the catalog but its manifest is missing: committed data, kept (restore the manifest)` };
  }
  if (run && run.host === os.hostname() && typeof run.pid === 'number') {
    if (run.status !== 'running') return { garbage: true, reason: `run ${run.run_id} ended (${run.status}) without a manifest` };
    if (!isAlive(run.pid)) return { garbage: true, reason: `run ${run.run_id} died (pid ${run.pid} is gone)` };
    return { garbage: false, reason: `run ${run.run_id} is still running (pid ${run.pid})` };
  }
  const age = now.getTime() - o.lastModified.getTime();
  if (age >= grace) return { garbage: true, reason: `no manifest, unknown run, written ${Math.round(age / 60_000)} min ago (grace ${Math.round(grace / 60_000)} min)` };
  return { garbage: false, reason: `no manifest yet, written ${Math.round(age / 60_000)} min ago: within the grace period (${Math.round(grace / 60_000)} min), maybe a writer on another machine` };
}

/** Whether the trail records the deliberate deletion of a run's manifest (retention or recovery). */
function manifestDeletionRecorded(catalog: Catalog, runId: string): boolean {
  try {
    const row = catalog.db
      .prepare(`SELECT 1 FROM audit_log WHERE action IN ('retention.delete', 'recovery.delete') AND key LIKE ? ESCAPE '\\' LIMIT 1`)
      .get(`%/\\_manifests/${runId}.json`);
    return row !== undefined;
  } catch {
    return false;
  }
}

/**
 * Lake keys of the data objects the table log's latest version holds (src/table/delta-log.ts), the
 * lake's own record of committed files: a second witness, beside the catalog, that keeps `watt verify
 * --repair` and recovery from deleting committed data whose manifest was lost, even from a WATT_HOME
 * that never saw the run. An empty set when the prefix has no log.
 * @throws StorageError (3) from the store; UsageError (2) when a commit of the log is not JSON.
 */
export async function committedInTableLog(lake: Lake, prefix: string): Promise<Set<string>> {
  const snapshot = await readTableSnapshot(lake, prefix);
  const keys = new Set<string>();
  for (const p of snapshot.files.keys()) keys.add(`${prefix}/${p.split('/').map((s) => decodeURIComponent(s)).join('/')}`);
  return keys;
}
