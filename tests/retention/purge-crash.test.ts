/**
 * A purge killed half-way (WATT_FAILPOINT=purge:*, SIGKILL) and run again ends in the state an
 * uninterrupted purge gives: the subject's rows gone, every other row still there once, every
 * object named by a manifest with its sha256, the trail verified against its anchors
 * (`watt verify` exit 0). Local lake and s3rver. Needs the build (dist/).
 */
import { rmSync } from 'node:fs';
import { runWatt, scratchDir } from '../helpers/cli.js';
import { LOCAL_LAKE, S3_LAKE, useLakeServer } from '../helpers/servers.js';
import { Pseudonymiser } from '../../src/records/pseudonymise.js';
import { KEY, SUBJECT, ingest, lakeFor, snapshot, wattEnv } from './helpers.js';

const pseudonym = new Pseudonymiser(Buffer.from(KEY, 'utf8'), 'hmac-sha256-128-b64url').pseudonym(SUBJECT);
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe.each([LOCAL_LAKE, S3_LAKE])('purge killed half-way on %s', (name, start) => {
  const serverEnv = useLakeServer(start);
  let n = 0;
  function setup(): { dir: string; env: Record<string, string>; prefix: string } {
    const dir = scratchDir('watt-purge-crash-');
    dirs.push(dir);
    const prefix = `p${++n}-${name.slice(0, 2)}/raw`;
    return { dir, prefix, env: wattEnv(dir, { ...serverEnv(), DATA_LAKE_PREFIX: prefix }) };
  }

  it.each(['purge:erasure-after-intent', 'purge:erasure-after-object', 'purge:erasure-after-manifest', 'purge:before-anchor'])(
    'erasure killed at %s, run again: the subject is gone, every other row is there once, verify passes',
    async (failpoint) => {
      const { dir, env, prefix } = setup();
      await ingest(dir, env, 'mixed-a.csv', '2025-01-01');
      await ingest(dir, env, 'only-subject.csv', '2025-01-02');
      await ingest(dir, env, 'other.csv', '2025-01-03');
      const lake = await lakeFor(env);
      try {
        const before = await snapshot(lake, prefix);
        const killed = await runWatt(['purge', '--subject', SUBJECT], { cwd: dir, env: { ...env, WATT_FAILPOINT: failpoint } });
        expect(killed.code).toBeNull();
        const again = await runWatt(['purge', '--subject', SUBJECT, '--json'], { cwd: dir, env });
        expect(again.stderr).not.toMatch(/internal error/);
        expect(again.code).toBe(0);
        const after = await snapshot(lake, prefix);
        expect(after.customers).not.toContain(pseudonym);
        const subjectRows = before.customers.filter((c) => c === pseudonym).length;
        expect(subjectRows).toBeGreaterThan(0);
        expect(after.recordIds.length).toBe(before.recordIds.length - subjectRows);
        expect(new Set(after.recordIds).size).toBe(after.recordIds.length);
        expect(after.inconsistent).toEqual([]);
        const verify = await runWatt(['verify', '--json'], { cwd: dir, env });
        expect(JSON.parse(verify.stdout)).toMatchObject({ ok: true, trail: { status: 'ok' } });
        expect(verify.code).toBe(0);
      } finally {
        await lake.close();
      }
    },
    60_000,
  );

  it('retention killed between the manifests and the data objects: the next run removes the unmanifested objects, verify passes', async () => {
    const { dir, env, prefix } = setup();
    await ingest(dir, env, 'mixed-a.csv', '2020-01-01');
    await ingest(dir, env, 'other.csv', new Date(Date.now() - 86_400_000).toISOString().slice(0, 10));
    const killed = await runWatt(['purge', '--days', '30', '--yes'], { cwd: dir, env: { ...env, WATT_FAILPOINT: 'purge:after-manifests-deleted' } });
    expect(killed.code).toBeNull();
    const lake = await lakeFor(env);
    try {
      const half = await runWatt(['verify', '--json'], { cwd: dir, env });
      expect(half.code).toBe(1);
      expect(JSON.parse(half.stdout).findings).toEqual([expect.objectContaining({ kind: 'orphan' })]);
      // Any verb that opens the lake finishes the cleanup: here an ingest of another file.
      await ingest(dir, env, 'mixed-b.csv', new Date(Date.now() - 86_400_000).toISOString().slice(0, 10));
      const after = await snapshot(lake, prefix);
      expect(after.keys.filter((k) => k.includes('/2020/'))).toEqual([]);
      expect(after.inconsistent).toEqual([]);
      expect((await runWatt(['verify'], { cwd: dir, env })).code).toBe(0);
    } finally {
      await lake.close();
    }
  }, 60_000);
});
