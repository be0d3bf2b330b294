import { canonicalBoolean, canonicalDateTime, isCanonicalDateTime, canonicalInteger, canonicalNumber, epochMicros, integerValue, utcDay } from '../../src/records/canonical.js';
import { CellError, isDecimalNumber, isRfc3339DateTime } from '../../src/records/schema.js';
import { canonicalDecimalDot } from '../../src/records/decimal.js';
import { isPlainAscii } from '../../src/records/identifier.js';

const text = (v: string | CellError) => (v instanceof CellError ? `error: ${v.reason}` : v);

describe('canonicalDateTime', () => {
  test.each([
    ['2025-01-01T08:00:00Z', '2025-01-01T08:00:00Z'],
    ['2025-01-01t08:00:00z', '2025-01-01T08:00:00Z'],
    ['2025-01-01 08:00:00Z', '2025-01-01T08:00:00Z'],
    ['2025-03-07T09:30:00+01:00', '2025-03-07T08:30:00Z'],
    ['2025-03-07T00:30:00+01:00', '2025-03-06T23:30:00Z'],
    ['2025-12-31T23:30:00-05:30', '2026-01-01T05:00:00Z'],
    ['2025-01-01T08:00:00-00:00', '2025-01-01T08:00:00Z'],
    ['2025-01-01T08:00:00.000Z', '2025-01-01T08:00:00Z'],
    ['2025-01-01T08:00:00.120Z', '2025-01-01T08:00:00.12Z'],
    ['2025-01-01T08:00:00.123456Z', '2025-01-01T08:00:00.123456Z'],
    ['2025-01-01T08:00:00.123456000Z', '2025-01-01T08:00:00.123456Z'],
    ['2024-02-29T23:00:00-02:00', '2024-03-01T01:00:00Z'],
    ['0050-06-01T12:00:00Z', '0050-06-01T12:00:00Z'],
    ['0050-06-01T12:00:00+02:00', '0050-06-01T10:00:00Z'],
  ])('%s -> %s', (raw, expected) => {
    expect(isRfc3339DateTime(raw)).toBe(true);
    expect(text(canonicalDateTime(raw))).toBe(expected);
  });

  test('more than 6 fractional digits that are not zeros: rejected, never rounded', () => {
    expect(text(canonicalDateTime('2025-01-01T08:00:00.1234567Z'))).toBe('error: has 7 fractional-second digits: watt keeps microseconds (6 digits) and never rounds a time');
  });

  test('a leap second is rejected', () => {
    expect(isRfc3339DateTime('2016-12-31T23:59:60Z')).toBe(true);
    expect(text(canonicalDateTime('2016-12-31T23:59:60Z'))).toMatch(/^error: is a leap second/);
  });

  test('outside years 0000-9999 once in UTC: rejected', () => {
    expect(text(canonicalDateTime('9999-12-31T23:30:00-01:00'))).toMatch(/^error: is outside years 0000-9999/);
    expect(text(canonicalDateTime('0000-01-01T00:30:00+01:00'))).toMatch(/^error: is outside years 0000-9999/);
  });

  test('a canonical cell is returned as is (same string)', () => {
    const raw = '2025-06-01T10:11:12.5Z';
    expect(canonicalDateTime(raw)).toBe(raw);
  });
});

describe('epochMicros and utcDay', () => {
  test.each([
    ['1970-01-01T00:00:00Z', 0n],
    ['1970-01-01T00:00:00.000001Z', 1n],
    ['2025-01-01T08:00:00.12Z', BigInt(Date.UTC(2025, 0, 1, 8)) * 1000n + 120_000n],
    ['1969-12-31T23:59:59.5Z', -500_000n],
    ['9999-12-31T23:59:59.999999Z', BigInt(Date.UTC(9999, 11, 31, 23, 59, 59)) * 1000n + 999_999n],
  ])('%s', (c, micros) => {
    expect(epochMicros(c)).toBe(micros);
  });
  test('the partition day is the UTC day after conversion', () => {
    expect(utcDay(text(canonicalDateTime('2025-03-07T00:30:00+01:00')))).toBe('2025-03-06');
  });
});

