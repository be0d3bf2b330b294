import path from 'node:path';
import { mkdir, rm, stat } from 'node:fs/promises';
import { failpoint } from '../failpoint.js';
import { DataError, InterruptedError, LockError, UsageError } from '../errors.js';
import type { LakeConfig } from '../config.js';
import { destinationUri, objectUri, openLake, type Lake } from '../lake/index.js';
import { dataKey, manifestKey, rejectsKey, sourceStem, type Layout, type PartitionDate } from '../lake/layout.js';
import type { Catalog } from '../catalog/catalog.js';
import type { Logger } from '../log.js';
import { acquireLock, liveLocks, lockNames } from '../lock.js';
import { wattVersion } from '../paths.js';
import type { CompiledSchema } from '../records/schema.js';
import { scanSource } from './scan.js';
import type { RowError } from './transform.js';
import { rangesFor, transformSource } from './transform-plan.js';
import { formatBytes, uploadOutputs } from './upload.js';
import { writeManifest, type Manifest } from './manifest.js';

export type { RowError } from './transform.js';

export interface IngestOptions {
  /** Path of the CSV source. */
  source: string;
  schema: CompiledSchema;
  lake: LakeConfig;
  layout: Layout;
  /** Partition date `YYYY-MM-DD` (UTC). */
  date: PartitionDate;
  runId: string;
  /** Secret key of pseudonymisation (never logged). */
  pseudonymisationKey: Buffer;
  /** WATT_HOME: spool files and locks live here. */
  home: string;
  dryRun?: boolean;
  /** Re-ingest a source already ingested to the same destination. */
  force?: boolean;
  /** Land valid rows and send rejected rows to `<prefix>/_rejects/<run_id>.jsonl`. */
  quarantine?: boolean;
  logger: Logger;
  /** The catalog: read to skip files already ingested; written unless dry run. */
  catalog?: Catalog;
  logFile?: string;
  signal?: AbortSignal;
  /** Called about every 50,000 rows with rows seen and source bytes read. */
  onProgress?: (progress: { rows: number; bytes: number; totalBytes: number }) => void;
}

/** What `watt ingest` did; `--json` prints the first seven fields. */
export interface IngestResult {
  run_id: string;
  status: 'succeeded' | 'rejected' | 'skipped' | 'dry_run';
  rows: number;
  rejected: number;
  /** URI of the data object (written, or that would be written). */
  destination: string;
  /** URI of the manifest (written, or that would be written). */
  manifest: string;
  log: string | null;
  source_sha256: string;
  object_key: string;
  object_sha256: string | null;
  warnings: string[];
  /** First row errors (strict: up to 20). */
  errors: RowError[];
  /** The earlier run that loaded the same file, when status is skipped. */
  previous_run_id?: string;
}

/**
 * Run one ingestion: hash the source, skip it if already loaded, stream it through
 * UTF-8 check -> csv-parse -> header check -> ajv per row -> pseudonymisation -> a spool file,
 * then upload the object, the quarantine file if any, and the manifest last.
 *
 * Memory stays flat: rows are never held together; the output is spooled to
 * `<home>/tmp/` so that nothing reaches the lake before every row is checked.
 *
 * @throws UsageError (2) missing/unreadable source; DataError (1) bad header, bad rows in strict
 * mode, empty file, invalid UTF-8, broken quoting; StorageError (3) lake failures; LockError (4)
 * the same file is being ingested to the same destination; InterruptedError (130).
 */
