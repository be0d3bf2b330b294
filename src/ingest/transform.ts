import { readSpoolRangeSync, readSpoolStream, SpoolWriter, type SpoolCipher } from '../spool-crypto.js';
import { closeSync, openSync, readSync } from 'node:fs';
import { isUtf8 } from 'node:buffer';
import { TextDecoder } from 'node:util';
import { Transform, Writable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CsvError } from 'csv-parse';
import { csvRecords } from '../records/csv-records.js';
import { DataError, InterruptedError, StorageError, WattError } from '../errors.js';
import { CellError, convertCell, describeAjvError, type CompiledSchema } from '../records/schema.js';
import { Pseudonymiser, type PseudonymScheme } from '../records/pseudonymise.js';
import { canonicalDecimal } from '../records/decimal.js';
import { canonicalIdentifier } from '../records/identifier.js';
import { duplicateReason, KeyTracker, type KeyTable, type KnownDuplicates } from './primary-key.js';
import { canonicalBoolean, canonicalDateTime, canonicalInteger, canonicalNumber, utcDay } from '../records/canonical.js';
import { createSink, type SpoolPart, type SpoolSpec } from './partition-spool.js';
import { AmbiguousTime, cellHint, compileDateTimeFormat, convertDateTime, DEFAULT_DIALECT, ISO_LOCAL, normaliseNumber, type CsvDialect, type DateTimeParser } from '../records/dialect.js';


/**
 * The hot loop of `watt ingest`: one byte range of the source, already past the header, through
 * UTF-8 check -> csv-parse -> conversion -> ajv -> canonical values -> pseudonymisation -> one
 * spool file per partition day, canonical CSV or Parquet (partition-spool.ts).
 * Runs in a worker thread per range for large files (see transform-worker.ts) or in process.
 * Knows nothing of lakes, catalogs or logs.
 */

/** Longest CSV field or record watt accepts, in characters (csv-parse `max_record_size`). */
export const MAX_RECORD_CHARS = 1_000_000;
/** Offending values are cut to this many characters in errors and quarantine files. */
const VALUE_PREVIEW = 40;
/** Row errors kept per range for the report (all are counted). */
export const ERRORS_KEPT = 20;
/** Quarantine lines are written in chunks of about this many characters. */
const REJECTS_CHUNK = 64 * 1024;
/**
 * Source read size, bytes. 64 KiB chunks run faster than 1 MiB ones here (csv-parse and the
 * caches like them small) and keep resident memory lower (bench:ingest, docs/benchmarks.md).
 */
export const READ_CHUNK = 64 * 1024;
/** The primary-key table is sized for the whole range after this many rows (primary-key.ts). */
const KEY_TABLE_ESTIMATE_AFTER = 10_000;
/** Progress is reported every this many rows. */
const PROGRESS_EVERY = 50_000;

/** One failing cell of a row. Holds no raw personal identifier. */
export interface CellFault {
  column: string;
  reason: string;
  /** The offending value, cut to 40 characters; absent for personal columns. */
  value?: string;
}

/** One rejected row: where and why. Holds no raw personal identifier. */
export interface RowError {
  /** 1-based line number in the source file (the header is line 1). */
  line: number;
  /** Column at fault (the row's first failing cell), or null for a row-level fault (wrong number of fields). */
  column: string | null;
  reason: string;
  /** The offending value, cut to 40 characters; absent for personal columns. */
  value?: string;
  /** A duplicate primary key: the line of the first row with the same key (primary-key.ts). */
  duplicate_of?: number;
  /** Every failing cell of the row, in column order, when more than one cell fails. */
  cells?: CellFault[];
}

/**
 * Rejected rows grouped by column and reason, as a validator summarises them: how many rows, the
 * first lines, and a hint naming the keyword or flag that fixes it. No value is kept.
 */
export interface FaultGroup {
  column: string | null;
  reason: string;
  rows: number;
  /** The first lines (up to 5), ascending within a range. */
  lines: number[];
  /** The value of the first such cell, cut to 40 characters; absent for personal columns and row-level faults. */
  example?: string;
  hint?: string;
}

/** The reason of the fault group of rows repeating an earlier row's primary key. */
export const DUPLICATE_KEY_REASON = 'repeats the primary key of an earlier row';

