/**
 * Interop (issue 11, item 7): DuckDB, as an analyst would use it, reads what the real CLI wrote
 * into a local lake, in both formats (csv, parquet) and both layouts (plain, hive), with
 * `--partition-by reading_ts`. One lake holds a clean file and the issue's messy one (`TRUE`,
 * `1e2`, `0012.40`, lowercase `t…z`, mixed offsets, fractional seconds): DuckDB must infer
 * TIMESTAMP / DOUBLE (CSV) or the schema's DECIMAL (Parquet, `x-decimal`) / BOOLEAN across the
 * whole lake, and every value must equal the source's
 * instant, number or truth value, counted independently from the sources with csv-parse (never
 * with watt's code). A control reads the messy source itself to show the check can fail.
 * Needs the build (dist/): the CLI is spawned.
 */
import path from 'node:path';
import { readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'csv-parse/sync';
import { runWatt, scratchDir } from '../helpers/cli.js';
import { useDuckDb } from '../helpers/duckdb.js';
import { wattEnv } from '../retention/helpers.js';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'interop');
const fixture = (name: string): string => path.join(FIXTURES, name);

/** One source row as the analyst expects to read it back: the instant (ms since epoch, UTC), the numbers, the truth value. */
interface Expected {
  record_id: string;
  ms: number;
  consumption_kwh: number;
  tariff_eur_kwh: number;
  is_peak: boolean;
}

/** The source rows, converted with plain JavaScript (Date.parse, Number, lower-case compare). */
function expected(...files: string[]): Expected[] {
  return files.flatMap((f) =>
    (parse(readFileSync(fixture(f), 'utf8'), { columns: true }) as Record<string, string>[]).map((r) => ({
      record_id: r.record_id!,
      ms: Date.parse(r.reading_ts!.toUpperCase()),
      consumption_kwh: Number(r.consumption_kwh),
      tariff_eur_kwh: Number(r.tariff_eur_kwh),
      is_peak: r.is_peak!.toLowerCase() === 'true',
    })),
  );
}

const utcDay = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

const dirs: string[] = [];
const { rows, types } = useDuckDb();
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));


/** `watt ingest` of fixtures into one lake; returns the folder of its prefix (where the data and `_manifests/` sit). */
async function ingestAll(dir: string, env: Record<string, string>, files: [name: string, extra: string[]][], common: string[]): Promise<string> {
  let root = '';
  for (const [name, extra] of files) {
    const r = await runWatt(['ingest', '--source', fixture(name), '--json', ...common, ...extra], { cwd: dir, env });
    if (r.code !== 0) throw new Error(`ingest ${name} ${common.join(' ')} exited ${r.code}: ${r.stderr}`);
    const manifest = fileURLToPath((JSON.parse(r.stdout) as { manifest: string }).manifest);
    root = path.dirname(path.dirname(manifest));
  }
  return root;
}

const sql = (text: string): string => `'${text.replace(/'/g, "''")}'`;

describe('control: DuckDB over the messy source itself', () => {
  it('reads reading_ts and consumption_kwh as text (what canonical values must fix)', async () => {
    const t = await types(`read_csv(${sql(fixture('messy.csv'))})`);
    expect(t.reading_ts).toBe('VARCHAR');
    expect(t.consumption_kwh).toBe('VARCHAR');
  });
});

