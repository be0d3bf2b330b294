import { CellError } from './cell-error.js';
import { RecentValues } from './recent-values.js';

/**
 * Canonical cell values (issue 11): one spelling per value, so that every reader of the lake
 * (DuckDB `read_csv`, pandas, Spark) infers the same column types across all files, and the
 * Parquet writer gets exact typed values.
 *
 * - `date-time` (RFC 3339, already checked by the schema's format): UTC, uppercase `T`, `Z`,
 *   fractional seconds to the microsecond with trailing zeros trimmed (none when zero):
 *   `2025-03-07t09:30:00.120+01:00` -> `2025-03-07T08:30:00.12Z`. More than 6 fractional digits
 *   are kept only when the extra digits are zeros; otherwise the cell is rejected (watt never
 *   rounds a reading's time). A leap second (`:60`) is rejected: UTC timestamps in Parquet and
 *   DuckDB cannot hold it. Results outside years 0000-9999 in UTC are rejected.
 * - `number`: plain decimal written from the digits of the source (exact: no binary round trip),
 *   no exponent, no `+`, no leading zeros, no trailing fractional zeros, `-0` -> `0`:
 *   `1e2` -> `100`, `0012.40` -> `12.4`, `.5` -> `0.5`. A value that a double cannot hold
 *   (overflow to infinity, or non-zero digits that underflow to 0) is rejected.
 * - `integer`: decimal without `+` or leading zeros, `-0` -> `0`; exact up to the INT64 range
 *   (-2^63 .. 2^63-1), rejected beyond it.
 * - `boolean`: `true` / `false`.
 *
 * Every function has a fast path returning its argument unchanged (no allocation) when the cell
 * is already canonical: this runs once per cell of every row.
 */

/**
 * Whether `raw` (which passed the `date-time` format) is canonical already: `T`, seconds 00-59,
 * 1-6 fraction digits without a trailing 0, `Z` (the regex
 * `^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:[0-5]\d(?:\.\d{0,5}[1-9])?Z$`, read character by character).
 */
export function isCanonicalDateTime(raw: string): boolean {
  const n = raw.length;
  if (n < 20 || n > 27 || raw.charCodeAt(n - 1) !== 90 || raw.charCodeAt(10) !== 84) return false;
  for (let i = 0; i < 19; i++) {
    const c = raw.charCodeAt(i);
    if (i === 4 || i === 7) {
      if (c !== 45) return false;
    } else if (i === 13 || i === 16) {
      if (c !== 58) return false;
    } else if (i === 10) continue;
    else if (c < 48 || c > (i === 17 ? 53 : 57)) return false;
  }
  if (n === 20) return true;
  // `.` then 1-6 digits, the last not 0, then `Z`
  if (n === 21 || raw.charCodeAt(19) !== 46) return false;
  for (let i = 20; i < n - 1; i++) {
    const c = raw.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return raw.charCodeAt(n - 2) !== 48;
}
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:[Zz]|([+-])(\d{2}):(\d{2}))$/;
/** Milliseconds in 400 Gregorian years (146,097 days): shifts years 0-99 past Date.UTC's 1900 mapping. */
const FOUR_CENTURIES_MS = 146_097 * 86_400_000;

const NOT_DATE_TIME = new CellError('is not a valid date-time');
const LEAP_SECOND = new CellError('is a leap second (:60), which UTC timestamps (Parquet, DuckDB) cannot hold');
const YEAR_RANGE = new CellError('is outside years 0000-9999 once converted to UTC');

let lastDateTimeIn = '';
/**
 * Valid date-times seen recently and their canonical forms (records/recent-values.ts): filled by
 * the `date-time` format check only (records/schema.ts), after a value passed it, so that an
 * entry always stands for a valid date-time; read by {@link canonicalDateTime}.
 */
export const recentDateTimes = new RecentValues<string | CellError>();

