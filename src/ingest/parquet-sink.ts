import { rmSync } from 'node:fs';
import { spoolChunksSync, SpoolWriter, type SpoolCipher } from '../spool-crypto.js';
import { StringDecoder } from 'node:string_decoder';
import { ParquetFileWriter, ROW_GROUP_ROWS } from '../formats/parquet.js';
import type { RowSink, SpoolPart, SpoolSpec } from './partition-spool.js';

/**
 * The Parquet side of a range's output (partition-spool.ts has the CSV side and the shared
 * types): one ParquetFileWriter per partition day, their column buffers bounded together.
 * Loaded on demand by {@link createSink} (it pulls in the encoder and zstd).
 */

/**
 * Byte budget of a range's Parquet column buffers (parquet-columns.ts: 8 bytes a number or
 * timestamp, 4 a dictionary index, 1 a boolean, length-prefixed UTF-8 for other strings, plus an
 * estimate of the string dictionaries; ~60 bytes a row of the seed's shape, ~115,000 rows a row
 * group). A partition's writer encodes a row group when doubling a full buffer would pass this
 * budget, then reuses its buffers; other partitions' rows are encoded, and their buffers given
 * back, when they hold half the budget. The buffers live outside the worker's 64 MiB JavaScript
 * heap but count in the process's RSS (two workers). Sized by measurement (docs/benchmarks.md
 * "Parquet encoder"): 16 MiB (lake 14 MiB for 1M rows, 0.08 of the CSV lake) rather than 32 or
 * 64 (lake 6 or 3 MiB, +10-30 MiB peak RSS) or 8 (lake 28 MiB, no lower RSS within the noise).
 */
export const PARQUET_BUFFER_BYTES = 16 * 1024 * 1024;
/** A writer holding no more than this (its starting buffers) is left alone. */
const IDLE_BYTES = 64 * 1024;
/** Most rows of a row group (formats/parquet.ts ROW_GROUP_ROWS: watt's readers hold one row group in memory). */
export const PARQUET_ROW_GROUP_ROWS = ROW_GROUP_ROWS;

/**
 * A writer chosen to give its memory back holding less than this is not encoded (that would make a
 * small row group): the sink switches to spooling instead (see {@link ParquetSink}).
 */
export const SMALL_ROW_GROUP_BYTES = PARQUET_BUFFER_BYTES / 4;
/** Spooled row text buffered across days before every buffer is appended to its file (characters). */
const SPOOL_BUFFER_TOTAL = 4 * 1024 * 1024;
/** Field and record separators of a day's row spool; `\\`, the field separator and line breaks in values are escaped. */
const FS = '\x1f';

/** The rows of one day spooled as text while its Parquet writer waits (see {@link ParquetSink}). */
interface RowSpool {
  writer: SpoolWriter;
  pending: string;
  rows: number;
}

/**
 * The Parquet sink of a range: one {@link ParquetFileWriter} per partition day, encoding rows as
 * they come, their column buffers bounded together (~1.5 x {@link PARQUET_BUFFER_BYTES}).
 *
 * On input whose days are interleaved (an export in random or customer order with
 * `--partition-by`), giving memory back would encode many small row groups (issue 23: 336 day
 * files of 10-12 row groups of ~259 rows, the lake 2.2x the one-object lake; on the bench's 3
 * days in random order, row groups of ~70,000 rows each repeating the pseudonym dictionaries, 2.15x).
 * So the first time a writer must give memory back while days are interleaved (consecutive rows
 * changed day more than 4 times per day seen, or the writer holds less than
 * {@link SMALL_ROW_GROUP_BYTES} and had already given memory back once), the sink stops
 * encoding: the writers keep what they hold (within the bound above), and every later row is
 * spooled as text to its day's file (`<spool prefix>.<day>.rows`, private, encrypted with keys
 * held in memory only by src/spool-crypto.ts, removed once read).
 * {@link finish} then encodes one day at a time, its held rows then its spooled rows in source
 * order, into row groups that are full up to the budget (or the whole day). Input in time order
 * never switches (the idle day it encodes is over and gets no more rows).
 */
export class ParquetSink implements RowSink {
  private readonly writers = new Map<string, ParquetFileWriter>();
  /** Bytes buffered by all writers (their typed buffers). */
  private bufferedBytes = 0;
  /** Per day, once the sink spools. */
  private spools: Map<string, RowSpool> | undefined;
  private spoolBuffered = 0;
  /** Day of the previous row, and how many times consecutive rows changed day. */
  private lastDate = '';
  private dayChanges = 0;
  /** Writers already made to give their memory back once. */
  private readonly flushed = new Set<ParquetFileWriter>();

  /** Indexes of the columns whose values may need escaping in a spool (free text). */
  private readonly free: number[];

  constructor(private readonly spec: SpoolSpec) {
    this.free = spec.columns.flatMap((c, i) => (c.kind === 'string' && spec.plain[i] !== true ? [i] : []));
  }

  /** Whether the sink switched to spooling rows (issue 23: full row groups on interleaved days). */
  get spooling(): boolean {
    return this.spools !== undefined;
  }

