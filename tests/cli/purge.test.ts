/**
 * `watt purge` end to end on the local lake, through the real CLI (run `npm run build` first):
 * retention by age, dry run, prefix safety, lock, erasure of one data subject, the raw identifier
 * never written anywhere, the audit trail catching an edited entry, and a kill in the middle of an
 * erasure followed by a rerun.
 */
import { existsSync, mkdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { runWatt, scratchDir } from '../helpers/cli.js';
import { acquireLock } from '../../src/lock.js';
import { Catalog } from '../../src/catalog/catalog.js';
import { destinationUri } from '../../src/store/index.js';
import { resolveLakeConfig } from '../../src/config.js';
import { purgeLockName } from '../../src/retention/index.js';
import { Pseudonymiser } from '../../src/records/pseudonymise.js';
import { FIXTURES, KEY, PREFIX, SUBJECT, filesContaining, ingest, lakeFor, purge, snapshot, wattEnv } from '../retention/helpers.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function setup(): { dir: string; env: Record<string, string> } {
  const dir = scratchDir('watt-purge-');
  dirs.push(dir);
  return { dir, env: wattEnv(dir) };
}

/** `YYYY-MM-DD`, `days` days before today (UTC). */
function daysAgo(days: number): string {
  return new Date(Date.now() - days * 86_400_000).toISOString().slice(0, 10);
}

const pseudonym = new Pseudonymiser(Buffer.from(KEY, 'utf8'), 'hmac-sha256-128-b64url').pseudonym(SUBJECT);
const EXPECTED_AFTER_ERASURE = ['A-002', 'A-004', 'B-001', 'B-003', 'D-001', 'D-002'];

/** Ingest the four erasure fixtures: two mixed files, one holding only the subject, one without it. */
async function ingestErasureFixtures(dir: string, env: Record<string, string>): Promise<void> {
  await ingest(dir, env, 'mixed-a.csv', daysAgo(4));
  await ingest(dir, env, 'mixed-b.csv', daysAgo(3), ['--layout', 'hive']);
  await ingest(dir, env, 'only-subject.csv', daysAgo(2));
  await ingest(dir, env, 'other.csv', daysAgo(1));
}