/** Lines kept per fault group. */
export const GROUP_LINES = 5;

/** A byte range of the source to transform. Plain data: it crosses to worker threads. */
export interface RangeJob {
  source: string;
  /** Set when `source` is an encrypted spool copy (src/spool-crypto.ts): read decrypted. */
  sourceCipher?: SpoolCipher;
  /** How messages name the source (never its file name before redaction: README "File names"). */
  sourceLabel: string;
  /**
   * The source file name (NFC), as far as it is already redacted: canonical personal cells found
   * inside it are reported in {@link RangeOutcome.nameHits}.
   */
  nameStem?: string;
  /** Byte offsets [start, end): start is the first byte of a record, end the byte after a newline. */
  start: number;
  end: number;
  /** Line number of the byte at `start`. */
  firstLine: number;
  /** The checked header: column names in file order. */
  header: string[];
  /** The header line written at the top of each CSV spool file (canonical CSV). */
  headerLine: string;
  /** Format and spool files of the output (one file per partition day). */
  spool: SpoolSpec;
  /** The partition day of every row (`YYYY-MM-DD`), unless `partitionBy` is set. */
  date: string;
  /** A date-time column of the header: each row goes to the partition of its UTC day. */
  partitionBy?: string;
  /** JSON lines of rejected rows, when quarantining (an encrypted spool keyed by `spool.secret`). */
  rejectsFile?: string;
  /** How pseudonyms are spelled (the lake prefix's scheme, records/pseudonymise.ts). */
  pseudonymScheme: PseudonymScheme;
  // --- issue 11 items 4-5 (extra-columns.ts, primary-key.ts) ---
  /** Columns left out of the output (`--extra-columns drop`). */
  drop?: string[];
  /** Hash seed of the run's primary-key check (same for every range); unset: no key check. */
  keySeed?: number[];
  /** Return the range's keys (several ranges, or a key log: searched by the caller). */
  returnKeys?: boolean;
  /**
   * Strict mode: log the keys and let the caller find duplicates after the range
   * (primary-key.ts KeyLog, logDuplicates) instead of probing a table on every row.
   */
  keyLog?: boolean;
  /** Re-run after a merge: lines duplicating a key of an earlier range. */
  knownDuplicates?: KnownDuplicates;
  /** The CSV dialect (the schema's, with --delimiter / --encoding applied); default RFC 4180 UTF-8. */
  dialect?: CsvDialect;
  /** --timezone: zone of naive date-times, over the schema's `x-timezone`. */
  timezone?: string;
}

export interface RangeOutcome {
  rows: number;
  rejected: number;
  /** The first {@link ERRORS_KEPT} row errors of the range, in line order. */
  errors: RowError[];
  /**
   * Canonical personal identifiers of this range found inside {@link RangeJob.nameStem} (at most
   * {@link MAX_NAME_HITS}), for the caller to redact from the name. Held in memory only.
   */
  nameHits: string[];
  /** The range's primary-key table, when {@link RangeJob.returnKeys}. */
  keys?: KeyTable;
  /** The spool file of each partition day the range wrote rows to. */
  parts: SpoolPart[];
  /** How {@link RangeJob.rejectsFile} is encrypted, when quarantining (src/spool-crypto.ts). */
  rejectsCipher?: SpoolCipher;
  /** Every rejected row counted by column and reason (the first lines of each). */
  faults: FaultGroup[];
}

/** Personal cells shorter than this are not searched for in the file name (too many false hits). */
export const MIN_NAME_HIT_CHARS = 3;
/** Name hits kept per range. */
const MAX_NAME_HITS = 100;

/** Rows and source bytes done since the last report. */
export type ProgressDelta = (rows: number, bytes: number) => void;

/**
 * Transform one range. Memory is flat whatever the size: CSV rows are never held together;
 * Parquet rows are buffered up to one row group across the range's partitions (partition-spool.ts).
 * A row is rejected (not landed) when a canonical value cannot be written exactly, or when its
 * `partitionBy` cell is empty.
 * @throws DataError for invalid UTF-8, broken quoting or an over-long field (with the line);
 * StorageError when the spool cannot be written; InterruptedError when `signal` aborts.
 */
