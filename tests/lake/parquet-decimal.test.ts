/**
 * DECIMAL columns of watt's Parquet encoder (issue 23 item 5), read by independent readers:
 * the footer as hyparquet parses it (physical type, logical type, legacy converted type, scale,
 * precision, FIXED_LEN_BYTE_ARRAY width, statistics), the values as DuckDB reads them (exact
 * decimal text, sums exact in any row order) and as hyparquet reads them (the stored unscaled
 * integers, and its default decimal-to-double conversion), through both append paths.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from 'hyparquet';
import { ParquetFileWriter, readParquetRowGroups, type ParquetColumn } from '../../src/formats/parquet.js';
import { decimalText, unscaledDecimal } from '../../src/records/decimal.js';
import { useDuckDb } from '../helpers/duckdb.js';
import { compressors } from '../helpers/zstd.js';

const db = useDuckDb();
const dir = mkdtempSync(path.join(os.tmpdir(), 'watt-parquet-dec-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const sql = (s: string) => `'${s.replace(/'/g, "''")}'`;

const columns: ParquetColumn[] = [
  { name: 'kwh', kind: 'decimal', precision: 18, scale: 3 },
  { name: 'tariff', kind: 'decimal', precision: 9, scale: 5 },
  { name: 'big', kind: 'decimal', precision: 38, scale: 9 },
  { name: 'whole', kind: 'decimal', precision: 20, scale: 0 },
];
/** Canonical cells ('' = null): small, negative, zero, the ends of each precision. */
const rows: string[][] = [
  ['12.4', '0.17', '1.5', '7'],
  ['0', '0', '0', '0'],
  ['-0.001', '-0.00001', '-0.000000001', '-1'],
  ['999999999999999.999', '9999.99999', '99999999999999999999999999999.999999999', '99999999999999999999'],
  ['-999999999999999.999', '-9999.99999', '-99999999999999999999999999999.999999999', '-99999999999999999999'],
  ['', '', '', ''],
  ['0.1', '0.2', '12345678901234567890.123456789', '18446744073709551616'],
];

/** DuckDB prints a decimal with all its scale digits: compare as canonical text ('' for null). */
const canonical = (v: unknown, scale: number) => (v === null ? '' : decimalText(unscaledDecimal(String(v).replace(/^(-?)\./, '$10.'), scale), scale));

function write(file: string, mode: 'append' | 'appendCanonical', data = rows, rowGroupRows?: number): void {
  const w = new ParquetFileWriter(file, columns, rowGroupRows ? { rowGroupRows } : {});
  for (const r of data) {
    if (mode === 'appendCanonical') w.appendCanonical(r);
    else w.append(r.map((c, i) => (c === '' ? null : i % 2 ? c : unscaledDecimal(c, columns[i]!.scale!))));
  }
  w.close();
}

