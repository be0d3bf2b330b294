import { failpoint } from '../failpoint.js';
import { recoverLake } from '../lake/recover.js';
import { graceMs } from '../lake/integrity.js';
import path from 'node:path';
import os from 'node:os';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { isUtf8 } from 'node:buffer';
import { mkdir, open, rm, stat } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { parse as parseSync } from 'csv-parse/sync';
import { DataError, InterruptedError, LockError, StorageError, UsageError, WattError } from '../errors.js';
import type { LakeConfig } from '../config.js';
import { destinationUri, objectUri, openLake, type Lake } from '../lake/index.js';
import { dataKey, manifestKey, rejectsKey, sourceStem, type Layout, type PartitionDate } from '../lake/layout.js';
import type { Catalog } from '../catalog/catalog.js';
import type { Logger } from '../log.js';
import { acquireLock, liveLocks, lockNames } from '../lock.js';
import { wattVersion } from '../paths.js';
import type { CompiledSchema } from './schema.js';
import { scanSource, type SourceScan } from './scan.js';
import { csvFailure, csvField, ERRORS_KEPT, MAX_RECORD_CHARS, transformRange, type RangeJob, type RangeOutcome, type RowError } from './transform.js';

export type { RowError } from './transform.js';

/** Files at least this big are checked in parallel ranges, one worker thread per core (max 2). */
const PARALLEL_MIN_BYTES = 4 * 1024 * 1024;
const MAX_PARTS = 2;
/**
 * Heap caps of each worker, MiB: old generation 64, young generation 8. They keep resident memory
 * flat whatever the file size (measured by `npm run bench:ingest`: docs/benchmarks.md).
 */
const WORKER_HEAP = { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 8 };

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

