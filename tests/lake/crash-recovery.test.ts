/**
 * Crash consistency (issue 8, item 3), provoked for real: the CLI is killed with SIGKILL at a
 * failpoint (WATT_FAILPOINT) or its store drops the connection at a chosen request (a proxy on
 * 127.0.0.1 in front of s3rver / Azurite); then one more run. Rows are counted by an independent
 * reader (csv-parse over every data object, read with the store's own listing), every data object
 * must be named by a manifest, the spool folder must be empty and the dead run marked failed.
 * Needs the build (dist/): the CLI is spawned.
 */
import path from 'node:path';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import Database from 'better-sqlite3';
import { parse } from 'csv-parse/sync';
import { runWatt, scratchDir } from '../helpers/cli.js';
import { AZURE_LAKE, LOCAL_LAKE, S3_LAKE, startS3, useLakeServer } from '../helpers/servers.js';
import { startDroppingProxy } from '../helpers/dropping-proxy.js';
import { FIXTURES, lakeFor, wattEnv } from '../retention/helpers.js';
import type { Lake } from '../../src/store/index.js';

const SOURCE = path.join(FIXTURES, 'mixed-a.csv');
const SOURCE_IDS = (parse(readFileSync(SOURCE, 'utf8'), { columns: true }) as { record_id: string }[]).map((r) => r.record_id).sort();
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

async function text(lake: Lake, key: string): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of await lake.get(key)) chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

/** record_ids of every data object under the prefix (csv-parse), and data objects no manifest names. */
async function lakeState(lake: Lake, prefix: string): Promise<{ ids: string[]; unnamed: string[]; keys: string[] }> {
  const keys: string[] = [];
  for await (const o of lake.list(prefix + '/')) keys.push(o.key);
  const named = new Set<string>();
  for (const k of keys.filter((k) => k.includes('/_manifests/'))) {
    const m = JSON.parse(await text(lake, k)) as { object?: { key: string } | null; objects?: { key: string }[]; rejects: { key: string } | null };
    for (const o of m.objects ?? (m.object ? [m.object] : [])) named.add(o.key);
    if (m.rejects) named.add(m.rejects.key);
  }
  const ids: string[] = [];
  const unnamed: string[] = [];
  for (const k of keys.filter((k) => k.endsWith('.csv') || k.includes('/_rejects/'))) {
    if (!named.has(k)) unnamed.push(k);
    if (k.endsWith('.csv')) ids.push(...(parse(await text(lake, k), { columns: true }) as { record_id: string }[]).map((r) => r.record_id));
  }
  return { ids: ids.sort(), unnamed, keys };
}

function runStatuses(home: string): Record<string, string> {
  const db = new Database(path.join(home, 'catalog.db'), { readonly: true });
  try {
    return Object.fromEntries((db.prepare('SELECT run_id, status FROM runs').all() as { run_id: string; status: string }[]).map((r) => [r.run_id, r.status]));
  } finally {
    db.close();
  }
}

function spoolFiles(home: string): string[] {
  const dir = path.join(home, 'tmp');
  return existsSync(dir) ? readdirSync(dir) : [];
}

