import path from 'node:path';
import { failpoint } from '../failpoint.js';
import { pathToFileURL } from 'node:url';
import { lstat, readdir, rm, stat } from 'node:fs/promises';
import { InterruptedError, StorageError, CancelledError } from '../errors.js';
import type { ObjectInfo } from '../store/types.js';
import { createHash } from 'node:crypto';
import type { Lake } from '../store/types.js';
import type { Catalog } from '../catalog/catalog.js';
import type { Logger } from '../log.js';
import { partitionDateOf, runIdOf, todayUtc, manifestKey } from '../table/layout.js';
import { graceMs, orphanVerdict } from '../table/integrity.js';
import { manifestObjects, readManifestJson, type Manifest } from '../table/manifest.js';
import { completeRetentionIntents } from '../table/intents.js';
import { storeVersionsNote, type StoreVersionsNote, type StoreVersionsRecord } from './store-versions.js';
import { appendTrail, trailHead, type TrailInput } from '../trail/trail.js';
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
  /**
   * Grace period (ms) for objects no manifest names, measured from their store timestamp
   * (default {@link graceMs}: `WATT_RECOVERY_GRACE_MINUTES`, else 1 hour).
   */
  graceMs?: number;
  /** Asked once with the plan before deleting (interactive use); false aborts with nothing deleted. */
  confirm?: (plan: AgePlanSummary) => Promise<boolean>;
  /**
   * Called once the manifests no longer name the expired objects and before those objects are
   * deleted: the caller commits the run's table version there (its `remove`s), so the latest
   * version never names a deleted object. Must not throw.
   */
  publish?: () => Promise<unknown>;
}

interface Doomed {
  key: string;
  bytes: number;
  /** Why it goes: its partition date, or its last-modified time. */
  basis: { partition_date: string } | { last_modified: string };
  /** Seq of the `retention.intent` of a partly expired run this object belongs to. */
  intent?: number;
}

/** One retention pass recorded in a manifest whose run is partly expired (like erasure's `erasures`). */
export interface RetentionRecord {
  /** The purge run. */
  run_id: string;
  /** ISO 8601 UTC. */
  at: string;
  /** Data objects removed from `objects` (and from the lake). */
  keys: string[];
  rows_removed: number;
  /** What the store keeps of the removed objects and what watt did about it (src/retention/store-versions.ts). */
  store_versions?: StoreVersionsNote;
}

/** A manifest as retention leaves it: ingest's, plus the retention passes applied to its run. */
export type RetainedManifest = Manifest & { retention?: RetentionRecord[] };

/** A run with some objects past the retention period and some not: its manifest is rewritten without the former. */
interface PartialRun {
  manifest: string;
  body: RetainedManifest;
  /** Expired objects the manifest names, present in the lake (deleted after the rewrite). */
  doomed: Doomed[];
  /** Every expired key the manifest names (some may already be gone). */
  removed: string[];
  rows_removed: number;
}

