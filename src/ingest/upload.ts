import type { Catalog } from '../catalog/catalog.js';
import type { Lake } from '../lake/index.js';
import type { Logger } from '../log.js';
import { failpoint } from '../failpoint.js';
import type { Manifest } from './manifest.js';
import type { TransformOutcome } from './transform-plan.js';

/** Where the upload stage puts a run's outputs and what it records. */
export interface UploadPlan {
  runId: string;
  objectKey: string;
  rejectsKey: string;
  spoolFile: string;
  rejectsFile: string;
  /** Partition date `YYYY-MM-DD`, recorded with each object in the catalog. */
  date: string;
  logger: Logger;
  /** Records each object written (absent for dry runs). */
  catalog?: Catalog;
}

/**
 * Upload the spooled data object (if any row is valid) then the quarantine file (if any row was
 * rejected), each consumed from the spool. Every key written is pushed to `written` at once, so
 * that the caller can remove them if the run fails before its manifest.
 * @throws StorageError (3) from the lake.
 */
export async function uploadOutputs(lake: Lake, plan: UploadPlan, outcome: TransformOutcome, written: string[]): Promise<{ object: Manifest['object']; rejects: Manifest['rejects'] }> {
  const { runId, logger, catalog } = plan;
  let object: Manifest['object'] = null;
  if (outcome.rows > 0) {
    const key = plan.objectKey;
    const info = await lake.putFile(key, plan.spoolFile, { consume: true, sha256: outcome.sha256, contentType: 'text/csv; charset=utf-8', metadata: { run_id: runId } });
    written.push(key);
    failpoint('ingest:after-object');
    object = { key, uri: lake.uri(key), sha256: outcome.sha256, bytes: info.size, rows: outcome.rows };
    logger.info(`wrote ${lake.uri(key)} (${formatBytes(info.size)}, ${outcome.rows} rows)`, { step: 'upload', key, sha256: outcome.sha256 });
    catalog?.addLakeObject({ run_id: runId, kind: 'data', uri: lake.uri(key), provider: lake.provider, bucket: lake.bucket, key, sha256: outcome.sha256, bytes: info.size, rows: outcome.rows, partition_date: plan.date });
  }
  let rejects: Manifest['rejects'] = null;
  if (outcome.rejected > 0) {
    const key = plan.rejectsKey;
    const info = await lake.putFile(key, plan.rejectsFile, { consume: true, sha256: outcome.rejectsSha256, contentType: 'application/x-ndjson', metadata: { run_id: runId } });
    written.push(key);
    failpoint('ingest:after-rejects');
    rejects = { key, uri: lake.uri(key), rows: outcome.rejected };
    logger.warn(`quarantined ${outcome.rejected} rows in ${lake.uri(key)}`, { step: 'quarantine', key });
    catalog?.addLakeObject({ run_id: runId, kind: 'rejects', uri: lake.uri(key), provider: lake.provider, bucket: lake.bucket, key, sha256: outcome.rejectsSha256, bytes: info.size, rows: outcome.rejected, partition_date: plan.date });
  }
  return { object, rejects };
}

/** Bytes in B, KiB or MiB with one decimal. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
