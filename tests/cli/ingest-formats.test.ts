/**
 * Issue 11, items 1-3, end to end with the real CLI: canonical CSV values, `--format parquet`
 * (typed columns) and `--partition-by` (one object per UTC day, one manifest v2). What watt wrote
 * is read back with independent readers: csv-parse, hyparquet (through formats/parquet.ts) and
 * DuckDB (@duckdb/node-api).
 */
import { createWriteStream, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { DuckDBInstance } from '@duckdb/node-api';
import Database from 'better-sqlite3';
import { ROOT, runWatt, scratchDir } from '../helpers/cli.js';
import { readParquetRowGroups } from '../../src/formats/parquet.js';

const KEY = { WATT_PSEUDONYMISATION_KEY: 'test-key-0123456789abcdef0123456789abcdef' };
const HEADER = 'record_id,customer_id,meter_id,reading_ts,consumption_kwh,tariff_eur_kwh,is_peak';

/** Every file under `dir`, as paths relative to it. */
function walk(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath ?? (e as unknown as { path: string }).path, e.name)))
    .sort();
}

/** Run SQL in a fresh in-memory DuckDB; rows as JSON-safe objects and the column types. */
async function duck(sql: string): Promise<{ types: Record<string, string>; rows: Record<string, unknown>[] }> {
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  try {
    const r = await c.runAndReadAll(sql);
    const names = r.columnNames();
    const types = Object.fromEntries(r.columnTypes().map((t, i) => [names[i]!, String(t)]));
    return { types, rows: r.getRowObjectsJson() as Record<string, unknown>[] };
  } finally {
    c.closeSync();
    db.closeSync();
  }
}

function manifestsOf(lake: string): Record<string, any>[] {
  return walk(lake)
    .filter((f) => f.includes('/_manifests/'))
    .map((f) => JSON.parse(readFileSync(path.join(lake, f), 'utf8')));
}