describe.each([
  ['csv', 'plain'],
  ['csv', 'hive'],
  ['parquet', 'plain'],
  ['parquet', 'hive'],
] as const)('DuckDB reads a %s lake in the %s layout (--partition-by reading_ts)', (format, layout) => {
  const source = expected('clean.csv', 'messy.csv');
  let relation = '';

  beforeAll(async () => {
    const dir = scratchDir('watt-interop-');
    dirs.push(dir);
    const env = wattEnv(dir, { DATA_LAKE_PREFIX: `interop-${format}-${layout}/raw` });
    const root = await ingestAll(dir, env, [['clean.csv', []], ['messy.csv', []]], ['--format', format, '--layout', layout, '--partition-by', 'reading_ts', '--allow-expired']);
    const glob = sql(`${root}/**/*.${format}`);
    const hive = layout === 'hive' ? 'true' : 'false';
    relation = format === 'csv' ? `read_csv(${glob}, hive_partitioning = ${hive}, filename = true)` : `read_parquet(${glob}, hive_partitioning = ${hive}, filename = true)`;
  });

  it('infers typed columns across the whole lake (TIMESTAMP, DOUBLE in CSV or DECIMAL in Parquet, BOOLEAN; integer year/month/day under hive)', async () => {
    const t = await types(relation);
    expect(['TIMESTAMP WITH TIME ZONE', 'TIMESTAMP']).toContain(t.reading_ts);
    expect(t.consumption_kwh).toBe(format === 'csv' ? 'DOUBLE' : 'DECIMAL(18,6)');
    expect(t.tariff_eur_kwh).toBe(format === 'csv' ? 'DOUBLE' : 'DECIMAL(18,6)');
    expect(t.is_peak).toBe('BOOLEAN');
    expect(t.record_id).toBe('VARCHAR');
    if (layout === 'hive') expect([t.year, t.month, t.day]).toEqual(['BIGINT', 'BIGINT', 'BIGINT']);
    else expect(t.month).toBeUndefined();
  });

  it("lands every source row once, with the source's instants, numbers and truth values", async () => {
    const got = await rows(`SELECT record_id, epoch_ms(reading_ts) AS ms, CAST(consumption_kwh AS DOUBLE) AS consumption_kwh, CAST(tariff_eur_kwh AS DOUBLE) AS tariff_eur_kwh, is_peak FROM ${relation} ORDER BY record_id`);
    expect(got).toEqual([...source].sort((a, b) => (a.record_id < b.record_id ? -1 : 1)));
  });

  it('puts every row in the partition of its reading day (UTC), one object per day', async () => {
    const got = await rows(`SELECT record_id, strftime(reading_ts, '%Y-%m-%d') AS day, filename FROM ${relation}`);
    for (const r of got) {
      const file = r.filename as string;
      const m = layout === 'hive' ? /year=(\d{4})\/month=(\d{1,2})\/day=(\d{1,2})\//.exec(file) : /\/(\d{4})\/(\d{2})\/(\d{2})\//.exec(file);
      expect(m).not.toBeNull();
      expect(`${m![1]}-${m![2]!.padStart(2, '0')}-${m![3]!.padStart(2, '0')}`).toBe(r.day);
    }
    const days = new Set(source.map((s) => utcDay(s.ms)));
    // One object per run and day: days covered by both files have two.
    const objects = new Set(got.map((r) => r.filename as string));
    const perRun = ['clean.csv', 'messy.csv'].map((f) => new Set(expected(f).map((s) => utcDay(s.ms))).size).reduce((a, b) => a + b);
    expect(objects.size).toBe(perRun);
    expect(new Set(got.map((r) => r.day))).toEqual(days);
  });

  it('a partition filter finds exactly the March readings (counted from the sources)', async () => {
    const march = source.filter((s) => new Date(s.ms).getUTCMonth() === 2).length;
    expect(march).toBeGreaterThan(10);
    const where = layout === 'hive' ? 'year = 2025 AND month = 3' : "filename LIKE '%/2025/03/%'";
    expect((await rows(`SELECT count(*) AS n FROM ${relation} WHERE ${where}`))[0]!.n).toBe(march);
    if (layout === 'hive') expect((await rows(`SELECT count(*) AS n FROM ${relation} WHERE month = 3 AND day <= 1`))[0]!.n).toBe(source.filter((s) => utcDay(s.ms) === '2025-03-01').length);
  });
});