describe('canonicalNumber', () => {
  test.each([
    ['12.4', '12.4'],
    ['0', '0'],
    ['-0', '0'],
    ['-0.000', '0'],
    ['+0', '0'],
    ['1e2', '100'],
    ['1E+2', '100'],
    ['0012.40', '12.4'],
    ['+12.40', '12.4'],
    ['.5', '0.5'],
    ['5.', '5'],
    ['-1.5e-3', '-0.0015'],
    ['12.5e1', '125'],
    ['0.000', '0'],
    ['100', '100'],
    ['1.7976931348623157e308', '17976931348623157' + '0'.repeat(292)],
    ['0.1000000000000000055511151231257827', '0.1000000000000000055511151231257827'],
  ])('%s -> %s', (raw, expected) => {
    expect(text(canonicalNumber(raw))).toBe(expected);
  });
  test('a canonical cell is returned as is', () => {
    const raw = '-3.25';
    expect(canonicalNumber(raw)).toBe(raw);
  });
  test('what a double cannot hold is rejected', () => {
    expect(text(canonicalNumber('1e400'))).toMatch(/^error: is too large for a double/);
    expect(text(canonicalNumber('1e-400'))).toMatch(/^error: is too small for a double/);
  });
  test('a value parses back to the same double', () => {
    for (const raw of ['1e2', '0012.40', '-1.5e-3', '6.02214076e23', '1.5e-300']) expect(Number(text(canonicalNumber(raw)))).toBe(Number(raw));
  });
});

describe('canonicalInteger', () => {
  test.each([
    ['42', '42'],
    ['+42', '42'],
    ['007', '7'],
    ['-007', '-7'],
    ['-0', '0'],
    ['000', '0'],
    ['9007199254740993', '9007199254740993'],
    ['9223372036854775807', '9223372036854775807'],
    ['-9223372036854775808', '-9223372036854775808'],
  ])('%s -> %s', (raw, expected) => {
    expect(text(canonicalInteger(raw))).toBe(expected);
  });
  test('beyond INT64: rejected', () => {
    expect(text(canonicalInteger('9223372036854775808'))).toMatch(/^error: is outside the 64-bit integer range/);
    expect(text(canonicalInteger('-9223372036854775809'))).toMatch(/^error: is outside the 64-bit integer range/);
  });
  test('beyond 2^53 the INT64 value stays exact', () => {
    expect(integerValue('9007199254740993')).toBe(9007199254740993n);
    expect(integerValue('-12')).toBe(-12);
  });
});

test('booleans', () => {
  expect(canonicalBoolean(true)).toBe('true');
  expect(canonicalBoolean(false)).toBe('false');
});

/**
 * The date-time checks read characters instead of running a regex (they run on every row): they
 * must accept exactly what the grammar's regex and the calendar rules accept, on the spellings
 * users' exports hold and on every one-character change of them.
 */