describe('watt purge --days (retention by age)', () => {
  it('deletes exactly the partitions older than N days with their manifests and rejects, never outside the prefix; --dry-run deletes nothing', async () => {
    const { dir, env } = setup();
    const oldA = await ingest(dir, env, 'mixed-a.csv', '2020-01-01');
    const oldB = await ingest(dir, env, 'mixed-b.csv', daysAgo(31), ['--layout', 'hive']);
    const oldQ = await runWatt(['ingest', '--source', path.join(FIXTURES, 'with-bad-row.csv'), '--date', '2021-03-04', '--quarantine', '--json'], { cwd: dir, env });
    expect(oldQ.code).toBe(1); // rows rejected and quarantined
    const recent = await ingest(dir, env, 'other.csv', daysAgo(29));
    const bucketDir = path.join(dir, 'lake', 'watt-lake');
    // Undated keys: judged by last-modified time. Sibling prefixes and other folders: untouched.
    const put = (rel: string, mtime?: Date) => {
      const file = path.join(bucketDir, rel);
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, 'x\n');
      if (mtime) utimesSync(file, mtime, mtime);
    };
    put(`${PREFIX}/notes/old.txt`, new Date('2019-01-01'));
    put(`${PREFIX}/notes/new.txt`);
    put('watt-about-it/raw2/2019/01/01/sibling.csv', new Date('2019-01-01'));
    put('elsewhere/2019/01/01/x.csv', new Date('2019-01-01'));
    // Run logs and catalog rows older than N days.
    mkdirSync(path.join(dir, 'logs'), { recursive: true });
    writeFileSync(path.join(dir, 'logs', 'ingestion_20200101T000000Z-aaaaaa.log'), '{}\n');
    utimesSync(path.join(dir, 'logs', 'ingestion_20200101T000000Z-aaaaaa.log'), new Date('2020-01-02'), new Date('2020-01-02'));
    const catalog = Catalog.open(path.join(dir, '.watt'));
    catalog.startRun({ run_id: '20200101T000000Z-aaaaaa', command: 'ingest', started_at: '2020-01-01T00:00:00.000Z' });
    catalog.close();

    const lake = await lakeFor(env);
    const before = await snapshot(lake);
    const dry = await purge(dir, env, ['--days', '30', '--dry-run', '--json']);
    expect(dry.code).toBe(0);
    expect((await snapshot(lake)).keys).toEqual(before.keys);
    const oldRuns = [oldA.run_id, oldB.run_id, JSON.parse(oldQ.stdout).run_id as string];
    const expected = [...before.keys.filter((k) => oldRuns.some((r) => k.includes(r))), `${PREFIX}/notes/old.txt`].sort();
    expect(expected).toHaveLength(8); // 3 data objects, 3 manifests, 1 quarantine file, 1 undated key
    expect(before.keys.filter((k) => k.includes(recent.run_id))).toHaveLength(2);
    expect([...(dry.json!.keys as string[])].sort()).toEqual(expected);

    const text = await purge(dir, env, ['--days', '30', '--dry-run']);
    expect(text.stdout).toContain(`would delete ${PREFIX}/notes/old.txt`);

    const done = await purge(dir, env, ['--days', '30', '--json']);
    expect(done.code).toBe(0);
    expect([...(done.json!.keys as string[])].sort()).toEqual(expected);
    const categories = Object.fromEntries((done.json!.categories as { id: string; items: number }[]).map((c) => [c.id, c.items]));
    expect(categories).toMatchObject({ raw_data: 8, run_logs: 1 });
    expect(categories.catalog_rows).toBeGreaterThanOrEqual(1);
    const after = await snapshot(lake);
    expect(after.keys).toEqual(before.keys.filter((k) => !expected.includes(k)));
    expect(after.recordIds).toEqual(['D-001', 'D-002']);
    expect(after.inconsistent).toEqual([]);
    expect(filesContaining(bucketDir, 'x\n').sort()).toEqual(['elsewhere/2019/01/01/x.csv', `${PREFIX}/notes/new.txt`, 'watt-about-it/raw2/2019/01/01/sibling.csv'].sort());

    // The trail has one entry per deleted object and verifies.
    const verify = await purge(dir, env, ['--verify-trail', '--json']);
    expect(verify.code).toBe(0);
    expect(verify.json).toMatchObject({ ok: true });
    expect(verify.json!.entries as number).toBeGreaterThanOrEqual(10);
    // A second purge has nothing left to do; quiet without a terminal.
    const again = await purge(dir, env, ['--days', '30']);
    expect(again).toMatchObject({ code: 0, stdout: '', stderr: '' });
    await lake.close();
  });

  it('without --days applies the retention policy per category (raw data 30 d, run logs 90 d, models 365 d, keeping the newest model)', async () => {
    const { dir, env } = setup();
    const old = await ingest(dir, env, 'mixed-a.csv', daysAgo(45));
    const recent = await ingest(dir, env, 'other.csv', daysAgo(20));
    const logs = path.join(dir, 'logs');
    const stamp = (file: string, days: number) => utimesSync(file, new Date(Date.now() - days * 86_400_000), new Date(Date.now() - days * 86_400_000));
    writeFileSync(path.join(logs, 'old.log'), '{}\n');
    stamp(path.join(logs, 'old.log'), 100);
    writeFileSync(path.join(logs, 'kept.log'), '{}\n');
    stamp(path.join(logs, 'kept.log'), 60);
    for (const version of ['20240101T000000Z', '20240201T000000Z']) {
      mkdirSync(path.join(env.WATT_HOME!, 'models', version), { recursive: true });
      writeFileSync(path.join(env.WATT_HOME!, 'models', version, 'model.json'), '{}');
      stamp(path.join(env.WATT_HOME!, 'models', version, 'model.json'), 400);
    }
    // the registry of house models (issue 19): each house keeps its newest version
    for (const [house, version] of [['h1', '20240301T000000Z'], ['h1', '20240401T000000Z'], ['h2', '20240501T000000Z']]) {
      mkdirSync(path.join(env.WATT_HOME!, 'models', 'houses', house!, version!), { recursive: true });
      writeFileSync(path.join(env.WATT_HOME!, 'models', 'houses', house!, version!, 'model.json'), '{}');
      stamp(path.join(env.WATT_HOME!, 'models', 'houses', house!, version!, 'model.json'), 400);
    }
    const r = await purge(dir, env, ['--json']);
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ basis: 'policy' });
    const byId = Object.fromEntries((r.json!.categories as { id: string; days: number; items: number; keys?: string[]; note?: string }[]).map((c) => [c.id, c]));
    expect(byId.raw_data).toMatchObject({ days: 30, items: 2 });
    expect((byId.raw_data!.keys ?? []).every((k) => k.includes(old.run_id))).toBe(true);
    expect(byId.run_logs).toMatchObject({ days: 90, items: 1, keys: ['old.log'] });
    expect(byId.models).toMatchObject({ days: 365, items: 2, keys: ['20240101T000000Z', '20240301T000000Z'] });
    expect(existsSync(path.join(env.WATT_HOME!, 'models', 'houses', 'h1', '20240401T000000Z', 'model.json'))).toBe(true);
    expect(existsSync(path.join(env.WATT_HOME!, 'models', 'houses', 'h2', '20240501T000000Z', 'model.json'))).toBe(true);
    expect(byId.transformed_data).toMatchObject({ days: 180, items: 0, note: expect.stringMatching(/nothing to purge/) });
    const lake = await lakeFor(env);
    expect((await snapshot(lake)).keys.every((k) => k.includes(recent.run_id))).toBe(true);
    await lake.close();
  });

  it('refuses an unsafe prefix with exit 2 and a one-line message', async () => {
    const { dir, env } = setup();
    for (const prefix of ['../up', '/abs', '', 'a/../b', 'a//b']) {
      const r = await purge(dir, env, ['--days', '30', '--prefix', prefix]);
      expect({ prefix, code: r.code }).toEqual({ prefix, code: 2 });
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/unsafe prefix/);
    }
  });

  it('exits 4 while another purge of the same lake holds the lock; a dry run is not blocked', async () => {
    const { dir, env } = setup();
    await ingest(dir, env, 'other.csv', '2020-01-01');
    const lock = acquireLock(env.WATT_HOME!, purgeLockName(destinationUri(resolveLakeConfig({}, env))), 'a test');
    try {
      const r = await purge(dir, env, ['--days', '30']);
      expect(r.code).toBe(4);
      expect(r.stderr).toMatch(/a purge of file:.* is already running \(pid \d+/);
      expect((await purge(dir, env, ['--days', '30', '--dry-run'])).code).toBe(0);
    } finally {
      lock.release();
    }
    expect((await purge(dir, env, ['--days', '30'])).code).toBe(0);
  });
});

