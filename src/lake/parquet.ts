import { appendFileSync, closeSync, createReadStream, createWriteStream, fsyncSync, openSync, writeFileSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { ParquetWriter, ByteWriter } from 'hyparquet-writer';
import { asyncBufferFromFile, parquetMetadataAsync, parquetRead, type FileMetaData, type RowGroup, type SchemaElement } from 'hyparquet';

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
  /** Write min/max statistics for the column (default true; pseudonyms gain nothing from them). */
  statistics?: boolean;
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
 * The encoded part of a Parquet file whose footer is not written yet: its row groups and page
 * indexes (plain data: it crosses from worker threads). {@link finishParquetParts} joins parts
 * written in parallel into one file and writes the footer.
 */
export interface ParquetPart {
  file: string;
  /** Bytes of the part file (the leading `PAR1` included). */
  bytes: number;
  rows: number;
  /** hyparquet-writer's row groups and pending page indexes; offsets are relative to `file`. */
  rowGroups: RowGroup[];
  indexes: unknown[];
}

/** Once a row group is encoded, a ByteWriter buffer larger than this is given back (many partitions stay small). */
const KEEP_BUFFER_BYTES = 256 * 1024;
/** Encoded bytes are appended to the file each time this many are buffered. */
const SPILL_BYTES = 1 << 20;

/**
 * Streams rows into one Parquet file: rows are buffered column by column and encoded one row
 * group at a time ({@link ROW_GROUP_ROWS}), so memory is bounded by one row group whatever the
 * file size. The file is created with mode 0600 and appended to per MiB (no descriptor is held
 * open, so a run may write hundreds of partition files at once). Strings are dictionary-encoded
 * in a row group when their distinct values take at most half the bytes (pseudonyms of a few
 * thousand data subjects repeat: 172 MiB of CSV become ~30 MiB).
 *
 * Call {@link append} per row, then {@link close} once (or {@link finishPart} and
 * {@link finishParquetParts}); a writer not closed leaves a file with no footer, which no reader
 * accepts (the caller deletes it).
 * @throws Error from the file system (ENOSPC...).
 */
export class ParquetFileWriter {
  private readonly out: ByteWriter;
  private readonly writer: ParquetWriter;
  private buffers: ParquetCell[][];
  private bufferedRows = 0;
  private bytesWritten = 0;
  rows = 0;

  /**
   * @param file path of the file to create (truncated if it exists)
   * @param columns the columns, in order
   * @param options `rowGroupRows`: rows per row group; `metadata`: key/value pairs written in the
   * footer (e.g. the run_id and the schema sha256)
   */
  constructor(
    readonly file: string,
    readonly columns: ParquetColumn[],
    private readonly options: { rowGroupRows?: number; metadata?: Record<string, string> } = {},
  ) {
    writeFileSync(file, '', { mode: 0o600 });
    const out = new ByteWriter();
    const ensure = out.ensure.bind(out);
    // Spill to the file each MiB so that the encoded file is never held whole.
    out.ensure = (size: number) => {
      if (out.index > SPILL_BYTES) this.spill();
      ensure(size);
    };
    out.finish = () => this.spill();
    this.out = out;
    this.writer = new ParquetWriter({
      writer: out,
      schema: schemaElements(columns),
      codec: 'SNAPPY',
      statistics: true,
      createdBy: CREATED_BY,
      kvMetadata: kvMetadata(options.metadata),
    });
    this.buffers = columns.map(() => []);
  }

  private spill(): void {
    const out = this.out;
    if (out.index === 0) return;
    appendFileSync(this.file, new Uint8Array(out.buffer, 0, out.index));
    this.bytesWritten += out.index;
    out.index = 0;
  }

  /** Rows appended and not yet encoded. */
  get buffered(): number {
    return this.bufferedRows;
  }

  /** Append one row: one cell per column, in column order (see {@link ParquetCell}). */
  append(cells: ParquetCell[]): void {
    for (let i = 0; i < cells.length; i++) this.buffers[i]!.push(cells[i]!);
    this.bufferedRows++;
    this.rows++;
    if (this.bufferedRows >= (this.options.rowGroupRows ?? ROW_GROUP_ROWS)) this.flushRowGroup();
  }

  /** Encode the buffered rows as one row group and append it to the file. */
  flushRowGroup(): void {
    if (this.bufferedRows === 0) return;
    const columnData = this.columns.map((c, i) => {
      const data = this.buffers[i]!;
      const dictionary = c.kind === 'string' && dictionaryPays(data as (string | null)[]);
      let values: unknown[] = data;
      if (c.kind === 'int64' || c.kind === 'timestamp') values = data.map((v) => (v === null || typeof v === 'bigint' ? v : BigInt(v as number)));
      else if (c.kind === 'string' && !dictionary) values = utf8Values(data as (string | null)[]);
      // Strings are PLAIN unless the dictionary pays: hyparquet-writer's own sampling would hash
      // every value again (and long strings of one length all collide in a JavaScript Map).
      const encoding = dictionary ? ('RLE_DICTIONARY' as const) : c.kind === 'string' ? ('PLAIN' as const) : undefined;
      return { name: c.name, data: values, encoding, statistics: c.statistics ?? true };
    });
    this.writer.write({ columnData: columnData as never, rowGroupSize: this.bufferedRows });
    this.buffers = this.columns.map(() => []);
    this.bufferedRows = 0;
    this.spill();
    if (this.out.buffer.byteLength > KEEP_BUFFER_BYTES) {
      this.out.buffer = new ArrayBuffer(64 * 1024);
      this.out.view = new DataView(this.out.buffer);
    }
  }

  /**
   * Encode the last row group, write the footer, fsync and close the file.
   * @returns rows written and the file's size in bytes
   */
  close(): { rows: number; bytes: number } {
    this.flushRowGroup();
    this.writer.finish();
    fsyncFile(this.file);
    return { rows: this.rows, bytes: this.bytesWritten };
  }

  /**
   * Encode the last row group and stop before the footer: the part is finished (alone or joined
   * with the parts of other byte ranges) by {@link finishParquetParts}.
   */
  finishPart(): ParquetPart {
    this.flushRowGroup();
    const w = this.writer as unknown as { row_groups: RowGroup[]; pendingIndexes: unknown[] };
    return { file: this.file, bytes: this.bytesWritten, rows: this.rows, rowGroups: w.row_groups, indexes: w.pendingIndexes };
  }

  /** Stop writing (the caller deletes the file). Never throws. */
  abort(): void {
    this.buffers = [];
  }
}

function kvMetadata(metadata: Record<string, string> | undefined) {
  return metadata ? Object.entries(metadata).map(([key, value]) => ({ key, value })) : undefined;
}

function fsyncFile(file: string): void {
  const fd = openSync(file, 'r+');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

interface PendingIndex {
  chunk: { file_offset: bigint; meta_data?: { data_page_offset: bigint; dictionary_page_offset?: bigint } };
  offsetIndex?: { page_locations: { offset: bigint }[] };
}

/**
 * Join the parts of one Parquet file written in parallel (one per byte range of the source, in
 * order) into the first part's file, and write the footer: the encoded row groups are copied as
 * bytes (never decoded or re-encoded) and their offsets shifted in the footer. The result is one
 * valid file with the row groups of every part, in part order.
 * @param parts the parts, in order (at least one), as returned by {@link ParquetFileWriter.finishPart}
 * @returns the joined file, its rows and size in bytes
 * @throws Error from the file system
 */
export async function finishParquetParts(parts: ParquetPart[], columns: ParquetColumn[], metadata?: Record<string, string>): Promise<{ file: string; rows: number; bytes: number }> {
  const first = parts[0]!;
  let length = first.bytes;
  const rowGroups: RowGroup[] = [...first.rowGroups];
  const indexes: unknown[] = [...first.indexes];
  for (const part of parts.slice(1)) {
    // The part's leading PAR1 (4 bytes) is skipped: its byte 4 lands at `length`.
    const shift = BigInt(length - 4);
    for (const index of part.indexes as PendingIndex[]) {
      index.chunk.file_offset += shift;
      const meta = index.chunk.meta_data;
      if (meta) {
        meta.data_page_offset += shift;
        if (meta.dictionary_page_offset !== undefined) meta.dictionary_page_offset += shift;
      }
      for (const page of index.offsetIndex?.page_locations ?? []) page.offset += shift;
    }
    await pipeline(createReadStream(part.file, { start: 4, highWaterMark: 1 << 20 }), createWriteStream(first.file, { flags: 'a' }));
    length += part.bytes - 4;
    rowGroups.push(...part.rowGroups);
    indexes.push(...part.indexes);
  }
  // A writer whose output starts at the end of the joined row groups, for the footer only.
  const out = new ByteWriter();
  const footer = new ParquetWriter({ writer: out, schema: schemaElements(columns), codec: 'SNAPPY', statistics: true, createdBy: CREATED_BY, kvMetadata: kvMetadata(metadata) });
  out.index = 0;
  out.offset = length;
  const w = footer as unknown as { row_groups: RowGroup[]; pendingIndexes: unknown[]; num_rows: bigint };
  w.row_groups = rowGroups;
  w.pendingIndexes = indexes;
  const rows = parts.reduce((n, p) => n + p.rows, 0);
  w.num_rows = BigInt(rows);
  footer.finish();
  appendFileSync(first.file, new Uint8Array(out.buffer, 0, out.index));
  length += out.index;
  fsyncFile(first.file);
  return { file: first.file, rows, bytes: length };
}

/**
 * UTF-8 bytes of each string of a column, encoded in one call: the strings are joined and
 * encoded once, then cut into views (hyparquet-writer would call TextEncoder once per value).
 * Falls back to one encoding per value when a string is not ASCII.
 */
function utf8Values(values: (string | null)[]): (Uint8Array | null)[] {
  const present = values.filter((v): v is string => v !== null);
  const joined = present.join('');
  const bytes = Buffer.from(joined, 'utf8');
  const out: (Uint8Array | null)[] = new Array(values.length);
  if (bytes.length !== joined.length) {
    for (let i = 0; i < values.length; i++) out[i] = values[i] === null ? null : Buffer.from(values[i]!, 'utf8');
    return out;
  }
  let at = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (v === null) out[i] = null;
    else {
      out[i] = bytes.subarray(at, at + v.length);
      at += v.length;
    }
  }
  return out;
}

/** Longest string considered for a dictionary: longer ones are rarely repeated, and V8 hashes them by length only. */
const MAX_DICTIONARY_STRING = 1024;

/** Dictionary encoding pays when distinct values take at most half the bytes of all values. */
function dictionaryPays(values: (string | null)[]): boolean {
  const distinct = new Set<string>();
  let total = 0;
  let unique = 0;
  for (const v of values) {
    if (v === null) continue;
    if (v.length > MAX_DICTIONARY_STRING) return false;
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