export async function transformRange(job: RangeJob, schema: CompiledSchema, key: Uint8Array, signal?: AbortSignal, onProgress?: ProgressDelta): Promise<RangeOutcome> {
  const pseudonymiser = new Pseudonymiser(Buffer.from(key), job.pseudonymScheme);
  const errors: RowError[] = [];
  const nameStem = job.nameStem;
  const nameHits = new Set<string>();
  let rows = 0;
  let rejected = 0;
  // Line number of the next record's first line. csv-parse runs without `info` (which costs a
  // third of the parse time), so lines are counted here: one per record, plus newlines inside
  // quoted fields, plus empty lines (kept by the parser and skipped here).
  let line = job.firstLine;
  const header = job.header;
  const width = header.length;
  const plan = header.map((name) => {
    const type = schema.types.get(name);
    const personal = schema.personal.has(name);
    const dateTime = schema.dateTimes.has(name) && !personal;
    const format = schema.formats.get(name);
    // Declared spellings (records/dialect.ts): none on the plain path.
    const number = (type === 'number' || type === 'integer') && (format?.decimalChar !== undefined || format?.groupChar !== undefined) ? { decimalChar: format!.decimalChar, groupChar: format!.groupChar } : undefined;
    const zone = job.timezone ?? format?.timezone ?? schema.timezone;
    let local: { parser: DateTimeParser; zone: string | undefined; series: number[] | undefined } | undefined;
    if (dateTime && (zone !== undefined || format?.dateTimeFormat !== undefined)) {
      const series = schema.primaryKey.includes(name) ? schema.primaryKey.filter((c) => c !== name).map((c) => header.indexOf(c)) : undefined;
      local = { parser: format?.dateTimeFormat ? compileDateTimeFormat(format.dateTimeFormat) : ISO_LOCAL, zone, series };
    }
    const decimal = personal ? undefined : schema.decimals.get(name);
    return { name, type, personal, declared: schema.types.has(name), dateTime, number, local, decimal, drop: job.drop?.includes(name) === true };
  });
  // Output cells: every column but the dropped ones (--extra-columns drop), in file order.
  const kept = job.drop?.length ? plan.flatMap((p, i) => (p.drop ? [] : [i])) : undefined;
  const keys = job.keySeed && schema.primaryKey.length ? new KeyTracker(schema, job.keySeed, job.knownDuplicates, header, job.keyLog ? 'log' : 'table') : undefined;
  const partitionIndex = job.partitionBy ? header.indexOf(job.partitionBy) : -1;
  const sink = await createSink(job.spool, job.headerLine);
  let rejectBuffer = '';
  const groups = new Map<string, FaultGroup>();
  const count = (column: string | null, reason: string, at: number, raw: string | undefined) => {
    const k = `${column}\u0000${reason}`;
    let g = groups.get(k);
    if (!g) {
      const p = column === null ? undefined : plan[header.indexOf(column)];
      const hint = p && !p.personal ? cellHint(reason, raw, p.type, p.dateTime) : undefined;
      const example = column !== null && raw !== undefined && raw !== '' ? preview(column, raw) : undefined;
      g = { column, reason, rows: 0, lines: [], ...(example !== undefined ? { example } : {}), ...(hint ? { hint } : {}) };
      groups.set(k, g);
    }
    g.rows++;
    if (g.lines.length < GROUP_LINES) g.lines.push(at);
  };
  const reject = (e: RowError, raw?: string) => {
    rejected++;
    if (errors.length < ERRORS_KEPT) errors.push(e);
    if (job.rejectsFile) rejectBuffer += JSON.stringify(e) + '\n';
    // Duplicate keys are one group whatever line they repeat.
    if (!e.cells) count(e.column, e.duplicate_of !== undefined ? DUPLICATE_KEY_REASON : e.reason, e.line, raw);
  };
  const preview = (column: string, raw: string): string | undefined =>
    schema.personal.has(column) ? undefined : raw.length > VALUE_PREVIEW ? raw.slice(0, VALUE_PREVIEW) + '…' : raw;
  // Failing cells of the current row, and the source spelling of cells rewritten before validation.
  const faults: CellFault[] = [];
  const faultRaws: (string | undefined)[] = [];
  const raws: (string | undefined)[] = new Array(width).fill(undefined);
  const fault = (column: string, reason: string, raw: string | undefined) => {
    if (faults.some((f) => f.column === column)) return;
    const value = raw === undefined || raw === '' ? undefined : preview(column, raw);
    faults.push(value === undefined ? { column, reason } : { column, reason, value });
    faultRaws.push(raw);
  };
  /** Reject the row with every failing cell collected (in column order). */
  const rejectFaults = (at: number) => {
    const order = (c: string) => header.indexOf(c);
    const idx = faults.map((_, i) => i).sort((a, b) => order(faults[a]!.column) - order(faults[b]!.column));
    const sorted = idx.map((i) => faults[i]!);
    const first = sorted[0]!;
    const e: RowError = { line: at, ...first, ...(sorted.length > 1 ? { cells: sorted } : {}) };
    reject(e, faultRaws[idx[0]!]);
    if (e.cells) for (const i of idx) count(faults[i]!.column, faults[i]!.reason, at, faultRaws[i]);
  };
  // Repeated local times (fall back) seen per series: the first is the earlier instant.
  const ambiguousSeen = new Map<string, number>();
  const pending: number[] = [];
  const pendingTimes: AmbiguousTime[] = [];

  // One row object reused for every record (ajv keeps no reference): stable shape, less garbage.
  // An empty cell is set to undefined, which `required` reports as missing.
  const row: Record<string, unknown> = {};
  const values: unknown[] = new Array(width).fill(undefined);
  // The pseudonymiser's memo entry of each pseudonym of the row (-1 elsewhere): the Parquet
  // dictionaries find those values without a Map lookup (formats/parquet-columns.ts).
  const hints = job.spool.format === 'parquet' && !kept && schema.personal.size ? new Int32Array(width).fill(-1) : undefined;
  const fillRow = rowFiller(plan.map((p) => (p.declared ? p.name : undefined)));
  fillRow(row, values);
  /** Validate, canonicalise, pseudonymise and spool one record; false if it was rejected. */
  const processRecord = (record: string[], at: number): boolean => {
    if (record.length !== width) {
      reject({ line: at, column: null, reason: `has ${record.length} fields, the header has ${width}` });
      return false;
    }
    // (`length = 0` is a runtime call even on an empty array: only when a row had faults)
    if (faults.length) {
      faults.length = 0;
      faultRaws.length = 0;
    }
    for (let i = 0; i < width; i++) {
      const p = plan[i]!;
      if (p.personal) {
        // One canonical form per identifier (NFC, trimmed) before validation and HMAC.
        const cell = canonicalIdentifier(record[i]!);
        record[i] = cell;
        if (nameStem && cell.length >= MIN_NAME_HIT_CHARS && nameStem.includes(cell) && nameHits.size < MAX_NAME_HITS) nameHits.add(cell);
      }
      if (!p.declared) continue;
      if (p.number || p.local) {
        const raw = record[i]!;
        raws[i] = raw;
        if (raw !== '') {
          if (p.number) record[i] = normaliseNumber(raw, p.number.decimalChar, p.number.groupChar);
          else {
            const t = convertDateTime(raw, p.local!.parser, p.local!.zone);
            if (t instanceof CellError) {
              fault(p.name, t.reason, raw);
              values[i] = undefined;
              continue;
            }
            if (t instanceof AmbiguousTime) {
              pending.push(i);
              pendingTimes.push(t);
              record[i] = t.earlier;
            } else record[i] = t;
          }
        }
      }
      const value = convertCell(record[i]!, p.type);
      if (value instanceof CellError) {
        fault(p.name, value.reason, raws[i] ?? record[i]);
        values[i] = undefined;
        continue;
      }
      values[i] = value;
    }
    // Repeated local times: in a series (the rows sharing the other primary-key columns, in file
    // order) the first occurrence is the earlier instant, the second the later; with no series
    // order the row is rejected as ambiguous.
    for (let k = 0; k < pending.length; k++) {
      const i = pending[k]!;
      const p = plan[i]!;
      const t = pendingTimes[k]!;
      if (!p.local!.series) {
        fault(p.name, `is ambiguous in ${p.local!.zone} (the hour repeats when daylight saving ends) and no series order resolves it: add the column to "x-primary-key"`, raws[i]);
        values[i] = undefined;
        continue;
      }
      const seriesKey = p.local!.series.map((j) => (j >= 0 ? record[j]! : '')).join('\u0001') + '\u0000' + raws[i]!;
      const seen = ambiguousSeen.get(seriesKey) ?? 0;
      ambiguousSeen.set(seriesKey, seen + 1);
      record[i] = seen === 0 ? t.earlier : t.later;
      values[i] = record[i];
    }
    if (pending.length) {
      pending.length = 0;
      pendingTimes.length = 0;
    }
    fillRow(row, values);
    if (!schema.validate(row) || faults.length) {
      for (const err of schema.validate.errors ?? []) {
        const { column, reason } = describeAjvError(err);
        const idx = header.indexOf(column);
        fault(column, reason, idx >= 0 ? (raws[idx] ?? record[idx]) : undefined);
      }
      rejectFaults(at);
      return false;
    }
    // Canonical values (records/canonical.ts), then pseudonyms: the record now holds the output cells.
    for (let i = 0; i < width; i++) {
      const p = plan[i]!;
      if (p.drop) continue;
      const v = record[i]!;
      if (hints) hints[i] = -1;
      if (v === '' || !p.declared) continue;
      if (p.personal) {
        record[i] = pseudonymiser.pseudonym(v);
        if (hints) hints[i] = pseudonymiser.lastEntry;
        continue;
      }
      let c: string | CellError;
      if (p.dateTime) c = canonicalDateTime(v);
      else if (p.decimal) c = canonicalDecimal(v, p.decimal);
      else if (p.type === 'number') c = canonicalNumber(v);
      else if (p.type === 'integer') c = canonicalInteger(v);
      else if (p.type === 'boolean') c = canonicalBoolean(values[i] as boolean);
      else continue;
      if (c instanceof CellError) {
        reject({ line: at, column: p.name, reason: c.reason, value: preview(p.name, v) });
        return false;
      }
      record[i] = c;
    }
    let date = job.date;
    if (partitionIndex >= 0) {
      const ts = record[partitionIndex]!;
      if (ts === '') {
        reject({ line: at, column: job.partitionBy!, reason: 'is empty but partitions the rows (--partition-by)' });
        return false;
      }
      date = utcDay(ts);
    }
    // Primary key (primary-key.ts), last, on rows otherwise valid: a rejected row never claims a key.
    const key = keys?.check(record, at);
    if (key) {
      if ('empty' in key) reject({ line: at, column: key.empty, reason: 'is empty but part of the primary key' });
      else reject({ line: at, column: null, reason: duplicateReason(keys!.label, key.first), duplicate_of: key.first });
      return false;
    }
    sink.write(date, kept ? kept.map((i) => record[i]!) : record, hints);
    rows++;
    return true;
  };

  const dialect = job.dialect ?? DEFAULT_DIALECT;
  const guard = dialect.encoding === 'utf-8' ? new Utf8Guard(job.source, job.start, job.firstLine, dialect.quoteChar, job.sourceCipher) : new DecodeGuard(dialect.encoding, dialect.quoteChar);
  const parser = csvRecords({ delimiter: dialect.delimiter, quote: dialect.quoteChar, relax_column_count: true, skip_empty_lines: false, max_record_size: MAX_RECORD_CHARS });
  let reportedRows = 0;
  let reportedBytes = 0;
  // Rejected rows hold raw cells: encrypted on their way to disk (src/spool-crypto.ts).
  const rejectsOut = job.rejectsFile ? SpoolWriter.create(job.rejectsFile, job.spool.secret) : undefined;
  const flushRejects = () => {
    if (!rejectsOut || !rejectBuffer) return;
    const text = rejectBuffer;
    rejectBuffer = '';
    rejectsOut.write(text);
  };
  /** One parsed record, synchronously (csv-parse calls it for each record of a chunk). */
  const onRecord = (record: string[]) => {
    const at = line;
    line += 1;
    if (record.length === 1 && record[0] === '') return; // an empty line
    // A field holds a line break only inside quotes: none seen yet in the range, none to count.
    if (guard.quoted) line += newlinesIn(record);
    processRecord(record, at);
    if (keys && rows + rejected === KEY_TABLE_ESTIMATE_AFTER) keys.reserveFor(KEY_TABLE_ESTIMATE_AFTER, guard.bytes, job.end - job.start);
    if (onProgress && rows + rejected - reportedRows >= PROGRESS_EVERY) {
      onProgress(rows + rejected - reportedRows, guard.bytes - reportedBytes);
      reportedRows = rows + rejected;
      reportedBytes = guard.bytes;
    }
  };
  /** Parse a chunk (or, with `undefined`, the end) and process its records; then the rejects' back-pressure. */
  const parseChunk = (chunk: Buffer | undefined, callback: (err?: Error | null) => void) => {
    let err: Error | undefined;
    try {
      err = parser.parse(chunk, chunk === undefined, onRecord, noop);
    } catch (e) {
      err = e as Error;
    }
    if (err) {
      callback(err);
      return;
    }
    if (rejectBuffer.length >= REJECTS_CHUNK || (chunk === undefined && rejectBuffer)) {
      try {
        flushRejects();
      } catch (e) {
        callback(e as Error);
        return;
      }
    }
    callback();
  };
  // Records go straight from the parser to processRecord: no object-mode stream between them
  // (one stream hop and one callback per record less).
  const rowsStream = new Writable({
    write: (chunk: Buffer, _enc, callback) => parseChunk(chunk, callback),
    final: (callback) => parseChunk(undefined, callback),
  });
  let parts: SpoolPart[];
  try {
    await pipeline(readSpoolStream(job.source, job.sourceCipher, { start: job.start, end: job.end - 1, highWaterMark: READ_CHUNK }), guard, rowsStream, { signal });
    parts = sink.finish();
    flushRejects();
  } catch (err) {
    if (signal?.aborted) throw new InterruptedError();
    throw csvFailure(err, job.sourceLabel, job.firstLine);
  } finally {
    rejectsOut?.close();
  }
  onProgress?.(rows + rejected - reportedRows, guard.bytes - reportedBytes);
  return { rows, rejected, errors, nameHits: [...nameHits], parts, faults: [...groups.values()], ...(rejectsOut ? { rejectsCipher: rejectsOut.cipher } : {}), ...(job.returnKeys && keys ? { keys: keys.keys() } : {}) };
}

