import type { ColumnChunk, OffsetIndex, SchemaElement } from 'hyparquet';
import { writePageHeader } from 'hyparquet-writer/src/datapage.js';
import type { ByteWriter } from 'hyparquet-writer';
import { unscaledDecimal } from '../records/decimal.js';

/**
 * watt's own Parquet column encoder for the lake's flat kinds (string, double, int64,
 * boolean, timestamp, decimal on INT64 or FIXED_LEN_BYTE_ARRAY; every column OPTIONAL): values are buffered in typed arrays as rows arrive
 * and encoded as DATA_PAGE (v1) pages of ~1 MiB — definition levels in the RLE/bit-packed hybrid,
 * values PLAIN, or RLE_DICTIONARY indexes after a PLAIN dictionary page — each page compressed
 * with Zstandard. Format: https://parquet.apache.org/docs/file-format/ (parquet-format
 * Encodings.md, PageIndex.md for statistics order).
 *
 * Per cell: no allocation (doubles in a Float64Array, INT64 as two Int32 words per value, booleans
 * in a Uint8Array, strings as dictionary indexes or length-prefixed UTF-8 in a growing Buffer); a
 * BigInt only for integers beyond 2^53 and timestamps outside ~1685..2255.
 */

/** Kind codes (one class for every kind keeps the append loop monomorphic). */
export const DOUBLE = 0;
export const INT64 = 1;
export const TIMESTAMP = 2;
export const BOOLEAN = 3;
export const STRING = 4;
/** DECIMAL(p <= 18, s): the unscaled value on INT64 (parquet-format LogicalTypes.md). */
export const DECIMAL = 5;
/** DECIMAL(p > 18, s): the unscaled value as big-endian two's complement FIXED_LEN_BYTE_ARRAY. */
export const DECIMAL_FIXED = 6;

/** Target uncompressed bytes of a data page (the usual Parquet default). */
export const PAGE_BYTES = 1 << 20;
/** Strings longer than this are never dictionary-encoded (rarely repeated; V8 hashes very long strings by length). */
const MAX_DICTIONARY_STRING = 1024;
/**
 * Distinct values a string column's dictionary reaches before it checks whether it pays (then at
 * every power of two of values): a row group's first rows may all be distinct (the first hour of
 * readings of 20,000 meters) and the dictionary still pay over the row group, so the check waits;
 * an all-distinct column (record_id) holds at most this many entries before it goes PLAIN.
 */
const DICTIONARY_CHECK = 65536;
/** A string column that gave up its dictionary tries one again every this many row groups. */
const DICTIONARY_RETRY = 8;
/** Typed buffers start at this many elements and double. */
const INITIAL = 128;

const TWO_32 = 4294967296;
/** Typed arrays are copied to pages as bytes: Parquet is little-endian. */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
/** |seconds| below this: microseconds stay below 2^53 (years ~1685..2255), exact as doubles. */
const SAFE_SECONDS = 9_000_000_000;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** A growing byte buffer. */
class Bytes {
  buf: Buffer;
  len = 0;
  constructor(size: number) {
    this.buf = Buffer.allocUnsafeSlow(size);
  }
  ensure(extra: number): void {
    const need = this.len + extra;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const next = Buffer.allocUnsafeSlow(size);
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }
  byte(b: number): void {
    this.buf[this.len++] = b;
  }
  varint(n: number): void {
    while (n >= 0x80) {
      this.buf[this.len++] = (n & 0x7f) | 0x80;
      n = Math.floor(n / 128);
    }
    this.buf[this.len++] = n;
  }
  u32(n: number): void {
    this.buf.writeUInt32LE(n >>> 0, this.len);
    this.len += 4;
  }
  bytes(src: Uint8Array): void {
    this.ensure(src.length);
    this.buf.set(src, this.len);
    this.len += src.length;
  }
}

/** Scratch for one page body (synchronous use only: one page at a time per thread), allocated on first use. */
let scratch: Bytes | undefined;

/**
 * RLE/bit-packed hybrid encoding (parquet-format Encodings.md) of `values[start..end)` at
 * `width` bits, appended to `out` (no length prefix). Runs of 8 or more equal values are RLE
 * runs; the rest bit-packed groups of 8 (at most 63 groups a run, so a 1-byte header).
 */
export function writeRleHybrid(out: Bytes, values: ArrayLike<number>, start: number, end: number, width: number): void {
  const byteWidth = (width + 7) >> 3;
  out.ensure(((end - start) * width) / 8 + ((end - start) >> 3) * 2 + 32);
  let i = start;
  while (i < end) {
    const v = values[i]!;
    let j = i + 1;
    while (j < end && values[j] === v) j++;
    if (j - i >= 8) {
      out.ensure(16);
      out.varint((j - i) * 2);
      for (let b = 0, x = v; b < byteWidth; b++, x = Math.floor(x / 256)) out.byte(x & 0xff);
      i = j;
      continue;
    }
    const header = out.len++;
    let groups = 0;
    for (;;) {
      out.ensure(width + 8);
      packGroup(out, values, i, end, width);
      groups++;
      i += 8;
      if (i >= end || groups === 63) break;
      const w = values[i]!;
      let k = 1;
      while (k < 8 && i + k < end && values[i + k] === w) k++;
      if (k === 8) break;
    }
    out.buf[header] = (groups << 1) | 1;
  }
}

