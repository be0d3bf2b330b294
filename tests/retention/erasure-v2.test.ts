/**
 * Erasure of one data subject (`watt purge --subject`) on a version 2 lake: runs of several
 * objects (one per partition day) in Parquet and CSV. The lake is built with
 * tests/helpers/v2-lake.ts; rows are read back with hyparquet and csv-parse, and counted with
 * DuckDB, never through watt's own reader. Needs the build (dist/).
 */
import path from 'node:path';
import { createHash } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { DuckDBInstance } from '@duckdb/node-api';
import { parquetMetadata } from 'hyparquet';
import { runWatt, scratchDir } from '../helpers/cli.js';
import { AZURE_LAKE, LOCAL_LAKE, S3_LAKE, useLakeServer } from '../helpers/servers.js';
import { KEY, PREFIX, SUBJECT, lakeFor, wattEnv } from './helpers.js';
import { landRun, manifestProblems, readRows, readings } from '../helpers/v2-lake.js';
import { manifestKey } from '../../src/table/layout.js';
import { Pseudonymiser } from '../../src/records/pseudonymise.js';
import type { Lake } from '../../src/store/types.js';

const pseudonym = new Pseudonymiser(Buffer.from(KEY, 'utf8'), 'hmac-sha256').pseudonym(SUBJECT);
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

let n = 0;
async function setup(serverEnv: Record<string, string>) {
  const dir = scratchDir('watt-erasure-v2-');
  dirs.push(dir);
  const tmp = path.join(dir, 'tmp');
  mkdirSync(tmp);
  const remote = Object.keys(serverEnv).length > 0;
  const prefix = remote ? `e2-${++n}/raw` : PREFIX;
  const env = wattEnv(dir, { ...serverEnv, DATA_LAKE_PREFIX: prefix });
  const lake = await lakeFor(env);
  // Run A: Parquet over 3 days, the subject among 3 customers. Run B: CSV over 2 days (v2).
  // Run C: Parquet, only the subject: its object is deleted and leaves the manifest.
  const a = await landRun(lake, readings(['2025-03-01', '2025-03-02', '2025-03-03'], 6, [SUBJECT, 'C2', 'C3']), { prefix: prefix, runId: '20250301T000000Z-aaaaaa', format: 'parquet', key: KEY, tmp });
  const b = await landRun(lake, readings(['2025-03-04', '2025-03-05'], 4, ['C2', SUBJECT], 'B'), { prefix: prefix, runId: '20250302T000000Z-bbbbbb', format: 'csv', key: KEY, tmp });
  const c = await landRun(lake, readings(['2025-03-06'], 3, [SUBJECT], 'C'), { prefix: prefix, runId: '20250303T000000Z-cccccc', format: 'parquet', key: KEY, tmp });
  return { dir, tmp, env, lake, a, b, c, prefix, remote };
}

async function hashes(lake: Lake): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const o of lake.list(PREFIX + '/')) {
    const h = createHash('sha256');
    for await (const c of await lake.get(o.key)) h.update(c as Buffer);
    out.set(o.key, h.digest('hex'));
  }
  return out;
}

async function duck(sql: string): Promise<unknown[][]> {
  const db = await DuckDBInstance.create(':memory:');
  const conn = await db.connect();
  try {
    return (await conn.runAndReadAll(sql)).getRows();
  } finally {
    conn.closeSync();
  }
}

