import { appendFileSync, closeSync, createReadStream, createWriteStream, fsyncSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { assetPath, wattVersion } from '../paths.js';
import { pipeline } from 'node:stream/promises';
import { appendSpool, spoolAsyncBuffer, SpoolWriter, type SpoolCipher } from '../spool-crypto.js';
import { ParquetWriter, ByteWriter } from 'hyparquet-writer';
import { asyncBufferFromFile, parquetMetadataAsync, parquetRead, type ColumnChunk, type FileMetaData, type RowGroup, type SchemaElement } from 'hyparquet';
import { BOOLEAN, ColumnBuffer, DECIMAL, DECIMAL_FIXED, DOUBLE, INT64, STRING, TIMESTAMP, type ColumnMemory } from './parquet-columns.js';
import { decimalByteWidth, INT64_DECIMAL_PRECISION } from '../records/decimal.js';
import { zstdCompressPage, zstdDecompress } from './zstd.js';

/**
 * Apache Parquet objects of the lake (https://parquet.apache.org/docs/file-format/): column chunks
 * encoded by watt's own encoder (parquet-columns.ts: typed buffers, DATA_PAGE v1, dictionary or
 * PLAIN, Zstandard pages), the footer serialised by hyparquet-writer, read with hyparquet (Zstandard via
 * zstd-napi, Snappy by hyparquet itself). Chosen by measurement against hyparquet-writer alone,
 * parquet-wasm + apache-arrow, @dsnp/parquetjs and DuckDB's node API: docs/benchmarks.md
 * "Parquet writers".
 *
 * Column kinds map from the JSON Schema of a row (issue 11):
 * `date-time` string -> TIMESTAMP(MICROS, isAdjustedToUTC=true) on INT64, `number` -> DOUBLE,
 * `integer` -> INT64, `boolean` -> BOOLEAN, any other string -> BYTE_ARRAY STRING (converted type UTF8;
 * the timestamp carries TIMESTAMP_MICROS too), `x-decimal` {precision p, scale s} -> DECIMAL(p,s)
 * (logical type DECIMAL and converted type DECIMAL with scale and precision in the schema element;
 * the unscaled value on INT64 for p <= 18, else on a FIXED_LEN_BYTE_ARRAY of the fewest bytes
 * that hold p digits). Every column is OPTIONAL (an empty CSV cell of a column that is not
 * required is a null).
 */
export type ParquetKind = 'string' | 'double' | 'int64' | 'boolean' | 'timestamp' | 'decimal';

export interface ParquetColumn {
  name: string;
  kind: ParquetKind;
  /** `decimal` only: significant digits (1..38) and digits after the point (0..precision). */
  precision?: number;
  scale?: number;
  /** Write min/max statistics for the column (default true; pseudonyms gain nothing from them). */
  statistics?: boolean;
}

/**
 * One cell as appended: string (string), number (double), number or bigint (int64), boolean,
 * bigint microseconds since 1970-01-01T00:00:00Z (timestamp), bigint unscaled value or decimal
 * text such as `"12.4"` (decimal); null for a missing value.
 */
export type ParquetCell = string | number | bigint | boolean | null;

/**
 * Most rows per row group of a {@link ParquetFileWriter} (unless told otherwise): watt's own
 * readers (erasure, {@link readParquetRowGroups}) hold one row group as JS arrays, ~250 MB of heap
 * per million rows of the seed's shape, so narrow rows do not make row groups of millions of rows.
 */
export const ROW_GROUP_ROWS = 250_000;
/** Most buffered bytes (typed buffers) per row group of a {@link ParquetFileWriter} (unless told otherwise). */
export const ROW_GROUP_BYTES = 32 * 1024 * 1024;

let cachedCreatedBy: string | undefined;
/**
 * The writer that produced an object, in its footer (`created_by`):
 * `watt version X.Y.Z (build <commit>)`, the shape parquet-java's `VersionParser` reads
 * (`<application> version <semver> (build <hash>)`, as `parquet-mr version 1.13.1 (build …)`).
 * A `created_by` it cannot parse makes Spark and Hive ignore the min/max statistics of every
 * BYTE_ARRAY column (`CorruptStatistics.shouldIgnoreStatistics`, PARQUET-251). X.Y.Z is watt's
 * package.json version; the build is the git commit recorded in `dist/build-info.json` by
 * scripts/build.mjs, `unknown` when watt was not built from a checkout.
 */
export function createdBy(): string {
  if (cachedCreatedBy === undefined) {
    let build = 'unknown';
    try {
      const info = JSON.parse(readFileSync(assetPath('dist', 'build-info.json'), 'utf8')) as { commit?: unknown };
      if (typeof info.commit === 'string' && /^[0-9a-f]{4,40}$/.test(info.commit)) build = info.commit;
    } catch {
      // not built by scripts/build.mjs (e.g. the sources under jest): build unknown
    }
    cachedCreatedBy = `watt version ${wattVersion()} (build ${build})`;
  }
  return cachedCreatedBy;
}

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
        case 'decimal': {
          const precision = c.precision ?? INT64_DECIMAL_PRECISION;
          const scale = c.scale ?? 0;
          const decimal = { converted_type: 'DECIMAL' as const, scale, precision, logical_type: { type: 'DECIMAL' as const, scale, precision } };
          return precision <= INT64_DECIMAL_PRECISION ? { ...base, type: 'INT64', ...decimal } : { ...base, type: 'FIXED_LEN_BYTE_ARRAY', type_length: decimalByteWidth(precision), ...decimal };
        }
        case 'timestamp':
          // The legacy converted type beside the logical type, as parquet-format asks writers to
          // (LogicalTypes.md, "Backward compatibility"): readers that predate logical types
          // (Hive, older Impala and Spark) still see a timestamp.
          return { ...base, type: 'INT64', converted_type: 'TIMESTAMP_MICROS', logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MICROS' } };
        default:
          return { ...base, type: 'BYTE_ARRAY', converted_type: 'UTF8', logical_type: { type: 'STRING' } };
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
  /** Set when the part is an encrypted spool file (src/spool-crypto.ts). */
  cipher?: SpoolCipher;
}

/** Encoded bytes are appended to the file each time this many are buffered. */
const SPILL_BYTES = 1 << 20;

/**
 * Streams rows into one Parquet file: rows are buffered column by column in typed arrays
 * (parquet-columns.ts) and encoded one row group at a time, when the row group reaches
 * `rowGroupRows` rows or `rowGroupBytes` buffered bytes, or when the caller says
 * ({@link flushRowGroup}); memory is bounded by one row group whatever the file size. The file is
 * created with mode 0600 and appended to per MiB (no descriptor is held open, so a run may write
 * hundreds of partition files at once). Pages are DATA_PAGE v1, Zstandard-compressed; strings
 * are dictionary-encoded while their distinct values take at most half the characters of all
 * values (pseudonyms of a few thousand data subjects repeat), else PLAIN.
 *
 * Call {@link append} or {@link appendCanonical} per row, then {@link close} once (or
 * {@link finishPart} and {@link finishParquetParts}); a writer not closed leaves a file with no
 * footer, which no reader accepts (the caller deletes it).
 * @throws Error from the file system (ENOSPC...).
 */
export class ParquetFileWriter {
  private readonly out: ByteWriter;
  private readonly writer: ParquetWriter;
  private readonly buffers: ColumnBuffer[];
  private readonly rowGroupRows: number;
  private readonly rowGroupBytes: number;
  /** Bytes of the typed buffers of the row group being buffered (kept by the column buffers). */
  private readonly memory: ColumnMemory = { allocated: 0, fullBytes: 0 };
  private bufferedRows = 0;
  private bytesWritten = 0;
  /** Set when the file is an encrypted spool (option `spool`). */
  private readonly spoolWriter: SpoolWriter | undefined;
  rows = 0;

  /**
   * @param file path of the file to create (truncated if it exists)
   * @param columns the columns, in order
   * @param options `rowGroupRows`: most rows per row group ({@link ROW_GROUP_ROWS});
   * `rowGroupBytes`: most buffered bytes per row group ({@link ROW_GROUP_BYTES}); `metadata`:
   * key/value pairs written in the footer (e.g. the run_id and the schema sha256); `spool`: the
   * file is a spool of WATT_HOME/tmp, written encrypted by src/spool-crypto.ts (keys derived from
   * `secret` when given, else random; read it back with {@link cipher})
   */
  constructor(
    readonly file: string,
    readonly columns: ParquetColumn[],
    options: { rowGroupRows?: number; rowGroupBytes?: number; metadata?: Record<string, string>; spool?: { secret?: Uint8Array } } = {},
  ) {
    this.rowGroupRows = options.rowGroupRows ?? ROW_GROUP_ROWS;
    this.rowGroupBytes = options.rowGroupBytes ?? ROW_GROUP_BYTES;
    if (options.spool) this.spoolWriter = SpoolWriter.create(file, options.spool.secret);
    else writeFileSync(file, '', { mode: 0o600 });
    const out = new ByteWriter();
    const ensure = out.ensure.bind(out);
    // Spill to the file each MiB so that the encoded file is never held whole.
    out.ensure = (size: number) => {
      if (out.index > SPILL_BYTES) this.spill();
      ensure(size);
    };
    out.finish = () => this.spill();
    this.out = out;
    const schema = schemaElements(columns);
    this.writer = new ParquetWriter({ writer: out, schema, codec: 'ZSTD', compressors: { ZSTD: (b: Uint8Array) => zstdCompressPage(b).slice() }, statistics: true, createdBy: createdBy(), kvMetadata: kvMetadata(options.metadata) });
    this.buffers = columns.map((c, i) => new ColumnBuffer(kindCode(c), schema[i + 1]!, c.statistics ?? true, this.memory));
  }

  private spill(): void {
    const out = this.out;
    if (out.index === 0) return;
    const bytes = new Uint8Array(out.buffer, 0, out.index);
    if (this.spoolWriter) this.spoolWriter.write(bytes);
    else appendFileSync(this.file, bytes);
    this.bytesWritten += out.index;
    out.index = 0;
  }

  /** Rows appended and not yet encoded. */
  get buffered(): number {
    return this.bufferedRows;
  }

  /** Bytes of memory of the column buffers (typed buffers, dictionaries; what RSS pays), rows buffered or not. */
  get bufferedBytes(): number {
    return this.memory.allocated;
  }

  /** Append one row: one cell per column, in column order (see {@link ParquetCell}). @throws TypeError on a cell of the wrong type */
  append(cells: ParquetCell[]): void {
    const buffers = this.buffers;
    for (let i = 0; i < buffers.length; i++) buffers[i]!.cell(cells[i]);
    this.rowAppended();
  }

  /**
   * Append one row of canonical CSV cells (src/records/canonical.ts: `YYYY-MM-DDTHH:MM:SS[.f]Z`
   * date-times, plain decimals, integers, `true`/`false`; '' is a null), parsed straight into the
   * column buffers with no allocation per cell. `hints`, per column, a number that tends to stand
   * for the same string value (the pseudonymiser's memo entry) or -1: string dictionaries then
   * skip their Map for hinted values (parquet-columns.ts `stringHinted`; hints are checked).
   * @throws Error if a cell is not canonical for its column's kind (the row is then partly
   * buffered: the caller abandons the writer)
   */
  appendCanonical(record: readonly string[], hints?: Int32Array): void {
    const buffers = this.buffers;
    if (hints) for (let i = 0; i < buffers.length; i++) buffers[i]!.canonicalHinted(record[i]!, hints[i]!);
    else for (let i = 0; i < buffers.length; i++) buffers[i]!.canonical(record[i]!);
    this.rowAppended();
  }

  private rowAppended(): void {
    this.bufferedRows++;
    this.rows++;
    const memory = this.memory;
    if (memory.fullBytes > 0) {
      // A buffer is full: grow it (double it) if that keeps the row group within its byte budget,
      // else encode the row group and reuse the buffers.
      const growth = memory.fullBytes;
      memory.fullBytes = 0;
      if (memory.allocated + growth > this.rowGroupBytes) this.flushRowGroup(true);
    } else if (this.bufferedRows >= this.rowGroupRows) this.flushRowGroup(true);
  }

  /**
   * Encode the buffered rows as one row group and append it to the file.
   * @param keep keep the column buffers for the next row group (default false: they start
   * again small, and an idle writer gives its memory back)
   */
  flushRowGroup(keep = false): void {
    if (this.bufferedRows === 0) {
      if (!keep) for (const b of this.buffers) b.reset(false);
      return;
    }
    const out = this.out;
    const groupStart = out.offset;
    const w = this.writer as unknown as { row_groups: RowGroup[]; pendingIndexes: unknown[]; num_rows: bigint };
    const chunks: ColumnChunk[] = [];
    let uncompressed = 0n;
    for (let i = 0; i < this.buffers.length; i++) {
      const encoded = this.buffers[i]!.encode(out, this.columns[i]!.name, zstdCompressPage, keep);
      chunks.push(encoded.chunk);
      uncompressed += encoded.chunk.meta_data!.total_uncompressed_size;
      w.pendingIndexes.push(encoded);
    }
    w.row_groups.push({ columns: chunks, total_byte_size: uncompressed, num_rows: BigInt(this.bufferedRows), total_compressed_size: BigInt(out.offset - groupStart) });
    w.num_rows += BigInt(this.bufferedRows);
    this.bufferedRows = 0;
    this.spill();
    if (out.buffer.byteLength > KEEP_BUFFER_BYTES) {
      out.buffer = new ArrayBuffer(64 * 1024);
      out.view = new DataView(out.buffer);
    }
  }

  /**
   * Encode the last row group, write the footer, fsync and close the file.
   * @returns rows written and the file's size in bytes
   */
  close(): { rows: number; bytes: number } {
    this.flushRowGroup();
    this.writer.finish();
    this.spoolWriter?.close();
    fsyncFile(this.file);
    return { rows: this.rows, bytes: this.bytesWritten };
  }

  /** How the file is encrypted, when it is a spool (option `spool`; complete once closed or finished). */
  get cipher(): SpoolCipher | undefined {
    return this.spoolWriter?.cipher;
  }

  /**
   * Encode the last row group and stop before the footer: the part is finished (alone or joined
   * with the parts of other byte ranges) by {@link finishParquetParts}.
   */
  finishPart(): ParquetPart {
    this.flushRowGroup();
    const w = this.writer as unknown as { row_groups: RowGroup[]; pendingIndexes: unknown[] };
    const cipher = this.spoolWriter?.close();
    return { file: this.file, bytes: this.bytesWritten, rows: this.rows, rowGroups: w.row_groups, indexes: w.pendingIndexes, ...(cipher ? { cipher } : {}) };
  }

  /** Stop writing (the caller deletes the file). Never throws. */
  abort(): void {
    this.spoolWriter?.close();
    for (const b of this.buffers) b.reset(false);
  }
}

/** Once a row group is encoded, an output buffer larger than this is given back (many partitions stay small). */
const KEEP_BUFFER_BYTES = 256 * 1024;

const KIND_CODES: Record<Exclude<ParquetKind, 'decimal'>, number> = { double: DOUBLE, int64: INT64, timestamp: TIMESTAMP, boolean: BOOLEAN, string: STRING };

function kindCode(c: ParquetColumn): number {
  if (c.kind === 'decimal') return (c.precision ?? INT64_DECIMAL_PRECISION) <= INT64_DECIMAL_PRECISION ? DECIMAL : DECIMAL_FIXED;
  return KIND_CODES[c.kind];
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
 * Encrypted parts (spools, src/spool-crypto.ts) are joined decrypted and re-encrypted, each
 * appended part and the footer as a new segment of the first part's cipher.
 * @returns the joined file, its rows, size in bytes and cipher (when encrypted)
 * @throws Error from the file system; DataError when a spool's GCM tag does not match
 */
export async function finishParquetParts(parts: ParquetPart[], columns: ParquetColumn[], metadata?: Record<string, string>): Promise<{ file: string; rows: number; bytes: number; cipher?: SpoolCipher }> {
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
    if (first.cipher && part.cipher) await appendSpool(part.file, part.cipher, first.file, first.cipher, 4);
    else await pipeline(createReadStream(part.file, { start: 4, highWaterMark: 1 << 20 }), createWriteStream(first.file, { flags: 'a' }));
    length += part.bytes - 4;
    rowGroups.push(...part.rowGroups);
    indexes.push(...part.indexes);
  }
  // A writer whose output starts at the end of the joined row groups, for the footer only.
  const out = new ByteWriter();
  const footer = new ParquetWriter({ writer: out, schema: schemaElements(columns), codec: 'ZSTD', compressors: { ZSTD: (b: Uint8Array) => b }, statistics: true, createdBy: createdBy(), kvMetadata: kvMetadata(metadata) });
  out.index = 0;
  out.offset = length;
  const w = footer as unknown as { row_groups: RowGroup[]; pendingIndexes: unknown[]; num_rows: bigint };
  w.row_groups = rowGroups;
  w.pendingIndexes = indexes;
  const rows = parts.reduce((n, p) => n + p.rows, 0);
  w.num_rows = BigInt(rows);
  footer.finish();
  const bytes = new Uint8Array(out.buffer, 0, out.index);
  if (first.cipher) {
    const writer = SpoolWriter.append(first.file, first.cipher);
    writer.write(bytes);
    writer.close();
  } else appendFileSync(first.file, bytes);
  length += out.index;
  fsyncFile(first.file);
  return { file: first.file, rows, bytes: length, ...(first.cipher ? { cipher: first.cipher } : {}) };
}

/** The kind of each column of a Parquet file written by watt (or of the same physical shape). */
export function columnsOf(metadata: FileMetaData): ParquetColumn[] {
  return metadata.schema.slice(1).map((e): ParquetColumn => {
    const decimal = decimalOf(e);
    if (decimal) return { name: e.name, kind: 'decimal', ...decimal };
    let kind: ParquetKind = 'string';
    if (e.type === 'DOUBLE' || e.type === 'FLOAT') kind = 'double';
    else if (e.type === 'BOOLEAN') kind = 'boolean';
    else if (e.type === 'INT64' || e.type === 'INT32') kind = e.logical_type?.type === 'TIMESTAMP' || e.converted_type?.startsWith('TIMESTAMP') ? 'timestamp' : 'int64';
    return { name: e.name, kind };
  });
}

/** Precision and scale of a DECIMAL schema element (logical or converted type), else undefined. */
function decimalOf(e: SchemaElement): { precision: number; scale: number } | undefined {
  if (e.logical_type?.type === 'DECIMAL') return { precision: e.logical_type.precision, scale: e.logical_type.scale };
  if (e.converted_type === 'DECIMAL') return { precision: e.precision ?? INT64_DECIMAL_PRECISION, scale: e.scale ?? 0 };
  return undefined;
}

/**
 * The metadata to read a file with so that DECIMAL columns come back exact: their logical and
 * converted types removed, hyparquet returns the unscaled values as stored (bigint from INT64,
 * bytes from FIXED_LEN_BYTE_ARRAY) instead of multiplying them into doubles.
 */
function rawDecimalMetadata(metadata: FileMetaData): { metadata: FileMetaData; decimals: boolean[] } {
  const decimals = metadata.schema.slice(1).map((e) => decimalOf(e) !== undefined);
  if (!decimals.some(Boolean)) return { metadata, decimals };
  const schema = metadata.schema.map((e, i) => (i > 0 && decimals[i - 1] ? { ...e, converted_type: undefined, logical_type: undefined } : e));
  return { metadata: { ...metadata, schema }, decimals };
}

/** A stored unscaled decimal as bigint: INT64/INT32 as read, or big-endian two's complement bytes. */
function unscaledOf(v: unknown): bigint | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number') return BigInt(v);
  const bytes = v as Uint8Array;
  let x = 0n;
  for (const b of bytes) x = (x << 8n) | BigInt(b);
  return bytes.length ? BigInt.asIntN(bytes.length * 8, x) : 0n;
}