describe('watt purge --subject (erasure, GDPR Art. 17)', () => {
  it('rewrites every object holding the subject, deletes the one left empty, updates manifests, and never writes the raw id', async () => {
    const { dir, env } = setup();
    await ingestErasureFixtures(dir, env);
    await runWatt(['ingest', '--source', path.join(FIXTURES, 'with-bad-row.csv'), '--date', daysAgo(1), '--quarantine'], { cwd: dir, env });
    const lake = await lakeFor(env);
    const before = await snapshot(lake);
    expect(before.customers.filter((c) => c === pseudonym)).toHaveLength(5);

    const dry = await runWatt(['purge', '--subject', '-', '--dry-run', '--json'], { cwd: dir, env, input: `${SUBJECT}\n` });
    expect(dry.code).toBe(0);
    expect(JSON.parse(dry.stdout)).toMatchObject({ dry_run: true, rows_removed: 5, objects_deleted: 1 });
    expect((await snapshot(lake)).allText).toEqual(before.allText);

    const r = await purge(dir, env, ['--subject', SUBJECT, '--json']);
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ rows_removed: 5, objects_rewritten: 2, objects_deleted: 1, objects_scanned: 6, pseudonym_prefix: pseudonym.slice(0, 12) });
    const after = await snapshot(lake);
    expect(after.recordIds).toEqual([...EXPECTED_AFTER_ERASURE, 'Q-001'].sort());
    expect(after.allText).not.toContain(pseudonym);
    expect(after.inconsistent).toEqual([]);
    expect(after.keys.some((k) => k.includes('only-subject_'))).toBe(false);
    // Rows of other subjects are byte-identical to what ingest wrote.
    expect(before.allText).toContain(after.allText.split('\n').find((l) => l.startsWith('A-004'))!);

    const again = await purge(dir, env, ['--subject', SUBJECT, '--json']);
    expect(again.json).toMatchObject({ rows_removed: 0, objects: [] });
    const text = await runWatt(['purge', '--subject', SUBJECT, '--dry-run'], { cwd: dir, env });
    // Found nowhere: still says where it looked (key id, columns the manifests record, objects).
    expect(text.stdout).toMatch(new RegExp(`subject ${pseudonym.slice(0, 12)}… \\(key id [0-9a-f]{16}\\): not found in \\d+ objects, columns customer_id, meter_id; nothing would be removed`));
    // Under cron (no terminal, no --dry-run) an erasure still prints its summary line.
    const quiet = await runWatt(['purge', '--subject', SUBJECT], { cwd: dir, env });
    expect(quiet.code).toBe(0);
    expect(quiet.stdout).toMatch(/not found in \d+ objects, columns customer_id, meter_id; nothing removed/);

    // The raw identifier appears nowhere watt writes: logs, catalog (with its WAL), lake, output.
    for (const out of [dry, r, again, text, quiet]) expect(out.stdout + out.stderr).not.toContain(SUBJECT);
    expect(filesContaining(dir, SUBJECT)).toEqual([]);
    expect((await purge(dir, env, ['--verify-trail'])).code).toBe(0);
    await lake.close();
  });

  it('refuses to erase without the pseudonymisation key ingest used (exit 2), without echoing the id', async () => {
    const { dir, env } = setup();
    const { WATT_PSEUDONYMISATION_KEY: _k, ...noKey } = env;
    const r = await purge(dir, noKey, ['--subject', SUBJECT]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no pseudonymisation key/);
    expect(r.stderr).not.toContain(SUBJECT);
    expect(filesContaining(dir, SUBJECT)).toEqual([]);
  });

  it.each(['intent:1', 'object:1', 'object:3', 'manifest:2', 'done:1'])(
    'killed after step %s: no row lost or duplicated, and a rerun completes the erasure',
    async (step) => {
      const { dir, env } = setup();
      await ingestErasureFixtures(dir, env);
      const lake = await lakeFor(env);
      const killed = await purge(dir, { ...env, WATT_TEST_CRASH_AFTER: step }, ['--subject', SUBJECT, '--json']);
      expect(killed.code).toBeNull(); // SIGKILL
      const mid = await snapshot(lake);
      // Through the manifests (what readers of committed runs see) every other subject's row is
      // there exactly once; the subject's rows may remain, never twice.
      expect(mid.committedRecordIds.filter((id) => EXPECTED_AFTER_ERASURE.includes(id))).toEqual(EXPECTED_AFTER_ERASURE);
      expect(new Set(mid.committedRecordIds).size).toBe(mid.committedRecordIds.length);
      // Killed between writing an object's new copy and updating its manifest: the manifest still
      // names the old object, intact (an erasure never changes an object in place)...
      expect(mid.inconsistent).toEqual([]);
      if (step.startsWith('object')) expect(mid.keys.filter((k) => k.includes('.erasure-')).length).toBeGreaterThan(0);

      const rerun = await purge(dir, env, ['--subject', SUBJECT, '--json']);
      expect(rerun.code).toBe(0);
      // ...and the rerun completes the journaled step before scanning again.
      expect(rerun.json!.recovered).toBe(step.startsWith('object') || step.startsWith('manifest') ? 1 : 0);
      const after = await snapshot(lake);
      expect(after.recordIds).toEqual(EXPECTED_AFTER_ERASURE);
      expect(after.allText).not.toContain(pseudonym);
      expect(after.inconsistent).toEqual([]);
      const verify = await purge(dir, env, ['--verify-trail', '--json']);
      expect(verify.json).toMatchObject({ ok: true });
      expect(filesContaining(dir, SUBJECT)).toEqual([]);
      await lake.close();
    },
  );
});