/** Bit-pack 8 values (zeros past `end`) LSB first into `width` bytes. */
function packGroup(out: Bytes, values: ArrayLike<number>, i: number, end: number, width: number): void {
  const buf = out.buf;
  let p = out.len;
  if (width <= 24) {
    let acc = 0;
    let bits = 0;
    for (let k = 0; k < 8; k++) {
      const v = i + k < end ? values[i + k]! : 0;
      acc |= v << bits;
      bits += width;
      while (bits >= 8) {
        buf[p++] = acc & 0xff;
        acc >>>= 8;
        bits -= 8;
      }
    }
  } else {
    let acc = 0;
    let bits = 0;
    for (let k = 0; k < 8; k++) {
      const v = i + k < end ? values[i + k]! : 0;
      acc += v * 2 ** bits;
      bits += width;
      while (bits >= 8) {
        buf[p++] = acc % 256;
        acc = Math.floor(acc / 256);
        bits -= 8;
      }
    }
  }
  out.len = p;
}

/** Exact powers of ten as doubles (10^0 .. 10^22). */
const POW10 = Array.from({ length: 23 }, (_, k) => 10 ** k);

/**
 * The double nearest a plain decimal `-?digits[.digits]` (canonical numbers: no exponent). With
 * at most 15 significant digits, integer / 10^fraction-digits is one correctly rounded division
 * of two exact doubles (Clinger's fast path), hence the same double as `Number(cell)`; longer
 * cells, and anything else, go through `Number` (NaN if not a number).
 */
export function decimal(cell: string): number {
  const n = cell.length;
  let i = cell.charCodeAt(0) === 45 ? 1 : 0;
  if (n - i > 16 || n === i) return Number(cell);
  let v = 0;
  let point = -1;
  for (; i < n; i++) {
    const c = cell.charCodeAt(i);
    if (c === 46 && point < 0) point = i;
    else if (c >= 48 && c <= 57) v = v * 10 + (c - 48);
    else return Number(cell);
  }
  // 15 digits at most (below 2^53 exactly), and a digit after the point.
  if (point === n - 1 || (point < 0 && n - (cell.charCodeAt(0) === 45 ? 1 : 0) > 15)) return Number(cell);
  const scaled = point < 0 ? v : v / POW10[n - 1 - point]!;
  return cell.charCodeAt(0) === 45 ? -scaled : scaled;
}

/** The decimal digit at `k`, or NaN. */
function digit(s: string, k: number): number {
  const x = s.charCodeAt(k) - 48;
  return x >= 0 && x <= 9 ? x : NaN;
}

/**
 * Write `v` as UTF-8 at `at` (room for 3 bytes a character is the caller's): short ASCII strings
 * byte by byte (Buffer#write costs ~100 ns a call), others through Buffer#write.
 * @returns bytes written
 */
function writeUtf8(buf: Buffer, v: string, at: number): number {
  const n = v.length;
  if (n <= 48) {
    let i = 0;
    for (; i < n; i++) {
      const c = v.charCodeAt(i);
      if (c >= 0x80) break;
      buf[at + i] = c;
    }
    if (i === n) return n;
  }
  return buf.write(v, at);
}

/** Bits needed for values 0..max. */
function bitWidth(max: number): number {
  return max <= 0 ? 0 : 32 - Math.clz32(max);
}

/** Days from 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
export function daysFromCivil(y: number, m: number, d: number): number {
  y -= m <= 2 ? 1 : 0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/** Code point order of two strings, as their UTF-8 bytes compare (UTF-16 `<` misorders U+E000..U+FFFF against surrogates). */
export function compareUtf8(a: string, b: string): number {
  const n = a.length < b.length ? a.length : b.length;
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800) x = x <= 0xdfff ? x + 0x2000 : x - 0x800;
    if (y >= 0xd800) y = y <= 0xdfff ? y + 0x2000 : y - 0x800;
    return x - y;
  }
  return a.length - b.length;
}

/** A row group's bytes are written through this (hyparquet-writer's ByteWriter, spilled to the file). */
export type PageSink = ByteWriter;

/** The result of encoding one column chunk: its metadata and (several pages) its offset index. */
export interface EncodedChunk {
  chunk: ColumnChunk;
  offsetIndex?: OffsetIndex;
}

/**
 * What the columns of one writer share: `allocated`, the bytes of their buffers (and an estimate
 * of their dictionaries); `fullBytes`, set when a column's buffer is full (its next value would
 * double it), so that the writer may encode the row group instead, keeping the buffers for the
 * next one.
 */
export interface ColumnMemory {
  allocated: number;
  /** Bytes of a buffer that is full (its next value doubles it), 0 if none. */
  fullBytes: number;
}

/**
 * One column's values of the row group being buffered. `allocated` is the bytes of its typed
 * buffers (what the process's RSS pays), kept in `owner.allocated` too.
 */
