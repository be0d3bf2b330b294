import { UsageError } from '../errors.js';
import { CellError } from './cell-error.js';
import { plainDecimal, significantDigits } from './canonical.js';

/**
 * Exact amounts (issue 23 item 5): the schema keyword `"x-decimal": {"precision": p, "scale": s}`
 * on a `number` or `string` column declares a decimal of at most `p` significant digits, `s` of
 * them after the point (SQL `DECIMAL(p,s)`, Parquet's DECIMAL logical type). Such a column is
 * written as Parquet `DECIMAL(p,s)` (INT64 for p <= 18, else FIXED_LEN_BYTE_ARRAY) and as exact
 * canonical CSV: the cell's own digits, never a binary floating-point value. A cell with more
 * fractional digits than `s` (non-zero ones: `12.4000` fits scale 3) or more integer digits than
 * `p - s` is rejected with a cell error; watt never rounds an amount.
 *
 * Sources: parquet-format LogicalTypes.md "DECIMAL" (precision 1..38 for the types watt writes,
 * scale 0..precision, the unscaled value as a signed integer; INT64 holds precision <= 18); the
 * SQL standard's DECIMAL(p,s).
 */

/** The keyword on a column of the schema. */
export const DECIMAL_KEYWORD = 'x-decimal';

/** Largest precision watt writes: 38 digits (16-byte FIXED_LEN_BYTE_ARRAY, as Spark, DuckDB and Arrow's decimal128). */
export const MAX_DECIMAL_PRECISION = 38;
/** Largest precision stored on INT64 (10^18 - 1 < 2^63): parquet-format LogicalTypes.md. */
export const INT64_DECIMAL_PRECISION = 18;

/** A column's declared decimal type. */
export interface DecimalType {
  /** Significant digits, 1..38. */
  precision: number;
  /** Digits after the point, 0..precision. */
  scale: number;
}

/**
 * The `x-decimal` of a schema property, if any.
 * @param type the column's JSON Schema type (`number` or `string` accepted)
 * @throws UsageError when the keyword is not `{precision, scale}` integers with 1 <= precision <= 38
 * and 0 <= scale <= precision, or sits on another type or a date-time or personal column.
 */
export function readDecimalType(property: Record<string, unknown>, column: string, file: string, type: string): DecimalType | undefined {
  const value = property[DECIMAL_KEYWORD];
  if (value === undefined) return undefined;
  const where = `schema ${file}: column ${column} has ${DECIMAL_KEYWORD}`;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new UsageError(`${where} that is not an object`, { hint: `write e.g. "${DECIMAL_KEYWORD}": {"precision": 18, "scale": 3}` });
  const { precision, scale, ...rest } = value as Record<string, unknown>;
  if (Object.keys(rest).length) throw new UsageError(`${where} with unknown member ${Object.keys(rest)[0]!.slice(0, 40)}: only "precision" and "scale"`);
  if (!Number.isInteger(precision) || (precision as number) < 1 || (precision as number) > MAX_DECIMAL_PRECISION) {
    throw new UsageError(`${where} whose "precision" is not an integer from 1 to ${MAX_DECIMAL_PRECISION}`);
  }
  if (!Number.isInteger(scale) || (scale as number) < 0 || (scale as number) > (precision as number)) {
    throw new UsageError(`${where} whose "scale" is not an integer from 0 to its precision (${precision as number})`);
  }
  if (type !== 'number' && type !== 'string') throw new UsageError(`${where} but is of type ${String(type).slice(0, 20)}: a decimal column is a "number" or a "string"`);
  if (property.format !== undefined) throw new UsageError(`${where} and a "format": a decimal column has no format`);
  if (property['x-personal-data'] === 'pseudonymise') throw new UsageError(`${where} but is pseudonymised: a pseudonym is not a number`);
  return { precision: precision as number, scale: scale as number };
}

const DECIMAL_PARTS = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d{1,6}))?$/;
const NOT_DECIMAL = new CellError('is not a decimal number');
/** {@link canonicalDecimalDot}'s answer for a spelling that is not canonical. */
const NOT_CANONICAL = -2;

/**
 * Whether `raw` is a canonical decimal spelling (optional `-`, no leading zero, a fraction
 * without trailing zeros: the regex `^-?(?:0|[1-9]\d*)(?:\.\d*[1-9])?$`, read character by
 * character since it runs on every decimal cell of every row).
 * @returns the index of its `.` (-1 when it has none), or {@link NOT_CANONICAL}
 */