/**
 * Record that `raw` was just found valid with the canonical form `out` (by the format check):
 * the next {@link canonicalDateTime} of `raw` answers without a lookup.
 */
export function noteDateTime(raw: string, out: string | CellError): void {
  lastDateTimeIn = raw;
  lastDateTimeOut = out;
}
let lastDateTimeOut: string | CellError = '';

/**
 * The canonical form of an RFC 3339 date-time (see the module doc).
 * @param raw a cell that passed the schema's `date-time` format
 * @returns the canonical string (`raw` itself when already canonical), or a CellError saying why
 * it cannot be written exactly
 */
export function canonicalDateTime(raw: string): string | CellError {
  if (raw === lastDateTimeIn) return lastDateTimeOut;
  const out = recentDateTimes.get(raw) ?? computeCanonicalDateTime(raw);
  lastDateTimeIn = raw;
  lastDateTimeOut = out;
  return out;
}

/** The canonical form of `raw`, computed (no memo). */
export function computeCanonicalDateTime(raw: string): string | CellError {
  return isCanonicalDateTime(raw) ? raw : convertDateTime(raw);
}

function convertDateTime(raw: string): string | CellError {
  const m = DATE_TIME.exec(raw);
  if (!m) return NOT_DATE_TIME;
  const second = +m[6]!;
  if (second === 60) return LEAP_SECOND;
  let fraction = m[7] ?? '';
  if (fraction.length > 6) {
    if (!/^0+$/.test(fraction.slice(6))) return new CellError(`has ${fraction.length} fractional-second digits: watt keeps microseconds (6 digits) and never rounds a time`);
    fraction = fraction.slice(0, 6);
  }
  fraction = fraction.replace(/0+$/, '');
  const offsetMinutes = m[8] ? (m[8] === '-' ? -1 : 1) * (+m[9]! * 60 + +m[10]!) : 0;
  const ms = Date.UTC(+m[1]! + 400, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, second) - FOUR_CENTURIES_MS - offsetMinutes * 60_000;
  const iso = new Date(ms).toISOString();
  if (iso.length !== 24) return YEAR_RANGE; // +010000-... or -000001-...
  return `${iso.slice(0, 19)}${fraction ? '.' + fraction : ''}Z`;
}

let lastMicrosIn = '';
let lastMicrosOut = 0n;

/**
 * Microseconds since 1970-01-01T00:00:00Z of a canonical date-time (the output of
 * {@link canonicalDateTime}), exact, as a bigint (Parquet TIMESTAMP(MICROS) on INT64).
 */
export function epochMicros(canonical: string): bigint {
  if (canonical === lastMicrosIn) return lastMicrosOut;
  const ms = Date.parse(canonical.slice(0, 19) + 'Z');
  const micros = canonical.length > 20 ? Number(canonical.slice(20, -1).padEnd(6, '0')) : 0;
  const out = BigInt(ms) * 1000n + BigInt(micros);
  lastMicrosIn = canonical;
  lastMicrosOut = out;
  return out;
}

/** The UTC day `YYYY-MM-DD` of a canonical date-time: its partition. */
export function utcDay(canonical: string): string {
  return canonical.slice(0, 10);
}

/** Canonical number already: optional `-`, no leading zero, a fraction without trailing zero. */
const CANONICAL_NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d*[1-9])?$/;
const NUMBER_PARTS = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;
const NOT_NUMBER = new CellError('is not a number');
const DOUBLE_OVERFLOW = new CellError('is too large for a double (Parquet DOUBLE)');
const DOUBLE_UNDERFLOW = new CellError('is too small for a double (Parquet DOUBLE): it would become 0');
/** Beyond this decimal exponent a double is infinite or 0 (1.8e308, 4.9e-324). */
const MAX_DECIMAL_EXPONENT = 330;

/**
 * The canonical plain decimal of a number cell (see the module doc), from its digits.
 * @param raw a cell that passed the number conversion (`[+-]digits[.digits][e[+-]digits]`)
 * @returns the canonical string (`raw` itself when already canonical), or a CellError
 */
