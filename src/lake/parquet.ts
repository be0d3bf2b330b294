import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { ParquetWriter, ByteWriter } from 'hyparquet-writer';
import { asyncBufferFromFile, parquetMetadataAsync, parquetRead, type FileMetaData, type SchemaElement } from 'hyparquet';

/**
 * Apache Parquet objects of the lake (https://parquet.apache.org/docs/file-format/), written with
 * hyparquet-writer (pure JavaScript, streaming row groups, Snappy) and read with hyparquet.
 * Chosen by measurement against parquet-wasm + apache-arrow, @dsnp/parquetjs and DuckDB's node
 * API: docs/benchmarks.md "Parquet writers".
 *
 * Column kinds map from the JSON Schema of a row (issue 11):
 * `date-time` string -> TIMESTAMP(MICROS, isAdjustedToUTC=true) on INT64, `number` -> DOUBLE,
 * `integer` -> INT64, `boolean` -> BOOLEAN, any other string -> BYTE_ARRAY UTF8. Every column is
 * OPTIONAL (an empty CSV cell of a column that is not required is a null).
 */
export type ParquetKind = 'string' | 'double' | 'int64' | 'boolean' | 'timestamp';

export interface ParquetColumn {
  name: string;
  kind: ParquetKind;
}

/**
 * One cell as appended: string (string), number (double), number or bigint (int64), boolean,
 * bigint microseconds since 1970-01-01T00:00:00Z (timestamp); null for a missing value.
 */
export type ParquetCell = string | number | bigint | boolean | null;

/** Rows per row group: ~100,000 rows of the seed's shape are ~10 MB in memory before encoding. */
export const ROW_GROUP_ROWS = 100_000;

/** The writer that produced an object, in its footer (`created_by`). */
export const CREATED_BY = 'watt (hyparquet-writer)';

