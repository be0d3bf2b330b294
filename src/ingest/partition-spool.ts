import { SpoolWriter, type SpoolCipher } from '../spool-crypto.js';
import { csvField, needsQuotes } from '../records/csv.js';
import type { ParquetColumn, ParquetKind, ParquetPart } from '../formats/parquet.js';
import type { DataFormat } from '../table/manifest.js';

/**
 * The output side of one byte range of `watt ingest`: valid rows, already canonical and
 * pseudonymised (one string per column), go to one spool file per partition day, as canonical CSV
 * or as Parquet row groups. Memory is bounded whatever the number of days or their order:
 * CSV text is buffered up to {@link CSV_BUFFER_TOTAL} bytes across partitions, Parquet rows
 * up to {@link PARQUET_BUFFER_BYTES} of column buffers across partitions; no file descriptor stays open.
 * Every spool file is encrypted by src/spool-crypto.ts's {@link SpoolWriter} (keys in memory only).
 * Synchronous file writes: it runs in a worker thread (large sources) or for small sources.
 */

/** Where a range spools its output and how. Plain data: it crosses to worker threads. */
export interface SpoolSpec {
  format: DataFormat;
  /** Spool files are `<prefix>.<YYYY-MM-DD>.<csv|parquet>` (the prefix names the run and the range). */
  prefix: string;
  /** Column kinds, in header order (Parquet column types; CSV uses them to skip quoting checks). */
  columns: ParquetColumn[];
  /** Columns whose values never need CSV quoting (pseudonyms: hex). */
  plain: boolean[];
  /**
   * Random secret of the job (src/spool-crypto.ts): every spool file it creates is encrypted under
   * keys derived from it and the file's name. Memory only.
   */
  secret: Uint8Array;
}

/** One partition's spool file of one range. */
export interface SpoolPart {
  /** Partition day `YYYY-MM-DD`. */
  date: string;
  file: string;
  rows: number;
  /** Bytes written to `file`. */
  bytes: number;
  /** Bytes at the start of `file` that a later part of the same partition must skip when joined (CSV header, Parquet `PAR1`). */
  lead: number;
  /** Parquet only: the encoded row groups, footer not yet written. */
  parquet?: ParquetPart;
  /** How `file` is encrypted (keys in memory only, src/spool-crypto.ts). */
  cipher: SpoolCipher;
}

/** Output of one range: call {@link write} per valid row, then {@link finish} once. */
export interface RowSink {
  /**
   * One valid row. `hints` (optional, per column): the pseudonymiser's memo entry of each
   * pseudonym, -1 elsewhere; the Parquet sink's dictionaries use them, the CSV sink ignores them.
   */
  write(date: string, record: string[], hints?: Int32Array): void;
  /** Flush everything; the parts by date. */
  finish(): SpoolPart[];
}

/** CSV bytes buffered per partition before a write. */
const CSV_CHUNK = 256 * 1024;
/** CSV bytes buffered across partitions before every buffer is written and given back. */
export const CSV_BUFFER_TOTAL = 4 * 1024 * 1024;

/**
 * A sink for the spec's format. The Parquet sink (parquet-sink.ts, with the encoder and its
 * Zstandard addon) is loaded only when a run writes Parquet: CSV runs and their worker threads
 * start without it.
 */
export async function createSink(spec: SpoolSpec, headerLine: string): Promise<RowSink> {
  if (spec.format !== 'parquet') return new CsvSink(spec, headerLine);
  const { ParquetSink } = await import('./parquet-sink.js');
  return new ParquetSink(spec);
}

/** The Parquet kind of a schema column: date-time -> timestamp, number -> double, integer -> int64, boolean, else string. */
export function parquetKind(type: string | undefined, dateTime: boolean, personal: boolean): ParquetKind {
  if (personal) return 'string';
  if (dateTime) return 'timestamp';
  return type === 'number' ? 'double' : type === 'integer' ? 'int64' : type === 'boolean' ? 'boolean' : 'string';
}

/** The CSV spool file of a range (spool prefix) for one partition day. */
export function csvSpoolFile(prefix: string, date: string): string {
  return `${prefix}.${date}.csv`;
}

interface CsvPartition {
  part: SpoolPart;
  /** UTF-8 bytes not yet written, `used` of them (null: none held, after a flush of every partition). */
  buf: Buffer | null;
  used: number;
  writer: SpoolWriter;
}