export class ColumnBuffer {
  /** Rows of the current row group (nulls included), non-null values, nulls. */
  rows = 0;
  count = 0;
  nulls = 0;
  /** Definition level per row (1 value, 0 null), allocated when the first null arrives. */
  private defs: Uint8Array | null = null;
  private f64: Float64Array | null = null;
  /** INT64 as (low, high) words per value; dictionary indexes for strings. */
  private i32: Int32Array | null = null;
  private u8: Uint8Array | null = null;
  /** Strings: the dictionary (value -> index) while it pays, else PLAIN bytes. */
  private dict: Map<string, number> | null = null;
  private dictValues: string[] = [];
  /** Index of the last value appended (-1: none in this row group). */
  private lastIndex = -1;
  private dictChars = 0;
  private totalChars = 0;
  /**
   * The dictionary outlives a row group while at least half its entries were used in it (the same
   * meters every hour: no Map rebuilt, no miss): `marks[i] === group` when entry i is used in the
   * current row group (statistics and the pay check count those only); `used`/`usedChars`: their
   * number and characters.
   */
  private marks = new Int32Array(0);
  /** Dictionary index + 1 last given to each hint of {@link stringHinted} (0: none); checked before use. */
  private byHint = new Int32Array(0);
  private group = 1;
  private used = 0;
  private usedChars = 0;
  private plain: Bytes | null = null;
  /**
   * The column gave up its dictionary: later row groups start PLAIN, except every
   * {@link DICTIONARY_RETRY}th, which tries a dictionary again (the values may have changed).
   */
  private plainOnly = false;
  private rowGroups = 0;
  private readonly stats: boolean;
  // Statistics of the row group (doubles: numbers; INT64: words; booleans: seen flags; PLAIN strings).
  private minD = Infinity;
  private maxD = -Infinity;
  private minHi = 0;
  private minLo = 0;
  private maxHi = 0;
  private maxLo = 0;
  private seenFalse = false;
  private seenTrue = false;
  private minS: string | null = null;
  private maxS: string | null = null;
  /** DECIMAL_FIXED statistics (unscaled). */
  private minB: bigint | null = null;
  private maxB: bigint | null = null;
  private bytesAllocated = 0;
  /** DECIMAL kinds: the scale, the largest unscaled magnitude (10^precision - 1), the FIXED_LEN_BYTE_ARRAY width in bytes. */
  private readonly scale: number;
  private readonly precision: number;
  private readonly maxUnscaled: bigint;
  private readonly width: number;

  constructor(
    readonly kind: number,
    readonly element: SchemaElement,
    statistics: boolean,
    private readonly owner: ColumnMemory,
  ) {
    this.stats = statistics;
    this.scale = element.scale ?? 0;
    this.precision = element.precision ?? 18;
    this.maxUnscaled = 10n ** BigInt(this.precision) - 1n;
    this.width = element.type_length ?? 0;
    this.reset(false);
  }

  private account(bytes: number): void {
    this.owner.allocated += bytes - this.bytesAllocated;
    this.bytesAllocated = bytes;
  }

  private measure(): void {
    let b = 0;
    if (this.defs) b += this.defs.byteLength;
    if (this.f64) b += this.f64.byteLength;
    if (this.i32) b += this.i32.byteLength;
    if (this.u8) b += this.u8.byteLength;
    if (this.plain) b += this.plain.buf.length;
    // A dictionary entry: the Map's slot and the array's (the strings are counted by their owner).
    if (this.dict) b += this.dictValues.length * 40 + this.dictChars;
    this.account(b);
  }

  /**
   * Drop the row group's values (after encoding). `keep`: keep the buffers for the next row group
   * (no new allocation, no garbage); else start again small (an idle partition gives its memory back).
   */
  reset(keep: boolean): void {
    if (this.plainOnly && ++this.rowGroups % DICTIONARY_RETRY === 0) this.plainOnly = false;
    this.rows = 0;
    this.count = 0;
    this.nulls = 0;
    this.defs = null;
    const string = this.kind === STRING;
    const dictionary = string && !this.plainOnly;
    if (!keep || !this.f64) this.f64 = this.kind === DOUBLE ? new Float64Array(INITIAL) : null;
    if (!keep || !this.i32) this.i32 = this.kind === INT64 || this.kind === TIMESTAMP || this.kind === DECIMAL ? new Int32Array(INITIAL * 2) : dictionary ? new Int32Array(INITIAL) : null;
    else if (string && !dictionary) this.i32 = null;
    if (!keep || !this.u8) this.u8 = this.kind === BOOLEAN ? new Uint8Array(INITIAL) : null;
    const keepDictionary = keep && dictionary && this.dict !== null && this.used * 2 >= this.dictValues.length;
    if (!keepDictionary) {
      this.dict = dictionary ? new Map() : null;
      this.dictValues = [];
      this.lastIndex = -1;
      this.dictChars = 0;
      if (this.marks.length > INITIAL) this.marks = new Int32Array(0);
    }
    this.group++;
    this.used = 0;
    this.usedChars = 0;
    this.totalChars = 0;
    if (!keep || !this.plain) this.plain = (string && this.plainOnly) || this.kind === DECIMAL_FIXED ? new Bytes(Math.max(4096, INITIAL * this.width)) : null;
    else if (dictionary) this.plain = null;
    else this.plain.len = 0;
    this.minD = Infinity;
    this.maxD = -Infinity;
    this.minHi = this.minLo = this.maxHi = this.maxLo = 0;
    this.seenFalse = this.seenTrue = false;
    this.minS = this.maxS = null;
    this.minB = this.maxB = null;
    this.measure();
  }