/** Parquet file metadata (footer) of a local file. @throws Error if it is not a Parquet file. */
export async function readParquetMetadata(file: string, cipher?: SpoolCipher): Promise<FileMetaData> {
  return parquetMetadataAsync(cipher ? spoolAsyncBuffer(file, cipher) : await asyncBufferFromFile(file));
}

/**
 * Read a local Parquet file one row group at a time, cells as {@link ParquetCell}: timestamps
 * stay raw bigint microseconds (no Date round trip), INT64 stays bigint, DECIMAL columns give
 * their exact unscaled value as bigint (records/decimal.ts decimalText spells it), strings UTF-8.
 * Memory: one row group.
 * @throws Error if the file is not Parquet or is truncated.
 */
export async function* readParquetRowGroups(file: string, cipher?: SpoolCipher): AsyncGenerator<{ columns: ParquetColumn[]; rows: ParquetCell[][] }> {
  const buffer = cipher ? spoolAsyncBuffer(file, cipher) : await asyncBufferFromFile(file);
  const footer = await parquetMetadataAsync(buffer);
  const columns = columnsOf(footer);
  const { metadata, decimals } = rawDecimalMetadata(footer);
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
      compressors: COMPRESSORS,
      onComplete: (data) => {
        rows = data as ParquetCell[][];
        if (decimals.some(Boolean)) for (const row of rows) for (let i = 0; i < decimals.length; i++) if (decimals[i]) row[i] = unscaledOf(row[i]);
      },
    });
    yield { columns, rows };
    start = end;
  }
}

/** Decompressors beyond hyparquet's own (it decodes Snappy itself: objects written before zstd still read). */
export const COMPRESSORS = { ZSTD: zstdDecompress };

/** hyparquet parsers that keep timestamps as bigint microseconds. */
const rawParsers = {
  timestampFromMilliseconds: (millis: bigint) => BigInt(millis) * 1000n,
  timestampFromMicroseconds: (micros: bigint) => BigInt(micros),
  timestampFromNanoseconds: (nanos: bigint) => BigInt(nanos) / 1000n,
} as never;
