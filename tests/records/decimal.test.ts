/**
 * Exact amounts (issue 23 item 5): the `x-decimal` schema keyword and the canonical spelling of a
 * decimal cell, computed from its digits (never through a double), with a cell error naming the
 * digits that do not fit DECIMAL(p,s).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { canonicalDecimal, decimalByteWidth, decimalText, readDecimalType, unscaledDecimal } from '../../src/records/decimal.js';
import { CellError, compileSchema } from '../../src/records/schema.js';
import { inferSchema } from '../../src/ingest/infer-schema.js';

const D18_3 = { precision: 18, scale: 3 };

describe('canonicalDecimal', () => {
  it.each([
    ['12.4', '12.4'],
    ['0012.40', '12.4'],
    ['12.400', '12.4'],
    ['12.4000', '12.4'], // trailing zeros carry no value: they fit any scale
    ['1e2', '100'],
    ['2.5E-1', '0.25'],
    ['.5', '0.5'],
    ['7.', '7'],
    ['+3.25', '3.25'],
    ['-0.000', '0'],
    ['-0.001', '-0.001'],
    ['0', '0'],
    ['999999999999999.999', '999999999999999.999'],
    ['-999999999999999.999', '-999999999999999.999'],
    // 0.1 + 0.2 style values stay exactly their digits (a double would print 0.30000000000000004 for the sum).
    ['0.3', '0.3'],
  ])('%s -> %s at DECIMAL(18,3)', (raw, canonical) => {
    expect(canonicalDecimal(raw, D18_3)).toBe(canonical);
  });

  it('answers an already canonical cell (its fast path) exactly as the general path does, at every precision and scale', () => {
    // A leading `+` is never canonical: canonicalDecimal('+' + x) always takes the general path.
    let state = 23;
    const next = (n: number) => {
      state = (state * 1103515245 + 12345) % 2147483648;
      return state % n;
    };
    const digits = (n: number) => Array.from({ length: n }, () => String(next(10))).join('');
    const fixed = ['0', '-0', '0.5', '-0.5', '0.05', '10', '100.5', '-7', '1', '999', '1000', '0.001', '0.0001', '12.345', '-12.345', '99.99'];
    const cells = [...fixed, ...Array.from({ length: 3000 }, () => `${next(3) === 0 ? '-' : ''}${digits(next(6))}${next(2) ? '.' + digits(next(5)) : ''}`).filter((c) => /\d/.test(c))];
    for (const type of [D18_3, { precision: 3, scale: 0 }, { precision: 4, scale: 2 }, { precision: 5, scale: 5 }, { precision: 38, scale: 9 }]) {
      for (const cell of cells) {
        const general = canonicalDecimal('+' + cell.replace(/^-/, ''), type);
        const fast = canonicalDecimal(cell.replace(/^-/, ''), type);
        expect(fast instanceof CellError ? `error: ${fast.reason}` : fast).toBe(general instanceof CellError ? `error: ${general.reason}` : general);
        const out = canonicalDecimal(cell, type);
        if (typeof out === 'string') expect(canonicalDecimal(out, type)).toBe(out);
      }
    }
  });

  it('rejects what DECIMAL(18,3) cannot hold exactly, saying why (never rounds)', () => {
    const fraction = canonicalDecimal('12.4001', D18_3);
    expect(fraction).toBeInstanceOf(CellError);
    expect((fraction as CellError).reason).toBe('has 4 fractional digits: the column is DECIMAL(18,3) (x-decimal) and watt never rounds an amount');
    const integer = canonicalDecimal('1000000000000000', D18_3);
    expect((integer as CellError).reason).toBe('has 16 integer digits: the column is DECIMAL(18,3) (x-decimal), at most 15');
    expect(canonicalDecimal('1e-4', D18_3)).toBeInstanceOf(CellError);
    expect(canonicalDecimal('1e15', D18_3)).toBeInstanceOf(CellError);
    expect(canonicalDecimal('1e999999', D18_3)).toBeInstanceOf(CellError);
    for (const bad of ['', '.', 'abc', '1,5', '1.2.3', '--1', '0x10', 'NaN', 'Infinity']) expect(canonicalDecimal(bad, D18_3)).toBeInstanceOf(CellError);
  });

  it('goes beyond what a double holds: 38 digits exact', () => {
    const big = '12345678901234567890123456789.123456789';
    expect(canonicalDecimal(big, { precision: 38, scale: 9 })).toBe(big);
    expect(unscaledDecimal(big, 9)).toBe(12345678901234567890123456789123456789n);
    expect(decimalText(12345678901234567890123456789123456789n, 9)).toBe(big);
  });

  it('unscaled values and back: 12.4 at scale 3 is 12400', () => {
    expect(unscaledDecimal('12.4', 3)).toBe(12400n);
    expect(unscaledDecimal('-0.001', 3)).toBe(-1n);
    expect(unscaledDecimal('0', 3)).toBe(0n);
    expect(decimalText(12400n, 3)).toBe('12.4');
    expect(decimalText(-1n, 3)).toBe('-0.001');
    expect(decimalText(0n, 3)).toBe('0');
    expect(decimalText(5n, 0)).toBe('5');
    expect(() => unscaledDecimal('1.2345', 3)).toThrow(/scale 3/);
  });

  it('FIXED_LEN_BYTE_ARRAY widths of parquet-format (p=19..38)', () => {
    expect(decimalByteWidth(9)).toBe(4);
    expect(decimalByteWidth(18)).toBe(8);
    expect(decimalByteWidth(19)).toBe(9);
    expect(decimalByteWidth(38)).toBe(16);
  });
});

describe('the x-decimal keyword in a schema', () => {
  const source = (prop: Record<string, unknown>) => ({
    file: 'test.schema.json',
    sha256: '0'.repeat(64),
    json: { type: 'object', properties: { id: { type: 'string' }, amount: prop } },
  });
  it('compiles on number and string columns', () => {
    expect(compileSchema(source({ type: 'number', 'x-decimal': { precision: 18, scale: 3 } })).decimals.get('amount')).toEqual({ precision: 18, scale: 3 });
    expect(compileSchema(source({ type: 'string', 'x-decimal': { precision: 38, scale: 0 } })).decimals.get('amount')).toEqual({ precision: 38, scale: 0 });
    expect(compileSchema(source({ type: 'number' })).decimals.size).toBe(0);
  });
  it.each([
    [{ type: 'number', 'x-decimal': { precision: 39, scale: 3 } }, /"precision" is not an integer from 1 to 38/],
    [{ type: 'number', 'x-decimal': { precision: 0, scale: 0 } }, /"precision" is not an integer from 1 to 38/],
    [{ type: 'number', 'x-decimal': { precision: 5, scale: 6 } }, /"scale" is not an integer from 0 to its precision \(5\)/],
    [{ type: 'number', 'x-decimal': { precision: 5.5, scale: 1 } }, /"precision"/],
    [{ type: 'number', 'x-decimal': { precision: 18, scale: 3, rounding: 'half-up' } }, /unknown member rounding/],
    [{ type: "number", "x-decimal": [18, 3] }, /x-decimal value must be \["object"\]/],
    [{ type: 'integer', 'x-decimal': { precision: 18, scale: 0 } }, /a decimal column is a "number" or a "string"/],
    [{ type: 'string', format: 'date-time', 'x-decimal': { precision: 18, scale: 3 } }, /has no format/],
    [{ type: 'string', 'x-personal-data': 'pseudonymise', 'x-decimal': { precision: 18, scale: 3 } }, /pseudonymised/],
  ])('refuses %j', (prop, message) => {
    expect(() => compileSchema(source(prop))).toThrow(message);
  });
});

describe('readDecimalType', () => {
  it('is undefined without the keyword', () => {
    expect(readDecimalType({ type: 'number' }, 'x', 'f', 'number')).toBeUndefined();
  });
});

describe('watt schema infer proposes x-decimal for amounts', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'watt-infer-decimal-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  it('on number columns named as energy or money whose sampled values fit DECIMAL(18,6); not on other numbers', async () => {
    const file = path.join(dir, 'export.csv');
    writeFileSync(
      file,
      ['id;conso_kwh;prix_eur;temperature;valeur;montant_total', '1;12,4;0,1740;12,5;3,5;1e3', '2;0,0015;0,2516;-3,25;4;5', '3;100;0,17;0;5;7'].join('\n') + '\n',
    );
    const { schema } = await inferSchema(file);
    const props = schema.properties as Record<string, Record<string, unknown>>;
    expect(props.conso_kwh).toMatchObject({ type: 'number', 'x-decimalChar': ',', 'x-decimal': { precision: 18, scale: 6 } });
    expect(props.prix_eur).toMatchObject({ type: 'number', 'x-decimal': { precision: 18, scale: 6 } });
    expect(props.temperature!['x-decimal']).toBeUndefined(); // not an amount by its name
    expect(props.valeur!['x-decimal']).toBeUndefined(); // "valeur" is not "eur"
    expect(props.montant_total!['x-decimal']).toBeUndefined(); // an exponent: not proposed
    // The proposal compiles.
    expect(compileSchema({ file, sha256: '0'.repeat(64), json: schema }).decimals.get('conso_kwh')).toEqual({ precision: 18, scale: 6 });
  });
});
