import type { Catalog } from '../catalog/catalog.js';
import { readObject } from '../store/index.js';
import { isDataKey } from './layout.js';
import type { Lake, ObjectInfo } from '../store/types.js';
import type { Logger } from '../log.js';
import { appendTrail } from '../trail/trail.js';
import { InterruptedError, UsageError } from '../errors.js';
import { namedBy } from './committed.js';
import { deltaPath, readTableSnapshot } from './delta-log.js';

/**
 * The vacuum of erased objects (GDPR Art. 17 with committed snapshots, issue 23). An erasure never
 * changes a data object in place: it writes the object's copy without the data subject's rows
 * under a new key, the run's manifest names the new key and records the old one in `erasures`
 * (`key`, `replaced_by`: the new key, or null when no row was left), and the erasure's table
 * version removes the old path. The old object then still holds the subject's rows, for readers
 * that opened the previous table version a moment earlier (a Spark job mid-query); it is deleted
 * here once the **erasure grace** has passed since the erasure (`erasures[].at`):
 * `WATT_ERASURE_GRACE_MINUTES`, default {@link DEFAULT_ERASURE_GRACE_MINUTES} minutes, 0 to
 * delete at the end of the erasure itself. "Without undue delay" (Art. 17(1)): minutes, not the
 * 7 days of Delta Lake's own VACUUM default, which protects long time travel that an erasure must
 * not keep.
 *
 * Run by every `watt purge` (erasure or retention, at its end, after its table version), by
 * `watt vacuum` (cron it every few minutes if erasures must be complete within the grace), and
 * `watt verify --repair` deletes such objects past the grace as well. An object is deleted only
 * when no manifest names it and the latest table version does not hold its path (a version not
 * yet published: the next run publishes it first); an `erasure.vacuum` trail entry is written
 * before each delete. Without a catalog nothing is deleted (no trail to record it).
 */

/** Default erasure grace, minutes: long enough for a query on the previous version to finish, short for Art. 17. */
export const DEFAULT_ERASURE_GRACE_MINUTES = 10;

/**
 * The erasure grace from `WATT_ERASURE_GRACE_MINUTES` (minutes, 0 to 1440; unset or empty: the
 * default), in ms.
 * @throws UsageError (2) for any other value.
 */
export function erasureGraceMs(env: Record<string, string | undefined> = process.env): number {
  const text = env.WATT_ERASURE_GRACE_MINUTES;
  if (text === undefined || text.trim() === '') return DEFAULT_ERASURE_GRACE_MINUTES * 60_000;
  const minutes = Number(text);
  if (!/^\s*\d+(\.\d+)?\s*$/.test(text) || !(minutes >= 0 && minutes <= 1440)) {
    throw new UsageError(`invalid WATT_ERASURE_GRACE_MINUTES "${text.slice(0, 20)}": expected minutes from 0 to 1440`, { hint: `unset it for the default (${DEFAULT_ERASURE_GRACE_MINUTES} minutes)` });
  }
  return minutes * 60_000;
}

/** An old object an erasure replaced, still in the store. */
export interface ReplacedObject {
  key: string;
  /** run_id of the erasure that replaced it. */
  erased_by: string;
  /** ISO 8601 UTC: when the grace ends (the object may be deleted from then on). */
  vacuum_after: string;
  /** Key of the copy without the subject's rows (null: no row was left). */
  replaced_by: string | null;
}

/** What {@link vacuumErased} did. */
export interface VacuumResult {
  grace_minutes: number;
  /** Old objects deleted (a trail entry each). */
  deleted: string[];
  /** Old objects left: within the grace, still in the latest table version, or no catalog. */
  pending: (ReplacedObject & { reason: string })[];
  /** Deletes the store refused (the object is still there; the next vacuum tries again). */
  failed: { key: string; message: string }[];
}

export interface VacuumOptions {
  lake: Lake;
  prefix: string;
  /** URI of the lake folder, as the trail records it. */
  destination: string;
  /** Without one nothing is deleted. */
  catalog?: Catalog;
  logger: Logger;
  /** The run vacuuming (named in the trail). */
  runId: string;
  now: Date;
  /** Erasure grace, ms ({@link erasureGraceMs}). */
  graceMs: number;
  /** List what would go, delete nothing. */
  dryRun?: boolean;
  signal?: AbortSignal;
}

/** Manifests read at once. */
const READS = 8;

/**
 * The old objects that erasures replaced and that are still in the store, read from one listing
 * of `<prefix>/` and the manifests' `erasures` (any machine's erasures: the lake is the truth).
 * @throws StorageError (3) when the store cannot be listed or read.
 */