describe('a hive lake with keys written before issue 11 (month=03) beside new ones (month=3)', () => {
  it('DuckDB types month as text unless told the types; with hive_types the README gives, month = 3 works', async () => {
    const dir = scratchDir('watt-interop-padded-');
    dirs.push(dir);
    const env = wattEnv(dir, { DATA_LAKE_PREFIX: 'padded/raw' });
    const root = await ingestAll(dir, env, [['messy.csv', []]], ['--format', 'csv', '--layout', 'hive', '--partition-by', 'reading_ts', '--allow-expired']);
    // What an older watt wrote: the same partition with zero-padded values.
    const { renameSync, mkdirSync } = await import('node:fs');
    mkdirSync(path.join(root, 'year=2025', 'month=03'), { recursive: true });
    renameSync(path.join(root, 'year=2025', 'month=3', 'day=1'), path.join(root, 'year=2025', 'month=03', 'day=01'));
    const glob = sql(`${root}/**/*.csv`);
    expect((await types(`read_csv(${glob}, hive_partitioning = true)`)).month).toBe('VARCHAR');
    const typed = `read_csv(${glob}, hive_partitioning = true, hive_types = {'year': BIGINT, 'month': BIGINT, 'day': BIGINT})`;
    expect((await types(typed)).month).toBe('BIGINT');
    const march = expected('messy.csv').filter((s) => new Date(s.ms).getUTCMonth() === 2).length;
    expect((await rows(`SELECT count(*) AS n FROM ${typed} WHERE month = 3`))[0]!.n).toBe(march);
  });
});

describe.each(['csv', 'parquet'] as const)('an extra column in one file, --extra-columns drop (%s, hive)', (format) => {
  it('leaves a lake that one plain read_csv / read_parquet reads whole, without the extra column', async () => {
    const dir = scratchDir('watt-interop-extra-');
    dirs.push(dir);
    const env = wattEnv(dir, { DATA_LAKE_PREFIX: `extra-${format}/raw` });
    const root = await ingestAll(dir, env, [['clean.csv', []], ['extra.csv', ['--extra-columns', 'drop']]], ['--format', format, '--layout', 'hive', '--partition-by', 'reading_ts', '--allow-expired']);
    const relation = format === 'csv' ? `read_csv(${sql(`${root}/**/*.csv`)}, hive_partitioning = true)` : `read_parquet(${sql(`${root}/**/*.parquet`)}, hive_partitioning = true)`;
    const t = await types(relation);
    expect(t.technician_note).toBeUndefined();
    expect(t.consumption_kwh).toBe(format === 'csv' ? 'DOUBLE' : 'DECIMAL(18,6)');
    const got = await rows(`SELECT record_id, epoch_ms(reading_ts) AS ms, CAST(consumption_kwh AS DOUBLE) AS consumption_kwh, CAST(tariff_eur_kwh AS DOUBLE) AS tariff_eur_kwh, is_peak FROM ${relation} ORDER BY record_id`);
    expect(got).toEqual(expected('clean.csv', 'extra.csv').sort((a, b) => (a.record_id < b.record_id ? -1 : 1)));
  });

  if (format === 'csv') {
    it('control: with --extra-columns keep the same lake breaks a plain read_csv (the first object has the extra column)', async () => {
      const dir = scratchDir('watt-interop-keep-');
      dirs.push(dir);
      const env = wattEnv(dir, { DATA_LAKE_PREFIX: 'extra-keep/raw' });
      const root = await ingestAll(dir, env, [['clean.csv', []], ['extra.csv', ['--extra-columns', 'keep']]], ['--format', 'csv', '--layout', 'hive', '--partition-by', 'reading_ts', '--allow-expired']);
      await expect(rows(`SELECT * FROM read_csv(${sql(`${root}/**/*.csv`)}, hive_partitioning = true)`)).rejects.toThrow(/schema mismatch/i);
    });
  }
});
