/**
 * The readers of the lake on the shapes issue 11 lands (manifest v2, one object per partition
 * day, Parquet and CSV, `_schemas/`): `watt verify`, recovery of a run killed half-way, and
 * retention by age of a run spanning many days, including a purge killed between a manifest's
 * rewrite and the deletion of its objects (WATT_FAILPOINT, SIGKILL). Lakes are built with
 * tests/helpers/v2-lake.ts and counted back with hyparquet and csv-parse. Needs the build (dist/).
 */
import path from 'node:path';
import { mkdirSync, rmSync } from 'node:fs';
import Database from 'better-sqlite3';
import { runWatt, scratchDir } from '../helpers/cli.js';
import { AZURE_LAKE, LOCAL_LAKE, S3_LAKE, useLakeServer } from '../helpers/servers.js';
import { KEY, PREFIX, lakeFor, wattEnv } from '../retention/helpers.js';
import { daysAgo, landRun, manifestProblems, readRows, readings } from '../helpers/v2-lake.js';
import { manifestKey, schemaKey } from '../../src/table/layout.js';
import type { Lake } from '../../src/store/types.js';
import { readLakeIndex, findLanded } from '../../src/ingest/lake-index.js';
import { writeManifest } from '../../src/table/manifest.js';
import { silentLogger } from '../../src/log.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

interface Setup {
  prefix: string;
  dir: string;
  tmp: string;
  env: Record<string, string>;
  lake: Lake;
}

let n = 0;
async function setup(serverEnv: Record<string, string> = {}): Promise<Setup> {
  const dir = scratchDir('watt-v2-');
  dirs.push(dir);
  const tmp = path.join(dir, 'tmp');
  mkdirSync(tmp);
  // A prefix per test: remote servers are shared by the tests of a describe block.
  const prefix = Object.keys(serverEnv).length ? `v2-${++n}/raw` : PREFIX;
  const env = wattEnv(dir, { ...serverEnv, DATA_LAKE_PREFIX: prefix });
  return { prefix, dir, tmp, env, lake: await lakeFor(env) };
}

async function verify(s: Setup, extra: string[] = []) {
  const r = await runWatt(['verify', '--json', ...extra], { cwd: s.dir, env: s.env });
  return { ...r, json: JSON.parse(r.stdout) as { ok: boolean; findings: { kind: string; key: string; repaired?: boolean }[]; objects_hashed: number } };
}

async function text(lake: Lake, key: string): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of await lake.get(key)) chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

async function keys(s: Setup): Promise<string[]> {
  const out: string[] = [];
  for await (const o of s.lake.list(s.prefix + '/')) out.push(o.key);
  return out.sort();
}

function trail(dir: string): { action: string; key: string | null; detail: string | null }[] {
  const db = new Database(path.join(dir, '.watt', 'catalog.db'), { readonly: true });
  try {
    return db.prepare('SELECT action, key, detail FROM audit_log ORDER BY seq').all() as never;
  } finally {
    db.close();
  }
}

const RUN_A = '20250301T000000Z-aaaaaa';
const RUN_B = '20250302T000000Z-bbbbbb';
const RUN_C = '20250303T000000Z-cccccc';

describe('watt verify on a version 2 lake', () => {
  it('hashes every object of every manifest (Parquet and CSV), never calls _schemas/ orphans, and reports a changed Parquet object and a missing schema', async () => {
    const s = await setup();
    try {
      const a = await landRun(s.lake, readings(['2025-03-01', '2025-03-02', '2025-03-03'], 4, ['C1', 'C2']), { prefix: PREFIX, runId: RUN_A, format: 'parquet', key: KEY, tmp: s.tmp });
      await landRun(s.lake, readings(['2025-03-05', '2025-03-06'], 3, ['C3'], 'B'), { prefix: PREFIX, runId: RUN_B, format: 'csv', key: KEY, tmp: s.tmp, layout: 'plain', rejects: 2 });
      const clean = await verify(s);
      expect(clean.json.findings).toEqual([]);
      expect(clean.code).toBe(0);
      expect(clean.json.objects_hashed).toBe(5);

      // A Parquet object replaced by another valid Parquet file of the same run, and the schema gone.
      const target = a.objects![1]!.key;
      const other = a.objects![0]!.key;
      await s.lake.put(target, Buffer.from(await text(s.lake, other), 'latin1'));
      await s.lake.delete([a.schema.key!]);
      const bad = await verify(s);
      expect(bad.code).toBe(1);
      expect(bad.json.findings.map((f) => [f.kind, f.key]).sort()).toEqual([
        ['schema_missing', schemaKey(PREFIX, a.schema.sha256)],
        ['sha256_mismatch', target],
      ]);
    } finally {
      await s.lake.close();
    }
  });

  it('a run killed after 3 of its 5 objects: verify names the 3 Parquet orphans, --repair removes exactly those, the next verify is clean', async () => {
    const s = await setup();
    try {
      await landRun(s.lake, readings(['2025-03-01'], 2, ['C1'], 'K'), { prefix: PREFIX, runId: RUN_C, format: 'parquet', key: KEY, tmp: s.tmp });
      await landRun(s.lake, readings(['2025-04-01', '2025-04-02', '2025-04-03', '2025-04-04', '2025-04-05'], 2, ['C1']), { prefix: PREFIX, runId: RUN_A, format: 'parquet', key: KEY, tmp: s.tmp, crashAfter: 3 });
      const dead = (await keys(s)).filter((k) => k.includes(RUN_A));
      expect(dead).toHaveLength(3);
      expect(dead.every((k) => k.endsWith('.parquet'))).toBe(true);
      const seen = await verify(s);
      expect(seen.json.findings.map((f) => f.key).sort()).toEqual(dead);
      const repaired = await verify(s, ['--repair', '--grace', '0']);
      expect(repaired.code).toBe(0);
      expect(repaired.json.findings.filter((f) => f.repaired).map((f) => f.key).sort()).toEqual(dead);
      const left = await keys(s);
      expect(left.filter((k) => k.includes(RUN_A))).toEqual([]);
      expect(left.filter((k) => k.includes(RUN_C))).toHaveLength(2); // its object and manifest
      expect(left.some((k) => k.includes('/_schemas/'))).toBe(true);
      expect((await verify(s)).json).toMatchObject({ ok: true, findings: [] });
      expect(trail(s.dir).filter((e) => e.action === 'recovery.delete').map((e) => e.key).sort()).toEqual(dead);
    } finally {
      await s.lake.close();
    }
  });
});

