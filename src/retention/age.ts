import path from 'node:path';
import { failpoint } from '../failpoint.js';
import { pathToFileURL } from 'node:url';
import { lstat, readdir, rm, stat } from 'node:fs/promises';
import { InterruptedError, StorageError } from '../errors.js';
import type { ObjectInfo } from '../lake/types.js';
import { partitionDateOf, runIdOf, todayUtc, manifestKey } from '../lake/layout.js';
import { appendTrail, trailHead, type TrailInput } from './trail.js';
import { MAX_KEYS_LISTED, type AgePurgeResult, type CategoryResult, type PurgeContext } from './types.js';

/** Keys deleted per call to `Lake.delete` (S3 DeleteObjects takes at most 1,000: S3 API reference). */
export const DELETE_CHUNK = 1000;
const DAY_MS = 86_400_000;
/** Manifests read at once when an undated key's run has no dated data object. */
const MANIFEST_READS = 8;

/** Retention periods in days per category; a category left undefined is not applied. */
export interface RetentionPeriods {
  /** Lake objects under the prefix: data, manifests, rejects. */
  raw_data: number;
  /** Run logs in the log folder. */
  run_logs: number;
  /** Catalog rows: runs and lake objects (the audit trail is kept). */
  catalog_rows: number;
  /** Model versions under `<WATT_HOME>/models/` (the newest is always kept). */
  models?: number;
  /** No store yet: reported with a note. */
  transformed_data?: number;
}

/** The plan shown to a confirmation prompt before anything is deleted. */
export interface AgePlanSummary {
  lake: string;
  objects: number;
  bytes: number;
  logs: number;
  catalog_rows: number;
  models: number;
}

export interface AgePurgeOptions extends PurgeContext {
  periods: RetentionPeriods;
  basis: 'days' | 'policy';
  /** Folder of run logs (absolute). */
  logDir: string;
  /** This run's own log file, never deleted. */
  currentLog?: string;
  /** WATT_HOME (models live in `<home>/models/`). */
  home: string;
  /** Asked once with the plan before deleting (interactive use); false aborts with nothing deleted. */
  confirm?: (plan: AgePlanSummary) => Promise<boolean>;
}

interface Doomed {
  key: string;
  bytes: number;
  /** Why it goes: its partition date, or its last-modified time. */
  basis: { partition_date: string } | { last_modified: string };
}

/**
 * Retention by age (GDPR Art. 5(1)(e), storage limitation): delete lake objects under `<prefix>/`
 * whose partition date (from the key, plain or hive layout) is older than `raw_data` days, with
 * their manifests and quarantine files; undated keys take their run's partition date (its data
 * object, else its manifest, else the catalog) or, failing that, are judged by last-modified time.
 * Then run logs and catalog rows older than `run_logs`/`catalog_rows` days, and model versions
 * older than `models` days. Manifests are deleted before their data, so a manifest never points
 * at a missing object; an interrupted purge is completed by the next one.
 *
 * Deletes go in chunks of {@link DELETE_CHUNK} keys; each chunk is recorded in the audit trail
 * (one entry per key) before the store is asked (write-ahead), refusals are recorded after it,
 * and the catalog is updated before the next chunk starts.
 *
 * @throws StorageError (exit 3) when the lake fails or some keys could not be deleted (those
 * deleted are recorded); InterruptedError (130) on SIGINT/SIGTERM between chunks.
 */