/** First buffer of a partition, bytes (doubled up to {@link CSV_CHUNK} as it fills). */
const CSV_FIRST_BUFFER = 16 * 1024;

class CsvSink implements RowSink {
  private readonly partitions = new Map<string, CsvPartition>();
  /** Bytes of the buffers held by all partitions. */
  private held = 0;
  private readonly width: number;
  /** The partition of the previous row (rows come in runs of the same day). */
  private last: CsvPartition | undefined;

  constructor(
    private readonly spec: SpoolSpec,
    private readonly headerLine: string,
  ) {
    this.width = spec.columns.length;
    // Pseudonyms (hex) and canonical typed values (instants, plain decimals, true/false) never
    // hold a comma, a quote or a line break: only other strings are checked for quoting.
    this.unquoted = spec.columns.map((c, i) => spec.plain[i] === true || c.kind !== 'string');
  }

  /** Per column: its values never need CSV quotes. */
  private readonly unquoted: boolean[];

  write(date: string, record: string[]): void {
    let p = this.last !== undefined && this.last.part.date === date ? this.last : this.partitions.get(date);
    if (!p) {
      const file = csvSpoolFile(this.spec.prefix, date);
      const writer = SpoolWriter.create(file, this.spec.secret);
      const lead = Buffer.byteLength(this.headerLine);
      p = { part: { date, file, rows: 0, bytes: 0, lead, cipher: writer.cipher }, buf: null, used: 0, writer };
      this.partitions.set(date, p);
      this.append(p, this.headerLine, false);
    }
    this.last = p;
    const plain = this.unquoted;
    let quote = false;
    for (let i = 0; i < this.width && !quote; i++) quote = !plain[i] && needsQuotes(record[i]!);
    // Most rows need no quoting: one native join makes a flat string, encoded straight into the
    // partition's buffer (no string of the whole chunk is ever built).
    this.append(p, quote ? record.map((v, i) => (plain[i] ? v : csvField(v))).join(',') : record.join(','), true);
    p.part.rows++;
  }

  /** Encode `text` (and a newline) into the partition's buffer; write it out when full. */
  private append(p: CsvPartition, text: string, newline: boolean): void {
    const need = text.length * 3 + 1; // UTF-8 bytes at most
    let buf = p.buf;
    if (buf === null || p.used + need > buf.length) {
      if (buf !== null && buf.length < CSV_CHUNK && p.used + need <= CSV_CHUNK) {
        // Grow (double) while the partition fills its first chunk.
        const size = Math.min(CSV_CHUNK, Math.max(buf.length * 2, p.used + need));
        const bigger = Buffer.allocUnsafe(size);
        buf.copy(bigger, 0, 0, p.used);
        this.held += size - buf.length;
        p.buf = buf = bigger;
      } else {
        this.flush(p);
        if (need > CSV_CHUNK) {
          // A row longer than a chunk: written on its own.
          p.writer.write(newline ? text + '\n' : text);
          p.part.bytes += Buffer.byteLength(text) + (newline ? 1 : 0);
          return;
        }
        const size = buf === null ? Math.max(CSV_FIRST_BUFFER, need) : buf.length;
        if (buf === null || buf.length !== size) {
          if (buf !== null) this.held -= buf.length;
          buf = Buffer.allocUnsafe(size);
          this.held += size;
        }
        p.buf = buf;
      }
    }
    p.used += buf.write(text, p.used, 'utf8');
    if (newline) buf[p.used++] = 10;
    if (this.held >= CSV_BUFFER_TOTAL) {
      // Many partitions at once (interleaved days): write every one out and give the memory back.
      for (const q of this.partitions.values()) {
        this.flush(q);
        if (q.buf !== null) this.held -= q.buf.length;
        q.buf = null;
      }
    }
  }

  private flush(p: CsvPartition): void {
    if (p.buf === null || p.used === 0) return;
    p.writer.write(p.buf.subarray(0, p.used));
    p.part.bytes += p.used;
    p.used = 0;
  }

  finish(): SpoolPart[] {
    for (const p of this.partitions.values()) {
      this.flush(p);
      p.writer.close();
    }
    return [...this.partitions.values()].map((p) => p.part);
  }
}
