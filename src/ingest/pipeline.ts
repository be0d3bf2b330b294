import path from 'node:path';
import { createReadStream, createWriteStream } from 'node:fs';
import { isUtf8 } from 'node:buffer';
import { once } from 'node:events';
import { mkdir, rm, stat } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parse, CsvError } from 'csv-parse';
import { DataError, InterruptedError, StorageError, UsageError, WattError } from '../errors.js';
import type { LakeConfig } from '../config.js';
import { destinationUri, openLake, type Lake } from '../lake/index.js';
import { dataKey, manifestKey, rejectsKey, sourceStem, type Layout, type PartitionDate } from '../lake/layout.js';
import type { Catalog } from '../catalog/catalog.js';
import type { Logger } from '../log.js';
import { acquireLock } from '../lock.js';
import { wattVersion } from '../paths.js';
import { CellError, convertCell, describeAjvError, type CompiledSchema } from './schema.js';
import { Pseudonymiser } from './pseudonymise.js';

/** Longest CSV field or record watt accepts, in characters (csv-parse `max_record_size`). */
export const MAX_RECORD_CHARS = 1_000_000;
/** Offending values are cut to this many characters in errors and quarantine files. */
const VALUE_PREVIEW = 40;
/** Row errors kept for the report in strict mode (all are counted). */
const ERRORS_KEPT = 20;

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
  /** Omitted for a dry run: nothing is recorded. */
  catalog?: Catalog;
  logFile?: string;
  signal?: AbortSignal;
  /** Called about every 50,000 rows with rows seen and source bytes read. */
  onProgress?: (progress: { rows: number; bytes: number; totalBytes: number }) => void;
}

/** One rejected row: where and why. Holds no raw personal identifier. */
export interface RowError {
  /** 1-based line number in the source file (the header is line 1). */
  line: number;
  /** Column at fault, or null for a row-level fault (wrong number of fields). */
  column: string | null;
  reason: string;
  /** The offending value, cut to 40 characters; absent for personal columns. */
  value?: string;
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
  pseudonymisation: { algorithm: 'HMAC-SHA256'; columns: string[] };
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
  const uriOf = (key: string) => uriFor(options.lake, destination, key);

  logger.info(`run ${runId}: ingest ${path.basename(options.source)} (${formatBytes(sourceInfo.size)}) to ${destination}`);
  const sourceSha = await sha256File(options.source, options.signal);
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

  const previous = options.catalog?.findSucceededRun(sourceSha, destination);
  if (previous && !options.force) {
    logger.info(`already ingested by run ${previous.run_id} (same sha256, same destination): nothing to do; use --force to ingest again`);
    options.catalog?.startRun({ run_id: runId, command: 'ingest', started_at: startedAt, source_name: path.basename(options.source), source_sha256: sourceSha, destination, log_path: options.logFile });
    options.catalog?.finishRun(runId, { status: 'skipped', rows: 0, rejected: 0, manifest_uri: previous.manifest_uri });
    return { ...base, status: 'skipped', destination: options.catalog?.objectUri(previous.run_id, 'data') ?? destination, manifest: previous.manifest_uri ?? base.manifest, previous_run_id: previous.run_id };
  }