export function canonicalDecimalDot(raw: string): number {
  const n = raw.length;
  let i = raw.charCodeAt(0) === 45 ? 1 : 0;
  if (i >= n) return NOT_CANONICAL;
  const first = raw.charCodeAt(i);
  if (first === 48) i++;
  else if (first >= 49 && first <= 57) {
    i++;
    while (i < n && isDigitCode(raw.charCodeAt(i))) i++;
  } else return NOT_CANONICAL;
  if (i === n) return -1;
  if (raw.charCodeAt(i) !== 46) return NOT_CANONICAL;
  const dot = i++;
  while (i < n && isDigitCode(raw.charCodeAt(i))) i++;
  // at least one fraction digit, every character a digit, the last not 0
  return i === n && n > dot + 1 && raw.charCodeAt(n - 1) !== 48 ? dot : NOT_CANONICAL;
}

function isDigitCode(c: number): boolean {
  return c >= 48 && c <= 57;
}

/**
 * The canonical CSV spelling of a decimal cell, exact: computed from the cell's digits (no
 * binary floating point), with the spelling rules of `number` (records/canonical.ts): no
 * exponent, no `+`, no leading zeros, no trailing fractional zeros, `-0` -> `0`:
 * `0012.40` -> `12.4`, `1e2` -> `100`, `-0.000` -> `0`. Trailing zeros carry no value, so a
 * column that moves from `number` to `x-decimal` keeps its spelling; the scale is in the schema
 * stored beside the data and in the Parquet type.
 * @param raw the cell as read (`[+-]digits[.digits][e[+-]digits]`)
 * @returns the canonical string, or a CellError naming the digits that do not fit
 */
export function canonicalDecimal(raw: string, type: DecimalType): string | CellError {
  // Fast path (most cells of an export): a cell already spelled canonically is its own canonical
  // spelling when its digits fit the type; the general path below would return it unchanged.
  const dot = canonicalDecimalDot(raw);
  if (dot !== NOT_CANONICAL && raw !== '-0') {
    const sign = raw.charCodeAt(0) === 45 ? 1 : 0;
    const intEnd = dot < 0 ? raw.length : dot;
    // A lone `0` before the point is no integer digit (`0.5`: 0 integer digits, as below).
    const integer = intEnd - sign === 1 && raw.charCodeAt(sign) === 48 ? 0 : intEnd - sign;
    const fraction = dot < 0 ? 0 : raw.length - dot - 1;
    if (fraction <= type.scale && integer <= type.precision - type.scale) return raw;
  }
  const m = DECIMAL_PARTS.exec(raw);
  if (!m || (!m[2] && !m[3])) return NOT_DECIMAL;
  const { digits, point } = significantDigits(m[2] ?? '', m[3] ?? '', m[4] ? Number(m[4]) : 0);
  if (digits === '') return '0';
  const fraction = Math.max(0, digits.length - point);
  if (fraction > type.scale) {
    return new CellError(`has ${fraction} fractional digits: the column is DECIMAL(${type.precision},${type.scale}) (${DECIMAL_KEYWORD}) and watt never rounds an amount`);
  }
  const integer = Math.max(0, point);
  if (integer > type.precision - type.scale) {
    return new CellError(`has ${integer} integer digits: the column is DECIMAL(${type.precision},${type.scale}) (${DECIMAL_KEYWORD}), at most ${type.precision - type.scale}`);
  }
  return plainDecimal(m[1] === '-', digits, point);
}

/**
 * The unscaled integer of a canonical (or any plain) decimal at `scale`: `12.4` at scale 3 ->
 * 12400n. Exact (string digits to BigInt).
 * @throws Error when the text is not a plain decimal or has more than `scale` fractional digits
 */
export function unscaledDecimal(text: string, scale: number): bigint {
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(text);
  if (!m || (m[3] ?? '').length > scale) throw new Error(`not a decimal of scale ${scale}: ${JSON.stringify(text.slice(0, 40))}`);
  const v = BigInt((m[2] ?? '') + (m[3] ?? '').padEnd(scale, '0'));
  return m[1] === '-' ? -v : v;
}

/** The canonical text of an unscaled decimal: 12400n at scale 3 -> `12.4` (the inverse of {@link unscaledDecimal}). */
export function decimalText(unscaled: bigint, scale: number): string {
  const negative = unscaled < 0n;
  let digits = (negative ? -unscaled : unscaled).toString();
  if (scale > 0) {
    digits = digits.padStart(scale + 1, '0');
    const point = digits.length - scale;
    let fraction = digits.slice(point);
    let end = fraction.length;
    while (end > 0 && fraction.charCodeAt(end - 1) === 48) end--;
    fraction = fraction.slice(0, end);
    digits = digits.slice(0, point) + (fraction ? '.' + fraction : '');
  }
  return negative && digits !== '0' ? '-' + digits : digits;
}

/** Bytes of a FIXED_LEN_BYTE_ARRAY DECIMAL of `precision` digits: the fewest that hold ±(10^p - 1) in two's complement (LogicalTypes.md). */
export function decimalByteWidth(precision: number): number {
  const max = 10n ** BigInt(precision) - 1n;
  let bytes = 1;
  while (max > (1n << BigInt(8 * bytes - 1)) - 1n) bytes++;
  return bytes;
}