describe('Parquet DECIMAL columns', () => {
  it('the footer says DECIMAL(p,s) twice (logical and converted type), INT64 up to 18 digits, FIXED_LEN_BYTE_ARRAY beyond', async () => {
    const file = path.join(dir, 'footer.parquet');
    write(file, 'appendCanonical');
    const meta = await parquetMetadataAsync(await asyncBufferFromFile(file));
    const [kwh, tariff, big, whole] = meta.schema.slice(1);
    expect(kwh).toMatchObject({ name: 'kwh', type: 'INT64', converted_type: 'DECIMAL', scale: 3, precision: 18, logical_type: { type: 'DECIMAL', scale: 3, precision: 18 } });
    expect(tariff).toMatchObject({ type: 'INT64', converted_type: 'DECIMAL', scale: 5, precision: 9, logical_type: { type: 'DECIMAL', scale: 5, precision: 9 } });
    expect(big).toMatchObject({ type: 'FIXED_LEN_BYTE_ARRAY', type_length: 16, converted_type: 'DECIMAL', scale: 9, precision: 38, logical_type: { type: 'DECIMAL', scale: 9, precision: 38 } });
    expect(whole).toMatchObject({ type: 'FIXED_LEN_BYTE_ARRAY', type_length: 9, converted_type: 'DECIMAL', scale: 0, precision: 20 });
    // DuckDB reads the types and the statistics as decimals.
    const types = await db.types(`read_parquet(${sql(file)})`);
    expect(types).toEqual({ kwh: 'DECIMAL(18,3)', tariff: 'DECIMAL(9,5)', big: 'DECIMAL(38,9)', whole: 'DECIMAL(20,0)' });
    const stats = await db.rows(`SELECT path_in_schema AS c, stats_min_value AS lo, stats_max_value AS hi, stats_null_count AS nulls FROM parquet_metadata(${sql(file)}) ORDER BY column_id`);
    const scales = [3, 5, 9, 0];
    expect(stats.map((r, i) => ({ ...r, lo: canonical(r.lo, scales[i]!), hi: canonical(r.hi, scales[i]!) }))).toEqual([
      { c: 'kwh', lo: '-999999999999999.999', hi: '999999999999999.999', nulls: 1 },
      { c: 'tariff', lo: '-9999.99999', hi: '9999.99999', nulls: 1 },
      { c: 'big', lo: '-99999999999999999999999999999.999999999', hi: '99999999999999999999999999999.999999999', nulls: 1 },
      { c: 'whole', lo: '-99999999999999999999', hi: '99999999999999999999', nulls: 1 },
    ]);
  });

  it.each(['append', 'appendCanonical'] as const)('%s: DuckDB and hyparquet read every value back exactly', async (mode) => {
    const file = path.join(dir, `values-${mode}.parquet`);
    write(file, mode);
    const got = await db.rows(`SELECT CAST(kwh AS VARCHAR) AS kwh, CAST(tariff AS VARCHAR) AS tariff, CAST(big AS VARCHAR) AS big, CAST(whole AS VARCHAR) AS whole FROM read_parquet(${sql(file)})`);
    expect(got.map((g) => [canonical(g.kwh, 3), canonical(g.tariff, 5), canonical(g.big, 9), canonical(g.whole, 0)])).toEqual(rows);
    // watt's reader (hyparquet with the decimal types set aside): the stored unscaled integers.
    const back: unknown[][] = [];
    for await (const g of readParquetRowGroups(file)) back.push(...g.rows);
    expect(back).toEqual(rows.map((r) => r.map((c, i) => (c === '' ? null : unscaledDecimal(c, columns[i]!.scale!)))));
    // hyparquet's own decimal conversion (to doubles), as a JavaScript analyst would read it: the nearest doubles.
    const objects = await parquetReadObjects({ file: await asyncBufferFromFile(file), compressors });
    expect(objects.map((o) => [o.kwh, o.tariff])).toEqual(rows.map((r) => [r[0] === '' ? null : expect.closeTo(Number(r[0]), 3), r[1] === '' ? null : expect.closeTo(Number(r[1]), 5)]));
  });

  it('sums are exact and the same whatever the row order (a DOUBLE column is not)', async () => {
    // 20,000 readings with 3 decimals, in one order and reversed and shuffled: DECIMAL sums agree
    // to the last digit and equal the exact sum computed with BigInt from the text.
    const n = 20_000;
    const values = Array.from({ length: n }, (_, i) => decimalText(BigInt((i * 7919) % 300_000) + 1n, 3));
    const exact = decimalText(values.reduce((s, v) => s + unscaledDecimal(v, 3), 0n), 3);
    const order = (seed: number) => values.map((v, i) => ({ v, k: (i * seed) % n })).sort((a, b) => a.k - b.k).map((x) => x.v);
    const orders = [values, [...values].reverse(), order(7), order(9973)];
    const sums: string[] = [];
    const doubles: number[] = [];
    for (const [i, vs] of orders.entries()) {
      const file = path.join(dir, `sum-${i}.parquet`);
      const w = new ParquetFileWriter(file, [{ name: 'kwh', kind: 'decimal', precision: 18, scale: 3 }, { name: 'd', kind: 'double' }], { rowGroupRows: 4096 });
      for (const v of vs) w.appendCanonical([v, v]);
      w.close();
      const [r] = await db.rows(`SELECT CAST(sum(kwh) AS VARCHAR) AS s, sum(d) AS d FROM read_parquet(${sql(file)})`);
      sums.push(decimalText(unscaledDecimal(r!.s as string, 3), 3));
      doubles.push(r!.d as number);
    }
    expect(sums).toEqual(orders.map(() => exact));
    // The control: the same values as DOUBLE do not sum to one value in every order.
    expect(new Set(doubles).size).toBeGreaterThan(1);
  });

  it('refuses a value beyond the precision instead of writing a wrong one', () => {
    const w = new ParquetFileWriter(path.join(dir, 'refuse.parquet'), [{ name: 'kwh', kind: 'decimal', precision: 4, scale: 2 }]);
    expect(() => w.appendCanonical(['100'])).toThrow(/does not fit DECIMAL\(4,2\)/);
    expect(() => w.appendCanonical(['1.234'])).toThrow(/does not fit DECIMAL\(4,2\)/);
    expect(() => w.append([10000n])).toThrow(/does not fit DECIMAL\(4,2\)/);
    w.abort();
  });
});
