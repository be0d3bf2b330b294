import { SpoolWriter, type SpoolCipher } from '../spool-crypto.js';
import { csvField, needsQuotes } from '../records/csv.js';
import type { ParquetColumn, ParquetKind, ParquetPart } from '../formats/parquet.js';
import type { DataFormat } from '../table/manifest.js';

/**
 * The output side of one byte range of `watt ingest`: valid rows, already canonical and
 * pseudonymised (one string per column), go to one spool file per partition day, as canonical CSV
 * or as Parquet row groups. Memory is bounded whatever the number of days or their order:
 * CSV text is buffered up to {@link CSV_BUFFER_TOTAL} characters across partitions, Parquet rows
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

/** CSV characters buffered per partition before a write. */
const CSV_CHUNK = 256 * 1024;
/** CSV characters buffered across partitions before every buffer is written. */
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
  pending: string;
  writer: SpoolWriter;
}

class CsvSink implements RowSink {
  private readonly partitions = new Map<string, CsvPartition>();
  private buffered = 0;
  private readonly width: number;

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
    let p = this.partitions.get(date);
    if (!p) {
      const file = csvSpoolFile(this.spec.prefix, date);
      const writer = SpoolWriter.create(file, this.spec.secret);
      const lead = Buffer.byteLength(this.headerLine);
      p = { part: { date, file, rows: 0, bytes: 0, lead, cipher: writer.cipher }, pending: this.headerLine, writer };
      this.buffered += this.headerLine.length;
      this.partitions.set(date, p);
    }
    const plain = this.unquoted;
    let quote = false;
    for (let i = 0; i < this.width && !quote; i++) quote = !plain[i] && needsQuotes(record[i]!);
    // Most rows need no quoting: one native join makes a flat string (no chain of concatenations).
    const line = (quote ? record.map((v, i) => (plain[i] ? v : csvField(v))).join(',') : record.join(',')) + '\n';
    p.pending += line;
    p.part.rows++;
    this.buffered += line.length;
    if (p.pending.length >= CSV_CHUNK) this.flush(p);
    if (this.buffered >= CSV_BUFFER_TOTAL) for (const q of this.partitions.values()) this.flush(q);
  }

  private flush(p: CsvPartition): void {
    if (!p.pending) return;
    const bytes = Buffer.from(p.pending, 'utf8');
    p.writer.write(bytes);
    p.part.bytes += bytes.length;
    this.buffered -= p.pending.length;
    p.pending = '';
  }

  finish(): SpoolPart[] {
    for (const p of this.partitions.values()) {
      this.flush(p);
      p.writer.close();
    }
    return [...this.partitions.values()].map((p) => p.part);
  }
}