describe('date-time checks: the same verdicts as the reference grammar', () => {
  const GRAMMAR = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:[Zz]|([+-])(\d{2}):(\d{2}))$/;
  const DAYS = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
  const reference = (t: string): boolean => {
    const m = GRAMMAR.exec(t);
    if (!m) return false;
    const [y, mo, d, h, mi, s] = [1, 2, 3, 4, 5, 6].map((i) => +m[i]!) as [number, number, number, number, number, number];
    const leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
    if (mo < 1 || mo > 12 || d < 1 || d > (mo === 2 && leap ? 29 : DAYS[mo]!)) return false;
    if (h > 23 || mi > 59 || s > 60 || (s === 60 && mi !== 59)) return false;
    return !(m[7] && (+m[8]! > 23 || +m[9]! > 59));
  };
  const CANONICAL = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:[0-5]\d(?:\.\d{0,5}[1-9])?Z$/;
  const seeds = [
    '2025-01-01T00:00:00Z', '2025-01-01t08:00:00z', '2025-01-01 08:00:00Z', '2025-03-07T09:30:00+01:00', '2025-12-31T23:30:00-05:30',
    '2024-02-29T23:00:00-02:00', '2023-02-29T00:00:00Z', '2025-06-30T23:59:60Z', '2025-06-30T23:58:60Z', '2025-01-01T08:00:00.120Z',
    '2025-01-01T08:00:00.123456Z', '2025-01-01T08:00:00.1234567Z', '2025-01-01T08:00:00.Z', '2025-01-01T08:00:00.000Z', '2025-01-01T24:00:00Z',
    '2025-13-01T00:00:00Z', '2025-00-10T00:00:00Z', '2025-04-31T00:00:00Z', '1900-02-29T00:00:00Z', '2000-02-29T00:00:00Z',
    '2025-01-01T08:00:00+24:00', '2025-01-01T08:00:00+23:60', '2025-01-01T08:00:00+0100', '2025-01-01T08:00:00', '2025-01-01',
    '٢٠٢٥-01-01T00:00:00Z', '2025-01-01T08:00:00.5+01:00', '2025-01-01T08:00:00.50Z', '2025-01-01T08:00:59.9Z',
  ];
  const variants = (s: string): string[] => {
    const out = [s, s.slice(1), s + 'Z', s + '0', ' ' + s];
    for (let i = 0; i < s.length; i++) {
      for (const c of ['0', '5', '9', ':', '-', '+', '.', 'T', 't', 'Z', 'z', ' ', 'x', '6']) out.push(s.slice(0, i) + c + s.slice(i + 1));
      out.push(s.slice(0, i) + s.slice(i + 1));
    }
    return out;
  };
  test('isRfc3339DateTime on the seeds and every one-character change of them', () => {
    let checked = 0;
    for (const seed of seeds)
      for (const v of variants(seed)) {
        expect([v, isRfc3339DateTime(v)]).toEqual([v, reference(v)]);
        checked++;
      }
    expect(checked).toBeGreaterThan(9_000);
  });
  test('isCanonicalDateTime on the same strings', () => {
    for (const seed of seeds) for (const v of variants(seed)) expect([v, isCanonicalDateTime(v)]).toEqual([v, CANONICAL.test(v)]);
  });
});

/**
 * The per-cell checks that replaced regexes (numbers, canonical decimals, plain identifiers) give
 * the regexes' verdicts on the spellings exports hold and on every one- and two-character change.
 */
describe('cell checks read by character: the same verdicts as their regexes', () => {
  const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
  const CANONICAL_DECIMAL = /^-?(?:0|[1-9]\d*)(?:\.\d*[1-9])?$/;
  const PLAIN_ASCII = /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/;
  const seeds = ['0', '-0', '4.69', '0.22', '12', '0012.40', '1e2', '-1.5E-7', '.5', '5.', '+3', '1.50', '10', '1e', 'e1', '', '-', '+', '.', '1.2.3', '١٢', ' 1', '1 ', 'CUST-000123', 'PRM 0123', 'Zoë', '\t', '~!'];
  const alphabet = ['0', '1', '9', '.', '-', '+', 'e', 'E', ' ', 'x', '\u00a0', '~', '\u007f'];
  const variants = (s: string): string[] => {
    const out = new Set([s]);
    for (let i = 0; i <= s.length; i++)
      for (const c of alphabet) {
        out.add(s.slice(0, i) + c + s.slice(i));
        if (i < s.length) out.add(s.slice(0, i) + c + s.slice(i + 1));
        for (const d of ['0', '.', '5']) out.add(s.slice(0, i) + c + d + s.slice(i));
      }
    for (let i = 0; i < s.length; i++) out.add(s.slice(0, i) + s.slice(i + 1));
    return [...out];
  };
  const all = seeds.flatMap(variants);
  test('isDecimalNumber, canonicalDecimalDot and isPlainAscii on the seeds and their changes', () => {
    expect(all.length).toBeGreaterThan(5_000);
    for (const v of all) {
      expect([v, isDecimalNumber(v)]).toEqual([v, NUMBER.test(v)]);
      expect([v, canonicalDecimalDot(v) !== -2]).toEqual([v, CANONICAL_DECIMAL.test(v)]);
      if (CANONICAL_DECIMAL.test(v)) expect(canonicalDecimalDot(v)).toBe(v.indexOf('.'));
      expect([v, isPlainAscii(v)]).toEqual([v, PLAIN_ASCII.test(v)]);
    }
  });
});