  null(): void {
    if (this.defs === null) {
      this.defs = new Uint8Array(Math.max(INITIAL, this.rows * 2));
      this.defs.fill(1, 0, this.rows);
      this.measure();
    } else if (this.rows === this.defs.length) {
      this.defs = doubled(this.defs);
      this.measure();
    }
    this.defs[this.rows++] = 0;
    this.nulls++;
  }

  private present(): void {
    const defs = this.defs;
    if (defs !== null) {
      if (this.rows === defs.length) {
        this.defs = doubled(defs);
        this.measure();
      }
      this.defs![this.rows] = 1;
    }
    this.rows++;
  }

  /**
   * The value being appended: numbers cross method boundaries through these fields (stored in
   * place) rather than as arguments, which V8 boxes (allocates) when a call is not inlined.
   */
  private value = 0.5;
  private lo = 0.5;
  private hi = 0.5;
  /** The last timestamp cell parsed (within 2^53 microseconds) and its words. */
  private lastCell = '';
  private lastLo = 0.5;
  private lastHi = 0.5;

  /** Append `this.value` as a double. */
  private pushDouble(): void {
    const v = this.value;
    let a = this.f64!;
    if (this.count === a.length) {
      this.f64 = a = doubled(a);
      this.measure();
    }
    a[this.count++] = v;
    if (this.count === a.length) this.owner.fullBytes = a.byteLength;
    this.present();
    if (this.stats) {
      if (v < this.minD) this.minD = v;
      if (v > this.maxD) this.maxD = v;
    }
  }

  /** Append the INT64 of `this.lo` (the low 32 bits, any sign) and `this.hi` (the high 32 bits, signed). */
  private pushWords(): void {
    const lo = this.lo;
    const hi = this.hi;
    let a = this.i32!;
    const at = this.count * 2;
    if (at === a.length) {
      this.i32 = a = doubled(a);
      this.measure();
    }
    a[at] = lo;
    a[at + 1] = hi;
    if (this.stats) {
      if (this.count === 0) {
        this.minHi = this.maxHi = hi;
        this.minLo = this.maxLo = lo;
      } else {
        if (hi < this.minHi || (hi === this.minHi && lo >>> 0 < this.minLo >>> 0)) {
          this.minHi = hi;
          this.minLo = lo;
        }
        if (hi > this.maxHi || (hi === this.maxHi && lo >>> 0 > this.maxLo >>> 0)) {
          this.maxHi = hi;
          this.maxLo = lo;
        }
      }
    }
    this.count++;
    if (at + 2 === a.length) this.owner.fullBytes = a.byteLength;
    this.present();
  }

  /** Append `this.value`, an integer with |v| <= 2^53, as INT64. */
  private pushSafeInteger(): void {
    const v = this.value;
    const hi = Math.floor(v / TWO_32);
    this.lo = (v - hi * TWO_32) | 0;
    this.hi = hi | 0;
    this.pushWords();
  }

  /** An INT64 as bigint. @throws RangeError outside -2^63 .. 2^63-1 */
  bigint(v: bigint): void {
    if (v < INT64_MIN || v > INT64_MAX) throw new RangeError(`Parquet INT64 value out of range: ${v}`);
    const u = BigInt.asUintN(64, v);
    this.lo = Number(u & 0xffffffffn) | 0;
    this.hi = Number(u >> 32n) | 0;
    this.pushWords();
  }

  boolean(v: boolean): void {
    let a = this.u8!;
    if (this.count === a.length) {
      this.u8 = a = doubled(a);
      this.measure();
    }
    a[this.count++] = v ? 1 : 0;
    if (this.count === a.length) this.owner.fullBytes = a.byteLength;
    if (v) this.seenTrue = true;
    else this.seenFalse = true;
    this.present();
  }

  string(v: string): void {
    this.stringHinted(v, -1);
  }

