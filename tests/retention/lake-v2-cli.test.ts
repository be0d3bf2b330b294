/**
 * End to end with the real CLI on what `watt ingest --format parquet --partition-by reading_ts`
 * lands (issue 11): retention by the data's age and erasure across Parquet and CSV objects,
 * counted with DuckDB over the local lake folder, never with watt's own reader.
 * Needs the build (dist/).
 */
import path from 'node:path';
import { readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { parquetMetadata } from 'hyparquet';
import { DuckDBInstance } from '@duckdb/node-api';
import { runWatt, scratchDir } from '../helpers/cli.js';
import { KEY, PREFIX, SUBJECT, filesContaining, wattEnv } from './helpers.js';
import { daysAgo, landedKey } from '../helpers/v2-lake.js';
import { Pseudonymiser } from '../../src/records/pseudonymise.js';

const pseudonym = new Pseudonymiser(Buffer.from(KEY, 'utf8'), 'hmac-sha256-128-b64url').pseudonym(SUBJECT);
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A source CSV of `perDay` readings on each of `days`, every third one of the subject. */
function source(dir: string, name: string, days: string[], perDay: number, tag: string): string {
  const lines = ['record_id,customer_id,meter_id,reading_ts,consumption_kwh,tariff_eur_kwh,is_peak'];
  let n = 0;
  for (const day of days) {
    for (let i = 0; i < perDay; i++) {
      n++;
      lines.push(`${tag}-${String(n).padStart(3, '0')},${n % 3 === 0 ? SUBJECT : `CUST-${n % 4}`},METER-${n % 2},${day}T${String(8 + i).padStart(2, '0')}:00:00Z,${(n * 1.25).toFixed(2)},0.18,${i % 2 ? 'true' : 'false'}`);
    }
  }
  const file = path.join(dir, name);
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

async function ingest(dir: string, env: Record<string, string>, args: string[]): Promise<void> {
  const r = await runWatt(['ingest', ...args, '--json'], { cwd: dir, env });
  if (r.code !== 0) throw new Error(`ingest exited ${r.code}: ${r.stderr}`);
}

/** Rows of every data object of the lake, as DuckDB reads them (record_id, customer_id, reading_ts, kwh), sorted. */
async function duckRows(dir: string, glob: 'parquet' | 'csv'): Promise<string[]> {
  const root = path.join(dir, 'lake', 'watt-lake', PREFIX);
  const db = await DuckDBInstance.create(':memory:');
  const conn = await db.connect();
  try {
    const from = glob === 'parquet' ? `read_parquet('${root}/**/*.parquet', hive_partitioning = true)` : `read_csv('${root}/**/*.csv', hive_partitioning = false)`;
    const rows = (await conn.runAndReadAll(`SELECT record_id, customer_id, strftime(reading_ts::TIMESTAMP, '%Y-%m-%d %H:%M'), consumption_kwh FROM ${from} ORDER BY record_id`)).getRows();
    return rows.map((r) => r.map(String).join('|'));
  } catch (err) {
    if (/No files found/.test((err as Error).message)) return [];
    throw err;
  } finally {
    conn.closeSync();
  }
}

/** For each Parquet object of the lake (by relative path): the columns whose first row group carries min/max statistics. */
function footerStatistics(dir: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  const root = path.join(dir, 'lake');
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const full = path.join(d, name);
      if (statSync(full).isDirectory()) walk(full);
      else if (name.endsWith('.parquet')) {
        const b = readFileSync(full);
        const meta = parquetMetadata(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer);
        out[landedKey(path.relative(root, full))] = meta.row_groups[0]!.columns.filter((c) => c.meta_data?.statistics?.min_value !== undefined).map((c) => c.meta_data!.path_in_schema.join('.'));
      }
    }
  };
  walk(root);
  return out;
}

describe('purge on what ingest --format parquet --partition-by reading_ts lands', () => {
  it('purge --days 7 removes exactly the days older than 7 days; verify stays clean', async () => {
    const dir = scratchDir('watt-v2-cli-');
    dirs.push(dir);
    const env = wattEnv(dir);
    const old = [daysAgo(12), daysAgo(9)];
    const recent = [daysAgo(2)];
    await ingest(dir, env, ['--source', source(dir, 'spanning.csv', [...old, ...recent], 5, 'P'), '--format', 'parquet', '--partition-by', 'reading_ts', '--allow-expired', '--layout', 'hive']);
    const before = await duckRows(dir, 'parquet');
    expect(before).toHaveLength(15);

    const r = await runWatt(['purge', '--days', '7', '--yes', '--json'], { cwd: dir, env });
    expect(r.stderr).not.toMatch(/internal error/);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).manifests_rewritten).toHaveLength(1);
    const after = await duckRows(dir, 'parquet');
    expect(after).toEqual(before.filter((row) => recent.some((d) => row.split('|')[2]!.startsWith(d))));
    expect(after).toHaveLength(5);
    const v = await runWatt(['verify', '--json'], { cwd: dir, env });
    expect(JSON.parse(v.stdout)).toMatchObject({ ok: true, findings: [] });
    expect(v.code).toBe(0);
  });

  it('erasure of a subject across Parquet and CSV objects: no pseudonym of the subject left, every other row identical, verify clean', async () => {
    const dir = scratchDir('watt-v2-cli-');
    dirs.push(dir);
    const env = wattEnv(dir);
    const days = [daysAgo(3), daysAgo(2), daysAgo(1)];
    await ingest(dir, env, ['--source', source(dir, 'pq.csv', days, 6, 'Q'), '--format', 'parquet', '--partition-by', 'reading_ts', '--allow-expired']);
    await ingest(dir, env, ['--source', source(dir, 'plain.csv', days, 3, 'C'), '--partition-by', 'reading_ts', '--allow-expired']);
    const pqBefore = await duckRows(dir, 'parquet');
    const csvBefore = await duckRows(dir, 'csv');
    expect(pqBefore.filter((r) => r.includes(pseudonym))).toHaveLength(6);
    expect(csvBefore.filter((r) => r.includes(pseudonym))).toHaveLength(3);
    // Byte search: the CSV objects hold the pseudonym as text; Parquet footers may (column statistics).
    const holding = filesContaining(dir, pseudonym);
    expect(holding.some((f) => f.endsWith('.csv'))).toBe(true);

    const statsBefore = footerStatistics(dir);
    expect(Object.keys(statsBefore)).toHaveLength(3);
    expect(Object.values(statsBefore).every((cols) => cols.includes('reading_ts') && !cols.includes('customer_id'))).toBe(true);
    const r = await runWatt(['purge', '--subject', SUBJECT, '--json'], { cwd: dir, env });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ rows_removed: 9 });
    // The rewritten Parquet objects keep ingest's choice of statistics: none on the pseudonyms.
    const statsAfter = footerStatistics(dir);
    expect(statsAfter).toEqual(statsBefore);
    for (const cols of Object.values(statsAfter)) expect(cols).not.toContain('customer_id');
    expect(await duckRows(dir, 'parquet')).toEqual(pqBefore.filter((row) => !row.includes(pseudonym)));
    expect(await duckRows(dir, 'csv')).toEqual(csvBefore.filter((row) => !row.includes(pseudonym)));
    expect(filesContaining(dir, pseudonym)).toEqual([]); // lake, catalog, logs, spool: nowhere
    const v = await runWatt(['verify', '--json'], { cwd: dir, env });
    expect(JSON.parse(v.stdout)).toMatchObject({ ok: true, findings: [] });
  });
});
