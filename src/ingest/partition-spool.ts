import { appendFileSync, writeFileSync } from 'node:fs';
import { csvField } from '../records/csv.js';
import { ParquetFileWriter, ROW_GROUP_ROWS, type ParquetColumn, type ParquetKind, type ParquetPart } from '../lake/parquet.js';
import type { DataFormat } from './manifest.js';

/**
 * The output side of one byte range of `watt ingest`: valid rows, already canonical and
 * pseudonymised (one string per column), go to one spool file per partition day, as canonical CSV
 * or as Parquet row groups. Memory is bounded whatever the number of days or their order:
 * CSV text is buffered up to {@link CSV_BUFFER_TOTAL} characters across partitions, Parquet rows
 * up to {@link PARQUET_BUFFER_BYTES} of column buffers across partitions; no file descriptor stays open.
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
}

/** Output of one range: call {@link write} per valid row, then {@link finish} once. */
export interface RowSink {
  write(date: string, record: string[]): void;
  /** Flush everything; the parts by date. */
  finish(): SpoolPart[];
}

/** CSV characters buffered per partition before a write. */
const CSV_CHUNK = 256 * 1024;
/** CSV characters buffered across partitions before every buffer is written. */
export const CSV_BUFFER_TOTAL = 4 * 1024 * 1024;
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
/** Most rows of a row group (lake/parquet.ts ROW_GROUP_ROWS: watt's readers hold one row group in memory). */
export const PARQUET_ROW_GROUP_ROWS = ROW_GROUP_ROWS;

/** A sink for the spec's format. */
export function createSink(spec: SpoolSpec, headerLine: string): RowSink {
  return spec.format === 'parquet' ? new ParquetSink(spec) : new CsvSink(spec, headerLine);
}

/** The Parquet kind of a schema column: date-time -> timestamp, number -> double, integer -> int64, boolean, else string. */
export function parquetKind(type: string | undefined, dateTime: boolean, personal: boolean): ParquetKind {
  if (personal) return 'string';
  if (dateTime) return 'timestamp';
  return type === 'number' ? 'double' : type === 'integer' ? 'int64' : type === 'boolean' ? 'boolean' : 'string';
}

interface CsvPartition {
  part: SpoolPart;
  pending: string;
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
  }

  write(date: string, record: string[]): void {
    let p = this.partitions.get(date);
    if (!p) {
      const file = `${this.spec.prefix}.${date}.csv`;
      writeFileSync(file, '', { mode: 0o600 });
      const lead = Buffer.byteLength(this.headerLine);
      p = { part: { date, file, rows: 0, bytes: 0, lead }, pending: this.headerLine };
      this.buffered += this.headerLine.length;
      this.partitions.set(date, p);
    }
    const plain = this.spec.plain;
    let line = '';
    for (let i = 0; i < this.width; i++) {
      const v = record[i]!;
      line += (i ? ',' : '') + (plain[i] ? v : csvField(v));
    }
    line += '\n';
    p.pending += line;
    p.part.rows++;
    this.buffered += line.length;
    if (p.pending.length >= CSV_CHUNK) this.flush(p);
    if (this.buffered >= CSV_BUFFER_TOTAL) for (const q of this.partitions.values()) this.flush(q);
  }

  private flush(p: CsvPartition): void {
    if (!p.pending) return;
    const bytes = Buffer.from(p.pending, 'utf8');
    appendFileSync(p.part.file, bytes);
    p.part.bytes += bytes.length;
    this.buffered -= p.pending.length;
    p.pending = '';
  }

  finish(): SpoolPart[] {
    for (const p of this.partitions.values()) this.flush(p);
    return [...this.partitions.values()].map((p) => p.part);
  }
}

class ParquetSink implements RowSink {
  private readonly writers = new Map<string, ParquetFileWriter>();
  /** Bytes buffered by all writers (their typed buffers). */
  private bufferedBytes = 0;

  constructor(private readonly spec: SpoolSpec) {}

  write(date: string, record: string[]): void {
    let w = this.writers.get(date);
    if (!w) {
      w = new ParquetFileWriter(`${this.spec.prefix}.${date}.parquet`, this.spec.columns, { rowGroupRows: PARQUET_ROW_GROUP_ROWS, rowGroupBytes: PARQUET_BUFFER_BYTES });
      this.writers.set(date, w);
      this.bufferedBytes += w.bufferedBytes;
    }
    const before = w.bufferedBytes;
    w.appendCanonical(record);
    this.bufferedBytes += w.bufferedBytes - before;
    // The writer bounds its own buffers to PARQUET_BUFFER_BYTES (it encodes a row group and reuses
    // them); when the other partitions hold half as much, their rows are encoded, largest first,
    // and their buffers given back: at most ~1.5 x PARQUET_BUFFER_BYTES in all.
    while (this.bufferedBytes - w.bufferedBytes >= PARQUET_BUFFER_BYTES / 2) {
      let largest: ParquetFileWriter | undefined;
      for (const x of this.writers.values()) if (x !== w && x.bufferedBytes > IDLE_BYTES && (!largest || x.bufferedBytes > largest.bufferedBytes)) largest = x;
      if (!largest) break;
      const held = largest.bufferedBytes;
      largest.flushRowGroup();
      this.bufferedBytes -= held - largest.bufferedBytes;
    }
  }

  finish(): SpoolPart[] {
    const parts: SpoolPart[] = [];
    for (const [date, w] of this.writers) {
      const parquet = w.finishPart();
      parts.push({ date, file: w.file, rows: parquet.rows, bytes: parquet.bytes, lead: 4, parquet });
    }
    this.bufferedBytes = 0;
    return parts;
  }
}