/** The manifest written last under `<prefix>/_manifests/<run_id>.json`. */
export interface Manifest {
  manifest_version: 1;
  run_id: string;
  source: { name: string; sha256: string; bytes: number };
  object: { key: string; uri: string; sha256: string; bytes: number; rows: number } | null;
  rejects: { key: string; uri: string; rows: number } | null;
  rows: number;
  rejected: number;
  schema: { id: string; sha256: string };
  /** `key_id`: {@link keyIdOf} of the key the pseudonyms were made with (absent in manifests before key ids). */
  pseudonymisation: { algorithm: 'HMAC-SHA256'; columns: string[]; key_id?: string };
  partition: { date: string; layout: Layout };
  started_at: string;
  finished_at: string;
  watt_version: string;
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
  const parts = useWorkers(sourceInfo.size) ? Math.min(MAX_PARTS, os.availableParallelism()) : 1;
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
  if (lock) await recoverLake({ lake: options.lake, prefix: options.lake.prefix, home: options.home, catalog: options.catalog, logger, runId, graceMs: graceMs(), signal: options.signal });
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
    let objectInfo: Manifest['object'] = null;
    if (outcome.rows > 0) {
      const info = await lake.putFile(objectKey, spoolFile, { consume: true, sha256: outcome.sha256, contentType: 'text/csv; charset=utf-8', metadata: { run_id: runId } });
      written.push(objectKey);
      failpoint('ingest:after-object');
      objectInfo = { key: objectKey, uri: lake.uri(objectKey), sha256: outcome.sha256, bytes: info.size, rows: outcome.rows };
      logger.info(`wrote ${lake.uri(objectKey)} (${formatBytes(info.size)}, ${outcome.rows} rows)`, { step: 'upload', key: objectKey, sha256: outcome.sha256 });
      recorder?.addLakeObject({ run_id: runId, kind: 'data', uri: lake.uri(objectKey), provider: lake.provider, bucket: lake.bucket, key: objectKey, sha256: outcome.sha256, bytes: info.size, rows: outcome.rows, partition_date: options.date });
    }
    let rejectsInfo: Manifest['rejects'] = null;
    if (outcome.rejected > 0) {
      const info = await lake.putFile(rejectsK, rejectsFile, { consume: true, sha256: outcome.rejectsSha256, contentType: 'application/x-ndjson', metadata: { run_id: runId } });
      written.push(rejectsK);
      failpoint('ingest:after-rejects');
      rejectsInfo = { key: rejectsK, uri: lake.uri(rejectsK), rows: outcome.rejected };
      logger.warn(`quarantined ${outcome.rejected} rows in ${lake.uri(rejectsK)}`, { step: 'quarantine', key: rejectsK });
      recorder?.addLakeObject({ run_id: runId, kind: 'rejects', uri: lake.uri(rejectsK), provider: lake.provider, bucket: lake.bucket, key: rejectsK, sha256: outcome.rejectsSha256, bytes: info.size, rows: outcome.rejected, partition_date: options.date });
    }
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
    const body = JSON.stringify(manifest, null, 2) + '\n';
    const manifestSha = createHash('sha256').update(body).digest('hex');
    await lake.put(manifestK, body, { sha256: manifestSha, contentType: 'application/json' });
    written.push(manifestK);
    failpoint('ingest:after-manifest');
    logger.info(`wrote manifest ${lake.uri(manifestK)}: run complete`, { step: 'manifest', key: manifestK });
    recorder?.addLakeObject({ run_id: runId, kind: 'manifest', uri: lake.uri(manifestK), provider: lake.provider, bucket: lake.bucket, key: manifestK, sha256: manifestSha, bytes: Buffer.byteLength(body), partition_date: options.date });
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

/** Worker threads run from the build (dist/); from the TypeScript sources (tests) ranges run in process. */
const WORKER_URL = new URL('./transform-worker.js', import.meta.url);
let workerBuilt: boolean | undefined;
/** Large files run in worker threads (heap-capped, one per range); small ones in this thread. */
function useWorkers(size: number): boolean {
  workerBuilt ??= existsSync(fileURLToPath(WORKER_URL));
  return workerBuilt && size >= PARALLEL_MIN_BYTES;
}

interface TransformOutcome {
  rows: number;
  rejected: number;
  errors: RowError[];
  warnings: string[];
  /** sha256 of the spooled output (header + rows). */
  sha256: string;
  rejectsSha256: string;
}

/**
 * Check the header in this thread, then transform the data records in one or more byte ranges
 * (worker threads for large files), and join the ranges' spools in order.
 */
async function transformSource(options: IngestOptions, scan: SourceScan, spoolFile: string, rejectsFile: string): Promise<TransformOutcome> {
  const name = path.basename(options.source);
  if (scan.size === 0) throw new DataError(`${name} is empty: no header row`, { hint: 'a CSV file with a header line is expected' });
  const headerBytes = await readRange(options.source, 0, scan.headerEnd);
  if (!isUtf8(headerBytes)) throw new DataError(`invalid UTF-8 at line 1 of ${name}: watt reads CSV files encoded in UTF-8`, { hint: 're-encode the file, e.g. iconv -f latin1 -t utf-8' });
  let records: string[][];
  try {
    records = parseSync(headerBytes, { bom: true, relax_column_count: true, max_record_size: MAX_RECORD_CHARS }) as string[][];
  } catch (err) {
    throw csvFailure(err, options.source, 1);
  }
  if (records.length === 0) throw new DataError(`${name} is empty: no header row`, { hint: 'a CSV file with a header line is expected' });
  const warnings: string[] = [];
  const header = checkHeader(records[0]!, options.schema, warnings, options.logger);
  if (scan.headerEnd >= scan.size) throw new DataError(`${name} has a header but no data rows`);

  const bounds = [{ offset: scan.headerEnd, line: scan.firstDataLine }, ...scan.splits.filter((s) => s.offset > scan.headerEnd), { offset: scan.size, line: 0 }];
  const jobs: RangeJob[] = bounds.slice(0, -1).map((b, i) => ({
    source: options.source,
    start: b.offset,
    end: bounds[i + 1]!.offset,
    firstLine: b.line,
    header,
    headerLine: i === 0 ? header.map(csvField).join(',') + '\n' : undefined,
    spoolFile: i === 0 ? spoolFile : `${spoolFile}.${i}`,
    rejectsFile: options.quarantine ? (i === 0 ? rejectsFile : `${rejectsFile}.${i}`) : undefined,
  }));
  options.logger.debug(`checking ${jobs.length} range${jobs.length > 1 ? 's in parallel worker threads' : ''}`, { step: 'plan', ranges: jobs.map((j) => [j.start, j.end]) });

  let doneRows = 0;
  let doneBytes = scan.headerEnd;
  const progress = (rows: number, bytes: number) => {
    doneRows += rows;
    doneBytes += bytes;
    options.onProgress?.({ rows: doneRows, bytes: doneBytes, totalBytes: scan.size });
  };
  let outcomes: RangeOutcome[];
  try {
    outcomes = await Promise.all(
      jobs.map((job) =>
        useWorkers(scan.size)
          ? runInWorker(job, options.schema.file, options.pseudonymisationKey, options.signal, progress)
          : transformRange(job, options.schema, options.pseudonymisationKey, options.signal, progress),
      ),
    );
    for (const job of jobs.slice(1)) {
      await append(job.spoolFile, spoolFile);
      if (job.rejectsFile) await append(job.rejectsFile, rejectsFile);
    }
  } finally {
    for (const job of jobs.slice(1)) {
      await rm(job.spoolFile, { force: true });
      if (job.rejectsFile) await rm(job.rejectsFile, { force: true });
    }
  }
  const rows = outcomes.reduce((n, o) => n + o.rows, 0);
  const rejected = outcomes.reduce((n, o) => n + o.rejected, 0);
  if (rows + rejected === 0) throw new DataError(`${name} has a header but no data rows`);
  return {
    rows,
    rejected,
    errors: outcomes.flatMap((o) => o.errors).slice(0, ERRORS_KEPT),
    warnings,
    sha256: await sha256File(spoolFile),
    rejectsSha256: options.quarantine && rejected > 0 ? await sha256File(rejectsFile) : '',
  };
}

/** Run one range in a worker thread with a capped heap. */
function runInWorker(job: RangeJob, schemaFile: string, key: Buffer, signal: AbortSignal | undefined, progress: (rows: number, bytes: number) => void): Promise<RangeOutcome> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER_URL, {
      workerData: { job, schemaFile, key: new Uint8Array(key) },
      resourceLimits: WORKER_HEAP,
    });
    let settled = false;
    const onAbort = () => {
      void worker.terminate();
      finish(new InterruptedError());
    };
    const finish = (error: Error | undefined, outcome?: RangeOutcome) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      if (error) {
        void worker.terminate();
        reject(error);
      } else resolve(outcome!);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    worker.on('message', (m: { type: string; rows: number; bytes: number; outcome: RangeOutcome; error: { name: string; message: string; exitCode?: number; hint?: string } }) => {
      if (m.type === 'progress') progress(m.rows, m.bytes);
      else if (m.type === 'done') finish(undefined, m.outcome);
      else if (m.type === 'error') {
        finish(m.error.exitCode !== undefined ? Object.assign(new WattError(m.error.message, m.error.exitCode, { hint: m.error.hint }), { name: m.error.name }) : new Error(m.error.message));
      }
    });
    worker.on('error', (err) => finish(new StorageError(`ingest worker failed: ${err.message}`, { cause: err })));
    worker.on('exit', (code) => finish(new Error(`ingest worker stopped (exit code ${code}) before finishing its range`)));
  });
}