export async function ingest(options: IngestOptions): Promise<IngestResult> {
  const { logger, runId } = options;
  const startedAt = new Date().toISOString();
  const sourceInfo = await checkSource(options.source);
  const destination = destinationUri(options.lake);
  const stem = sourceStem(options.source);
  const objectKey = dataKey(options.lake.prefix, options.layout, options.date, stem, runId);
  const manifestK = manifestKey(options.lake.prefix, runId);
  const rejectsK = rejectsKey(options.lake.prefix, runId);
  const uriOf = (key: string) => objectUri(options.lake, key);

  logger.info(`run ${runId}: ingest ${path.basename(options.source)} (${formatBytes(sourceInfo.size)}) to ${destination}`);
  const parts = rangesFor(sourceInfo.size);
  const scan = await scanSource(options.source, sourceInfo.size, parts, options.signal).catch((err: unknown) => {
    throw options.signal?.aborted ? new InterruptedError(`run ${runId} interrupted; nothing was left in the lake`) : err;
  });
  const sourceSha = scan.sha256;
  logger.debug(`source sha256 ${sourceSha}`, { step: 'hash', source_sha256: sourceSha });

  const base: IngestResult = {
    run_id: runId,
    status: 'succeeded',
    rows: 0,
    rejected: 0,
    destination: uriOf(objectKey),
    manifest: uriOf(manifestK),
    log: options.logFile ?? null,
    source_sha256: sourceSha,
    object_key: objectKey,
    object_sha256: null,
    warnings: [],
    errors: [],
  };

  // The lock makes "already ingested?" and the ingest one step for this file and destination.
  const lock = options.dryRun ? undefined : acquireLock(options.home, lockNames.ingest(sourceSha, destination), `an ingest of this file to ${destination}`);
  const purging = lock ? liveLocks(options.home, (name) => name === lockNames.purge(destination)) : [];
  if (purging.length) {
    lock?.release();
    throw new LockError(`a purge of ${destination} is running (pid ${purging[0]!.pid}): ingest refused so that no row escapes an erasure`, { hint: 'run the ingest again when the purge is done' });
  }
  // A dry run reads the catalog (to say whether the file would be skipped) but records nothing.
  const recorder = options.dryRun ? undefined : options.catalog;
  const runRecord = { run_id: runId, command: 'ingest', started_at: startedAt, source_name: path.basename(options.source), source_sha256: sourceSha, destination, log_path: options.logFile };
  const previous = options.catalog?.findSucceededRun(sourceSha, destination);
  if (previous && !options.force) {
    lock?.release();
    logger.info(`already ingested by run ${previous.run_id} (same sha256, same destination): nothing to do; use --force to ingest again`);
    recorder?.startRun(runRecord);
    recorder?.finishRun(runId, { status: 'skipped', rows: 0, rejected: 0, manifest_uri: previous.manifest_uri });
    return { ...base, status: 'skipped', destination: options.catalog?.objectUri(previous.run_id, 'data') ?? destination, manifest: previous.manifest_uri ?? base.manifest, previous_run_id: previous.run_id };
  }
  recorder?.startRun(runRecord);
  const spoolDir = path.join(options.home, 'tmp');
  await mkdir(spoolDir, { recursive: true, mode: 0o700 });
  const spoolFile = path.join(spoolDir, `${runId}.csv`);
  const rejectsFile = path.join(spoolDir, `${runId}.rejects.jsonl`);
  let lake: Lake | undefined;
  const written: string[] = [];
  try {
    const t0 = performance.now();
    const outcome = await transformSource(options, scan, spoolFile, rejectsFile);
    failpoint('ingest:after-spool');
    const seconds = (performance.now() - t0) / 1000;
    base.rows = outcome.rows;
    base.rejected = outcome.rejected;
    base.errors = outcome.errors;
    base.warnings = outcome.warnings;
    base.object_sha256 = outcome.rows > 0 ? outcome.sha256 : null;
    logger.info(`validated ${outcome.rows + outcome.rejected} rows in ${seconds.toFixed(2)} s: ${outcome.rows} valid, ${outcome.rejected} rejected`, {
      step: 'validate',
      rows: outcome.rows,
      rejected: outcome.rejected,
    });
    for (const e of outcome.errors) logger.warn(`line ${e.line}${e.column ? `, column ${e.column}` : ''}: ${describeValue(e)}${e.reason}`, { step: 'validate', ...e });

    if (outcome.rejected > 0 && !options.quarantine) {
      const first = outcome.errors[0]!;
      throw new DataError(
        `${outcome.rejected} invalid row${outcome.rejected > 1 ? 's' : ''} in ${path.basename(options.source)}, nothing was written (first: line ${first.line}${first.column ? `, column ${first.column}` : ''}: ${describeValue(first)}${first.reason})`,
        { hint: 'fix the file, or rerun with --quarantine to land the valid rows and set the others aside' },
      );
    }
    if (options.dryRun) {
      logger.info(`dry run: would write ${base.destination} (${outcome.rows} rows${outcome.rejected ? `, ${outcome.rejected} to ${uriOf(rejectsK)}` : ''}) and ${base.manifest}`);
      return { ...base, status: 'dry_run' };
    }

    lake = await openLake(options.lake);
    const plan = { runId, objectKey, rejectsKey: rejectsK, spoolFile, rejectsFile, date: options.date, logger, catalog: recorder };
    const { object: objectInfo, rejects: rejectsInfo } = await uploadOutputs(lake, plan, outcome, written);
    const manifest: Manifest = {
      manifest_version: 1,
      run_id: runId,
      source: { name: path.basename(options.source), sha256: sourceSha, bytes: sourceInfo.size },
      object: objectInfo,
      rejects: rejectsInfo,
      rows: outcome.rows,
      rejected: outcome.rejected,
      schema: { id: options.schema.id, sha256: options.schema.sha256 },
      pseudonymisation: { algorithm: 'HMAC-SHA256', columns: [...options.schema.personal] },
      partition: { date: options.date, layout: options.layout },
      started_at: startedAt,
      finished_at: new Date().toISOString(),
      watt_version: wattVersion(),
    };
    failpoint('ingest:before-manifest');
    const manifestOut = await writeManifest(lake, manifestK, manifest);
    written.push(manifestK);
    failpoint('ingest:after-manifest');
    logger.info(`wrote manifest ${manifestOut.uri}: run complete`, { step: 'manifest', key: manifestK });
    recorder?.addLakeObject({ run_id: runId, kind: 'manifest', uri: manifestOut.uri, provider: lake.provider, bucket: lake.bucket, key: manifestK, sha256: manifestOut.sha256, bytes: manifestOut.bytes, partition_date: options.date });
    const status = outcome.rejected > 0 ? 'rejected' : 'succeeded';
    recorder?.finishRun(runId, { status, rows: outcome.rows, rejected: outcome.rejected, manifest_uri: lake.uri(manifestK) });
    return { ...base, status, destination: objectInfo ? lake.uri(objectKey) : base.destination, manifest: lake.uri(manifestK) };
  } catch (err) {
    const error = options.signal?.aborted ? new InterruptedError(`run ${runId} interrupted; nothing was left in the lake`) : err;
    // A run is complete exactly when its manifest exists: remove what an unfinished run wrote.
    if (lake && written.length && !written.includes(manifestK)) {
      await lake.delete(written).catch((e) => logger.error(`could not remove ${written.join(', ')} of the failed run: ${(e as Error).message}`));
    }
    const status = error instanceof InterruptedError ? 'interrupted' : 'failed';
    recorder?.finishRun(runId, { status, rows: base.rows, rejected: base.rejected, error: error instanceof Error ? error.message.slice(0, 500) : String(error) });
    throw error;
  } finally {
    await rm(spoolFile, { force: true });
    await rm(rejectsFile, { force: true });
    await lake?.close();
    lock?.release();
  }
}


function describeValue(e: RowError): string {
  return e.value === undefined ? '' : `${JSON.stringify(e.value)} `;
}
/** @throws UsageError if the source is missing, a directory, or unreadable. */
async function checkSource(file: string): Promise<{ size: number }> {
  let s;
  try {
    s = await stat(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(code === 'ENOENT' ? `source file not found: ${file}` : `cannot read source ${file}: ${code}`, {
      hint: code === 'ENOENT' ? 'check the --source path' : undefined,
    });
  }
  if (s.isDirectory()) throw new UsageError(`source ${file} is a directory`, { hint: 'pass a CSV file to --source' });
  if (!s.isFile()) throw new UsageError(`source ${file} is not a regular file`);
  return { size: s.size };
}