describe.each([LOCAL_LAKE, S3_LAKE, AZURE_LAKE])('crash recovery on %s', (name, start) => {
  const serverEnv = useLakeServer(start);
  let n = 0;

  function setup(extra: Record<string, string> = {}): { dir: string; env: Record<string, string>; prefix: string; home: string } {
    const dir = scratchDir('watt-crash-');
    dirs.push(dir);
    const prefix = `c${++n}-${name.slice(0, 2)}/raw`;
    const env = wattEnv(dir, { ...serverEnv(), DATA_LAKE_PREFIX: prefix, ...extra });
    return { dir, env, prefix, home: env.WATT_HOME! };
  }

  it.each(['ingest:after-spool', 'ingest:after-object', 'ingest:before-manifest'])(
    'SIGKILL at %s, then one more ingest: every row once, every object named by a manifest, spool empty, dead run failed',
    async (failpoint) => {
      const { dir, env, prefix, home } = setup();
      const killed = await runWatt(['ingest', '--source', SOURCE, '--date', '2026-01-02', '--json'], { cwd: dir, env: { ...env, WATT_FAILPOINT: failpoint } });
      expect(killed.code).toBeNull(); // killed by SIGKILL
      const lake = await lakeFor(env);
      try {
        const crashedRun = Object.keys(runStatuses(home))[0]!;
        expect(runStatuses(home)[crashedRun]).toBe('running');
        if (failpoint !== 'ingest:after-spool') expect((await lakeState(lake, prefix)).unnamed).toHaveLength(1);
        else expect(spoolFiles(home).length).toBeGreaterThan(0);

        const again = await runWatt(['ingest', '--source', SOURCE, '--date', '2026-01-02', '--json'], { cwd: dir, env });
        expect(again.stderr).not.toMatch(/internal error/);
        expect(again.code).toBe(0);
        const state = await lakeState(lake, prefix);
        expect(state.ids).toEqual(SOURCE_IDS); // each row exactly once
        expect(state.unnamed).toEqual([]);
        expect(spoolFiles(home)).toEqual([]);
        expect(runStatuses(home)[crashedRun]).toBe('failed');

        // A third run lands nothing new (already ingested) and the lake verifies.
        const third = await runWatt(['ingest', '--source', SOURCE, '--date', '2026-01-02', '--json'], { cwd: dir, env });
        expect(JSON.parse(third.stdout).status).toBe('skipped');
        const verify = await runWatt(['verify', '--json'], { cwd: dir, env });
        expect(verify.code).toBe(0);
        expect(JSON.parse(verify.stdout).ok).toBe(true);
      } finally {
        await lake.close();
      }
    },
    60_000,
  );

  it('SIGKILL at ingest:after-manifest: the run is complete in the lake; the next ingest records it and skips the file (no row twice)', async () => {
    const { dir, env, prefix, home } = setup();
    const args = ['ingest', '--source', SOURCE, '--date', '2026-01-02', '--json'];
    expect((await runWatt(args, { cwd: dir, env: { ...env, WATT_FAILPOINT: 'ingest:after-manifest' } })).code).toBeNull();
    const crashedRun = Object.keys(runStatuses(home))[0]!;
    const again = await runWatt(args, { cwd: dir, env });
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ status: 'skipped', previous_run_id: crashedRun });
    expect(runStatuses(home)[crashedRun]).toBe('succeeded');
    const lake = await lakeFor(env);
    try {
      const state = await lakeState(lake, prefix);
      expect(state.ids).toEqual(SOURCE_IDS);
      expect(state.unnamed).toEqual([]);
    } finally {
      await lake.close();
    }
  }, 60_000);

  it('SIGKILL at ingest:after-rejects (quarantine): the next run removes the data object and the quarantine file, then lands both once', async () => {
    const { dir, env, prefix, home } = setup();
    const source = path.join(FIXTURES, 'with-bad-row.csv');
    const args = ['ingest', '--source', source, '--date', '2026-01-02', '--quarantine', '--json'];
    expect((await runWatt(args, { cwd: dir, env: { ...env, WATT_FAILPOINT: 'ingest:after-rejects' } })).code).toBeNull();
    const lake = await lakeFor(env);
    try {
      expect((await lakeState(lake, prefix)).unnamed).toHaveLength(2);
      const again = await runWatt(args, { cwd: dir, env });
      expect(again.code).toBe(1); // --quarantine: rows set aside, exit 1 by design
      expect(JSON.parse(again.stdout).status).toBe('rejected');
      const state = await lakeState(lake, prefix);
      expect(state.unnamed).toEqual([]);
      expect(state.keys.filter((k) => k.includes('/_rejects/'))).toHaveLength(1);
      const valid = (parse(readFileSync(source, 'utf8'), { columns: true }) as { record_id: string }[]).length - JSON.parse(again.stdout).rejected;
      expect(state.ids).toHaveLength(valid);
      expect(new Set(state.ids).size).toBe(valid);
      expect(Object.values(runStatuses(home))).toContain('failed');
    } finally {
      await lake.close();
    }
  }, 60_000);

  it('a purge after a crashed ingest finishes the cleanup too (any verb that opens the lake)', async () => {
    const { dir, env, prefix, home } = setup();
    const killed = await runWatt(['ingest', '--source', SOURCE, '--date', '2026-01-02'], { cwd: dir, env: { ...env, WATT_FAILPOINT: 'ingest:before-manifest' } });
    expect(killed.code).toBeNull();
    const purge = await runWatt(['purge', '--subject', 'CUST-NOBODY', '--json'], { cwd: dir, env });
    expect(purge.code).toBe(0);
    const lake = await lakeFor(env);
    try {
      const state = await lakeState(lake, prefix);
      expect(state.ids).toEqual([]);
      expect(state.unnamed).toEqual([]);
      expect(Object.values(runStatuses(home))).toContain('failed');
      const db = new Database(path.join(home, 'catalog.db'), { readonly: true });
      const deleted = db.prepare(`SELECT key FROM audit_log WHERE action = 'recovery.delete'`).all() as { key: string }[];
      db.close();
      expect(deleted.map((d) => d.key)).toEqual([expect.stringMatching(/\.csv$/)]);
    } finally {
      await lake.close();
    }
  }, 60_000);

  if (name !== 'local') {
    it('the store drops the connection at the manifest upload (and at the cleanup delete): exit 3, then the next run cleans up and lands every row once', async () => {
      const target = name.startsWith('s3') ? serverEnv().AWS_ENDPOINT_URL_S3! : /BlobEndpoint=(http:\/\/[^/;]+)/.exec(serverEnv().AZURE_STORAGE_CONNECTION_STRING!)![1]!;
      const proxy = await startDroppingProxy(target, (method, p) => (method === 'PUT' && p.includes('/_manifests/')) || method === 'DELETE' || (method === 'POST' && p.includes('?delete')));
      try {
        const viaProxy: Record<string, string> = name.startsWith('s3')
          ? { AWS_ENDPOINT_URL_S3: proxy.endpoint }
          : { AZURE_STORAGE_CONNECTION_STRING: serverEnv().AZURE_STORAGE_CONNECTION_STRING!.replace(target, proxy.endpoint) };
        const { dir, env, prefix, home } = setup(viaProxy);
        const failed = await runWatt(['ingest', '--source', SOURCE, '--date', '2026-01-02'], { cwd: dir, env });
        expect(failed.code).toBe(3);
        expect(proxy.dropped.some((d) => d.includes('/_manifests/'))).toBe(true);
        const lake = await lakeFor({ ...env, ...serverEnv(), DATA_LAKE_PREFIX: prefix });
        try {
          expect((await lakeState(lake, prefix)).unnamed).toHaveLength(1); // the cleanup delete was dropped too
          proxy.drop(() => false);
          const again = await runWatt(['ingest', '--source', SOURCE, '--date', '2026-01-02', '--json'], { cwd: dir, env });
          expect(again.code).toBe(0);
          const state = await lakeState(lake, prefix);
          expect(state.ids).toEqual(SOURCE_IDS);
          expect(state.unnamed).toEqual([]);
          expect(Object.values(runStatuses(home)).sort()).toEqual(['failed', 'succeeded']);
        } finally {
          await lake.close();
        }
      } finally {
        await proxy.stop();
      }
    }, 90_000);
  }
});