export function canonicalNumber(raw: string): string | CellError {
  if (CANONICAL_NUMBER.test(raw)) return raw === '-0' ? '0' : raw;
  const m = NUMBER_PARTS.exec(raw);
  if (!m || (!m[2] && !m[3])) return NOT_NUMBER;
  const value = Number(raw);
  if (!Number.isFinite(value)) return DOUBLE_OVERFLOW;
  const { digits, point } = significantDigits(m[2] ?? '', m[3] ?? '', m[4] ? Number(m[4]) : 0);
  if (!digits) return '0';
  if (value === 0) return DOUBLE_UNDERFLOW;
  if (point > MAX_DECIMAL_EXPONENT) return DOUBLE_OVERFLOW;
  if (point < -MAX_DECIMAL_EXPONENT) return DOUBLE_UNDERFLOW;
  return plainDecimal(m[1] === '-', digits, point);
}

/**
 * The significant digits of the decimal `intPart.fracPart` times 10^`exponent` (leading and
 * trailing zeros removed; '' for zero) and the position of the decimal point among them (may be
 * <= 0 or past their end): `('0012', '40', 0)` -> `{ digits: '124', point: 2 }`.
 */
export function significantDigits(intPart: string, fracPart: string, exponent: number): { digits: string; point: number } {
  let digits = intPart + fracPart;
  let point = intPart.length + exponent;
  let lead = 0;
  while (lead < digits.length && digits.charCodeAt(lead) === 48) lead++;
  digits = digits.slice(lead);
  point -= lead;
  let end = digits.length;
  while (end > 0 && digits.charCodeAt(end - 1) === 48) end--;
  return { digits: digits.slice(0, end), point };
}

/** `digits` (from {@link significantDigits}) with the decimal point at `point`, spelled plainly: `('124', 2)` -> `12.4`, `('5', -1)` -> `0.05`. */
export function plainDecimal(negative: boolean, digits: string, point: number): string {
  let plain: string;
  if (point <= 0) plain = '0.' + '0'.repeat(-point) + digits;
  else if (point >= digits.length) plain = digits + '0'.repeat(point - digits.length);
  else plain = digits.slice(0, point) + '.' + digits.slice(point);
  return negative ? '-' + plain : plain;
}

/** Canonical integer already and safely below 2^53: no sign but `-`, no leading zero, at most 15 digits. */
const CANONICAL_INTEGER = /^(?:0|-?[1-9]\d{0,14})$/;
const INTEGER_PARTS = /^([+-]?)0*(\d+)$/;
const NOT_INTEGER = new CellError('is not an integer');
const INT64_RANGE = new CellError('is outside the 64-bit integer range (-2^63 .. 2^63-1)');
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/**
 * The canonical decimal of an integer cell (see the module doc): exact within INT64.
 * @param raw a cell that passed the integer conversion (`[+-]digits`)
 * @returns the canonical string (`raw` itself when already canonical), or a CellError
 */
export function canonicalInteger(raw: string): string | CellError {
  if (CANONICAL_INTEGER.test(raw)) return raw;
  const m = INTEGER_PARTS.exec(raw);
  if (!m) return NOT_INTEGER;
  const digits = m[2]!;
  if (digits === '0') return '0';
  const text = m[1] === '-' ? '-' + digits : digits;
  if (digits.length >= 19) {
    const value = BigInt(text);
    if (value < INT64_MIN || value > INT64_MAX) return INT64_RANGE;
  }
  return text;
}

/**
 * The INT64 value of a canonical integer: a number when exact (|n| < 2^53), else a bigint.
 */
export function integerValue(canonical: string): number | bigint {
  return canonical.length <= 15 ? Number(canonical) : BigInt(canonical);
}

/** The canonical spelling of a boolean. */
export function canonicalBoolean(value: boolean): 'true' | 'false' {
  return value ? 'true' : 'false';
}
