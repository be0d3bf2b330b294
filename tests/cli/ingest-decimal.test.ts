/**
 * Exact amounts end to end (issue 23 item 5), with the real CLI and the shipped schema (kWh and
 * tariffs `x-decimal` DECIMAL(18,6)): a cell with a 7th decimal or 13 integer digits is a rejected
 * row whose reason names the decimal type (never rounded); the CSV lake holds each amount's
 * canonical spelling from its digits; the Parquet lake is DECIMAL(18,6), and DuckDB's sum over
 * it equals the exact sum of the source's digits (BigInt), in either row order. Needs the build.
 */
import path from 'node:path';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'csv-parse/sync';
import { runWatt, scratchDir } from '../helpers/cli.js';
import { useDuckDb } from '../helpers/duckdb.js';
import { decimalText, unscaledDecimal } from '../../src/records/decimal.js';

const KEY = { WATT_PSEUDONYMISATION_KEY: 'd'.repeat(64) };
const HEADER = 'record_id,customer_id,meter_id,reading_ts,consumption_kwh,tariff_eur_kwh,is_peak';
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const { rows } = useDuckDb();
const sql = (s: string) => `'${s.replace(/'/g, "''")}'`;

/** Readings with amounts a double cannot add exactly (0.1 + 0.2 style), in the given order. */
function readings(n: number, reverse: boolean): string[] {
  const lines = Array.from({ length: n }, (_, i) => `R-${i},C-${i % 7},M-${i % 7},2025-03-01T${String(i % 24).padStart(2, '0')}:00:00Z,${decimalText(BigInt((i * 7919) % 3_000_001) + 100_000n, 6)},0.${String(170_000 + (i % 7) * 10_001).padStart(6, '0')},false`);
  return reverse ? lines.reverse() : lines;
}

describe('watt ingest with x-decimal amounts (shipped schema)', () => {
  it('rejects a 7th decimal and a 13th integer digit with the decimal type named; lands the rest canonical and exact (CSV)', async () => {
    const dir = scratchDir('watt-decimal-');
    dirs.push(dir);
    const source = path.join(dir, 'amounts.csv');
    writeFileSync(
      source,
      [HEADER, 'A-1,C,M,2025-03-01T08:00:00Z,12.40,0.1740,false', 'A-2,C,M,2025-03-01T09:00:00Z,0.0000015,0.17,false', 'A-3,C,M,2025-03-01T10:00:00Z,1000000000000,0.17,false', 'A-4,C,M,2025-03-01T11:00:00Z,1.5e-3,2.516E-1,true', 'A-5,C,M,2025-03-01T12:00:00Z,0.1234560,0.000001,true'].join('\n') + '\n',
    );
    const r = await runWatt(['ingest', '--source', source, '--date', '2025-03-01', '--quarantine', '--json'], { cwd: dir, env: KEY });
    expect(r.code).toBe(1); // rows quarantined
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ rows: 3, rejected: 2 });
    expect(out.faults).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ column: 'consumption_kwh', reason: 'has 7 fractional digits: the column is DECIMAL(18,6) (x-decimal) and watt never rounds an amount', rows: 1, lines: [3] }),
        expect.objectContaining({ column: 'consumption_kwh', reason: 'has 13 integer digits: the column is DECIMAL(18,6) (x-decimal), at most 12', rows: 1, lines: [4] }),
      ]),
    );
    const landed = parse(readFileSync(fileURLToPath(out.destination), 'utf8'), { columns: true }) as Record<string, string>[];
    expect(landed.map((l) => [l.record_id, l.consumption_kwh, l.tariff_eur_kwh])).toEqual([
      ['A-1', '12.4', '0.174'],
      ['A-4', '0.0015', '0.2516'],
      ['A-5', '0.123456', '0.000001'],
    ]);
  });

  it.each([false, true])('Parquet DECIMAL(18,6): DuckDB sums exactly what the source says (reversed order: %s)', async (reverse) => {
    const dir = scratchDir('watt-decimal-sum-');
    dirs.push(dir);
    const lines = readings(3000, reverse);
    const source = path.join(dir, 'readings.csv');
    writeFileSync(source, [HEADER, ...lines].join('\n') + '\n');
    const r = await runWatt(['ingest', '--source', source, '--date', '2025-03-01', '--format', 'parquet', '--json'], { cwd: dir, env: KEY });
    expect(r.code).toBe(0);
    const file = fileURLToPath(JSON.parse(r.stdout).destination);
    const exact = (column: number) => decimalText(lines.reduce((s, l) => s + unscaledDecimal(l.split(',')[column]!, 6), 0n), 6);
    const [got] = await rows(`SELECT typeof(consumption_kwh) AS t, CAST(sum(consumption_kwh) AS VARCHAR) AS kwh, CAST(sum(tariff_eur_kwh) AS VARCHAR) AS tariff FROM read_parquet(${sql(file)}) GROUP BY 1`);
    expect(got!.t).toBe('DECIMAL(18,6)');
    expect(decimalText(unscaledDecimal(got!.kwh as string, 6), 6)).toBe(exact(4));
    expect(decimalText(unscaledDecimal(got!.tariff as string, 6), 6)).toBe(exact(5));
  });
});