/**
 * Retention by age (GDPR Art. 5(1)(e), storage limitation): delete lake objects under `<prefix>/`
 * whose partition date (the day in the key, plain or hive layout) is older than `raw_data` days.
 * A run's data objects go each by its own partition date: a run whose objects are all expired
 * goes whole (manifest, objects, quarantine file); a run spanning many days (`--partition-by`)
 * with only some expired keeps its manifest, rewritten without the expired objects (rows
 * recomputed, the pass recorded in its `retention` list), then those objects are deleted.
 * A manifest without objects goes by its partition date; keys of runs with an unreadable
 * manifest by their key's day, else the catalog, else their last-modified time. Keys of runs with
 * no manifest at all (unfinished, maybe on another machine) go only once garbage by
 * {@link orphanVerdict}: by their own store timestamp past the grace period, never by the day in
 * their key. Schemas
 * (`_schemas/`) and trail anchors (`_audit/`) are never deleted (no personal data).
 * Then run logs and catalog rows older than `run_logs`/`catalog_rows` days, and model versions
 * older than `models` days.
 *
 * Manifests are deleted or rewritten before their data objects, so a manifest never names a
 * missing object, even after a crash. A rewrite is journalled first (`retention.intent`, closed by
 * `retention.rewrite` once its objects are deleted): an interrupted one is completed by the next
 * purge or `watt verify --repair` ({@link completeRetentionIntents}); objects a killed purge left
 * after deleting their manifest are garbage the next run removes.
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

  // 0. Finish the manifest rewrites an interrupted purge left.
  if (!dryRun && catalog) await completeRetentionIntents({ lake, catalog, destination: options.destination, runId, logger, now });

  // 1. Plan everything before deleting anything.
  const rawCut = cutoffs(now, periods.raw_data);
  const { manifests, others, partial } = await planLake(options, rawCut.day, rawCut.instant);
  const doomed = [...manifests, ...partial.flatMap((p) => p.doomed), ...others];
  const lakeBytes = doomed.reduce((s, d) => s + d.bytes, 0);
  const logCut = cutoffs(now, periods.run_logs);
  const logs = await planLogs(options.logDir, logCut.instant, options.currentLog);
  const catalogCut = cutoffs(now, periods.catalog_rows);
  const rows = catalog ? catalog.deleteRowsBefore(catalogCut.instant.toISOString(), runId, true) : { runs: 0, lake_objects: 0 };
  const modelCut = periods.models === undefined ? undefined : cutoffs(now, periods.models);
  const models = modelCut ? await planModels(options.home, modelCut.instant) : [];
  logger.info(
    `${dryRun ? 'would delete' : 'deleting'} ${doomed.length} objects (${lakeBytes} bytes) under ${options.destination} with partitions before ${rawCut.day}` +
      `${partial.length ? ` (${partial.length} manifest${partial.length > 1 ? 's' : ''} of runs spanning the cutoff rewritten)` : ''}, ` +
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
    if (!yes) throw new CancelledError('purge cancelled: nothing was deleted');
  }

  // 2. Lake objects: manifests of expired runs first, then the rewrites of partly expired runs'
  //    manifests, then data and quarantine files.
  const deletedKeys: string[] = [];
  let deletedBytes = 0;
  const rewritten: string[] = [];
  if (!dryRun) {
    const failures: { key: string; message: string }[] = [];
    const partialDoomed: Doomed[] = [];
    const deleteGroup = async (group: Doomed[]) => {
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
            chunk.map((d) => ({ action: 'retention.delete', lake: options.destination, key: d.key, count: 1, run_id: runId, detail: { bytes: d.bytes, ...d.basis, ...(d.intent ? { intent: d.intent } : {}) } })),
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
    };
    await deleteGroup(manifests);
    // Failpoint: manifests gone, data objects not yet (they are garbage the next run removes).
    failpoint('purge:after-manifests-deleted');
    const intents: { seq: number; p: PartialRun }[] = [];
    for (const p of partial) {
      if (options.signal?.aborted) throw new InterruptedError(`purge ${runId} interrupted after deleting ${deletedKeys.length} objects; run it again to finish`);
      const seq = await rewriteManifest({ lake, catalog, destination: options.destination, runId, logger, now, storeVersions: options.storeVersions }, p);
      rewritten.push(p.manifest);
      if (seq !== undefined) intents.push({ seq, p });
      partialDoomed.push(...p.doomed.map((d) => ({ ...d, intent: seq })));
    }
    // Failpoint: manifests rewritten without their expired objects, objects not yet deleted.
    if (partial.length) failpoint('purge:after-manifest-rewrite');
    if (doomed.length) await options.publish?.();
    await deleteGroup([...partialDoomed, ...others]);
    if (catalog) {
      const gone = new Set(deletedKeys);
      const closing = intents.filter(({ p }) => p.doomed.every((d) => gone.has(d.key)));
      appendTrail(
        catalog.db,
        closing.map(({ seq, p }) => ({ action: 'retention.rewrite', lake: options.destination, key: p.manifest, count: p.doomed.length, run_id: runId, detail: { intent: seq, rows_removed: p.rows_removed } })),
      );
    }
    if (failures.length) {
      throw new StorageError(
        `${failures.length} of ${doomed.length} objects could not be deleted from ${options.destination} (first: ${failures[0]!.key}: ${failures[0]!.message.slice(0, 160)}); ${deletedKeys.length} were deleted and recorded` +
          (rewritten.length ? `, and ${rewritten.length} manifests no longer name the expired objects` : ''),
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
    manifests_rewritten: dryRun ? partial.map((p) => p.manifest) : rewritten,
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

/**
 * List `<prefix>/`, read the manifests, and pick what goes: manifests of wholly expired runs
 * apart (deleted first), partly expired runs (manifest rewritten), and the other keys.
 */