/**
 * Passes bytes through unchanged while checking they are valid UTF-8 (`buffer.isUtf8`, native).
 * A multi-byte character split across chunks is carried to the next chunk. An invalid sequence
 * fails the run with the line it is on. Counts bytes for progress.
 */
class Utf8Guard extends Transform {
  bytes = 0;
  /** A double quote was seen (the parser only gets bytes this guard passed on). */
  quoted = false;
  /** Bytes passed on. */
  private passed = 0;
  private carry: Buffer | undefined;

  /**
   * @param source the file read, from byte `start`, whose first line is `firstLine`: only an
   * invalid sequence needs a line number, counted then by reading the bytes before it again.
   */
  private readonly quoteByte: number;

  constructor(
    private readonly source: string,
    private readonly start: number,
    private readonly firstLine: number,
    quoteChar = '"',
    private readonly cipher?: SpoolCipher,
  ) {
    super();
    this.quoteByte = quoteChar.charCodeAt(0);
  }

  /** Line number of the byte `offset` bytes after the start. */
  private lineAt(offset: number): number {
    return this.firstLine + countNewlines(this.source, this.start, this.start + offset, this.cipher);
  }

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
      callback(invalidUtf8(this.lineAt(this.passed) + newlinesBeforeInvalid(buf)));
      return;
    }
    this.passed += buf.length;
    if (!this.quoted && buf.indexOf(this.quoteByte) !== -1) this.quoted = true;
    callback(null, buf);
  }

  override _flush(callback: TransformCallback): void {
    if (this.carry && !isUtf8(this.carry)) callback(invalidUtf8(this.lineAt(this.passed)));
    else callback(null, this.carry);
  }
}

