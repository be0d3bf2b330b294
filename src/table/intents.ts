import type { Catalog } from '../catalog/catalog.js';
import { StorageError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Lake } from '../store/types.js';
import { appendTrail, openIntents, type TrailInput } from '../trail/trail.js';
import { manifestObjects, readManifestJson } from './manifest.js';

/**
 * Intents: operations on the table described by data in the audit trail, so that recovery can
 * finish them without knowing the verb that started them. A `retention.intent` entry names a
 * manifest (`key`) and the data objects it stops naming (`detail.keys`); `watt purge` writes it
 * (src/retention/age.ts) before it rewrites the manifest, and it is closed by `retention.rewrite`
 * (done) or `retention.abandon` (the manifest was not rewritten: the next purge plans it again).
 */

/** What {@link completeRetentionIntents} needs. */
export interface IntentContext {
  lake: Lake;
  catalog: Catalog;
  /** URI of the lake folder, as runs and trail entries record it. */
  destination: string;
  /** The run doing the work (named in trail entries). */
  runId: string;
  logger: Logger;
  now: Date;
}

/**
 * Complete the manifest rewrites an interrupted purge by age left (open `retention.intent`
 * entries of this lake): when the manifest no longer names the intent's keys (it was rewritten,
 * or the whole run is gone), delete those still in the lake (a `retention.delete` entry each,
 * written first) and close the intent (`retention.rewrite`); when it still names them (killed
 * before the rewrite), close it as abandoned (`retention.abandon`): the next plan does it again.
 * Called by {@link purgeByAge} and by recovery (`watt verify --repair`, ingest).
 * @returns intents completed.
 * @throws StorageError when the lake fails (the intent stays open).
 */
export async function completeRetentionIntents(ctx: IntentContext): Promise<number> {
  const { lake, catalog, logger } = ctx;
  let completed = 0;
  for (const intent of openIntents(catalog.db, ctx.destination, 'retention.intent')) {
    const d = intent.parsed as { keys?: unknown; rows_removed?: number };
    const keys = Array.isArray(d.keys) ? d.keys.filter((k): k is string => typeof k === 'string') : [];
    const mKey = intent.key!;
    let names = new Set<string>();
    if (await lake.head(mKey)) {
      const m = await readManifestJson(lake, mKey).catch((err: unknown) => {
        if (err instanceof StorageError) throw err;
        return undefined;
      });
      names = new Set(manifestObjects(m ?? {}).map((o) => o.key));
    }
    if (keys.some((k) => names.has(k))) {
      appendTrail(catalog.db, [{ action: 'retention.abandon', lake: ctx.destination, key: mKey, count: 0, run_id: ctx.runId, detail: { intent: intent.seq, reason: 'manifest not rewritten' } }]);
      continue;
    }
    const present: { key: string; bytes: number }[] = [];
    for (const k of keys) {
      const h = await lake.head(k);
      if (h) present.push({ key: k, bytes: h.size });
    }
    if (present.length) {
      appendTrail(
        catalog.db,
        present.map((p) => ({ action: 'retention.delete', lake: ctx.destination, key: p.key, count: 1, run_id: ctx.runId, detail: { bytes: p.bytes, intent: intent.seq, recovered: true } })),
      );
      const del = await lake.delete(present.map((p) => p.key));
      catalog.markLakeObjectsDeleted(lake.provider, lake.bucket, del.deleted, ctx.now.toISOString());
      if (del.errors.length) {
        appendTrail(
          catalog.db,
          del.errors.map((e): TrailInput => ({ action: 'retention.delete_failed', lake: ctx.destination, key: e.key, count: 1, run_id: ctx.runId, detail: { message: e.message.slice(0, 200) } })),
        );
        throw new StorageError(`could not finish the interrupted retention of ${lake.uri(mKey)}: ${del.errors.length} objects could not be deleted (first: ${del.errors[0]!.message.slice(0, 160)})`, {
          hint: 'check permissions on the bucket, then run watt purge again',
        });
      }
    }
    appendTrail(catalog.db, [{ action: 'retention.rewrite', lake: ctx.destination, key: mKey, count: present.length, run_id: ctx.runId, detail: { intent: intent.seq, rows_removed: d.rows_removed ?? null, recovered: true } }]);
    completed++;
    logger.warn(`completed the interrupted retention of run ${intent.run_id} on ${lake.uri(mKey)}: ${present.length} expired objects deleted`, { step: 'recover', key: mKey });
  }
  return completed;
}