  const lock = options.dryRun ? undefined : acquireLock(options.home, `ingest:${sourceSha}:${destination}`, `an ingest of this file to ${destination}`);
  options.catalog?.startRun({ run_id: runId, command: 'ingest', started_at: startedAt, source_name: path.basename(options.source), source_sha256: sourceSha, destination, log_path: options.logFile });
  const spoolDir = path.join(options.home, 'tmp');
  await mkdir(spoolDir, { recursive: true, mode: 0o700 });
  const spoolFile = path.join(spoolDir, `${runId}.csv`);
  const rejectsFile = path.join(spoolDir, `${runId}.rejects.jsonl`);
  let lake: Lake | undefined;
  const written: string[] = [];
  try {
    const t0 = performance.now();
    const outcome = await transform(options, sourceInfo.size, spoolFile, rejectsFile);
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
      objectInfo = { key: objectKey, uri: lake.uri(objectKey), sha256: outcome.sha256, bytes: info.size, rows: outcome.rows };
      logger.info(`wrote ${lake.uri(objectKey)} (${formatBytes(info.size)}, ${outcome.rows} rows)`, { step: 'upload', key: objectKey, sha256: outcome.sha256 });
      options.catalog?.addLakeObject({ run_id: runId, kind: 'data', uri: lake.uri(objectKey), provider: lake.provider, bucket: lake.bucket, key: objectKey, sha256: outcome.sha256, bytes: info.size, rows: outcome.rows, partition_date: options.date });
    }
    let rejectsInfo: Manifest['rejects'] = null;
    if (outcome.rejected > 0) {
      const info = await lake.putFile(rejectsK, rejectsFile, { consume: true, sha256: outcome.rejectsSha256, contentType: 'application/x-ndjson', metadata: { run_id: runId } });
      written.push(rejectsK);
      rejectsInfo = { key: rejectsK, uri: lake.uri(rejectsK), rows: outcome.rejected };
      logger.warn(`quarantined ${outcome.rejected} rows in ${lake.uri(rejectsK)}`, { step: 'quarantine', key: rejectsK });
      options.catalog?.addLakeObject({ run_id: runId, kind: 'rejects', uri: lake.uri(rejectsK), provider: lake.provider, bucket: lake.bucket, key: rejectsK, sha256: outcome.rejectsSha256, bytes: info.size, rows: outcome.rejected, partition_date: options.date });
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
    const body = JSON.stringify(manifest, null, 2) + '\n';
    const manifestSha = createHash('sha256').update(body).digest('hex');
    await lake.put(manifestK, body, { sha256: manifestSha, contentType: 'application/json' });
    written.push(manifestK);
    logger.info(`wrote manifest ${lake.uri(manifestK)}: run complete`, { step: 'manifest', key: manifestK });
    options.catalog?.addLakeObject({ run_id: runId, kind: 'manifest', uri: lake.uri(manifestK), provider: lake.provider, bucket: lake.bucket, key: manifestK, sha256: manifestSha, bytes: Buffer.byteLength(body), partition_date: options.date });
    const status = outcome.rejected > 0 ? 'rejected' : 'succeeded';
    options.catalog?.finishRun(runId, { status, rows: outcome.rows, rejected: outcome.rejected, manifest_uri: lake.uri(manifestK) });
    return { ...base, status, destination: objectInfo ? lake.uri(objectKey) : base.destination, manifest: lake.uri(manifestK) };
  } catch (err) {
    const error = options.signal?.aborted ? new InterruptedError(`run ${runId} interrupted; nothing was left in the lake`) : err;
    // A run is complete exactly when its manifest exists: remove what an unfinished run wrote.
    if (lake && written.length && !written.includes(manifestK)) {
      await lake.delete(written).catch((e) => logger.error(`could not remove ${written.join(', ')} of the failed run: ${(e as Error).message}`));
    }
    const status = error instanceof InterruptedError ? 'interrupted' : 'failed';
    options.catalog?.finishRun(runId, { status, rows: base.rows, rejected: base.rejected, error: error instanceof Error ? error.message.slice(0, 500) : String(error) });
    throw error;
  } finally {
    await rm(spoolFile, { force: true });
    await rm(rejectsFile, { force: true });
    await lake?.close();
    lock?.release();
  }
}

function uriFor(lake: LakeConfig, destination: string, key: string): string {
  // destination = <base>/<prefix>; keys start with the prefix.
  return destination.slice(0, destination.length - lake.prefix.length) + key;
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
    throw new UsageError(`cannot read source ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return hash.digest('hex');
}

/**
 * Passes bytes through unchanged while checking they are valid UTF-8 (`buffer.isUtf8`, native).
 * A multi-byte character split across chunks is carried to the next chunk. An invalid sequence
 * fails the run with the line it is on. Counts bytes for progress.
 */
class Utf8Guard extends Transform {
  bytes = 0;
  private lines = 1;
  private carry: Buffer | undefined;

  override _transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    let buf = this.carry ? Buffer.concat([this.carry, chunk]) : chunk;
    this.carry = undefined;
    const cut = completeLength(buf);
    if (cut < buf.length) {
      this.carry = Buffer.from(buf.subarray(cut));
      buf = buf.subarray(0, cut);
    }
    if (!isUtf8(buf)) {
      callback(invalidUtf8(this.lines + newlinesBeforeInvalid(buf)));
      return;
    }
    this.lines += countByte(buf, 10);
    callback(null, buf);
  }

  override _flush(callback: TransformCallback): void {
    if (this.carry && !isUtf8(this.carry)) callback(invalidUtf8(this.lines));
    else callback(null, this.carry);
  }
}

function invalidUtf8(line: number): DataError {
  return new DataError(`invalid UTF-8 at line ${line}: watt reads CSV files encoded in UTF-8`, { hint: 're-encode the file, e.g. iconv -f latin1 -t utf-8' });
}

/** Length of the prefix of `buf` that ends on a character boundary (drops a truncated last character). */
function completeLength(buf: Buffer): number {
  for (let i = buf.length - 1, back = 0; i >= 0 && back < 4; i--, back++) {
    const b = buf[i]!;
    if (b < 0x80) return buf.length; // ASCII: complete
    if (b >= 0xc0) {
      const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2;
      return back + 1 >= need ? buf.length : i;
    }
  }
  return buf.length;
}

function countByte(buf: Buffer, byte: number): number {
  let n = 0;
  for (let i = buf.indexOf(byte); i !== -1; i = buf.indexOf(byte, i + 1)) n++;
  return n;
}

/** Newlines before the first line holding an invalid sequence. */
function newlinesBeforeInvalid(buf: Buffer): number {
  let n = 0;
  let start = 0;
  for (let i = buf.indexOf(10); i !== -1; i = buf.indexOf(10, i + 1)) {
    if (!isUtf8(buf.subarray(start, i))) return n;
    start = i + 1;
    n++;
  }
  return n;
}

/** Quote a CSV field when it holds a comma, a quote or a line break (RFC 4180). */
function csvField(value: string): string {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 44 || c === 34 || c === 10 || c === 13) return `"${value.replace(/"/g, '""')}"`;
  }
  return value;
}