function schemaElements(columns: ParquetColumn[]): SchemaElement[] {
  const root: SchemaElement = { name: 'root', num_children: columns.length };
  return [
    root,
    ...columns.map((c): SchemaElement => {
      const base = { name: c.name, repetition_type: 'OPTIONAL' as const };
      switch (c.kind) {
        case 'double':
          return { ...base, type: 'DOUBLE' };
        case 'int64':
          return { ...base, type: 'INT64' };
        case 'boolean':
          return { ...base, type: 'BOOLEAN' };
        case 'timestamp':
          return { ...base, type: 'INT64', logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MICROS' } };
        default:
          return { ...base, type: 'BYTE_ARRAY', converted_type: 'UTF8' };
      }
    }),
  ];
}

/**
 * Streams rows into one Parquet file: rows are buffered column by column and encoded one row
 * group at a time ({@link ROW_GROUP_ROWS}), so memory is bounded by one row group whatever the
 * file size. The file is created with mode 0600. Strings are dictionary-encoded in a row group
 * when their distinct values take at most half the bytes (pseudonyms of a few thousand data
 * subjects repeat: 172 MiB of CSV become ~30 MiB).
 *
 * Call {@link append} per row, then {@link close} once; a writer not closed leaves a file with
 * no footer, which no reader accepts (the caller deletes it).
 * @throws Error from the file system (ENOSPC...).
 */
export class ParquetFileWriter {
  private readonly fd: number;
  private readonly writer: ParquetWriter;
  private readonly buffers: ParquetCell[][];
  private buffered = 0;
  private bytesWritten = 0;
  rows = 0;

  /**
   * @param file path of the file to create (truncated if it exists)
   * @param columns the columns, in order
   * @param options `rowGroupRows`: rows per row group; `metadata`: key/value pairs written in the
   * footer (e.g. the run_id and the schema sha256)
   */
  constructor(
    file: string,
    readonly columns: ParquetColumn[],
    private readonly options: { rowGroupRows?: number; metadata?: Record<string, string> } = {},
  ) {
    this.fd = openSync(file, 'w', 0o600);
    const out = new ByteWriter();
    const flushAt = 1 << 20;
    const ensure = out.ensure.bind(out);
    // Spill to the file each MiB so that the encoded file is never held whole.
    out.ensure = (size: number) => {
      if (out.index > flushAt) this.spill(out);
      ensure(size);
    };
    out.finish = () => this.spill(out);
    this.writer = new ParquetWriter({
      writer: out,
      schema: schemaElements(columns),
      codec: 'SNAPPY',
      statistics: true,
      createdBy: CREATED_BY,
      kvMetadata: options.metadata ? Object.entries(options.metadata).map(([key, value]) => ({ key, value })) : undefined,
    });
    this.buffers = columns.map(() => []);
  }

  private spill(out: ByteWriter): void {
    if (out.index === 0) return;
    const chunk = new Uint8Array(out.buffer, 0, out.index);
    let off = 0;
    while (off < chunk.length) off += writeSync(this.fd, chunk, off);
    this.bytesWritten += chunk.length;
    out.index = 0;
  }

  /** Append one row: one cell per column, in column order (see {@link ParquetCell}). */
  append(cells: ParquetCell[]): void {
    for (let i = 0; i < cells.length; i++) this.buffers[i]!.push(cells[i]!);
    this.buffered++;
    this.rows++;
    if (this.buffered >= (this.options.rowGroupRows ?? ROW_GROUP_ROWS)) this.flushRowGroup();
  }

  private flushRowGroup(): void {
    if (this.buffered === 0) return;
    const columnData = this.columns.map((c, i) => {
      const data = this.buffers[i]!;
      return {
        name: c.name,
        data: c.kind === 'int64' || c.kind === 'timestamp' ? data.map((v) => (v === null ? null : BigInt(v as number | bigint))) : data,
        encoding: c.kind === 'string' && dictionaryPays(data as (string | null)[]) ? ('RLE_DICTIONARY' as const) : undefined,
      };
    });
    this.writer.write({ columnData: columnData as never, rowGroupSize: this.buffered });
    for (let i = 0; i < this.buffers.length; i++) this.buffers[i] = [];
    this.buffered = 0;
  }

  /**
   * Encode the last row group, write the footer, fsync and close the file.
   * @returns rows written and the file's size in bytes
   */
  close(): { rows: number; bytes: number } {
    try {
      this.flushRowGroup();
      this.writer.finish();
      fsyncSync(this.fd);
    } finally {
      closeSync(this.fd);
    }
    return { rows: this.rows, bytes: this.bytesWritten };
  }

  /** Close the file without a footer (the caller deletes it). Never throws. */
  abort(): void {
    try {
      closeSync(this.fd);
    } catch {
      // already closed
    }
  }
}

/** Dictionary encoding pays when distinct values take at most half the bytes of all values. */
function dictionaryPays(values: (string | null)[]): boolean {
  const distinct = new Set<string>();
  let total = 0;
  let unique = 0;
  for (const v of values) {
    if (v === null) continue;
    total += v.length;
    if (!distinct.has(v)) {
      distinct.add(v);
      unique += v.length;
      if (unique * 2 > total && distinct.size > 1024 && distinct.size * 2 > values.length) return false;
    }
  }
  return unique * 2 <= total;
}

/** The kind of each column of a Parquet file written by watt (or of the same physical shape). */
export function columnsOf(metadata: FileMetaData): ParquetColumn[] {
  return metadata.schema.slice(1).map((e) => {
    let kind: ParquetKind = 'string';
    if (e.type === 'DOUBLE' || e.type === 'FLOAT') kind = 'double';
    else if (e.type === 'BOOLEAN') kind = 'boolean';
    else if (e.type === 'INT64' || e.type === 'INT32') kind = e.logical_type?.type === 'TIMESTAMP' || e.converted_type?.startsWith('TIMESTAMP') ? 'timestamp' : 'int64';
    return { name: e.name, kind };
  });
}

/** Parquet file metadata (footer) of a local file. @throws Error if it is not a Parquet file. */
export async function readParquetMetadata(file: string): Promise<FileMetaData> {
  return parquetMetadataAsync(await asyncBufferFromFile(file));
}

/**
 * Read a local Parquet file one row group at a time, cells as {@link ParquetCell}: timestamps
 * stay raw bigint microseconds (no Date round trip), INT64 stays bigint, strings UTF-8.
 * Memory: one row group.
 * @throws Error if the file is not Parquet or is truncated.
 */
export async function* readParquetRowGroups(file: string): AsyncGenerator<{ columns: ParquetColumn[]; rows: ParquetCell[][] }> {
  const buffer = await asyncBufferFromFile(file);
  const metadata = await parquetMetadataAsync(buffer);
  const columns = columnsOf(metadata);
  let start = 0;
  for (const group of metadata.row_groups) {
    const end = start + Number(group.num_rows);
    let rows: ParquetCell[][] = [];
    await parquetRead({
      file: buffer,
      metadata,
      rowStart: start,
      rowEnd: end,
      utf8: true,
      parsers: rawParsers,
      onComplete: (data) => {
        rows = data as ParquetCell[][];
      },
    });
    yield { columns, rows };
    start = end;
  }
}

/** hyparquet parsers that keep timestamps as bigint microseconds. */
const rawParsers = {
  timestampFromMilliseconds: (millis: bigint) => BigInt(millis) * 1000n,
  timestampFromMicroseconds: (micros: bigint) => BigInt(micros),
  timestampFromNanoseconds: (nanos: bigint) => BigInt(nanos) / 1000n,
} as never;
