import { appendFileSync, writeFileSync } from 'node:fs';
import { csvField, needsQuotes } from '../records/csv.js';
import { epochMicros, integerValue } from '../records/canonical.js';
import { ParquetFileWriter, type ParquetCell, type ParquetColumn, type ParquetKind, type ParquetPart } from '../lake/parquet.js';
import type { DataFormat } from './manifest.js';

/**
 * The output side of one byte range of `watt ingest`: valid rows, already canonical and
 * pseudonymised (one string per column), go to one spool file per partition day, as canonical CSV
 * or as Parquet row groups. Memory is bounded whatever the number of days or their order:
 * CSV text is buffered up to {@link CSV_BUFFER_TOTAL} characters across partitions, Parquet rows
 * up to {@link PARQUET_BUFFER_ROWS} across partitions; no file descriptor stays open.
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
 * Parquet rows buffered across the partitions of a range before the largest partition is encoded
 * as a row group (100,000 rows of the seed's shape are ~10 MB of heap in a worker).
 */
export const PARQUET_BUFFER_ROWS = 100_000;
/**
 * Estimated heap bytes of Parquet rows buffered across the partitions of a range (characters of
 * strings other than pseudonyms + 16 bytes per cell; ~130 bytes per row of the seed's shape) before the largest partition is encoded: wide or long rows
 * make smaller row groups rather than exhaust the worker's 64 MiB heap.
 */
export const PARQUET_BUFFER_BYTES = 24 * 1024 * 1024;

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

/** The CSV spool file of a range (spool prefix) for one partition day. */
export function csvSpoolFile(prefix: string, date: string): string {
  return `${prefix}.${date}.csv`;
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
      writeFileSync(file, '', { mode: 0o600 });
      const lead = Buffer.byteLength(this.headerLine);
      p = { part: { date, file, rows: 0, bytes: 0, lead }, pending: this.headerLine };
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
  /** Estimated bytes buffered per writer, and in all. */
  private readonly bytes = new Map<ParquetFileWriter, number>();
  private bufferedBytes = 0;
  private buffered = 0;
  private readonly kinds: ParquetKind[];
  /** One row's cells, reused: the writer copies them into its column buffers. */
  private readonly cells: ParquetCell[];

  constructor(private readonly spec: SpoolSpec) {
    this.kinds = spec.columns.map((c) => c.kind);
    this.cells = new Array(this.kinds.length);
  }

  write(date: string, record: string[]): void {
    let w = this.writers.get(date);
    if (!w) {
      w = new ParquetFileWriter(`${this.spec.prefix}.${date}.parquet`, this.spec.columns, { rowGroupRows: PARQUET_BUFFER_ROWS });
      this.writers.set(date, w);
    }
    const kinds = this.kinds;
    const cells = this.cells;
    const plain = this.spec.plain;
    let rowBytes = 16 * kinds.length;
    for (let i = 0; i < kinds.length; i++) {
      const v = record[i]!;
      if (!plain[i]) rowBytes += v.length; // pseudonyms are shared strings (the pseudonymiser's cache)
      if (v === '') {
        cells[i] = null;
        continue;
      }
      switch (kinds[i]) {
        case 'timestamp':
          cells[i] = epochMicros(v);
          break;
        case 'double':
          cells[i] = Number(v);
          break;
        case 'int64':
          cells[i] = integerValue(v);
          break;
        case 'boolean':
          cells[i] = v === 'true';
          break;
        default:
          cells[i] = v;
      }
    }
    const before = w.buffered;
    w.append(cells);
    if (w.buffered === 0) {
      // The writer encoded a full row group, this row included.
      this.buffered -= before;
      this.bufferedBytes -= this.bytes.get(w) ?? 0;
      this.bytes.set(w, 0);
    } else {
      this.buffered++;
      this.bufferedBytes += rowBytes;
      this.bytes.set(w, (this.bytes.get(w) ?? 0) + rowBytes);
    }
    while (this.buffered >= PARQUET_BUFFER_ROWS || this.bufferedBytes >= PARQUET_BUFFER_BYTES) {
      // Encode the largest partition's rows: rows of many days in any order stay bounded.
      let largest = w;
      for (const x of this.writers.values()) if ((this.bytes.get(x) ?? 0) > (this.bytes.get(largest) ?? 0)) largest = x;
      this.buffered -= largest.buffered;
      this.bufferedBytes -= this.bytes.get(largest) ?? 0;
      this.bytes.set(largest, 0);
      largest.flushRowGroup();
    }
  }

  finish(): SpoolPart[] {
    const parts: SpoolPart[] = [];
    for (const [date, w] of this.writers) {
      const parquet = w.finishPart();
      parts.push({ date, file: w.file, rows: parquet.rows, bytes: parquet.bytes, lead: 4, parquet });
    }
    this.buffered = 0;
    this.bufferedBytes = 0;
    return parts;
  }
}