describe.each([LOCAL_LAKE, S3_LAKE, AZURE_LAKE])('erasure on a version 2 lake (Parquet and CSV, several objects per run) on %s', (_provider, start) => {
  const serverEnv = useLakeServer(start);

  it('removes every row of the subject from every object, leaves every other row identical, and keeps manifests and verify consistent', async () => {
    const s = await setup(serverEnv());
    try {
      const before = await readRows(s.lake, s.prefix, s.tmp);
      const subjectRows = before.filter((r) => r.customer_id === pseudonym).length;
      expect(subjectRows).toBe(6 + 4 + 3);
      const r = await runWatt(['purge', '--subject', SUBJECT, '--json'], { cwd: s.dir, env: s.env });
      expect(r.stderr).not.toMatch(/internal error/);
      expect(r.code).toBe(0);
      const json = JSON.parse(r.stdout) as { rows_removed: number; objects_rewritten: number; objects_deleted: number };
      expect(json).toMatchObject({ rows_removed: 13, objects_rewritten: 5, objects_deleted: 1 });

      const after = await readRows(s.lake, s.prefix, s.tmp);
      expect(after).toEqual(before.filter((x) => x.customer_id !== pseudonym));
      // DuckDB, an independent reader, over every Parquet and CSV object of the (local) lake.
      if (!s.remote) await duckCounts(s.dir, s.prefix);
      const c = JSON.parse(await text(s.lake, manifestKey(s.prefix, '20250303T000000Z-cccccc')));
      expect(c).toMatchObject({ objects: [], rows: 0 });
      expect(c.erasures).toHaveLength(1);
      const a = JSON.parse(await text(s.lake, manifestKey(s.prefix, '20250301T000000Z-aaaaaa')));
      expect(a.rows).toBe(12);
      expect(a.objects).toHaveLength(3);
      // The rewritten Parquet objects keep the writer's footer metadata (here the run_id).
      const footer = parquetMetadata(await bytesOf(s.lake, a.objects[0].key));
      expect(footer.key_value_metadata).toEqual(expect.arrayContaining([{ key: 'run_id', value: '20250301T000000Z-aaaaaa' }]));
      expect(footer.row_groups.reduce((sum, g) => sum + Number(g.num_rows), 0)).toBe(4);
      expect(await manifestProblems(s.lake, s.prefix, s.tmp)).toEqual([]);
      const v = await runWatt(['verify', '--json'], { cwd: s.dir, env: s.env });
      expect(JSON.parse(v.stdout)).toMatchObject({ ok: true, findings: [] });

      // Run C's manifest names no object any more: retention dates it by the day of the object
      // it once named (March 2025), not by the time of the erasure that rewrote it.
      const old = await runWatt(['purge', '--days', '30', '--yes', '--json'], { cwd: s.dir, env: s.env });
      expect(old.code).toBe(0);
      expect(JSON.parse(old.stdout).keys).toContain(manifestKey(s.prefix, '20250303T000000Z-cccccc'));
      const left: string[] = [];
      for await (const o of s.lake.list(s.prefix + '/')) if (!o.key.includes('/_audit/') && !o.key.includes('/_schemas/') && !o.key.includes('/_delta_log/') && !o.key.includes('/_claims/')) left.push(o.key);
      expect(left).toEqual([]);
    } finally {
      await s.lake.close();
    }
  });

  it('a Parquet object watt cannot read: exit 1, one clear line, nothing in the lake changed', async () => {
    const s = await setup(serverEnv());
    try {
      const broken = s.a.objects![2]!.key;
      const chunks: Buffer[] = [];
      for await (const c of await s.lake.get(broken)) chunks.push(c as Buffer);
      await s.lake.put(broken, Buffer.concat(chunks).subarray(0, 200));
      const before = await hashes(s.lake);
      const r = await runWatt(['purge', '--subject', SUBJECT], { cwd: s.dir, env: s.env });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/cannot read .*readings_20250301T000000Z-aaaaaa\.parquet as Parquet/);
      expect(r.stderr).not.toContain(SUBJECT);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(await hashes(s.lake)).toEqual(before);
    } finally {
      await s.lake.close();
    }
  });

  it.each(['purge:erasure-after-intent', 'purge:erasure-after-object', 'purge:erasure-after-manifest'])('killed at %s and run again: the same lake as an uninterrupted erasure', async (failpoint) => {
    const s = await setup(serverEnv());
    try {
      const before = await readRows(s.lake, s.prefix, s.tmp);
      const killed = await runWatt(['purge', '--subject', SUBJECT], { cwd: s.dir, env: { ...s.env, WATT_FAILPOINT: failpoint } });
      expect(killed.code).toBeNull();
      const again = await runWatt(['purge', '--subject', SUBJECT, '--json'], { cwd: s.dir, env: s.env });
      expect(again.code).toBe(0);
      expect(await readRows(s.lake, s.prefix, s.tmp)).toEqual(before.filter((x) => x.customer_id !== pseudonym));
      expect(await manifestProblems(s.lake, s.prefix, s.tmp)).toEqual([]);
      const v = await runWatt(['verify', '--json'], { cwd: s.dir, env: s.env });
      expect(JSON.parse(v.stdout)).toMatchObject({ ok: true, findings: [] });
    } finally {
      await s.lake.close();
    }
  });
});

async function text(lake: Lake, key: string): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of await lake.get(key)) chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

async function duckCounts(dir: string, prefix: string): Promise<void> {
  const root = path.join(dir, 'lake', 'watt-lake', prefix);
  const [[pq, pqSubject]] = (await duck(`SELECT count(*), count(*) FILTER (WHERE customer_id = '${pseudonym}') FROM read_parquet('${root}/**/*.parquet')`)) as [bigint, bigint][];
  const [[csv, csvSubject]] = (await duck(`SELECT count(*), count(*) FILTER (WHERE customer_id = '${pseudonym}') FROM read_csv('${root}/**/*.csv')`)) as [bigint, bigint][];
  expect([Number(pq), Number(pqSubject), Number(csv), Number(csvSubject)]).toEqual([12, 0, 4, 0]);
}

async function bytesOf(lake: Lake, key: string): Promise<ArrayBuffer> {
  const chunks: Buffer[] = [];
  for await (const c of await lake.get(key)) chunks.push(Buffer.from(c as Buffer));
  const b = Buffer.concat(chunks);
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
}