/** A seeded PRNG (mulberry32): shuffled orders that are the same on every run. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('canonical CSV values', () => {
  const dir = scratchDir();
  const source = path.join(dir, 'messy.csv');
  writeFileSync(
    source,
    [
      HEADER + ',note',
      'REC-1,CUST-1,METER-1,2025-03-07t09:30:00.120+01:00,1e2,0.18,TRUE,"a, b"',
      'REC-2,CUST-2,METER-2,2025-03-06 23:30:00z,0012.40,+0.20,False,x',
      'REC-3,CUST-1,METER-1,2025-03-08T00:00:00-02:00,-0,.5,true,',
      'REC-4,CUST-3,METER-3,2025-03-07T08:00:00.000000Z,1.5E-3,00.10,false,1e2',
      '',
    ].join('\n'),
  );
  let out: Record<string, any>;

  beforeAll(async () => {
    const r = await runWatt(['ingest', '--source', source, '--date', '2025-03-09', '--json'], { cwd: dir, env: KEY });
    expect(r.code).toBe(0);
    out = JSON.parse(r.stdout);
  });

  it('lands every declared value in one spelling: RFC 3339 UTC with Z, plain decimals, true/false; extra columns as written', () => {
    const rows = parse(readFileSync(new URL(out.destination)), { columns: true }) as Record<string, string>[];
    expect(rows.map((r) => [r.record_id, r.reading_ts, r.consumption_kwh, r.tariff_eur_kwh, r.is_peak, r.note])).toEqual([
      ['REC-1', '2025-03-07T08:30:00.12Z', '100', '0.18', 'true', 'a, b'],
      ['REC-2', '2025-03-06T23:30:00Z', '12.4', '0.2', 'false', 'x'],
      ['REC-3', '2025-03-08T02:00:00Z', '0', '0.5', 'true', ''],
      ['REC-4', '2025-03-07T08:00:00Z', '0.0015', '0.1', 'false', '1e2'],
    ]);
    // Personal columns stay pseudonyms.
    for (const r of rows) expect(r.customer_id).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });

  it('DuckDB read_csv types the columns TIMESTAMP, DOUBLE and BOOLEAN', async () => {
    const { types, rows } = await duck(`SELECT * FROM read_csv('${new URL(out.destination).pathname}') ORDER BY record_id`);
    expect(types).toMatchObject({ reading_ts: 'TIMESTAMP WITH TIME ZONE', consumption_kwh: 'DOUBLE', tariff_eur_kwh: 'DOUBLE', is_peak: 'BOOLEAN', record_id: 'VARCHAR' });
    expect(rows.map((r) => r.consumption_kwh)).toEqual([100, 12.4, 0, 0.0015]);
  });
});

describe('values that cannot be written exactly are rejected, not rounded', () => {
  it('more than 6 fractional-second digits and a leap second: rejected rows with the reason (quarantine)', async () => {
    const dir = scratchDir();
    const source = path.join(dir, 'precise.csv');
    writeFileSync(
      source,
      [HEADER, 'REC-1,CUST-1,METER-1,2025-03-07T09:30:00.1234567Z,1,0.18,true', 'REC-2,CUST-1,METER-1,2016-12-31T23:59:60Z,1,0.18,true', 'REC-3,CUST-1,METER-1,2025-03-07T09:30:00.123456000Z,1,0.18,true', ''].join('\n'),
    );
    const r = await runWatt(['ingest', '--source', source, '--date', '2025-03-09', '--quarantine', '--json'], { cwd: dir, env: KEY });
    expect(r.code).toBe(1);
    const [m] = manifestsOf(path.join(dir, 'lake'));
    expect(m).toMatchObject({ rows: 1, rejected: 2 });
    const rejects = readFileSync(new URL(m!.rejects.uri), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(rejects).toEqual([
      expect.objectContaining({ line: 2, column: 'reading_ts', reason: expect.stringMatching(/7 fractional-second digits: watt keeps microseconds/) }),
      expect.objectContaining({ line: 3, column: 'reading_ts', reason: expect.stringMatching(/leap second/) }),
    ]);
    const landed = parse(readFileSync(new URL(m!.objects[0].uri)), { columns: true }) as Record<string, string>[];
    expect(landed.map((x) => x.reading_ts)).toEqual(['2025-03-07T09:30:00.123456Z']);
  });
});

describe('--format parquet', () => {
  const dir = scratchDir();
  const schemaFile = path.join(dir, 'schema.json');
  const schema = JSON.parse(readFileSync(path.join(ROOT, 'schemas', 'energy_consumption.schema.json'), 'utf8'));
  schema.properties.interval_s = { type: 'integer', minimum: 0 };
  writeFileSync(schemaFile, JSON.stringify(schema));
  const source = path.join(dir, 'typed.csv');
  writeFileSync(
    source,
    [
      HEADER + ',interval_s,note',
      'REC-1,CUST-1,METER-1,2025-03-07T09:30:00.120+01:00,1e2,0.18,TRUE,3600,first',
      'REC-2,CUST-2,METER-2,2025-03-06T23:30:00Z,12.4,0.2,false,9007199254740993,',
      'REC-3,CUST-1,METER-1,2025-03-08T00:00:00Z,0,0.1,true,,café ü',
      '',
    ].join('\n'),
  );
  let out: Record<string, any>;

  beforeAll(async () => {
    const r = await runWatt(['ingest', '--source', source, '--schema', schemaFile, '--format', 'parquet', '--date', '2025-03-09', '--json'], { cwd: dir, env: KEY });
    expect(r.code).toBe(0);
    out = JSON.parse(r.stdout);
  });

  it('writes one .parquet object named by a manifest v2 with format parquet', () => {
    expect(out.format).toBe('parquet');
    expect(out.destination).toMatch(/\/2025\/03\/09\/typed_.*\.parquet$/);
    const [m] = manifestsOf(path.join(dir, 'lake'));
    expect(m).toMatchObject({ manifest_version: 2, format: 'parquet', rows: 3, partition: { layout: 'plain', by: null, date: '2025-03-09' } });
    expect(m!.objects).toEqual([expect.objectContaining({ uri: out.destination, rows: 3, partition_date: '2025-03-09', format: 'parquet', bytes: statSync(new URL(out.destination)).size })]);
  });

  it('hyparquet reads typed cells: timestamp micros, double, int64 (exact beyond 2^53), boolean, strings, nulls', async () => {
    const rows: unknown[][] = [];
    let kinds: string[] = [];
    for await (const g of readParquetRowGroups(new URL(out.destination).pathname)) {
      kinds = g.columns.map((c) => `${c.name}:${c.kind}`);
      rows.push(...g.rows);
    }
    expect(kinds).toEqual(['record_id:string', 'customer_id:string', 'meter_id:string', 'reading_ts:timestamp', 'consumption_kwh:decimal', 'tariff_eur_kwh:decimal', 'is_peak:boolean', 'interval_s:int64', 'note:string']);
    expect(rows.map((r) => [r[0], r[3], r[4], r[6], r[7], r[8]])).toEqual([
      // consumption_kwh is DECIMAL(18,6) (x-decimal): its exact unscaled value, kWh x 10^6.
      ['REC-1', BigInt(Date.UTC(2025, 2, 7, 8, 30)) * 1000n + 120_000n, 100_000_000n, true, 3600n, 'first'],
      ['REC-2', BigInt(Date.UTC(2025, 2, 6, 23, 30)) * 1000n, 12_400_000n, false, 9007199254740993n, null],
      ['REC-3', BigInt(Date.UTC(2025, 2, 8)) * 1000n, 0n, true, null, 'café ü'],
    ]);
    expect(rows[0]![1]).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });

  it('DuckDB types the columns from the schema and counts the rows', async () => {
    const { types, rows } = await duck(`SELECT *, epoch_us(reading_ts) AS us FROM read_parquet('${new URL(out.destination).pathname}') ORDER BY record_id`);
    expect(types).toMatchObject({
      record_id: 'VARCHAR',
      customer_id: 'VARCHAR',
      reading_ts: 'TIMESTAMP WITH TIME ZONE',
      consumption_kwh: 'DECIMAL(18,6)',
      is_peak: 'BOOLEAN',
      interval_s: 'BIGINT',
      note: 'VARCHAR',
    });
    expect(rows).toHaveLength(3);
    expect(rows.map((r) => r.interval_s)).toEqual(['3600', '9007199254740993', null]);
    expect(rows.map((r) => r.note)).toEqual(['first', null, 'café ü']);
    expect(rows[0]!.us).toBe(String(Date.UTC(2025, 2, 7, 8, 30) * 1000 + 120_000));
  });
});

describe('--partition-by', () => {
  /** 3 days of readings in shuffled order: day d (7, 8, 9 March 2025) has 10 + d rows. */
  function shuffledThreeDays(file: string): Map<string, number> {
    const lines: string[] = [];
    const counts = new Map<string, number>();
    let n = 0;
    for (const day of [7, 8, 9]) {
      for (let i = 0; i < 10 + day; i++) {
        // Local times with an offset: 00:30+01:00 on the 8th is the 7th in UTC.
        const hour = (i * 5) % 24;
        const local = `2025-03-${String(day).padStart(2, '0')}T${String(hour).padStart(2, '0')}:30:00+01:00`;
        const utc = new Date(Date.parse(local)).toISOString().slice(0, 10);
        counts.set(utc, (counts.get(utc) ?? 0) + 1);
        lines.push(`REC-${n++},CUST-${i % 4},METER-${i % 4},${local},${i}.5,0.18,${i % 2 ? 'true' : 'false'}`);
      }
    }
    const random = rng(11);
    for (let i = lines.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [lines[i], lines[j]] = [lines[j]!, lines[i]!];
    }
    writeFileSync(file, [HEADER, ...lines, ''].join('\n'));
    return counts;
  }

  it.each(['csv', 'parquet'])('%s, hive: one object per UTC day, one manifest listing them, rows counted per object by an independent reader', async (format) => {
    const dir = scratchDir();
    const source = path.join(dir, 'days.csv');
    const counts = shuffledThreeDays(source);
    expect([...counts.keys()].sort()).toEqual(['2025-03-06', '2025-03-07', '2025-03-08', '2025-03-09']);
    const r = await runWatt(['ingest', '--source', source, '--format', format, '--partition-by', 'reading_ts', '--allow-expired', '--layout', 'hive', '--json'], { cwd: dir, env: KEY });
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    const lake = path.join(dir, 'lake');
    const data = walk(lake).filter((f) => f.endsWith(`.${format}`));
    expect(data).toHaveLength(counts.size);
    const manifests = manifestsOf(lake);
    expect(manifests).toHaveLength(1);
    const m = manifests[0]!;
    expect(m).toMatchObject({ manifest_version: 2, format, partition: { layout: 'hive', by: 'reading_ts' }, rows: 54 });
    expect(m.partition.date).toBeUndefined();
    const keys = m.objects.map((o: { key: string }) => o.key);
    expect(keys).toEqual([...keys].sort());
    expect(out.objects.map((o: { key: string }) => o.key)).toEqual(keys);
    for (const o of m.objects) {
      const [, y, mo, d] = /year=(\d+)\/month=(\d+)\/day=(\d+)\//.exec(o.key)!;
      expect(o.partition_date).toBe(`${y}-${mo!.padStart(2, '0')}-${d!.padStart(2, '0')}`);
      const file = new URL(o.uri).pathname;
      const rows =
        format === 'csv'
          ? (parse(readFileSync(file), { columns: true }) as { reading_ts: string }[]).map((x) => x.reading_ts)
          : ((await duck(`SELECT strftime(reading_ts AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%SZ') AS t FROM read_parquet('${file}')`)).rows.map((x) => x.t) as string[]);
      expect(rows).toHaveLength(counts.get(o.partition_date)!);
      expect(o.rows).toBe(counts.get(o.partition_date));
      // Every row of an object is of its day, in UTC.
      for (const t of rows) expect(t.slice(0, 10)).toBe(o.partition_date);
    }
    // The catalog records each object with its partition date.
    const db = new Database(path.join(dir, '.watt', 'catalog.db'), { readonly: true });
    const recorded = db.prepare("SELECT key, partition_date, rows FROM lake_objects WHERE run_id = ? AND kind = 'data' ORDER BY key").all(m.run_id);
    db.close();
    expect(recorded).toEqual(m.objects.map((o: { key: string; partition_date: string; rows: number }) => ({ key: o.key, partition_date: o.partition_date, rows: o.rows })));
    // DuckDB's hive partitioning types year/month/day as integers: a filter by number finds the day.
    const glob = `${lake}/**/*.${format}`;
    const reader = format === 'csv' ? `read_csv('${glob}', hive_partitioning = true)` : `read_parquet('${glob}', hive_partitioning = true)`;
    const { types, rows } = await duck(`SELECT count(*) AS n, any_value(month) AS month FROM ${reader} WHERE month = 3 AND day = 7`);
    expect(types.month).toBe('BIGINT');
    expect(Number(rows[0]!.n)).toBe(counts.get('2025-03-07'));
  });

  it('a column that is not a date-time of the schema: exit 2 with one clear line, nothing written', async () => {
    const dir = scratchDir();
    for (const [column, why] of [
      ['consumption_kwh', /--partition-by consumption_kwh is not a date-time column of the schema/],
      ['nope', /--partition-by nope is not a column of the schema/],
      ['customer_id', /--partition-by customer_id is not a date-time column/],
    ] as const) {
      const r = await runWatt(['ingest', '--partition-by', column], { cwd: dir, env: KEY });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(why);
      expect(r.stderr).toMatch(/date-time columns: reading_ts/);
    }
    expect(readdirSync(dir).includes('lake')).toBe(false);
  });
});