export async function purgeByAge(options: AgePurgeOptions): Promise<AgePurgeResult> {
  const { lake, logger, catalog, now, dryRun, periods, runId } = options;
  const categories: CategoryResult[] = [];

  // 1. Plan everything before deleting anything.
  const rawCut = cutoffs(now, periods.raw_data);
  const { manifests, others } = await planLake(options, rawCut.day, rawCut.instant);
  const doomed = [...manifests, ...others];
  const lakeBytes = doomed.reduce((s, d) => s + d.bytes, 0);
  const logCut = cutoffs(now, periods.run_logs);
  const logs = await planLogs(options.logDir, logCut.instant, options.currentLog);
  const catalogCut = cutoffs(now, periods.catalog_rows);
  const rows = catalog ? catalog.deleteRowsBefore(catalogCut.instant.toISOString(), runId, true) : { runs: 0, lake_objects: 0 };
  const modelCut = periods.models === undefined ? undefined : cutoffs(now, periods.models);
  const models = modelCut ? await planModels(options.home, modelCut.instant) : [];
  logger.info(
    `${dryRun ? 'would delete' : 'deleting'} ${doomed.length} objects (${lakeBytes} bytes) under ${options.destination} with partitions before ${rawCut.day}, ` +
      `${logs.length} run logs, ${rows.runs + rows.lake_objects} catalog rows${modelCut ? `, ${models.length} model versions` : ''}`,
    { step: 'plan', objects: doomed.length, bytes: lakeBytes, logs: logs.length, catalog_rows: rows, models: models.length },
  );

  if (!dryRun && options.confirm && doomed.length + logs.length + rows.runs + rows.lake_objects + models.length > 0) {
    const yes = await options.confirm({
      lake: options.destination,
      objects: doomed.length,
      bytes: lakeBytes,
      logs: logs.length,
      catalog_rows: rows.runs + rows.lake_objects,
      models: models.length,
    });
    if (!yes) throw new InterruptedError('purge cancelled: nothing was deleted');
  }

  // 2. Lake objects: manifests first, then data and quarantine files.
  const deletedKeys: string[] = [];
  let deletedBytes = 0;
  if (!dryRun) {
    const failures: { key: string; message: string }[] = [];
    for (const group of [manifests, others]) {
      for (let i = 0; i < group.length; i += DELETE_CHUNK) {
        if (options.signal?.aborted) throw new InterruptedError(`purge ${runId} interrupted after deleting ${deletedKeys.length} objects; run it again to finish`);
        const chunk = group.slice(i, i + DELETE_CHUNK);
        // Write-ahead: the trail records each deletion before the store is asked, so a crash
        // between the two can never leave a deletion unrecorded; a refused delete is recorded
        // next (`retention.delete_failed`), and an object that survives a crash is still expired
        // and is deleted (and recorded) again by the next purge.
        if (catalog) {
          appendTrail(
            catalog.db,
            chunk.map((d) => ({ action: 'retention.delete', lake: options.destination, key: d.key, count: 1, run_id: runId, detail: { bytes: d.bytes, ...d.basis } })),
          );
        }
        const result = await lake.delete(chunk.map((d) => d.key));
        const byKey = new Map(chunk.map((d) => [d.key, d]));
        for (const key of result.deleted) {
          const d = byKey.get(key);
          if (!d) continue;
          deletedKeys.push(key);
          deletedBytes += d.bytes;
        }
        if (catalog) {
          if (result.errors.length) {
            appendTrail(
              catalog.db,
              result.errors.map((e): TrailInput => ({ action: 'retention.delete_failed', lake: options.destination, key: e.key, count: 1, run_id: runId, detail: { message: e.message.slice(0, 200) } })),
            );
          }
          catalog.markLakeObjectsDeleted(lake.provider, lake.bucket, result.deleted, now.toISOString());
        }
        failures.push(...result.errors);
        logger.debug(`deleted ${result.deleted.length} objects`, { step: 'delete', deleted: result.deleted.length, errors: result.errors.length });
      }
      // Failpoint: manifests gone, data objects not yet (they are garbage the next run removes).
      if (group === manifests) failpoint('purge:after-manifests-deleted');
    }
    if (failures.length) {
      throw new StorageError(
        `${failures.length} of ${doomed.length} objects could not be deleted from ${options.destination} (first: ${failures[0]!.key}: ${failures[0]!.message.slice(0, 160)}); ${deletedKeys.length} were deleted and recorded`,
        { hint: 'check permissions on the bucket, then run watt purge again' },
      );
    }
  }
  const listed = dryRun ? doomed.map((d) => d.key) : deletedKeys;
  categories.push({
    id: 'raw_data',
    days: periods.raw_data,
    cutoff: rawCut.instant.toISOString(),
    items: listed.length,
    bytes: dryRun ? lakeBytes : deletedBytes,
    ...(listed.length <= MAX_KEYS_LISTED ? { keys: listed } : {}),
  });

  // 3. Run logs.
  const logBytes = logs.reduce((s, l) => s + l.bytes, 0);
  if (!dryRun && logs.length) {
    for (const l of logs) await rm(l.file, { force: true });
    if (catalog) appendTrail(catalog.db, [{ action: 'retention.delete_logs', lake: pathToFileURL(options.logDir).href, count: logs.length, run_id: runId, detail: { bytes: logBytes } }]);
  }
  const logNames = logs.map((l) => path.basename(l.file));
  categories.push({ id: 'run_logs', days: periods.run_logs, cutoff: logCut.instant.toISOString(), items: logs.length, bytes: logBytes, ...(logNames.length <= MAX_KEYS_LISTED ? { keys: logNames } : {}) });

  // 4. Catalog rows (the audit trail is kept: it holds no personal data).
  let rowCount = rows.runs + rows.lake_objects;
  if (!dryRun && catalog && rowCount) {
    const done = catalog.deleteRowsBefore(catalogCut.instant.toISOString(), runId, false);
    rowCount = done.runs + done.lake_objects;
    appendTrail(catalog.db, [{ action: 'retention.delete_catalog_rows', lake: pathToFileURL(catalog.file).href, count: rowCount, run_id: runId, detail: done }]);
  }
  categories.push({ id: 'catalog_rows', days: periods.catalog_rows, cutoff: catalogCut.instant.toISOString(), items: rowCount, bytes: 0 });

  // 5. Model versions (policy only).
  if (modelCut && periods.models !== undefined) {
    const modelBytes = models.reduce((s, m) => s + m.bytes, 0);
    if (!dryRun && models.length) {
      for (const m of models) await rm(m.dir, { recursive: true, force: true });
      if (catalog) appendTrail(catalog.db, [{ action: 'retention.delete_models', lake: pathToFileURL(path.join(options.home, 'models')).href, count: models.length, run_id: runId, detail: { versions: models.map((m) => path.basename(m.dir)), bytes: modelBytes } }]);
    }
    categories.push({ id: 'models', days: periods.models, cutoff: modelCut.instant.toISOString(), items: models.length, bytes: modelBytes, keys: models.map((m) => path.basename(m.dir)) });
  }
  if (periods.transformed_data !== undefined) {
    const cut = cutoffs(now, periods.transformed_data);
    categories.push({ id: 'transformed_data', days: periods.transformed_data, cutoff: cut.instant.toISOString(), items: 0, bytes: 0, note: 'watt writes no transformed data yet: nothing to purge' });
  }

  const deleted = categories.reduce((s, c) => s + c.items, 0);
  return {
    mode: 'age',
    run_id: runId,
    dry_run: dryRun,
    lake: options.destination,
    basis: options.basis,
    categories,
    deleted,
    bytes_freed: categories.reduce((s, c) => s + c.bytes, 0),
    ...(listed.length <= MAX_KEYS_LISTED ? { keys: listed } : {}),
    key_count: listed.length,
    ...(!dryRun && catalog ? { trail_head: trailHead(catalog.db) } : {}),
    log: null,
  };
}

