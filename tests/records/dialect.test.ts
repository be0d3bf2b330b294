import { AmbiguousTime, cellHint, compileDateTimeFormat, convertDateTime, ISO_LOCAL, normaliseNumber } from '../../src/records/dialect.js';
import { CellError } from '../../src/records/cell-error.js';
import { resolveLocalTime } from '../../src/records/local-time.js';

describe('local times in Europe/Paris (IANA database through Intl)', () => {
  const paris = (raw: string) => convertDateTime(raw, compileDateTimeFormat('YYYY-MM-DD HH:mm:ss'), 'Europe/Paris');
  test('winter and summer offsets', () => {
    expect(paris('2025-01-01 00:30:00')).toBe('2024-12-31T23:30:00Z');
    expect(paris('2025-07-01 12:00:00')).toBe('2025-07-01T10:00:00Z');
  });
  test('the spring-forward gap does not exist', () => {
    const r = paris('2025-03-30 02:30:00');
    expect(r).toBeInstanceOf(CellError);
    expect((r as CellError).reason).toMatch(/does not exist in Europe\/Paris/);
    expect(resolveLocalTime('Europe/Paris', 2025, 3, 30, 2, 0, 0)).toEqual({ kind: 'gap' });
  });
  test('the fall-back hour is ambiguous: both instants, earlier first', () => {
    expect(paris('2025-10-26 02:30:00')).toEqual(new AmbiguousTime('2025-10-26T00:30:00Z', '2025-10-26T01:30:00Z'));
  });
  test('a spelled offset wins over the zone; no zone and no offset is an error naming the cause', () => {
    expect(convertDateTime('2025-01-01T00:30:00+02:00', ISO_LOCAL, 'Europe/Paris')).toBe('2024-12-31T22:30:00Z');
    expect((convertDateTime('2025-01-01 00:30', ISO_LOCAL, undefined) as CellError).reason).toBe('has no UTC offset and no time zone is set');
  });
  test('DD/MM/YYYY HH:mm and impossible dates', () => {
    const f = compileDateTimeFormat('DD/MM/YYYY HH:mm');
    expect(convertDateTime('01/02/2025 08:00', f, 'Europe/Paris')).toBe('2025-02-01T07:00:00Z');
    expect(convertDateTime('30/02/2025 08:00', f, 'Europe/Paris')).toBeInstanceOf(CellError);
    expect(() => compileDateTimeFormat('DD/MM HH:mm')).toThrow(/lacks the year/);
    expect(() => compileDateTimeFormat('YYYY-MM-DD hh:mm')).toThrow(/unknown token/);
  });
});

describe('numbers with declared separators', () => {
  test.each([
    ['0,110', ',', undefined, '0.110'],
    ['1 234,5', ',', ' ', '1234.5'],
    ['1\u00a0234,5', ',', ' ', '1234.5'],
    ['1.234,5', ',', '.', '1234.5'],
    ['1,234.5', '.', ',', '1234.5'],
    ['1.5', ',', undefined, '1.5'],
  ])('%j with decimal %j, group %j -> %j', (raw, decimal, group, out) => expect(normaliseNumber(raw, decimal, group)).toBe(out));
});

describe('hints name the keyword or flag that fixes the cell', () => {
  test('decimal comma, thousands separator, missing offset', () => {
    expect(cellHint('is not a number', '0,110', 'number', false)).toMatch(/x-decimalChar/);
    expect(cellHint('is not a number', '1 234,5', 'number', false)).toMatch(/x-groupChar/);
    expect(cellHint('is not a valid date-time', '2025-01-01 00:00:00', 'string', true)).toMatch(/--timezone/);
    expect(cellHint('is not a number', 'abc', 'number', false)).toBeUndefined();
  });
});