describe('large sources (2 worker threads): parquet and csv partitioned by day', () => {
  /** ~5.5 MiB: 80,000 readings over 5 days in shuffled order; returns the rows per UTC day. */
  async function writeLarge(file: string): Promise<Map<string, number>> {
    const random = rng(7);
    const counts = new Map<string, number>();
    const out = createWriteStream(file);
    out.write(HEADER + '\n');
    let chunk = '';
    const t0 = Date.UTC(2025, 5, 1);
    for (let i = 0; i < 80_000; i++) {
      const ms = t0 + Math.floor(random() * 5 * 86_400) * 1000;
      const ts = new Date(ms).toISOString().replace('.000Z', 'Z');
      counts.set(ts.slice(0, 10), (counts.get(ts.slice(0, 10)) ?? 0) + 1);
      chunk += `REC-${String(i).padStart(8, '0')},CUST-${String(i % 3000).padStart(6, '0')},METER-${String(i % 3000).padStart(6, '0')},${ts},${(i % 3000) / 100},0.18,${i % 2 ? 'true' : 'false'}\n`;
      if (chunk.length > 65536) {
        if (!out.write(chunk)) await once(out, 'drain');
        chunk = '';
      }
    }
    out.end(chunk);
    await once(out, 'finish');
    return counts;
  }

  it.each(['parquet', 'csv'])('%s: one object per day whose rows come from both ranges, every row once', async (format) => {
    const dir = scratchDir();
    const source = path.join(dir, 'big.csv');
    const counts = await writeLarge(source);
    expect(statSync(source).size).toBeGreaterThan(4 * 1024 * 1024);
    const r = await runWatt(['ingest', '--source', source, '--format', format, '--partition-by', 'reading_ts', '--allow-expired', '--json', '--verbose'], { cwd: dir, env: KEY, timeoutMs: 120_000 });
    expect(r.code).toBe(0);
    // Two ranges ran in worker threads.
    expect(r.stderr).toMatch(/checking 2 ranges in parallel worker threads/);
    const lake = path.join(dir, 'lake');
    const [m] = manifestsOf(lake);
    expect(m!.objects.map((o: { partition_date: string }) => o.partition_date)).toEqual([...counts.keys()].sort());
    const ids = new Set<string>();
    for (const o of m!.objects) {
      const file = new URL(o.uri).pathname;
      let rows: { record_id: string; reading_ts: string }[];
      if (format === 'csv') rows = parse(readFileSync(file), { columns: true });
      else {
        rows = [];
        for await (const g of readParquetRowGroups(file)) for (const row of g.rows) rows.push({ record_id: row[0] as string, reading_ts: new Date(Number((row[3] as bigint) / 1000n)).toISOString() });
        const { rows: d } = await duck(`SELECT count(*) AS n, count(DISTINCT record_id) AS ids FROM read_parquet('${file}')`);
        expect(Number(d[0]!.n)).toBe(counts.get(o.partition_date));
      }
      expect(rows).toHaveLength(counts.get(o.partition_date)!);
      for (const row of rows) {
        expect(row.reading_ts.slice(0, 10)).toBe(o.partition_date);
        ids.add(row.record_id);
      }
    }
    expect(ids.size).toBe(80_000);
    // Nothing left in the spool.
    expect(readdirSync(path.join(dir, '.watt', 'tmp'))).toEqual([]);
  }, 180_000);
});

