import { ParquetFileWriter, ROW_GROUP_ROWS } from '../lake/parquet.js';
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
/** Most rows of a row group (lake/parquet.ts ROW_GROUP_ROWS: watt's readers hold one row group in memory). */
export const PARQUET_ROW_GROUP_ROWS = ROW_GROUP_ROWS;

export class ParquetSink implements RowSink {
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