  /**
   * A string value with a hint: a small non-negative integer that tends to stand for the same
   * value (the pseudonymiser's memo entry, records/pseudonymise.ts), or -1. The dictionary keeps
   * the index it gave each hint and uses it when that index holds `v` (one typed-array load and
   * `===` on the same string object), so that values in no order skip the Map; a wrong or stale
   * hint only costs the Map lookup.
   */
  stringHinted(v: string, hint: number): void {
    const dict = this.dict;
    if (dict !== null) {
      // Readings repeat their meters in the same order hour after hour: the value after the last
      // one seen, or the last one again, is tried first (one array load and `===` on the same
      // string object) before the Map, whose lookups cost ~170 ns in a busy worker (cache misses;
      // docs/benchmarks.md "Parquet encoder").
      const values = this.dictValues;
      const last = this.lastIndex;
      let index: number | undefined;
      let byHint = this.byHint;
      // The hint first: its index holds `v` itself (pointer-equal) in any order, where the
      // neighbours of the last value would each cost a read of another string in no order.
      if (hint >= 0 && hint < byHint.length && byHint[hint]! > 0 && values[byHint[hint]! - 1] === v) index = byHint[hint]! - 1;
      else if (last + 1 < values.length && values[last + 1] === v) index = last + 1;
      else if (last >= 0 && values[last] === v) index = last;
      else index = dict.get(v);
      if (index === undefined) {
        if (v.length > MAX_DICTIONARY_STRING) {
          this.toPlain();
          this.plainString(v);
          return;
        }
        index = values.length;
        dict.set(v, index);
        values.push(v);
        this.dictChars += v.length;
        if (index >= this.marks.length) {
          const next = new Int32Array(Math.max(INITIAL, this.marks.length * 2));
          next.set(this.marks);
          this.marks = next;
        }
      }
      if (hint >= 0) {
        if (hint >= byHint.length) {
          const next = new Int32Array(Math.max(INITIAL, hint + 1, byHint.length * 2));
          next.set(byHint);
          this.byHint = byHint = next;
        }
        byHint[hint] = index + 1;
      }
      if (this.marks[index] !== this.group) {
        this.marks[index] = this.group;
        this.used++;
        this.usedChars += v.length;
      }
      this.totalChars += v.length;
      let a = this.i32!;
      if (this.count === a.length) {
        this.i32 = a = doubled(a);
        this.measure();
      }
      a[this.count++] = index;
      this.lastIndex = index;
      if (this.count === a.length) this.owner.fullBytes = a.byteLength;
      this.present();
      const n = this.count;
      if ((n & (n - 1)) === 0 && this.dictValues.length >= DICTIONARY_CHECK) {
        this.measure();
        // The dictionary pays when distinct values take at most half the characters of all values.
        if (this.usedChars * 2 > this.totalChars) this.toPlain();
      }
      return;
    }
    this.plainString(v);
  }

  private plainString(v: string): void {
    const plain = this.plain!;
    const before = plain.buf.length;
    plain.ensure(4 + v.length * 3);
    const n = writeUtf8(plain.buf, v, plain.len + 4);
    plain.buf.writeUInt32LE(n, plain.len);
    plain.len += 4 + n;
    this.count++;
    this.present();
    if (plain.buf.length !== before) this.measure();
    if (plain.len > plain.buf.length - (plain.buf.length >> 3)) this.owner.fullBytes = plain.buf.length;
    if (this.stats) {
      if (this.minS === null) this.minS = this.maxS = v;
      else if (compareUtf8(v, this.minS) < 0) this.minS = v;
      else if (compareUtf8(v, this.maxS!) > 0) this.maxS = v;
    }
  }

  /** Give up the dictionary: its values so far become PLAIN bytes, and so do later ones. */
  private toPlain(): void {
    const values = this.dictValues;
    const indexes = this.i32!;
    const count = this.count;
    const plain = new Bytes(Math.max(16 * 1024, this.totalChars + 4 * count + 1024));
    this.plain = plain;
    if (this.stats) this.usedRange();
    for (let i = 0; i < count; i++) {
      const v = values[indexes[i]!]!;
      plain.ensure(4 + v.length * 3);
      const n = writeUtf8(plain.buf, v, plain.len + 4);
      plain.buf.writeUInt32LE(n, plain.len);
      plain.len += 4 + n;
    }
    this.dict = null;
    this.dictValues = [];
    this.dictChars = 0;
    this.lastIndex = -1;
    this.marks = new Int32Array(0);
    this.i32 = null;
    this.plainOnly = true;
    this.measure();
  }

  /** Min and max of the dictionary entries used in the current row group (not the whole dictionary). */
  private usedRange(): void {
    const values = this.dictValues;
    const marks = this.marks;
    const group = this.group;
    for (let i = 0; i < values.length; i++) {
      if (marks[i] !== group) continue;
      const v = values[i]!;
      if (this.minS === null) this.minS = this.maxS = v;
      else if (compareUtf8(v, this.minS) < 0) this.minS = v;
      else if (compareUtf8(v, this.maxS!) > 0) this.maxS = v;
    }
  }

  /**
   * Parse one canonical cell (src/records/canonical.ts; '' is a null) into the buffers.
   * @throws Error if the cell is not canonical for the column's kind
   */
  /** {@link canonical} with a hint for string values (see {@link stringHinted}). */
  canonicalHinted(cell: string, hint: number): void {
    if (this.kind === STRING && cell.length !== 0) this.stringHinted(cell, hint);
    else this.canonical(cell);
  }

  canonical(cell: string): void {
    if (cell.length === 0) {
      this.null();
      return;
    }
    switch (this.kind) {
      case DOUBLE:
        this.value = decimal(cell);
        if (this.value !== this.value) throw new Error(`not a canonical number: ${JSON.stringify(cell.slice(0, 40))}`);
        this.pushDouble();
        return;
      case INT64:
        this.integer(cell);
        return;
      case TIMESTAMP:
        this.timestamp(cell);
        return;
      case DECIMAL:
        this.decimal(cell);
        return;
      case DECIMAL_FIXED:
        this.fixedDecimal(this.unscaled(cell));
        return;
      case BOOLEAN:
        if (cell === 'true') this.boolean(true);
        else if (cell === 'false') this.boolean(false);
        else throw new Error(`not a canonical boolean: ${JSON.stringify(cell.slice(0, 40))}`);
        return;
      default:
        this.string(cell);
    }
  }