describe('crash between the objects of a partitioned run', () => {
  it('SIGKILL after the first of 3 Parquet objects: the next ingest removes it and lands every row once, in one object per day', async () => {
    const dir = scratchDir();
    const source = path.join(dir, 'days.csv');
    const lines = [HEADER];
    for (let i = 0; i < 30; i++) lines.push(`REC-${i},CUST-${i % 3},METER-${i % 3},2025-04-0${1 + (i % 3)}T1${i % 10}:00:00Z,${i},0.18,true`);
    writeFileSync(source, lines.join('\n') + '\n');
    const args = ['ingest', '--source', source, '--format', 'parquet', '--partition-by', 'reading_ts', '--allow-expired', '--json'];
    const killed = await runWatt(args, { cwd: dir, env: { ...KEY, WATT_FAILPOINT: 'ingest:after-object', WATT_RECOVERY_GRACE_MINUTES: '0' } });
    expect(killed.code).toBeNull();
    const lake = path.join(dir, 'lake');
    expect(walk(lake).filter((f) => f.endsWith('.parquet'))).toHaveLength(1);
    expect(manifestsOf(lake)).toHaveLength(0);
    const r = await runWatt(args, { cwd: dir, env: { ...KEY, WATT_RECOVERY_GRACE_MINUTES: '0' } });
    expect(r.code).toBe(0);
    const files = walk(lake).filter((f) => f.endsWith('.parquet'));
    expect(files).toHaveLength(3);
    const [m] = manifestsOf(lake);
    expect(m!.objects.map((o: { key: string }) => o.key).sort()).toEqual(files.map((f) => f.replace(/^watt-lake\//, '')));
    const { rows } = await duck(`SELECT count(*) AS n, count(DISTINCT record_id) AS ids FROM read_parquet('${lake}/**/*.parquet')`);
    expect(rows[0]).toEqual({ n: '30', ids: '30' });
  });
});

describe('many days in any order', () => {
  it('400 days of readings, shuffled: 400 Parquet objects, every row once, each in its day', async () => {
    const dir = scratchDir();
    const source = path.join(dir, 'year.csv');
    const lines: string[] = [];
    const t0 = Date.UTC(2024, 0, 1);
    for (let d = 0; d < 400; d++) for (let k = 0; k < 3; k++) lines.push(`REC-${d}-${k},CUST-${k},METER-${k},${new Date(t0 + d * 86_400_000 + k * 3600_000).toISOString()},${k}.5,0.18,false`);
    const random = rng(3);
    for (let i = lines.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [lines[i], lines[j]] = [lines[j]!, lines[i]!];
    }
    writeFileSync(source, [HEADER, ...lines, ''].join('\n'));
    const r = await runWatt(['ingest', '--source', source, '--format', 'parquet', '--partition-by', 'reading_ts', '--allow-expired', '--layout', 'hive', '--json'], { cwd: dir, env: KEY, timeoutMs: 120_000 });
    expect(r.code).toBe(0);
    const lake = path.join(dir, 'lake');
    const [m] = manifestsOf(lake);
    expect(m!.objects).toHaveLength(400);
    expect(m!.objects.every((o: { rows: number }) => o.rows === 3)).toBe(true);
    const { rows } = await duck(
      `SELECT count(*) AS n, count(DISTINCT record_id) AS ids, count(*) FILTER (WHERE make_date(year::INT, month::INT, day::INT) <> CAST(reading_ts AT TIME ZONE 'UTC' AS DATE)) AS misplaced FROM read_parquet('${lake}/**/*.parquet', hive_partitioning = true)`,
    );
    expect(rows[0]).toEqual({ n: '1200', ids: '1200', misplaced: '0' });
  }, 120_000);
});