describe('grace period for objects of unknown origin', () => {
  it('an unmanifested object of a run this catalog never saw is left alone while young, removed once older than the grace period', async () => {
    const dir = scratchDir('watt-crash-');
    dirs.push(dir);
    const env = wattEnv(dir);
    const killed = await runWatt(['ingest', '--source', SOURCE, '--date', '2026-01-02'], { cwd: dir, env: { ...env, WATT_FAILPOINT: 'ingest:after-object' } });
    expect(killed.code).toBeNull();
    // Another machine: a fresh WATT_HOME, same lake.
    const other = { ...env, WATT_HOME: path.join(dir, 'other-home') };
    const verify = await runWatt(['verify', '--json'], { cwd: dir, env: other });
    expect(verify.code).toBe(0);
    expect(JSON.parse(verify.stdout).findings).toEqual([expect.objectContaining({ kind: 'pending' })]);
    const young = await runWatt(['verify', '--repair', '--json'], { cwd: dir, env: other });
    expect(JSON.parse(young.stdout).findings).toEqual([expect.objectContaining({ kind: 'pending' })]);
    const old = await runWatt(['verify', '--repair', '--grace', '0', '--json'], { cwd: dir, env: other });
    expect(old.code).toBe(0);
    expect(JSON.parse(old.stdout).findings).toEqual([expect.objectContaining({ kind: 'orphan', repaired: true })]);
    const lake = await lakeFor(env);
    try {
      expect((await lakeState(lake, 'watt-about-it/raw')).keys).toEqual([]);
    } finally {
      await lake.close();
    }
  }, 60_000);
});