async function planLake(options: AgePurgeOptions, cutoffDay: string, cutoffInstant: Date): Promise<{ manifests: Doomed[]; others: Doomed[]; partial: PartialRun[] }> {
  const { lake, prefix, logger, catalog } = options;
  const root = prefix + '/';
  const listed = new Map<string, ObjectInfo>();
  for await (const o of lake.list(root)) {
    if (!o.key.startsWith(root)) continue; // never outside the prefix, whatever the store returns
    if (o.key.startsWith(`${root}_audit/`)) continue; // trail anchors: accountability records, kept like the trail
    if (o.key.startsWith(`${root}_schemas/`)) continue; // schemas: content-addressed, shared by runs, no personal data
    if (o.key.startsWith(`${root}_claims/`)) continue; // landing claims: run ids and times, no personal data (src/table/claim.ts)
    if (o.key.startsWith(`${root}_delta_log/`)) continue; // the table log: paths and counts, no personal data; its removes record what retention deleted
    listed.set(o.key, o);
  }
  // Runs are judged by the objects their manifest names. Only manifests that may change are read
  // (MANIFEST_READS at once): runs with an expired dated key, or with no dated key at all; a run
  // whose data objects are all within the period keeps everything without a read.
  const datedRuns = new Map<string, boolean>(); // run -> has an expired dated key
  for (const key of listed.keys()) {
    const date = partitionDateOf(prefix, key);
    const run = runIdOf(key);
    if (date && run) datedRuns.set(run, (datedRuns.get(run) ?? false) || date < cutoffDay);
  }
  const manifestKeys = [...listed.keys()].filter((k) => {
    const run = runIdOf(k);
    return run !== undefined && k === manifestKey(prefix, run) && datedRuns.get(run) !== false;
  });
  const read = new Map<string, Partial<RetainedManifest>>();
  for (let i = 0; i < manifestKeys.length; i += MANIFEST_READS) {
    await Promise.all(
      manifestKeys.slice(i, i + MANIFEST_READS).map(async (key) => {
        const m = await readManifestJson(lake, key).catch((err: unknown) => {
          if (err instanceof StorageError) throw err;
          logger.warn(`cannot read manifest ${lake.uri(key)} (${(err as Error).message.slice(0, 120)}): judging its run's keys one by one`);
          return undefined;
        });
        if (m) read.set(key, m);
      }),
    );
  }

  const manifests: Doomed[] = [];
  const others: Doomed[] = [];
  const partial: PartialRun[] = [];
  const decided = new Set<string>();
  const doom = (key: string, basis: Doomed['basis'], into: Doomed[]) => {
    const o = listed.get(key);
    decided.add(key);
    if (o) into.push({ key, bytes: o.size, basis });
  };
  for (const [mKey, m] of read) {
    decided.add(mKey);
    const objects = manifestObjects(m).filter((o) => typeof o?.key === 'string');
    const dateOf = (o: { key: string; partition_date?: string }) => partitionDateOf(prefix, o.key) ?? (validDay(o.partition_date) ? o.partition_date! : undefined);
    const expired = objects.filter((o) => {
      const d = dateOf(o);
      return d !== undefined && d < cutoffDay;
    });
    for (const o of objects) decided.add(o.key);
    const rejects = typeof m.rejects?.key === 'string' ? m.rejects.key : undefined;
    if (rejects) decided.add(rejects);
    let whole: { partition_date: string } | { last_modified: string } | undefined;
    if (objects.length > 0 && expired.length === objects.length) {
      // The run's newest partition is past the period: everything goes.
      whole = { partition_date: objects.map((o) => dateOf(o)!).sort().at(-1)! };
    } else if (objects.length === 0) {
      // No object left (no valid row, or every object erased or expired): the run's date, else
      // the newest day of the objects it once named (erasures, retention passes), else the catalog.
      const once = [...((m as { erasures?: { key?: unknown }[] }).erasures ?? []).map((e) => e?.key), ...(m.retention ?? []).flatMap((r) => r?.keys ?? [])]
        .map((k) => (typeof k === 'string' ? partitionDateOf(prefix, k) : undefined))
        .filter((d): d is string => d !== undefined)
        .sort();
      const date = validDay(m.partition?.date) ? m.partition!.date! : (once.at(-1) ?? catalog?.partitionDateOfRun(runIdOf(mKey)!));
      const lastModified = listed.get(mKey)!.lastModified;
      if (date ? date < cutoffDay : lastModified.getTime() < cutoffInstant.getTime()) whole = date ? { partition_date: date } : { last_modified: lastModified.toISOString() };
    }
    if (whole) {
      doom(mKey, whole, manifests);
      for (const o of objects) doom(o.key, { partition_date: dateOf(o)! }, others);
      if (rejects) doom(rejects, whole, others);
      continue;
    }
    if (expired.length === 0) continue;
    const gone = new Set(expired.map((o) => o.key));
    const kept = objects.filter((o) => !gone.has(o.key));
    const rowsRemoved = expired.reduce((sum, o) => sum + (Number.isFinite(o.rows) ? o.rows : 0), 0);
    const body = { ...m, objects: kept, rows: kept.reduce((sum, o) => sum + (Number.isFinite(o.rows) ? o.rows : 0), 0) } as RetainedManifest;
    const doomed: Doomed[] = [];
    for (const o of expired) doom(o.key, { partition_date: dateOf(o)! }, doomed);
    partial.push({ manifest: mKey, body, doomed, removed: expired.map((o) => o.key), rows_removed: rowsRemoved });
  }

  // Keys no readable manifest decided: dated ones by their key's day; undated ones (rejects,
  // unreadable manifests) by the newest day of their run's dated keys, else the catalog, else
  // their last-modified time.
  const runNewest = new Map<string, string>();
  for (const key of listed.keys()) {
    const date = partitionDateOf(prefix, key);
    const run = runIdOf(key);
    if (date && run && (!runNewest.has(run) || runNewest.get(run)! < date)) runNewest.set(run, date);
  }
  // Objects of runs without a manifest (an unfinished run here or on another machine, or garbage
  // of a crashed one) are judged by their own store timestamp against the grace period, never by
  // the day in their key: a writer between its data objects and its manifest keeps them (issue 21).
  const committed = new Set<string>();
  for (const key of listed.keys()) {
    const run = runIdOf(key);
    if (run && key === manifestKey(prefix, run)) committed.add(run);
  }
  const grace = options.graceMs ?? graceMs();
  for (const o of listed.values()) {
    if (decided.has(o.key)) continue;
    const orphanRun = runIdOf(o.key);
    if (orphanRun && !committed.has(orphanRun)) {
      const verdict = orphanVerdict(o, catalog, options.now, grace);
      if (verdict.garbage) others.push({ key: o.key, bytes: o.size, basis: { last_modified: o.lastModified.toISOString() } });
      else logger.info(`kept ${lake.uri(o.key)}: ${verdict.reason}`, { step: 'plan', key: o.key });
      continue;
    }
    const dated = partitionDateOf(prefix, o.key);
    if (dated) {
      if (dated < cutoffDay) others.push({ key: o.key, bytes: o.size, basis: { partition_date: dated } });
      continue;
    }
    const run = runIdOf(o.key);
    let date = run ? runNewest.get(run) : undefined;
    if (!date && run && catalog) date = catalog.partitionDateOfRun(run);
    const expired = date ? date < cutoffDay : o.lastModified.getTime() < cutoffInstant.getTime();
    if (!expired) continue;
    const d: Doomed = { key: o.key, bytes: o.size, basis: date ? { partition_date: date } : { last_modified: o.lastModified.toISOString() } };
    (run && o.key === manifestKey(prefix, run) ? manifests : others).push(d);
  }
  logger.debug(`listed ${listed.size} objects under ${options.destination}`, { step: 'list', objects: listed.size });
  return { manifests, others, partial };
}