  private integer(cell: string): void {
    const n = cell.length;
    let i = cell.charCodeAt(0) === 45 ? 1 : 0;
    if (n - i <= 15 && n > i) {
      let v = 0;
      for (; i < n; i++) {
        const d = cell.charCodeAt(i) - 48;
        if (d < 0 || d > 9) throw new Error(`not a canonical integer: ${JSON.stringify(cell.slice(0, 40))}`);
        v = v * 10 + d;
      }
      this.value = cell.charCodeAt(0) === 45 ? -v : v;
      this.pushSafeInteger();
      return;
    }
    let big: bigint;
    try {
      big = BigInt(cell);
    } catch {
      throw new Error(`not a canonical integer: ${JSON.stringify(cell.slice(0, 40))}`);
    }
    this.bigint(big);
  }

  /**
   * A plain decimal cell (`-12.4`; records/decimal.ts canonicalDecimal) as its unscaled INT64 at
   * the column's scale, exact: digits accumulate in a double while the unscaled value stays within
   * 15 digits (exact below 2^53), else as a BigInt from the digits.
   */
  private decimal(cell: string): void {
    const n = cell.length;
    const negative = cell.charCodeAt(0) === 45;
    let v = 0;
    let significant = 0;
    let fraction = -1;
    for (let i = negative ? 1 : 0; i < n; i++) {
      const c = cell.charCodeAt(i);
      if (c === 46 && fraction < 0) {
        fraction = 0;
        continue;
      }
      const d = c - 48;
      if (d < 0 || d > 9) throw new Error(`not a canonical decimal: ${JSON.stringify(cell.slice(0, 40))}`);
      if (fraction >= 0) fraction++;
      if (significant > 0 || d > 0) significant++;
      v = v * 10 + d;
    }
    if (fraction < 0) fraction = 0;
    const pad = this.scale - fraction;
    if (pad < 0 || (negative ? n === 1 : n === 0) || significant + pad > this.precision) {
      throw new RangeError(`${JSON.stringify(cell.slice(0, 40))} does not fit DECIMAL(${this.precision},${this.scale})`);
    }
    if (significant + pad <= 15) {
      this.value = negative ? -(v * POW10[pad]!) : v * POW10[pad]!;
      this.pushSafeInteger();
    } else this.bigint(this.unscaled(cell));
  }

  /** The unscaled value of a decimal cell at the column's scale. @throws RangeError when it has more digits than the precision */
  private unscaled(cell: string): bigint {
    const v = unscaledDecimal(cell, this.scale);
    if (v > this.maxUnscaled || v < -this.maxUnscaled) throw new RangeError(`${JSON.stringify(cell.slice(0, 40))} does not fit DECIMAL(${this.precision},${this.scale})`);
    return v;
  }

  /** Append an unscaled decimal as `width` bytes of big-endian two's complement (FIXED_LEN_BYTE_ARRAY). */
  private fixedDecimal(v: bigint): void {
    const plain = this.plain!;
    const width = this.width;
    const before = plain.buf.length;
    plain.ensure(width);
    let x = BigInt.asUintN(width * 8, v);
    for (let k = width - 1; k >= 0; k--) {
      plain.buf[plain.len + k] = Number(x & 0xffn);
      x >>= 8n;
    }
    plain.len += width;
    this.count++;
    this.present();
    if (plain.buf.length !== before) this.measure();
    if (plain.len + width > plain.buf.length) this.owner.fullBytes = plain.buf.length;
    if (this.stats) {
      if (this.minB === null || v < this.minB) this.minB = v;
      if (this.maxB === null || v > this.maxB) this.maxB = v;
    }
  }

  /** `YYYY-MM-DDTHH:MM:SS[.f{1,6}]Z` -> microseconds since 1970-01-01T00:00:00Z, exact. */
  private timestamp(cell: string): void {
    // Readings come in time order: the same instant repeats for every meter.
    if (cell === this.lastCell) {
      this.lo = this.lastLo;
      this.hi = this.lastHi;
      this.pushWords();
      return;
    }
    const n = cell.length;
    const year = digit(cell, 0) * 1000 + digit(cell, 1) * 100 + digit(cell, 2) * 10 + digit(cell, 3);
    const month = digit(cell, 5) * 10 + digit(cell, 6);
    const day = digit(cell, 8) * 10 + digit(cell, 9);
    const seconds = (digit(cell, 11) * 10 + digit(cell, 12)) * 3600 + (digit(cell, 14) * 10 + digit(cell, 15)) * 60 + digit(cell, 17) * 10 + digit(cell, 18);
    let micros = 0;
    if (n > 20) {
      micros = cell.charCodeAt(19) === 46 && n > 21 ? 0 : NaN;
      let scale = 100000;
      for (let k = 20; k < n - 1; k++, scale /= 10) micros += digit(cell, k) * scale;
    }
    // NaN (a non-digit) fails every comparison below.
    if (
      !(n >= 20 && n <= 27 && month >= 1 && month <= 12 && day >= 1 && day <= 31 && seconds >= 0 && micros >= 0 && year >= 0) ||
      cell.charCodeAt(4) !== 45 || cell.charCodeAt(7) !== 45 || cell.charCodeAt(10) !== 84 || cell.charCodeAt(13) !== 58 || cell.charCodeAt(16) !== 58 || cell.charCodeAt(n - 1) !== 90
    ) {
      throw new Error(`not a canonical date-time: ${JSON.stringify(cell.slice(0, 40))}`);
    }
    const s = daysFromCivil(year, month, day) * 86400 + seconds;
    if (s > -SAFE_SECONDS && s < SAFE_SECONDS) {
      this.value = s * 1_000_000 + micros;
      this.pushSafeInteger();
      this.lastCell = cell;
      this.lastLo = this.lo;
      this.lastHi = this.hi;
    }
    else this.bigint(BigInt(s) * 1_000_000n + BigInt(micros));
  }