/**
 * The instant `days` days before `now`, and the UTC day of that instant: a partition is older than
 * `days` days when its date is before that day; an undated item when it was last modified before
 * that instant.
 */
export function cutoffs(now: Date, days: number): { instant: Date; day: string } {
  const instant = new Date(now.getTime() - days * DAY_MS);
  return { instant, day: todayUtc(instant) };
}

/** List `<prefix>/` and pick the expired objects: manifests apart, to delete them first. */
async function planLake(options: AgePurgeOptions, cutoffDay: string, cutoffInstant: Date): Promise<{ manifests: Doomed[]; others: Doomed[] }> {
  const { lake, prefix, logger, catalog } = options;
  const root = prefix + '/';
  const runDates = new Map<string, string>();
  const dated: { o: ObjectInfo; date: string }[] = [];
  const undated: ObjectInfo[] = [];
  const keys = new Set<string>();
  for await (const o of lake.list(root)) {
    if (!o.key.startsWith(root)) continue; // never outside the prefix, whatever the store returns
    if (o.key.startsWith(`${root}_audit/`)) continue; // trail anchors: accountability records, kept like the trail
    if (o.key.startsWith(`${root}_schemas/`)) continue; // schemas beside the data: shared by runs, no personal data (schema-store.ts)
    keys.add(o.key);
    const date = partitionDateOf(prefix, o.key);
    if (date) {
      dated.push({ o, date });
      const run = runIdOf(o.key);
      if (run) runDates.set(run, runDates.has(run) && runDates.get(run)! < date ? runDates.get(run)! : date);
    } else undated.push(o);
  }
  // Undated keys (manifests, rejects...) take their run's partition date when it can be found.
  const needManifest = [...new Set(undated.map((o) => runIdOf(o.key)).filter((r): r is string => !!r && !runDates.has(r) && keys.has(manifestKey(prefix, r))))];
  for (let i = 0; i < needManifest.length; i += MANIFEST_READS) {
    await Promise.all(
      needManifest.slice(i, i + MANIFEST_READS).map(async (run) => {
        const date = await manifestPartitionDate(options, manifestKey(prefix, run));
        if (date) runDates.set(run, date);
      }),
    );
  }
  const manifests: Doomed[] = [];
  const others: Doomed[] = [];
  for (const { o, date } of dated) if (date < cutoffDay) others.push({ key: o.key, bytes: o.size, basis: { partition_date: date } });
  for (const o of undated) {
    const run = runIdOf(o.key);
    let date = run ? runDates.get(run) : undefined;
    if (!date && run && catalog) date = catalog.partitionDateOfRun(run);
    const expired = date ? date < cutoffDay : o.lastModified.getTime() < cutoffInstant.getTime();
    if (!expired) continue;
    const d: Doomed = { key: o.key, bytes: o.size, basis: date ? { partition_date: date } : { last_modified: o.lastModified.toISOString() } };
    (run && o.key === manifestKey(prefix, run) ? manifests : others).push(d);
  }
  logger.debug(`listed ${keys.size} objects under ${options.destination}`, { step: 'list', objects: keys.size });
  return { manifests, others };
}