async function readRange(file: string, start: number, end: number): Promise<Buffer> {
  const handle = await open(file, 'r');
  try {
    const buf = Buffer.alloc(Math.min(end - start, MAX_RECORD_CHARS * 4));
    const { bytesRead } = await handle.read(buf, 0, buf.length, start);
    return buf.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

async function append(from: string, to: string): Promise<void> {
  await pipeline(createReadStream(from, { highWaterMark: 1 << 20 }), createWriteStream(to, { flags: 'a' }));
}

/**
 * sha256 of a file, streamed.
 * @throws UsageError if it cannot be read.
 */
export async function sha256File(file: string, signal?: AbortSignal): Promise<string> {
  const hash = createHash('sha256');
  try {
    await pipeline(createReadStream(file, { highWaterMark: 1 << 20 }), hash, { signal });
  } catch (err) {
    if (signal?.aborted) throw new InterruptedError();
    throw new UsageError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return hash.digest('hex');
}

/**
 * Check the header against the schema.
 * @throws DataError on duplicate columns or missing required columns (naming them, and hinting
 * at `;` when the whole header is one field holding semicolons).
 */
export function checkHeader(record: string[], schema: CompiledSchema, warnings: string[], logger: Logger): string[] {
  const header = record.map((h) => h.trim());
  const seen = new Set<string>();
  const duplicates = new Set<string>();
  for (const h of header) (seen.has(h) ? duplicates : seen).add(h);
  if (duplicates.size) throw new DataError(`duplicate column${duplicates.size > 1 ? 's' : ''} in header: ${[...duplicates].join(', ')}`);
  const missing = schema.required.filter((c) => !seen.has(c));
  if (missing.length) {
    const semicolons = header.length === 1 && header[0]!.includes(';');
    throw new DataError(`missing required column${missing.length > 1 ? 's' : ''}: ${missing.join(', ')}`, {
      hint: semicolons ? "the header looks ';'-separated: watt expects ',' as delimiter" : `the header has: ${header.join(', ').slice(0, 200)}`,
    });
  }
  const extra = header.filter((h) => !schema.types.has(h));
  if (extra.length) {
    const w = `extra column${extra.length > 1 ? 's' : ''} kept as is (not in the schema): ${extra.join(', ')}`;
    warnings.push(w);
    logger.warn(w, { step: 'header' });
  }
  logger.debug(`header ok: ${header.length} columns`, { step: 'header', columns: header });
  return header;
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