describe('watt purge --verify-trail', () => {
  it('names the first edited, removed or truncated entry and exits 1', async () => {
    const { dir, env } = setup();
    await ingestErasureFixtures(dir, env);
    expect((await purge(dir, env, ['--subject', SUBJECT])).code).toBe(0);
    const ok = await purge(dir, env, ['--verify-trail', '--json']);
    expect(ok.json).toMatchObject({ ok: true });
    const entries = ok.json!.entries as number;
    expect(entries).toBeGreaterThanOrEqual(8);

    const db = new Database(path.join(env.WATT_HOME!, 'catalog.db'));
    const original = (db.prepare('SELECT count FROM audit_log WHERE seq = 3').get() as { count: number }).count;
    expect(() => db.prepare('UPDATE audit_log SET count = 99 WHERE seq = 3').run()).toThrow(/append-only/);
    expect(() => db.prepare('DELETE FROM audit_log WHERE seq = 3').run()).toThrow(/append-only/);
    db.exec('DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;');
    db.prepare('UPDATE audit_log SET count = 99 WHERE seq = 3').run();
    db.close();
    const edited = await purge(dir, env, ['--verify-trail', '--json']);
    expect(edited.code).toBe(1);
    expect(edited.json).toMatchObject({ ok: false, broken: { seq: 3 } });
    expect(edited.stderr).toMatch(/^watt: audit trail broken at entry 3: hash mismatch/);

    const db2 = new Database(path.join(env.WATT_HOME!, 'catalog.db'));
    db2.prepare('UPDATE audit_log SET count = ? WHERE seq = 3').run(original); // restore the original value
    db2.close();
    expect((await purge(dir, env, ['--verify-trail'])).code).toBe(0);
    const db3 = new Database(path.join(env.WATT_HOME!, 'catalog.db'));
    db3.prepare('DELETE FROM audit_log WHERE seq = ?').run(entries);
    db3.close();
    const truncated = await purge(dir, env, ['--verify-trail']);
    expect(truncated.code).toBe(1);
    expect(truncated.stderr).toMatch(new RegExp(`entry ${entries}: .*last entries were removed`));
  });
});