describe('the lake index ingest reads (already-landed sources)', () => {
  it('names the first object of a version 2 manifest, and still the object of a version 1 manifest', async () => {
    const s = await setup();
    try {
      const a = await landRun(s.lake, readings(['2025-03-02', '2025-03-01'], 2, ['C1']), { prefix: PREFIX, runId: RUN_A, format: 'parquet', key: KEY, tmp: s.tmp });
      const v1 = { ...a, manifest_version: 1 as const, run_id: RUN_B, source: { ...a.source, sha256: 'b'.repeat(64) }, objects: undefined, object: { key: 'k.csv', uri: 'file:///k.csv', sha256: 'c'.repeat(64), bytes: 1, rows: 1 } };
      await writeManifest(s.lake, manifestKey(PREFIX, RUN_B), v1);
      const index = await readLakeIndex(s.lake, PREFIX, undefined, undefined, silentLogger);
      expect(findLanded(index, a.source.sha256)?.object_uri).toBe(a.objects![0]!.uri);
      expect(a.objects![0]!.partition_date).toBe('2025-03-01');
      expect(findLanded(index, 'b'.repeat(64))?.object_uri).toBe('file:///k.csv');
    } finally {
      await s.lake.close();
    }
  });
});

describe.each([LOCAL_LAKE, S3_LAKE, AZURE_LAKE])('retention by age of runs spanning many days on %s', (_provider, start) => {
  const serverEnv = useLakeServer(start);

  /** Run A: Parquet over 10, 9, 8, 3 and 2 days ago; run B: CSV 12 days ago (with rejects); run C: CSV yesterday. */
  async function lakeOfThreeRuns(s: Setup) {
    const old = [daysAgo(10), daysAgo(9), daysAgo(8)];
    const recent = [daysAgo(3), daysAgo(2)];
    const rowsA = readings([...old, ...recent], 5, ['C1', 'C2', 'C3']);
    const a = await landRun(s.lake, rowsA, { prefix: s.prefix, runId: RUN_A, format: 'parquet', key: KEY, tmp: s.tmp });
    const b = await landRun(s.lake, readings([daysAgo(12)], 4, ['C1'], 'B'), { prefix: s.prefix, runId: RUN_B, format: 'csv', key: KEY, tmp: s.tmp, rejects: 1 });
    const c = await landRun(s.lake, readings([daysAgo(1)], 4, ['C2'], 'C'), { prefix: s.prefix, runId: RUN_C, format: 'csv', key: KEY, tmp: s.tmp });
    return { a, b, c, old, recent, rowsA };
  }

  it('purge --days 7 deletes the expired days only, rewrites the spanning run\'s manifest, and verify stays clean', async () => {
    const s = await setup(serverEnv());
    try {
      const { a, b, old, rowsA } = await lakeOfThreeRuns(s);
      const before = await readRows(s.lake, s.prefix, s.tmp);
      const r = await runWatt(['purge', '--days', '7', '--yes', '--json'], { cwd: s.dir, env: s.env });
      expect(r.stderr).not.toMatch(/internal error/);
      expect(r.code).toBe(0);
      const expiredA = a.objects!.filter((o) => old.includes(o.partition_date)).map((o) => o.key);
      expect(expiredA).toHaveLength(3);
      const json = JSON.parse(r.stdout) as { keys: string[]; manifests_rewritten: string[] };
      expect(json.manifests_rewritten).toEqual([manifestKey(s.prefix, RUN_A)]);
      expect([...json.keys].sort()).toEqual([...expiredA, b.objects![0]!.key, b.rejects!.key, manifestKey(s.prefix, RUN_B)].sort());

      const after = await readRows(s.lake, s.prefix, s.tmp);
      const oldIds = new Set(rowsA.filter((x) => old.includes(x.ts.slice(0, 10))).map((x) => x.record_id));
      const expected = before.filter((x) => !oldIds.has(String(x.record_id)) && !String(x.record_id).startsWith('B-'));
      expect(after).toEqual(expected);
      expect(after.some((x) => old.includes(String(x.reading_ts).slice(0, 10)))).toBe(false);

      const m = JSON.parse(await text(s.lake, manifestKey(s.prefix, RUN_A)));
      expect(m.objects).toHaveLength(2);
      expect(m.rows).toBe(10);
      expect(m.retention).toEqual([{ run_id: expect.any(String), at: expect.any(String), keys: expiredA, rows_removed: 15 }]);
      expect(await manifestProblems(s.lake, s.prefix, s.tmp)).toEqual([]);
      expect(await s.lake.head(a.schema.key!)).toBeDefined(); // schemas are kept
      const v = await verify(s);
      expect(v.json.findings).toEqual([]);
      expect(v.code).toBe(0);
      const deletes = trail(s.dir).filter((e) => e.action === 'retention.delete').map((e) => e.key);
      expect(deletes.sort()).toEqual([...json.keys].sort());
      expect(trail(s.dir).filter((e) => e.action === 'retention.intent')).toHaveLength(1);
      expect(trail(s.dir).filter((e) => e.action === 'retention.rewrite')).toHaveLength(1);

      // Once the last day expires, the manifest goes with it.
      const all = await runWatt(['purge', '--days', '1', '--yes', '--json'], { cwd: s.dir, env: s.env });
      expect(all.code).toBe(0);
      const left = (await keys(s)).filter((k) => !k.includes('/_audit/') && !k.includes('/_schemas/'));
      expect(left.filter((k) => k.includes(RUN_A))).toEqual([]);
      expect((await verify(s)).code).toBe(0);
    } finally {
      await s.lake.close();
    }
  });

  it('--dry-run lists the objects and the manifest it would rewrite, and changes nothing', async () => {
    const s = await setup(serverEnv());
    try {
      await lakeOfThreeRuns(s);
      const before = await keys(s);
      const r = await runWatt(['purge', '--days', '7', '--dry-run', '--json'], { cwd: s.dir, env: s.env });
      expect(r.code).toBe(0);
      const json = JSON.parse(r.stdout) as { keys: string[]; manifests_rewritten: string[] };
      expect(json.keys).toHaveLength(6);
      expect(json.manifests_rewritten).toEqual([manifestKey(s.prefix, RUN_A)]);
      const textOut = await runWatt(['purge', '--days', '7', '--dry-run'], { cwd: s.dir, env: s.env });
      expect(textOut.stdout).toContain(`would rewrite ${manifestKey(s.prefix, RUN_A)} without its expired objects`);
      expect(await keys(s)).toEqual(before);
    } finally {
      await s.lake.close();
    }
  });

  it.each([
    ['the next purge (with a longer period)', ['purge', '--days', '30', '--yes', '--json']],
    ['verify --repair', ['verify', '--repair', '--json']],
  ])('killed between the manifest rewrite and the deletes: verify reports the objects, %s deletes them', async (_name, again) => {
    const s = await setup(serverEnv());
    try {
      const { a, old } = await lakeOfThreeRuns(s);
      const killed = await runWatt(['purge', '--days', '7', '--yes'], { cwd: s.dir, env: { ...s.env, WATT_FAILPOINT: 'purge:after-manifest-rewrite' } });
      expect(killed.code).toBeNull();
      const expiredA = a.objects!.filter((o) => old.includes(o.partition_date)).map((o) => o.key);
      // The manifest no longer names them: no manifest ever names a deleted object.
      expect(await manifestProblems(s.lake, s.prefix, s.tmp)).toEqual([]);
      for (const k of expiredA) expect(await s.lake.head(k)).toBeDefined();
      const seen = await verify(s);
      expect(seen.code).toBe(1);
      expect(seen.json.findings.filter((f) => f.kind === 'orphan').map((f) => f.key).sort()).toEqual([...expiredA].sort());

      // Grace 0: run B's data object, whose manifest the killed purge had deleted, goes too.
      const r = await runWatt(again, { cwd: s.dir, env: { ...s.env, WATT_RECOVERY_GRACE_MINUTES: '0' } });
      expect(r.stderr).not.toMatch(/internal error/);
      expect(r.code).toBe(0);
      for (const k of expiredA) expect(await s.lake.head(k)).toBeUndefined();
      expect(await manifestProblems(s.lake, s.prefix, s.tmp)).toEqual([]);
      const clean = await verify(s);
      expect(clean.json.findings).toEqual([]);
      expect(clean.code).toBe(0);
      const t = trail(s.dir);
      for (const k of expiredA) expect(t.some((e) => e.action === 'retention.delete' && e.key === k && (e.detail ?? '').includes('"recovered":true'))).toBe(true);
      expect(t.filter((e) => e.action === 'retention.rewrite')).toHaveLength(1);
    } finally {
      await s.lake.close();
    }
  });
});
