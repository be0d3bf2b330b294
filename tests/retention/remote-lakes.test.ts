/**
 * `watt purge` against real servers on 127.0.0.1: s3rver (as a child process under
 * --openssl-legacy-provider, so that listings past 1,000 keys page) and Azurite. Run
 * `npm run build` first: the CLI is spawned from dist/.
 */
import { rmSync } from 'node:fs';
import { scratchDir } from '../helpers/cli.js';
import { AZURE_LAKE, startS3Child, useLakeServer, type LakeProvider } from '../helpers/servers.js';
import { Pseudonymiser } from '../../src/records/pseudonymise.js';
import { KEY, SUBJECT, filesContaining, ingest, lakeFor, purge, snapshot, wattEnv } from './helpers.js';

const pseudonym = new Pseudonymiser(Buffer.from(KEY, 'utf8'), 'hmac-sha256-128-b64url').pseudonym(SUBJECT);
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function daysAgo(days: number): string {
  return new Date(Date.now() - days * 86_400_000).toISOString().slice(0, 10);
}

const providers: LakeProvider[] = [
  ['s3 (s3rver)', () => startS3Child(['watt-lake'])], // a child process: listings past 1,000 keys
  AZURE_LAKE,
];

describe.each(providers)('watt purge on %s', (name, start) => {
  const serverEnv = useLakeServer(start);
  let n = 0;

  /** A scratch dir and a prefix of its own in the shared bucket. */
  function setup(): { dir: string; env: Record<string, string>; prefix: string } {
    const dir = scratchDir('watt-purge-remote-');
    dirs.push(dir);
    const prefix = `t${++n}-${name.slice(0, 2)}/raw`;
    return { dir, prefix, env: wattEnv(dir, { ...serverEnv(), DATA_LAKE_PREFIX: prefix }) };
  }

  it('purge --days keeps exactly the recent partitions; --dry-run deletes nothing', async () => {
    const { dir, env, prefix } = setup();
    const old = await ingest(dir, env, 'mixed-a.csv', '2020-01-01');
    const oldHive = await ingest(dir, env, 'mixed-b.csv', daysAgo(45), ['--layout', 'hive']);
    const recent = await ingest(dir, env, 'other.csv', daysAgo(1));
    const lake = await lakeFor(env);
    const before = await snapshot(lake, prefix);
    expect(before.keys).toHaveLength(6);

    const dry = await purge(dir, env, ['--days', '30', '--dry-run', '--json']);
    expect(dry.code).toBe(0);
    expect(dry.json!.key_count).toBe(4);
    expect((await snapshot(lake, prefix)).keys).toEqual(before.keys);

    const done = await purge(dir, env, ['--days', '30', '--json']);
    expect(done.code).toBe(0);
    expect([...(done.json!.keys as string[])].sort()).toEqual(before.keys.filter((k) => k.includes(old.run_id) || k.includes(oldHive.run_id)));
    const after = await snapshot(lake, prefix);
    expect(after.keys).toEqual(before.keys.filter((k) => k.includes(recent.run_id)));
    expect(after.recordIds).toEqual(['D-001', 'D-002']);
    // The schema the runs stored beside the data stays (shared, no personal data).
    const schemas: string[] = [];
    for await (const o of lake.list(`${prefix}/_schemas/`)) schemas.push(o.key);
    expect(schemas).toEqual([expect.stringMatching(new RegExp(`^${prefix}/_schemas/[0-9a-f]{64}\\.json$`))]);
    expect((await purge(dir, env, ['--verify-trail'])).code).toBe(0);
    await lake.close();
  });

  it('erasure across several files, one holding only the subject, survives a kill and a rerun', async () => {
    const { dir, env, prefix } = setup();
    await ingest(dir, env, 'mixed-a.csv', daysAgo(4));
    await ingest(dir, env, 'mixed-b.csv', daysAgo(3), ['--layout', 'hive']);
    await ingest(dir, env, 'only-subject.csv', daysAgo(2));
    await ingest(dir, env, 'other.csv', daysAgo(1));
    const lake = await lakeFor(env);
    const killed = await purge(dir, { ...env, WATT_TEST_CRASH_AFTER: 'object:2' }, ['--subject', SUBJECT]);
    expect(killed.code).toBeNull();
    const mid = await snapshot(lake, prefix);
    // Through the manifests (what readers of committed runs see): no row twice. The store itself may
    // hold an object and its erasure copy until the rerun's vacuum.
    expect(new Set(mid.committedRecordIds).size).toBe(mid.committedRecordIds.length);

    const r = await purge(dir, env, ['--subject', SUBJECT, '--json']);
    expect(r.code).toBe(0);
    expect(r.json!.recovered).toBe(1);
    const after = await snapshot(lake, prefix);
    expect(after.recordIds).toEqual(['A-002', 'A-004', 'B-001', 'B-003', 'D-001', 'D-002']);
    expect(after.inconsistent).toEqual([]);
    expect(after.allText).not.toContain(pseudonym);
    expect(after.allText).not.toContain(SUBJECT);
    expect(after.keys.some((k) => k.includes('only-subject_'))).toBe(false);
    expect(r.stdout + r.stderr + killed.stdout + killed.stderr).not.toContain(SUBJECT);
    expect(filesContaining(dir, SUBJECT)).toEqual([]);
    expect((await purge(dir, env, ['--verify-trail'])).code).toBe(0);
    await lake.close();
  });

  it('lists and deletes past 1,000 keys (paginated listing, batched deletes), printing the count instead of the keys', async () => {
    const { dir, env, prefix } = setup();
    const lake = await lakeFor(env);
    const keys = Array.from({ length: 1500 }, (_, i) => `${prefix}/2019/0${1 + (i % 9)}/15/bulk_${String(i).padStart(5, '0')}.csv`);
    for (let i = 0; i < keys.length; i += 50) await Promise.all(keys.slice(i, i + 50).map((k) => lake.put(k, 'record_id\nx\n')));
    await lake.put(`${prefix}/${daysAgo(1).replace(/-/g, '/')}/keep.csv`, 'record_id\ny\n');
    const r = await purge(dir, env, ['--days', '30', '--json']);
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ key_count: 1500, deleted: 1500 });
    expect(r.json!.keys).toBeUndefined();
    const left: string[] = [];
    for await (const o of lake.list(prefix + '/')) if (!o.key.includes('/_audit/')) left.push(o.key);
    expect(left).toEqual([`${prefix}/${daysAgo(1).replace(/-/g, '/')}/keep.csv`]);
    const verify = await purge(dir, env, ['--verify-trail', '--json']);
    expect(verify.json).toMatchObject({ ok: true });
    expect(verify.json!.entries as number).toBeGreaterThanOrEqual(1500);
    await lake.close();
  }, 120_000); // 1,500 puts and deletes on a loaded 2-core machine: past the default 60 s now and then
});