/**
 * Decodes a single-byte encoding (windows-1252; latin-1 read as windows-1252, as WHATWG does) to
 * UTF-8 for the parser, with TextDecoder (ICU). Every byte decodes: nothing can be invalid.
 * Counts source bytes for progress.
 */
class DecodeGuard extends Transform {
  bytes = 0;
  quoted = false;
  private readonly decoder: TextDecoder;
  private readonly quoteByte: number;

  constructor(encoding: string, quoteChar = '"') {
    super();
    this.decoder = new TextDecoder(encoding === 'latin-1' ? 'windows-1252' : encoding);
    this.quoteByte = quoteChar.charCodeAt(0);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    if (!this.quoted && chunk.indexOf(this.quoteByte) !== -1) this.quoted = true;
    callback(null, Buffer.from(this.decoder.decode(chunk, { stream: true }), 'utf8'));
  }

  override _flush(callback: TransformCallback): void {
    const rest = this.decoder.decode();
    callback(null, rest ? Buffer.from(rest, 'utf8') : undefined);
  }
}

/** Newlines in bytes [from, to) of a file, read again (error paths only). */
function countNewlines(file: string, from: number, to: number, cipher?: SpoolCipher): number {
  if (cipher) {
    let n = 0;
    for (let at = from; at < to; at += 1 << 20) n += countByte(readSpoolRangeSync(file, cipher, at, Math.min(1 << 20, to - at)), 10);
    return n;
  }
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    let n = 0;
    for (let at = from; at < to; ) {
      const read = readSync(fd, buf, 0, Math.min(buf.length, to - at), at);
      if (read === 0) break;
      n += countByte(buf.subarray(0, read), 10);
      at += read;
    }
    return n;
  } finally {
    closeSync(fd);
  }
}