export async function replacedObjects(lake: Lake, prefix: string, graceMs: number): Promise<{ replaced: ReplacedObject[]; present: Map<string, ObjectInfo> }> {
  const present = new Map<string, ObjectInfo>();
  const manifests: string[] = [];
  for await (const o of lake.list(prefix + '/')) {
    if (isDataKey(prefix, o.key)) present.set(o.key, o);
    else if (o.key.startsWith(`${prefix}/_manifests/`) && o.key.endsWith('.json') && !o.key.slice(prefix.length + 12).includes('/')) manifests.push(o.key);
  }
  const named = new Set<string>();
  const found = new Map<string, ReplacedObject>();
  for (let i = 0; i < manifests.length; i += READS) {
    const texts = await Promise.all(manifests.slice(i, i + READS).map(async (k) => (await readObject(lake, k)).toString('utf8')));
    for (const text of texts) {
      for (const k of namedBy(text) ?? []) named.add(k);
      let m: { erasures?: unknown };
      try {
        m = JSON.parse(text) as { erasures?: unknown };
      } catch {
        continue;
      }
      if (!Array.isArray(m?.erasures)) continue;
      for (const e of m.erasures as Record<string, unknown>[]) {
        // Only erasures that replace (they record `replaced_by`); older ones changed objects in place.
        if (typeof e?.key !== 'string' || !('replaced_by' in e) || typeof e.at !== 'string' || !present.has(e.key)) continue;
        const after = new Date(Date.parse(e.at) + graceMs).toISOString();
        const had = found.get(e.key);
        if (!had || had.vacuum_after < after) found.set(e.key, { key: e.key, erased_by: String(e.run_id ?? ''), vacuum_after: after, replaced_by: typeof e.replaced_by === 'string' ? e.replaced_by : null });
      }
    }
  }
  return { replaced: [...found.values()].filter((r) => !named.has(r.key)).sort((a, b) => (a.key < b.key ? -1 : 1)), present };
}

/**
 * Delete the old objects of erasures whose grace has passed (see the module's description).
 * @throws StorageError (3) when the store cannot be listed or read; InterruptedError (130) between deletes.
 */
export async function vacuumErased(options: VacuumOptions): Promise<VacuumResult> {
  const { lake, prefix, catalog, logger, now } = options;
  const result: VacuumResult = { grace_minutes: options.graceMs / 60_000, deleted: [], pending: [], failed: [] };
  const { replaced, present } = await replacedObjects(lake, prefix, options.graceMs);
  if (!replaced.length) return result;
  // Never delete a path the latest table version still holds (its DELETE version not published yet).
  const snapshot = await readTableSnapshot(lake, prefix);
  for (const r of replaced) {
    if (options.signal?.aborted) throw new InterruptedError(`vacuum interrupted after deleting ${result.deleted.length} objects; run it again to finish`);
    let reason: string | undefined;
    if (snapshot.files.has(deltaPath(prefix, r.key))) reason = 'the latest table version still names it: the next purge publishes its removal first';
    else if (now.toISOString() < r.vacuum_after) reason = `within the erasure grace (until ${r.vacuum_after})`;
    else if (!catalog) reason = 'no catalog to record the deletion';
    else if (options.dryRun) reason = 'dry run';
    if (reason) {
      result.pending.push({ ...r, reason });
      continue;
    }
    appendTrail(catalog!.db, [{ action: 'erasure.vacuum', lake: options.destination, key: r.key, count: 1, run_id: options.runId, detail: { erased_by: r.erased_by, replaced_by: r.replaced_by, bytes: present.get(r.key)?.size ?? null } }]);
    const del = await lake.delete([r.key]);
    if (del.errors.length) {
      appendTrail(catalog!.db, [{ action: 'recovery.delete_failed', lake: options.destination, key: r.key, count: 0, run_id: options.runId, detail: { message: del.errors[0]!.message.slice(0, 200) } }]);
      result.failed.push({ key: r.key, message: del.errors[0]!.message.slice(0, 200) });
      continue;
    }
    catalog!.markLakeObjectsDeleted(lake.provider, lake.bucket, [r.key], now.toISOString());
    result.deleted.push(r.key);
  }
  if (result.deleted.length) logger.info(`vacuum: deleted ${result.deleted.length} object${result.deleted.length > 1 ? 's' : ''} replaced by erasures`, { step: 'vacuum', deleted: result.deleted.length });
  if (result.pending.length) {
    logger.info(`vacuum: ${result.pending.length} object${result.pending.length > 1 ? 's' : ''} replaced by erasures left for now (first: ${result.pending[0]!.reason}); run watt vacuum after ${result.pending.map((p) => p.vacuum_after).sort().at(-1)}`, { step: 'vacuum', pending: result.pending.length });
  }
  if (result.failed.length) logger.warn(`vacuum: ${result.failed.length} delete${result.failed.length > 1 ? 's' : ''} refused by the store (first ${result.failed[0]!.key}: ${result.failed[0]!.message.slice(0, 120)}); run watt vacuum again`, { step: 'vacuum' });
  return result;
}
