import { UsageError } from '../errors.js';
import type { Logger } from '../log.js';
import type { DeleteResult, Lake, ObjectInfo, PutOptions, RetainedVersions } from '../store/types.js';
import type { Readable } from 'node:stream';

/** The flag that accepts a store keeping copies watt cannot delete. */
export const ACCEPT_FLAG = '--accept-retained-copies';

/**
 * What a purge or an erasure did about the store's own copies of what it deleted or rewrote
 * (issue 21, GDPR Art. 17: erased rows must not survive in old versions). Recorded in the JSON
 * result, the trail (`retention.store_versions`) and the manifests the run rewrites.
 * - `none`: the store keeps nothing (local folder, unversioned bucket);
 * - `old-versions-deleted`: every noncurrent version and delete marker of each key deleted or
 *   rewritten was deleted right after ({@link Lake.deleteOldVersions});
 * - `accepted`: the store keeps copies watt cannot delete (Azure soft delete, or a state it cannot
 *   read), accepted with {@link ACCEPT_FLAG}.
 */
export interface StoreVersionsRecord {
  /** The store setting, one line (e.g. `S3 bucket versioning: Enabled`). */
  setting: string;
  action: 'none' | 'old-versions-deleted' | 'accepted';
  /** Soft delete: days the deleted data stays recoverable in the store. */
  days?: number;
  /** Versions and delete markers deleted so far by this run. */
  versions_deleted: number;
}

/** What a rewritten manifest records of {@link StoreVersionsRecord}: the setting and the action. */
export type StoreVersionsNote = Pick<StoreVersionsRecord, 'setting' | 'action' | 'days'>;

/** `{ store_versions }` for a manifest's erasure or retention record; nothing when the store keeps nothing (or no record). */
export function storeVersionsNote(record: StoreVersionsRecord | undefined): { store_versions?: StoreVersionsNote } {
  if (!record || record.action === 'none') return {};
  return { store_versions: { setting: record.setting, action: record.action, ...(record.days !== undefined ? { days: record.days } : {}) } };
}

/**
 * Read the store's retention of old versions and decide, before anything changes.
 * @param accept {@link ACCEPT_FLAG} was given
 * @throws UsageError (2) when the store keeps copies watt cannot delete and `accept` is false: the
 * message names the setting and the flag; nothing was changed.
 * @throws StorageError (3) from the store.
 */
export async function storeVersionsPolicy(lake: Lake, accept: boolean, what: 'erasure' | 'purge'): Promise<StoreVersionsRecord> {
  const kept: RetainedVersions = await lake.retainedVersions();
  if (kept.kind === 'none') return { setting: kept.setting, action: 'none', versions_deleted: 0 };
  if (kept.kind === 'versions' && kept.deletable) return { setting: kept.setting, action: 'old-versions-deleted', versions_deleted: 0 };
  if (!accept) {
    const copies = kept.kind === 'soft-delete' ? `deleted data stays recoverable in the store for ${kept.days ?? 'some'} days` : 'watt cannot tell whether the store keeps old versions';
    throw new UsageError(`${what} refused: ${kept.setting}; ${copies}, out of watt's reach`, {
      hint: `turn the setting off (or grant the permission named), or accept the store's copies with ${ACCEPT_FLAG} (recorded in the trail and the manifests)`,
    });
  }
  return { setting: kept.setting, action: 'accepted', ...(kept.days !== undefined ? { days: kept.days } : {}), versions_deleted: 0 };
}

/**
 * The lake as a purge or an erasure must use it when the store keeps versions: every `delete` and
 * every overwrite (`put`, `putFile`) is followed by {@link Lake.deleteOldVersions} of its keys, so
 * that no old version of a deleted or rewritten object survives; counts go to `record`. Create-if-
 * absent writes (`putIfAbsent`: the table log, claims) never overwrite and are passed through.
 * Not crash-atomic: a run killed between a delete and its version cleanup leaves those versions;
 * the next purge or erasure of the same objects does not see them again (state it in README).
 */
export function cleaningOldVersions(lake: Lake, record: StoreVersionsRecord, logger: Logger): Lake {
  if (record.action !== 'old-versions-deleted') return lake;
  const clean = async (keys: readonly string[]): Promise<void> => {
    if (!keys.length) return;
    const n = await lake.deleteOldVersions(keys);
    record.versions_deleted += n;
    if (n) logger.debug(`deleted ${n} old versions of ${keys.length} object${keys.length > 1 ? 's' : ''}`, { step: 'versions', versions: n });
  };
  const wrapped: Lake = {
    provider: lake.provider,
    bucket: lake.bucket,
    uri: (key: string) => lake.uri(key),
    put: async (key: string, body: Readable | Buffer | string, options?: PutOptions): Promise<ObjectInfo> => {
      const info = await lake.put(key, body, options);
      await clean([key]);
      return info;
    },
    putIfAbsent: (key: string, body: Buffer | string, options?: PutOptions) => lake.putIfAbsent(key, body, options),
    putFile: async (key: string, file: string, options?: PutOptions): Promise<ObjectInfo> => {
      const info = await lake.putFile(key, file, options);
      await clean([key]);
      return info;
    },
    get: (key: string) => lake.get(key),
    head: (key: string) => lake.head(key),
    list: (prefix: string) => lake.list(prefix),
    delete: async (keys: string[]): Promise<DeleteResult> => {
      const result = await lake.delete(keys);
      await clean(result.deleted);
      return result;
    },
    retainedVersions: () => lake.retainedVersions(),
    deleteOldVersions: (keys: readonly string[]) => lake.deleteOldVersions(keys),
    close: () => lake.close(),
  };
  return wrapped;
}