function validDay(text: unknown): boolean {
  return typeof text === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(text);
}

/** What {@link rewriteManifest} needs. */
interface RewriteContext {
  lake: Lake;
  catalog?: Catalog;
  destination: string;
  runId: string;
  logger: Logger;
  now: Date;
  storeVersions?: StoreVersionsRecord;
}

/**
 * Journal (`retention.intent`), then replace a partly expired run's manifest by `p.body` plus a
 * `retention` record (atomic put: readers see the old or the new manifest, never none).
 * @returns the intent's seq (undefined without a catalog).
 * @throws StorageError from the lake.
 */
async function rewriteManifest(ctx: RewriteContext, p: PartialRun): Promise<number | undefined> {
  const { lake, catalog } = ctx;
  const body: RetainedManifest = { ...p.body, retention: [...(p.body.retention ?? []), { run_id: ctx.runId, at: ctx.now.toISOString(), keys: p.removed, rows_removed: p.rows_removed, ...storeVersionsNote(ctx.storeVersions) }] };
  const text = JSON.stringify(body, null, 2) + '\n';
  const sha256 = createHash('sha256').update(text).digest('hex');
  const [intent] = catalog
    ? appendTrail(catalog.db, [
        {
          action: 'retention.intent',
          lake: ctx.destination,
          key: p.manifest,
          count: p.removed.length,
          run_id: ctx.runId,
          detail: { keys: p.removed, rows_removed: p.rows_removed, objects_left: body.objects?.length ?? 0, new_sha256: sha256 },
        },
      ])
    : [];
  await lake.put(p.manifest, text, { sha256, contentType: 'application/json' });
  catalog?.updateLakeObject(lake.provider, lake.bucket, p.manifest, { sha256, bytes: Buffer.byteLength(text), rows: body.rows, body: text });
  ctx.logger.info(`rewrote ${lake.uri(p.manifest)} without ${p.removed.length} expired objects (${p.rows_removed} rows); ${body.objects?.length ?? 0} left`, {
    step: 'rewrite',
    key: p.manifest,
    objects_removed: p.removed.length,
    rows_removed: p.rows_removed,
  });
  return intent?.seq;
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

/**
 * Model version folders `<home>/models/<version>/` whose model.json predates `cutoff`, never the
 * newest; and the same in each house's folder of the registry, `<home>/models/houses/<id>/<version>/`
 * (issue 19), never a house's newest.
 */
async function planModels(home: string, cutoff: Date): Promise<{ dir: string; bytes: number }[]> {
  const out = await planModelVersions(path.join(home, 'models'), cutoff);
  const houses = path.join(home, 'models', 'houses');
  const ids = await readdir(houses, { withFileTypes: true }).catch(() => []);
  for (const id of ids.filter((d) => d.isDirectory()).sort((a, b) => (a.name < b.name ? -1 : 1))) out.push(...(await planModelVersions(path.join(houses, id.name), cutoff)));
  return out;
}

async function planModelVersions(root: string, cutoff: Date): Promise<{ dir: string; bytes: number }[]> {
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
