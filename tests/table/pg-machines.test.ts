/**
 * Two machines (two WATT_HOMEs) on one lake and one PostgreSQL catalog (WATT_CATALOG_URL), through
 * the real CLI (run `npm run build` first), on a throw-away cluster started for this file:
 * - 20 races of the same file on s3rver, an S3 endpoint that ignores If-None-Match (declared off):
 *   only the catalog's claim row can stop the double landing, and each source lands once;
 * - a purge on B waits for A's commit window (prefix advisory lock) and never loses A's object,
 *   or gives up with exit 4 changing nothing;
 * - an erasure on B that runs while A transforms: A leaves the subject out before its upload;
 * - `watt runs`, `watt verify` and `watt purge --verify-trail` read the shared catalog.
 */
import { existsSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { scratchDir } from '../helpers/cli.js';
import { raceSource, start, twoMachines, until, type Machine } from '../helpers/machines.js';
import { dataFiles } from '../helpers/machines.js';
import { startS3, type S3Server } from '../helpers/servers.js';
import { startPostgres, type PostgresServer } from '../helpers/postgres.js';
import { FIXTURES, KEY, SUBJECT, lakeFor, snapshot } from '../retention/helpers.js';
import { DEFAULT_PSEUDONYM_SCHEME, Pseudonymiser } from '../../src/records/pseudonymise.js';
import { rmSync } from 'node:fs';
import { jest } from '@jest/globals';

jest.setTimeout(600_000);

let pg: PostgresServer;
let s3: S3Server;
const dirs: string[] = [];
let databases = 0;

beforeAll(async () => {
  [pg, s3] = await Promise.all([startPostgres(), startS3(['watt-lake'])]);
}, 120_000);

afterAll(async () => {
  await Promise.all([pg?.stop(), s3?.stop()]);
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
});

/** Two machines sharing the local lake of `dir` (or `lakeEnv`'s) and a fresh database of the cluster. */
async function machines(dir: string, lakeEnv: Record<string, string> = {}): Promise<[Machine, Machine]> {
  const url = await pg.createDatabase(`machines_${++databases}`);
  return twoMachines(dir, { WATT_CATALOG_URL: url, ...lakeEnv });
}

describe('two machines, one PostgreSQL catalog', () => {
  it('20 races of the same file on an S3 endpoint without conditional writes: each source lands once (the catalog\'s claim)', async () => {
    const dir = scratchDir('watt-pgm-');
    dirs.push(dir);
    const pair = await machines(dir, { ...s3.env, WATT_S3_CONDITIONAL_WRITES: 'off' });
    const RACES = 20;
    for (let i = 0; i < RACES; i++) {
      const resume = path.join(dir, `resume-${i}`);
      const pause = { WATT_PAUSEPOINT: 'ingest:before-commit', WATT_PAUSEPOINT_RESUME: resume };
      const source = raceSource(dir, i);
      const runs = pair.map((m) => start(m, ['ingest', '--source', source, '--date', '2025-02-01', '--json'], dir, pause));
      await until(`race ${i} to pause`, () => runs.every((r) => r.stderr().includes('paused at ingest:before-commit') || r.stderr().includes('error')));
      writeFileSync(resume, '');
      const results = await Promise.all(runs.map((r) => r.done));
      for (const r of results) expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
      expect(results.map((r) => JSON.parse(r.stdout).status).sort()).toEqual(['skipped', 'succeeded']);
    }
    const lake = await lakeFor(pair[0].env);
    const snap = await snapshot(lake);
    await lake.close();
    expect(snap.keys.filter((k) => k.includes('/_manifests/'))).toHaveLength(RACES);
    expect(snap.recordIds).toHaveLength(RACES * 40);
    expect(new Set(snap.recordIds).size).toBe(RACES * 40);
    expect(snap.inconsistent).toEqual([]);
    // One claim row per source, committed; the lake holds no claim object (the catalog decided).
    const claims = await pg.query<{ state: string; n: string }>('SELECT state, COUNT(*) AS n FROM claims GROUP BY state', [], `machines_${databases}`);
    expect(claims.map((c) => [c.state, Number(c.n)])).toEqual([['committed', RACES]]);
    expect(snap.keys.some((k) => k.includes('/_claims/'))).toBe(false);

    // The CLI reads the shared history: B lists A's runs; verify finds nothing wrong.
    const runs = await start(pair[1], ['runs', '--json', '--limit', '100'], dir).done;
    expect(runs.code).toBe(0);
    const listed = JSON.parse(runs.stdout) as { runs?: Array<{ status: string }> } | Array<{ status: string }>;
    const rows = Array.isArray(listed) ? listed : listed.runs!;
    expect(rows.filter((r) => r.status === 'succeeded')).toHaveLength(RACES);
    expect(rows.filter((r) => r.status === 'skipped')).toHaveLength(RACES);
    const verify = await start(pair[0], ['verify', '--json'], dir).done;
    expect(verify.code).toBe(0);
  });

  it('a purge on B waits for A\'s commit (prefix lock): with no grace at all, A\'s object is never lost; without waiting, exit 4 and nothing changed', async () => {
    const dir = scratchDir('watt-pgm-');
    dirs.push(dir);
    const [a, b] = await machines(dir);
    const resume = path.join(dir, 'resume');
    const run = start(a, ['ingest', '--source', path.join(FIXTURES, 'mixed-a.csv'), '--date', '2025-02-01', '--json'], dir, { WATT_PAUSEPOINT: 'ingest:before-commit', WATT_PAUSEPOINT_RESUME: resume });
    await until('the ingest to pause', () => run.stderr().includes('paused at ingest:before-commit'));
    const [object] = dataFiles(dir);
    // Pretend A's object is old by the store's clock, and let B's purge treat any unmanifested object as garbage.
    const old = new Date(Date.now() - 3 * 3600_000);
    utimesSync(object!, old, old);
    const noGrace = { WATT_RECOVERY_GRACE_MINUTES: '0' };

    const refused = await start(b, ['purge', '--days', '3650', '--json'], dir, { ...noGrace, WATT_CATALOG_LOCK_WAIT_SECONDS: '0' }).done;
    expect(refused.code).toBe(4);
    expect(refused.stderr).toMatch(/an ingest on another machine is committing into watt-about-it\/raw/);
    expect(existsSync(object!)).toBe(true);

    const purge = start(b, ['purge', '--days', '3650', '--json'], dir, noGrace);
    writeFileSync(resume, '');
    const [r, p] = await Promise.all([run.done, purge.done]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).status).toBe('succeeded');
    expect(p.code).toBe(0);
    expect(existsSync(object!)).toBe(true);
    const lake = await lakeFor(a.env);
    expect((await snapshot(lake)).inconsistent).toEqual([]);
    await lake.close();
    // The purge's trail, anchored in the lake and in the catalog, verifies from either machine.
    const trail = await start(a, ['purge', '--verify-trail', '--json'], dir).done;
    expect(trail.code).toBe(0);
    expect(JSON.parse(trail.stdout)).toMatchObject({ mode: 'verify-trail', ok: true });
    // A repair takes the prefix exclusively too, and finds nothing to repair in A's committed run.
    const repair = await start(b, ['verify', '--repair', '--json'], dir, noGrace).done;
    expect(repair.code).toBe(0);
    expect(existsSync(object!)).toBe(true);
  });

  it.each(['csv', 'parquet'])('an erasure on B while A transforms (%s): A leaves the subject out before its upload, and no row of the subject is left', async (format) => {
    const dir = scratchDir('watt-pgm-');
    dirs.push(dir);
    const [a, b] = await machines(dir);
    const pseudonym = new Pseudonymiser(Buffer.from(KEY, 'utf8'), DEFAULT_PSEUDONYM_SCHEME).pseudonym(SUBJECT);
    // The lake already holds the subject (a committed run), so the erasure has a key id to erase under.
    const first = await start(a, ['ingest', '--source', path.join(FIXTURES, 'mixed-b.csv'), '--date', '2025-02-01', '--json'], dir).done;
    expect(first.code).toBe(0);

    const resume = path.join(dir, 'resume');
    // The filter rewrites the run's encrypted spool: CSV streamed, Parquet row group by row group.
    const run = start(a, ['ingest', '--source', path.join(FIXTURES, 'mixed-a.csv'), '--date', '2025-02-02', '--format', format, '--json'], dir, { WATT_PAUSEPOINT: 'ingest:before-transform', WATT_PAUSEPOINT_RESUME: resume });
    await until('the ingest to pause', () => run.stderr().includes('paused at ingest:before-transform'));
    const erase = await start(b, ['purge', '--subject', '-', '--json'], dir, {}, `${SUBJECT}\n`).done;
    expect(erase.code).toBe(0);
    writeFileSync(resume, '');
    const r = await run.done;
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).status).toBe('succeeded');
    expect(r.stderr).toMatch(/rows? of a subject erased from .* while this run was transforming left out of this run/);

    const lake = await lakeFor(a.env);
    const snap = await snapshot(lake);
    await lake.close();
    expect(snap.customers).not.toContain(pseudonym);
    expect(snap.inconsistent).toEqual([]);
    // The catalog keeps the pseudonyms it needs for this, not the raw identifier.
    const rows = await pg.query<{ pseudonym: string }>('SELECT pseudonym FROM erasures', [], `machines_${databases}`);
    expect(rows.map((x) => x.pseudonym)).toContain(pseudonym);
    expect(JSON.stringify(rows)).not.toContain(SUBJECT);
    // The erasure's trail head is anchored in the lake and in the catalog; both machines verify it.
    const anchors = await pg.query<{ n: string }>('SELECT COUNT(*) AS n FROM trail_anchors', [], `machines_${databases}`);
    expect(Number(anchors[0]!.n)).toBe(1);
    for (const m of [a, b]) {
      const trail = await start(m, ['purge', '--verify-trail', '--json'], dir).done;
      expect(trail.code).toBe(0);
      expect(JSON.parse(trail.stdout)).toMatchObject({ ok: true, catalog_anchors: { checked: 1, broken: [] } });
    }
  });

  it('an erasure on B while A is between its upload and its manifest waits for A\'s commit, then erases A\'s rows too', async () => {
    const dir = scratchDir('watt-pgm-');
    dirs.push(dir);
    const [a, b] = await machines(dir);
    const pseudonym = new Pseudonymiser(Buffer.from(KEY, 'utf8'), DEFAULT_PSEUDONYM_SCHEME).pseudonym(SUBJECT);
    const resume = path.join(dir, 'resume');
    const run = start(a, ['ingest', '--source', path.join(FIXTURES, 'mixed-a.csv'), '--date', '2025-02-01', '--json'], dir, { WATT_PAUSEPOINT: 'ingest:before-commit', WATT_PAUSEPOINT_RESUME: resume });
    await until('the ingest to pause', () => run.stderr().includes('paused at ingest:before-commit'));
    const erase = start(b, ['purge', '--subject', '-', '--json'], dir, {}, `${SUBJECT}\n`);
    writeFileSync(resume, '');
    const [r, e] = await Promise.all([run.done, erase.done]);
    expect(r.code).toBe(0);
    expect(e.code).toBe(0);
    expect(JSON.parse(e.stdout).rows_removed).toBeGreaterThan(0);
    const lake = await lakeFor(a.env);
    const snap = await snapshot(lake);
    await lake.close();
    expect(snap.customers).not.toContain(pseudonym);
    expect(snap.inconsistent).toEqual([]);
  });

  it('an unreachable catalog fails the ingest with exit 3 and a message without the password', async () => {
    const dir = scratchDir('watt-pgm-');
    dirs.push(dir);
    const [a] = await machines(dir);
    const u = new URL(`postgres://127.0.0.1:${pg.port}/missing_db`);
    u.username = 'watt';
    u.password = ['hunter', '2'].join('');
    const r = await start(a, ['ingest', '--source', raceSource(dir, 99), '--json'], dir, { WATT_CATALOG_URL: u.toString() }).done;
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/cannot open the PostgreSQL catalog postgres:\/\/127\.0\.0\.1:\d+\/missing_db/);
    expect(r.stderr).not.toContain('hunter2');
  });
});
