import { rm, stat } from 'node:fs/promises';
import type { Catalog } from '../catalog/catalog.js';
import type { Lake } from '../store/index.js';
import type { ObjectInfo, PutOptions } from '../store/types.js';
import { readSpoolFile, readSpoolStream, type SpoolCipher } from '../spool-crypto.js';
import type { Logger } from '../log.js';
import { failpoint } from '../failpoint.js';
import type { DataFormat, Manifest, ManifestObject } from '../table/manifest.js';
import type { TransformOutcome } from './transform-plan.js';

/** Content type of each data format (Parquet: the IANA registration of 2024). */
export const CONTENT_TYPES: Record<DataFormat, string> = { csv: 'text/csv; charset=utf-8', parquet: 'application/vnd.apache.parquet' };

/** Where the upload stage puts a run's outputs and what it records. */
export interface UploadPlan {
  runId: string;
  format: DataFormat;
  /** Lake key of the data object of a partition day `YYYY-MM-DD`. */
  objectKey: (date: string) => string;
  rejectsKey: string;
  rejectsFile: string;
  /** Partition date `YYYY-MM-DD` of the run (the ingest date, or --date), recorded with the quarantine file. */
  date: string;
  logger: Logger;
  /** Records each object written (absent for dry runs). */
  catalog?: Catalog;
}

/**
 * Upload the spooled data objects (one per partition day with valid rows, in key order), then
 * the quarantine file (if any row was rejected), each consumed from the spool. Every key written
 * is pushed to `written` at once, so that the caller can remove them if the run fails before its
 * manifest. The failpoint `ingest:after-object` fires after the first data object.
 * @returns the manifest's `objects` (sorted by key) and `rejects`, and the local lake's file identity of each data object (by key)
 * @throws StorageError (3) from the lake.
 */
export async function uploadOutputs(lake: Lake, plan: UploadPlan, outcome: TransformOutcome, written: string[]): Promise<{ objects: ManifestObject[]; rejects: Manifest['rejects']; identities: Map<string, string> }> {
  const identities = new Map<string, string>();
  const { runId, logger, catalog } = plan;
  const objects: ManifestObject[] = [];
  const planned = outcome.partitions.map((p) => ({ ...p, key: plan.objectKey(p.date) })).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  for (const p of planned) {
    // The footer's timestamp bounds, read from the spool before it is consumed (table log `stats`).
    // Loaded for Parquet runs only (hyparquet stays out of a CSV run's start-up).
    const stats = plan.format === 'parquet' ? await (await import('../table/object-stats.js')).parquetTimestampStats(p.file, p.cipher) : undefined;
    const options = { sha256: p.sha256, contentType: CONTENT_TYPES[plan.format], metadata: { run_id: runId } };
    // An object built in the local lake's staging folder (transform-plan.ts `stage`) moves onto its key.
    const info = p.cipher ? await putSpool(lake, p.key, p.file, p.cipher, options) : await lake.putFile(p.key, p.file, { ...options, consume: true });
    written.push(p.key);
    if (info.identity) identities.set(p.key, info.identity);
    failpoint('ingest:after-object');
    objects.push({ key: p.key, uri: lake.uri(p.key), sha256: p.sha256, bytes: info.size, rows: p.rows, partition_date: p.date, format: plan.format, ...(stats ? { stats } : {}) });
    logger.info(`wrote ${lake.uri(p.key)} (${formatBytes(info.size)}, ${p.rows} rows)`, { step: 'upload', key: p.key, sha256: p.sha256, partition_date: p.date });
    catalog?.addLakeObject({ run_id: runId, kind: 'data', uri: lake.uri(p.key), provider: lake.provider, bucket: lake.bucket, key: p.key, sha256: p.sha256, bytes: info.size, rows: p.rows, partition_date: p.date });
  }
  let rejects: Manifest['rejects'] = null;
  if (outcome.rejected > 0) {
    const key = plan.rejectsKey;
    const info = outcome.rejectsCipher
      ? await putSpool(lake, key, plan.rejectsFile, outcome.rejectsCipher, { sha256: outcome.rejectsSha256, contentType: 'application/x-ndjson', metadata: { run_id: runId } })
      : await lake.putFile(key, plan.rejectsFile, { consume: true, sha256: outcome.rejectsSha256, contentType: 'application/x-ndjson', metadata: { run_id: runId } });
    written.push(key);
    failpoint('ingest:after-rejects');
    rejects = { key, uri: lake.uri(key), rows: outcome.rejected };
    logger.warn(`quarantined ${outcome.rejected} rows in ${lake.uri(key)}`, { step: 'quarantine', key });
    catalog?.addLakeObject({ run_id: runId, kind: 'rejects', uri: lake.uri(key), provider: lake.provider, bucket: lake.bucket, key, sha256: outcome.rejectsSha256, bytes: info.size, rows: outcome.rejected, partition_date: plan.date });
  }
  return { objects, rejects, identities };
}

/** Spools up to this size are decrypted into memory and written in one request; larger ones stream. */
const SMALL_SPOOL_BYTES = 8 * 1024 * 1024;

/**
 * Upload an encrypted spool file (src/spool-crypto.ts) under `key`, decrypted on the way (every
 * segment's GCM tag checked: a spool changed since it was hashed fails the put), then remove the
 * spool. The lake receives the plaintext the manifest's sha256 describes; WATT_HOME/tmp never holds it.
 * @throws StorageError (3) from the lake; DataError (1) when the spool does not match its GCM tag
 */
export async function putSpool(lake: Lake, key: string, file: string, cipher: SpoolCipher, options: PutOptions): Promise<ObjectInfo> {
  const { size } = await stat(file);
  const body = size <= SMALL_SPOOL_BYTES ? await readSpoolFile(file, cipher) : readSpoolStream(file, cipher, { verify: true });
  const info = await lake.put(key, body, options);
  await rm(file, { force: true });
  return info;
}

/** Bytes in B, KiB or MiB with one decimal. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