  /** Append one typed cell (see ParquetCell in parquet.ts). @throws TypeError on a cell of the wrong type */
  cell(v: string | number | bigint | boolean | null | undefined): void {
    if (v === null || v === undefined) {
      this.null();
      return;
    }
    switch (this.kind) {
      case DOUBLE:
        if (typeof v !== 'number') throw new TypeError(`Parquet DOUBLE expects a number, got ${typeof v}`);
        this.value = v;
        this.pushDouble(); // a NaN is written and never enters min/max (comparisons with NaN are false)
        return;
      case INT64:
      case TIMESTAMP:
        if (typeof v === 'number') {
          if (!Number.isInteger(v)) throw new TypeError(`Parquet INT64 expects an integer, got ${v}`);
          if (Math.abs(v) <= Number.MAX_SAFE_INTEGER) {
            this.value = v;
            this.pushSafeInteger();
          }
          else this.bigint(BigInt(v));
        } else if (typeof v === 'bigint') this.bigint(v);
        else throw new TypeError(`Parquet INT64 expects a number or bigint, got ${typeof v}`);
        return;
      case DECIMAL:
      case DECIMAL_FIXED: {
        // A bigint is the unscaled value (as read back from a DECIMAL column); a string is decimal text.
        if (typeof v !== 'bigint' && typeof v !== 'string') throw new TypeError(`Parquet DECIMAL expects a bigint (unscaled) or decimal text, got ${typeof v}`);
        const u = typeof v === 'string' ? this.unscaled(v) : v;
        if (u > this.maxUnscaled || u < -this.maxUnscaled) throw new RangeError(`unscaled ${u} does not fit DECIMAL(${this.precision},${this.scale})`);
        if (this.kind === DECIMAL) this.bigint(u);
        else this.fixedDecimal(u);
        return;
      }
      case BOOLEAN:
        if (typeof v !== 'boolean') throw new TypeError(`Parquet BOOLEAN expects a boolean, got ${typeof v}`);
        this.boolean(v);
        return;
      default:
        if (typeof v !== 'string') throw new TypeError(`Parquet string column expects a string, got ${typeof v}`);
        this.string(v);
    }
  }

  /** Row group statistics as hyparquet-writer's footer serializer takes them (JS values). */
  private statistics(): Record<string, unknown> | undefined {
    if (!this.stats) return undefined;
    const out: Record<string, unknown> = { null_count: BigInt(this.nulls) };
    if (this.count === 0) return out;
    switch (this.kind) {
      case DOUBLE:
        if (this.minD <= this.maxD) {
          // parquet-format: a zero min is written -0, a zero max +0.
          out.min_value = this.minD === 0 ? -0 : this.minD;
          out.max_value = this.maxD === 0 ? 0 : this.maxD;
        }
        break;
      case INT64:
      case TIMESTAMP:
      case DECIMAL:
        out.min_value = (BigInt(this.minHi) << 32n) | BigInt(this.minLo >>> 0);
        out.max_value = (BigInt(this.maxHi) << 32n) | BigInt(this.maxLo >>> 0);
        break;
      case DECIMAL_FIXED:
        // Unscaled bigints: hyparquet-writer writes them as the column's big-endian bytes.
        if (this.minB !== null) {
          out.min_value = this.minB;
          out.max_value = this.maxB;
        }
        break;
      case BOOLEAN:
        out.min_value = !this.seenFalse;
        out.max_value = this.seenTrue;
        break;
      default:
        if (this.dict !== null) this.usedRange();
        out.min_value = this.minS;
        out.max_value = this.maxS;
    }
    return out;
  }