function invalidUtf8(line: number): DataError {
  return new DataError(`invalid UTF-8 at line ${line}: the file is not UTF-8`, { hint: 'name its encoding: "encoding": "windows-1252" in the schema\'s "x-dialect", or --encoding windows-1252 (or latin-1)' });
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

/** Newlines inside the fields of a record (quoted multi-line fields). */
function newlinesIn(record: string[]): number {
  let n = 0;
  for (const field of record) if (field.indexOf('\n') !== -1) n += field.split('\n').length - 1;
  return n;
}

/** Turn a csv-parse error into a one-line DataError with the line; `name` is how to call the source. */
export function csvFailure(err: unknown, name: string, firstLine: number): Error {
  if (err instanceof WattError) return err;
  if (err instanceof CsvError) {
    // csv-parse counts lines from the start of the range, from 1.
    const lines = (err as CsvError & { lines?: number }).lines;
    const where = lines ? ` at line ${lines + firstLine - 1}` : '';
    switch (err.code) {
      case 'CSV_QUOTE_NOT_CLOSED':
        return new DataError(`unbalanced quote in ${name}: a quoted field opened${where} is never closed`);
      case 'CSV_MAX_RECORD_SIZE':
        return new DataError(`a field in ${name}${where} is longer than ${MAX_RECORD_CHARS.toLocaleString('en')} characters`, { hint: 'is the file really a CSV of meter readings?' });
      case 'CSV_INVALID_CLOSING_QUOTE':
      case 'CSV_NON_TRIMABLE_CHAR_AFTER_CLOSING_QUOTE':
        return new DataError(`malformed quoting in ${name}${where}: characters follow a closing quote`);
      case 'INVALID_OPENING_QUOTE':
        return new DataError(`malformed quoting in ${name}${where}: a quote inside an unquoted field`, { hint: 'quote the whole field and double the inner quotes (RFC 4180)' });
      default:
        // csv-parse's own messages quote field values, which may be personal data: keep the code only.
        return new DataError(`cannot parse ${name}${where} (${err.code})`);
    }
  }
  const e = err as NodeJS.ErrnoException;
  if (e.code) return new StorageError(`cannot read or spool ${name}: ${e.code}`);
  return err as Error;
}


/**
 * A function copying `values[i]` to `row[names[i]]` for each named column (undefined: skipped),
 * compiled once per range: one store per column at a fixed key, where `row[name] = value` over
 * seven or more names is a megamorphic keyed store on every cell. Names are embedded as JSON
 * string literals (any header text is safe).
 */
function rowFiller(names: (string | undefined)[]): (row: Record<string, unknown>, values: unknown[]) => void {
  const body = names.flatMap((name, i) => (name === undefined ? [] : [`row[${JSON.stringify(name)}] = values[${i}];`])).join('\n');
  return new Function('row', 'values', `"use strict";\n${body}`) as (row: Record<string, unknown>, values: unknown[]) => void;
}

function noop(): void {}