/** Newlines inside the fields of a record (quoted multi-line fields). */
function newlinesIn(record: string[]): number {
  let n = 0;
  for (const field of record) if (field.indexOf('\n') !== -1) n += field.split('\n').length - 1;
  return n;
}

interface TransformOutcome {
  rows: number;
  rejected: number;
  errors: RowError[];
  warnings: string[];
  sha256: string;
  rejectsSha256: string;
}

/** Output is pushed downstream in chunks of about this many characters. */
const OUTPUT_CHUNK = 256 * 1024;

async function transform(options: IngestOptions, totalBytes: number, spoolFile: string, rejectsFile: string): Promise<TransformOutcome> {
  const { schema, logger } = options;
  const pseudonymiser = new Pseudonymiser(options.pseudonymisationKey);
  const warnings: string[] = [];
  const errors: RowError[] = [];
  const hash = createHash('sha256');
  const rejectsHash = createHash('sha256');
  let rows = 0;
  let rejected = 0;
  // Line number (1-based) of the next record's first line; csv-parse is run without `info`
  // (which costs a third of the parse time), so lines are counted here: one per record, plus
  // newlines inside quoted fields, plus empty lines (kept by the parser and skipped here).
  let line = 1;
  let header: string[] | undefined;
  let width = 0;
  let plan: { name: string; type: ReturnType<typeof schema.types.get>; personal: boolean; declared: boolean }[] = [];
  let rejectBuffer = '';
  const reject = (e: RowError) => {
    rejected++;
    if (errors.length < ERRORS_KEPT) errors.push(e);
    if (options.quarantine) rejectBuffer += JSON.stringify(e) + '\n';
  };
  const preview = (column: string, raw: string): string | undefined =>
    schema.personal.has(column) ? undefined : raw.length > VALUE_PREVIEW ? raw.slice(0, VALUE_PREVIEW) + '…' : raw;

  // One row object reused for every record (ajv keeps no reference): stable shape, less garbage.
  // An empty cell is set to undefined, which `required` reports as missing.
  const row: Record<string, unknown> = {};
  /** Validate, pseudonymise and serialise one record; returns its output line or '' if rejected. */
  const processRecord = (record: string[], at: number): string => {
    if (record.length !== width) {
      reject({ line: at, column: null, reason: `has ${record.length} fields, the header has ${width}` });
      return '';
    }
    for (let i = 0; i < width; i++) {
      const p = plan[i]!;
      if (!p.declared) continue;
      const value = convertCell(record[i]!, p.type);
      if (value instanceof CellError) {
        reject({ line: at, column: p.name, reason: value.reason, value: preview(p.name, record[i]!) });
        return '';
      }
      row[p.name] = value;
    }
    if (!schema.validate(row)) {
      const { column, reason } = describeAjvError(schema.validate.errors![0]!);
      const idx = header!.indexOf(column);
      reject({ line: at, column, reason, value: idx >= 0 && record[idx] !== '' ? preview(column, record[idx]!) : undefined });
      return '';
    }
    rows++;
    let out = '';
    for (let i = 0; i < width; i++) {
      const p = plan[i]!;
      const v = record[i]!;
      out += (i ? ',' : '') + (p.personal && v !== '' ? pseudonymiser.pseudonym(v) : csvField(v));
    }
    return out + '\n';
  };

  const guard = new Utf8Guard();
  const parser = parse({ delimiter: ',', bom: true, relax_column_count: true, skip_empty_lines: false, max_record_size: MAX_RECORD_CHARS });
  let pending = '';
  let lastProgress = 0;
  const rowsStream = new Transform({
    writableObjectMode: true,
    writableHighWaterMark: 4096,
    transform(record: string[], _enc, callback) {
      const at = line;
      line += 1;
      if (record.length === 1 && record[0] === '') {
        callback(); // empty line
        return;
      }
      if (record.length > 1 || record[0]!.length > 0) line += newlinesIn(record);
      if (header === undefined) {
        try {
          header = checkHeader(record, schema, warnings, logger);
        } catch (err) {
          callback(err as Error);
          return;
        }
        width = header.length;
        plan = header.map((name) => ({ name, type: schema.types.get(name), personal: schema.personal.has(name), declared: schema.types.has(name) }));
        pending += header.map(csvField).join(',') + '\n';
      } else {
        pending += processRecord(record, at);
        if (options.onProgress && rows - lastProgress >= 50_000) {
          lastProgress = rows;
          options.onProgress({ rows, bytes: guard.bytes, totalBytes });
        }
      }
      if (pending.length >= OUTPUT_CHUNK) {
        const buf = Buffer.from(pending, 'utf8');
        pending = '';
        hash.update(buf);
        this.push(buf);
      }
      callback();
    },
    flush(callback) {
      if (pending) {
        const buf = Buffer.from(pending, 'utf8');
        pending = '';
        hash.update(buf);
        this.push(buf);
      }
      callback();
    },
  });
  const rejectsOut = options.quarantine ? createWriteStream(rejectsFile, { mode: 0o600 }) : undefined;
  // Quarantined lines are flushed to their own spool as the run goes.
  const flushRejects = async () => {
    if (!rejectsOut || !rejectBuffer) return;
    const buf = Buffer.from(rejectBuffer, 'utf8');
    rejectBuffer = '';
    rejectsHash.update(buf);
    if (!rejectsOut.write(buf)) await once(rejectsOut, 'drain');
  };
  const rejectsTimer = rejectsOut ? setInterval(() => void flushRejects(), 250) : undefined;
  try {
    await pipeline(
      createReadStream(options.source, { highWaterMark: 1 << 20 }),
      guard,
      parser,
      rowsStream,
      createWriteStream(spoolFile, { mode: 0o600 }),
      { signal: options.signal },
    );
    await flushRejects();
  } catch (err) {
    if (options.signal?.aborted) throw new InterruptedError();
    throw csvFailure(err, options.source);
  } finally {
    if (rejectsTimer) clearInterval(rejectsTimer);
    if (rejectsOut) {
      rejectsOut.end();
      await once(rejectsOut, 'close');
    }
  }
  if (header === undefined) throw new DataError(`${path.basename(options.source)} is empty: no header row`, { hint: 'a CSV file with a header line is expected' });
  if (rows + rejected === 0) throw new DataError(`${path.basename(options.source)} has a header but no data rows`);
  options.onProgress?.({ rows, bytes: guard.bytes, totalBytes });
  return { rows, rejected, errors, warnings, sha256: hash.digest('hex'), rejectsSha256: rejectsHash.digest('hex') };
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

/** Turn a csv-parse error into a one-line DataError with the line. */
function csvFailure(err: unknown, source: string): Error {
  if (err instanceof WattError) return err;
  if (err instanceof CsvError) {
    const lines = (err as CsvError & { lines?: number }).lines;
    const where = lines ? ` at line ${lines}` : '';
    const name = path.basename(source);
    switch (err.code) {
      case 'CSV_QUOTE_NOT_CLOSED':
        return new DataError(`unbalanced quote in ${name}: a quoted field opened${where} is never closed`);
      case 'CSV_MAX_RECORD_SIZE':
        return new DataError(`a field in ${name}${where} is longer than ${MAX_RECORD_CHARS.toLocaleString('en')} characters`, { hint: 'is the file really a CSV of meter readings?' });
      case 'CSV_INVALID_CLOSING_QUOTE':
      case 'CSV_NON_TRIMABLE_CHAR_AFTER_CLOSING_QUOTE':
        return new DataError(`malformed quoting in ${name}${where}: characters follow a closing quote`);
      default:
        return new DataError(`cannot parse ${name}${where}: ${err.message.split('\n')[0]}`);
    }
  }
  const e = err as NodeJS.ErrnoException;
  if (e.code) return new StorageError(`cannot read or spool ${path.basename(source)}: ${e.code}`);
  return err as Error;
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