  write(date: string, record: string[], hints?: Int32Array): void {
    if (this.spools) return this.spool(date, record);
    if (date !== this.lastDate) {
      this.dayChanges++;
      this.lastDate = date;
    }
    let w = this.writers.get(date);
    if (!w) {
      w = this.newWriter(date);
      this.bufferedBytes += w.bufferedBytes;
    }
    const before = w.bufferedBytes;
    w.appendCanonical(record, hints);
    this.bufferedBytes += w.bufferedBytes - before;
    // The writer bounds its own buffers to PARQUET_BUFFER_BYTES (it encodes a row group and reuses
    // them); when the other partitions hold half as much, their rows are encoded, largest first,
    // and their buffers given back: at most ~1.5 x PARQUET_BUFFER_BYTES in all.
    while (this.bufferedBytes - w.bufferedBytes >= PARQUET_BUFFER_BYTES / 2) {
      let largest: ParquetFileWriter | undefined;
      for (const x of this.writers.values()) if (x !== w && x.bufferedBytes > IDLE_BYTES && (!largest || x.bufferedBytes > largest.bufferedBytes)) largest = x;
      if (!largest) break;
      // Days are interleaved when consecutive rows change day far more often than there are days
      // (time order changes day once per day), or when a small day got rows again after it gave
      // memory back: encoding now would make a row group smaller than the budget allows, each with
      // its own dictionaries (20,000 pseudonyms: ~2.6 MB a row group). Spool from here on.
      if (this.dayChanges > 4 * this.writers.size || (largest.bufferedBytes < SMALL_ROW_GROUP_BYTES && this.flushed.has(largest))) {
        this.spools = new Map();
        break;
      }
      this.flushed.add(largest);
      const held = largest.bufferedBytes;
      largest.flushRowGroup();
      this.bufferedBytes -= held - largest.bufferedBytes;
    }
  }

  private newWriter(date: string): ParquetFileWriter {
    const w = new ParquetFileWriter(`${this.spec.prefix}.${date}.parquet`, this.spec.columns, { rowGroupRows: PARQUET_ROW_GROUP_ROWS, rowGroupBytes: PARQUET_BUFFER_BYTES, spool: { secret: this.spec.secret } });
    this.writers.set(date, w);
    return w;
  }

  private spool(date: string, record: string[]): void {
    let s = this.spools!.get(date);
    if (!s) {
      s = { writer: SpoolWriter.create(`${this.spec.prefix}.${date}.rows`, this.spec.secret), pending: '', rows: 0 };
      this.spools!.set(date, s);
    }
    // Only free-text columns can hold a backslash, the separator or a line break (pseudonyms are
    // hex, typed values canonical): one native join for the row, a check for those columns only.
    const free = this.free;
    let escape = false;
    for (let i = 0; i < free.length && !escape; i++) escape = NEEDS_ESCAPE.test(record[free[i]!]!);
    const line = (escape ? record.map((v) => v.replace(ESCAPED, escapeChar)) : record).join(FS) + '\n';
    s.pending += line;
    s.rows++;
    this.spoolBuffered += line.length;
    if (this.spoolBuffered >= SPOOL_BUFFER_TOTAL) for (const x of this.spools!.values()) this.flushSpool(x);
  }

  private flushSpool(s: RowSpool): void {
    if (!s.pending) return;
    s.writer.write(s.pending);
    this.spoolBuffered -= s.pending.length;
    s.pending = '';
  }

  finish(): SpoolPart[] {
    const parts: SpoolPart[] = [];
    // The days holding the most buffered rows first: their memory is given back before the
    // days that start from their spool alone grow a writer.
    const held = (d: string) => this.writers.get(d)?.bufferedBytes ?? 0;
    const dates = [...new Set([...this.writers.keys(), ...(this.spools?.keys() ?? [])])].sort((a, b) => held(b) - held(a));
    for (const date of dates) {
      const w = this.writers.get(date) ?? this.newWriter(date);
      const s = this.spools?.get(date);
      if (s) {
        this.flushSpool(s);
        const cipher = s.writer.close();
        replaySpool(s.writer.file, cipher, this.spec.columns.length, (record) => w.appendCanonical(record));
        rmSync(s.writer.file, { force: true });
      }
      // Encodes what is left and gives the buffers back before the next day's writer grows.
      const parquet = w.finishPart();
      parts.push({ date, file: w.file, rows: parquet.rows, bytes: parquet.bytes, lead: 4, parquet, cipher: parquet.cipher! });
    }
    this.bufferedBytes = 0;
    return parts;
  }
}

/** Any character a spooled value must escape. */
const NEEDS_ESCAPE = /[\\\x1f\n]/;
const ESCAPED = /[\\\x1f\n]/g;
const escapeChar = (c: string): string => (c === '\\' ? '\\\\' : c === '\n' ? '\\n' : '\\s');
const unescapeChar = (_: string, c: string): string => (c === 'n' ? '\n' : c === 's' ? FS : c);

/**
 * Read a day's row spool back (decrypted, its GCM tag checked: src/spool-crypto.ts), record by
 * record, in the order written (1 MiB reads).
 * @throws Error if a record does not have `width` fields (a damaged spool: the run fails);
 * DataError if the spool does not match its GCM tag
 */
function replaySpool(file: string, cipher: SpoolCipher, width: number, onRecord: (record: string[]) => void): void {
  {
    const decoder = new StringDecoder('utf8');
    let rest = '';
    for (const chunk of spoolChunksSync(file, cipher)) {
      const text = rest + decoder.write(chunk);
      let start = 0;
      for (let end = text.indexOf('\n'); end >= 0; end = text.indexOf('\n', start)) {
        const line = text.slice(start, end);
        start = end + 1;
        const record = line.split(FS);
        if (line.includes('\\')) for (let i = 0; i < record.length; i++) record[i] = record[i]!.replace(/\\(.)/g, unescapeChar);
        if (record.length !== width) throw new Error(`spool ${file} has a record of ${record.length} fields, expected ${width}`);
        onRecord(record);
      }
      rest = text.slice(start);
    }
    if (rest + decoder.end()) throw new Error(`spool ${file} ends inside a record`);
  }
}