async function manifestPartitionDate(options: AgePurgeOptions, key: string): Promise<string | undefined> {
  try {
    const chunks: Buffer[] = [];
    for await (const c of await options.lake.get(key)) chunks.push(Buffer.from(c as Buffer));
    const date = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { partition?: { date?: unknown } }).partition?.date;
    return typeof date === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(date) ? date : undefined;
  } catch (err) {
    options.logger.warn(`cannot read manifest ${options.lake.uri(key)} (${(err as Error).message.slice(0, 120)}): judging its run by last-modified time`);
    return undefined;
  }
}

/** Run logs (`*.log`, `*.log.N`, regular files directly in `dir`) last modified before `cutoff`. */
async function planLogs(dir: string, cutoff: Date, current?: string): Promise<{ file: string; bytes: number }[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new StorageError(`cannot list run logs in ${dir}: ${(err as NodeJS.ErrnoException).code}`);
  }
  const out: { file: string; bytes: number }[] = [];
  for (const e of entries) {
    if (!e.isFile() || !/\.log(\.\d+)?$/.test(e.name)) continue;
    const file = path.join(dir, e.name);
    if (current && path.resolve(current) === file) continue;
    const s = await lstat(file);
    if (s.mtime.getTime() < cutoff.getTime()) out.push({ file, bytes: s.size });
  }
  return out.sort((a, b) => (a.file < b.file ? -1 : 1));
}

/** Model version folders `<home>/models/<version>/` whose model.json predates `cutoff`, never the newest. */
async function planModels(home: string, cutoff: Date): Promise<{ dir: string; bytes: number }[]> {
  const root = path.join(home, 'models');
  let entries;
  try {
    entries = await readdir(root, { withFileTypes: true });
  } catch {
    return [];
  }
  const versions: { dir: string; mtime: number; bytes: number }[] = [];
  for (const e of entries.filter((d) => d.isDirectory()).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const s = await stat(path.join(root, e.name, 'model.json')).catch(() => undefined);
    if (s?.isFile()) versions.push({ dir: path.join(root, e.name), mtime: s.mtime.getTime(), bytes: s.size });
  }
  versions.pop(); // the newest version (names sort by time) is the one watt predict uses: keep it
  return versions.filter((v) => v.mtime < cutoff.getTime()).map(({ dir, bytes }) => ({ dir, bytes }));
}