  /**
   * Encode the buffered row group as one column chunk into `out`, then {@link reset} (`keep`: the buffers).
   * @param compress Zstandard compression of one page body (the result is copied to `out` before the next call)
   */
  encode(out: PageSink, name: string, compress: (body: Uint8Array) => Uint8Array, keep: boolean): EncodedChunk {
    const start = out.offset;
    const rows = this.rows;
    const page = (scratch ??= new Bytes(PAGE_BYTES + 64 * 1024));
    let uncompressed = 0;
    let dictionaryOffset: bigint | undefined;
    const dictionary = this.kind === STRING && this.dict !== null && this.count > 0;
    const writePage = (header: Record<string, unknown>, body: Uint8Array): void => {
      const compressed = compress(body);
      const headerStart = out.offset;
      writePageHeader(out, { ...header, uncompressed_page_size: body.length, compressed_page_size: compressed.length } as never);
      uncompressed += out.offset - headerStart + body.length;
      out.appendBytes(compressed);
    };
    if (dictionary) {
      dictionaryOffset = BigInt(out.offset);
      page.len = 0;
      for (const v of this.dictValues) {
        page.ensure(4 + v.length * 3);
        const n = page.buf.write(v, page.len + 4);
        page.buf.writeUInt32LE(n, page.len);
        page.len += 4 + n;
      }
      writePage({ type: 'DICTIONARY_PAGE', dictionary_page_header: { num_values: this.dictValues.length, encoding: 'PLAIN' } }, page.buf.subarray(0, page.len));
    }
    const width = dictionary ? bitWidth(this.dictValues.length - 1) : 0;
    // Bytes per value as encoded, for ~PAGE_BYTES pages.
    let perValue: number;
    if (this.kind === BOOLEAN) perValue = 1 / 8;
    else if (this.kind === STRING) perValue = dictionary ? Math.max(width, 1) / 8 : (this.plain?.len ?? 0) / Math.max(1, this.count);
    else if (this.kind === DECIMAL_FIXED) perValue = this.width;
    else perValue = 8;
    const pageRows = Math.max(1, Math.floor(PAGE_BYTES / Math.max(perValue, 1 / 8)));
    const dataOffset = BigInt(out.offset);
    const locations: { offset: bigint; compressed_page_size: number; first_row_index: bigint }[] = [];
    const encoding = dictionary ? 'RLE_DICTIONARY' : 'PLAIN';
    const defs = this.defs;
    let value = 0;
    let plainAt = 0;
    if (!LITTLE_ENDIAN) throw new Error('watt writes Parquet on little-endian machines only');
    for (let r0 = 0; r0 < rows; r0 += pageRows) {
      const r1 = Math.min(rows, r0 + pageRows);
      let k = r1 - r0;
      page.len = 0;
      page.ensure(64);
      // Definition levels: u32 length, then the hybrid (one RLE run when the page has no null).
      const lengthAt = page.len;
      page.len += 4;
      if (defs === null) {
        page.varint(k * 2);
        page.byte(1);
      } else {
        writeRleHybrid(page, defs, r0, r1, 1);
        for (let r = r0; r < r1; r++) k -= 1 - defs[r]!;
      }
      page.buf.writeUInt32LE(page.len - lengthAt - 4, lengthAt);
      switch (this.kind) {
        case DOUBLE:
          page.bytes(new Uint8Array(this.f64!.buffer, value * 8, k * 8));
          break;
        case INT64:
        case TIMESTAMP:
        case DECIMAL:
          page.bytes(new Uint8Array(this.i32!.buffer, value * 8, k * 8));
          break;
        case DECIMAL_FIXED:
          page.bytes(this.plain!.buf.subarray(value * this.width, (value + k) * this.width));
          break;
        case BOOLEAN: {
          page.ensure((k >> 3) + 1);
          const u8 = this.u8!;
          for (let i = value; i < value + k; i += 8) {
            let b = 0;
            for (let j = 0; j < 8 && i + j < value + k; j++) b |= u8[i + j]! << j;
            page.byte(b);
          }
          break;
        }
        default:
          if (dictionary) {
            page.ensure(1);
            page.byte(width);
            writeRleHybrid(page, this.i32!, value, value + k, width);
          } else if (k > 0) {
            const buf = this.plain!.buf;
            let end = plainAt;
            for (let i = 0; i < k; i++) end += 4 + buf.readUInt32LE(end);
            page.bytes(buf.subarray(plainAt, end));
            plainAt = end;
          }
      }
      value += k;
      const pageStart = out.offset;
      writePage({ type: 'DATA_PAGE', data_page_header: { num_values: r1 - r0, encoding, definition_level_encoding: 'RLE', repetition_level_encoding: 'RLE' } }, page.buf.subarray(0, page.len));
      locations.push({ offset: BigInt(pageStart), compressed_page_size: out.offset - pageStart, first_row_index: BigInt(r0) });
    }
    const encodingStats = [];
    if (dictionary) encodingStats.push({ page_type: 'DICTIONARY_PAGE', encoding: 'PLAIN', count: 1 });
    encodingStats.push({ page_type: 'DATA_PAGE', encoding, count: locations.length });
    const chunk: ColumnChunk = {
      file_offset: BigInt(start),
      meta_data: {
        type: this.element.type!,
        encodings: dictionary ? ['PLAIN', 'RLE', 'RLE_DICTIONARY'] : ['PLAIN', 'RLE'],
        path_in_schema: [name],
        codec: 'ZSTD',
        num_values: BigInt(rows),
        total_uncompressed_size: BigInt(uncompressed),
        total_compressed_size: BigInt(out.offset - start),
        data_page_offset: dataOffset,
        dictionary_page_offset: dictionaryOffset,
        statistics: this.statistics() as never,
        encoding_stats: encodingStats as never,
      },
    };
    this.reset(keep);
    return { chunk, offsetIndex: locations.length > 1 ? { page_locations: locations } : undefined };
  }
}

/** A typed array of twice the length holding `a`'s values first (column buffers grow by doubling). */
function doubled<T extends Uint8Array | Int32Array | Float64Array>(a: T): T {
  const next = new (a.constructor as new (length: number) => T)(a.length * 2);
  next.set(a);
  return next;
}