describe('recovery at ingest lists the lake only when due', () => {
  it('a second ingest within the grace period does not list the lake again; a dead run makes the next one list it', async () => {
    const server = await startS3(['watt-lake']);
    const seen: string[] = [];
    const proxy = await startDroppingProxy(server.endpoint, (method, p) => {
      seen.push(`${method} ${p}`);
      return false;
    });
    try {
      const dir = scratchDir('watt-crash-');
      dirs.push(dir);
      const prefix = 'due/raw';
      const env = wattEnv(dir, { ...server.env, AWS_ENDPOINT_URL_S3: proxy.endpoint, DATA_LAKE_PREFIX: prefix });
      // Listings of the whole prefix (`<prefix>/`), as recovery does; not of a folder under it.
      const recoveryListings = () => seen.filter((r) => /^GET .*[?&]list-type=2/.test(r) && new RegExp(`[?&]prefix=${prefix}/(&|$)`).test(r)).length;
      const other = path.join(FIXTURES, 'other.csv');
      expect((await runWatt(['ingest', '--source', SOURCE, '--date', '2026-01-02'], { cwd: dir, env })).code).toBe(0);
      expect(recoveryListings()).toBe(1); // first run from this WATT_HOME: listed
      expect((await runWatt(['ingest', '--source', other, '--date', '2026-01-02'], { cwd: dir, env })).code).toBe(0);
      expect(recoveryListings()).toBe(1); // within the grace period, nothing dead or failed: not listed again
      const killed = await runWatt(['ingest', '--source', path.join(FIXTURES, 'mixed-b.csv'), '--date', '2026-01-02'], { cwd: dir, env: { ...env, WATT_FAILPOINT: 'ingest:after-object' } });
      expect(killed.code).toBeNull();
      const listedBefore = recoveryListings();
      expect((await runWatt(['ingest', '--source', path.join(FIXTURES, 'mixed-b.csv'), '--date', '2026-01-02'], { cwd: dir, env })).code).toBe(0);
      expect(recoveryListings()).toBe(listedBefore + 1); // a dead run: listed, its object removed
      const lake = await lakeFor({ ...env, AWS_ENDPOINT_URL_S3: server.env.AWS_ENDPOINT_URL_S3! });
      try {
        expect((await lakeState(lake, prefix)).unnamed).toEqual([]);
      } finally {
        await lake.close();
      }
    } finally {
      await proxy.stop();
      await server.stop();
    }
  }, 90_000);
});
