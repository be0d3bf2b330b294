/**
 * `watt verify` (issue 8, item 4) with the real CLI: on a local lake, S3 (s3rver) and Azure
 * (Azurite), from a machine with an empty WATT_HOME. Faults are made with the store's own
 * interface (files on disk, the lake's put/delete), never through watt's checks.
 * Needs the build (dist/).
 */
import path from 'node:path';
import { appendFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { runWatt, scratchDir } from '../helpers/cli.js';
import { AZURE_LAKE, S3_LAKE, useLakeServer } from '../helpers/servers.js';
import { ingest, lakeFor, wattEnv } from '../retention/helpers.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

async function verify(dir: string, env: Record<string, string>, extra: string[] = []) {
  const r = await runWatt(['verify', '--json', ...extra], { cwd: dir, env });
  return { ...r, json: JSON.parse(r.stdout) as { ok: boolean; findings: { kind: string; key: string; repaired?: boolean }[]; trail: { status: string }; objects_hashed: number } };
}

describe('watt verify on a local lake', () => {
  it('finds a changed object, a missing object and a broken manifest (exit 1), in text and JSON', async () => {
    const dir = scratchDir('watt-verify-');
    dirs.push(dir);
    const env = wattEnv(dir);
    const a = await ingest(dir, env, 'mixed-a.csv', '2025-01-01');
    const b = await ingest(dir, env, 'mixed-b.csv', '2025-01-02');
    await ingest(dir, env, 'other.csv', '2025-01-03');
    const ok = await verify(dir, env);
    expect(ok.code).toBe(0);
    expect(ok.json).toMatchObject({ ok: true, findings: [], objects_hashed: 3, trail: { status: 'ok' } });

    const bucket = path.join(dir, 'lake', 'watt-lake');
    const keyOf = (uri: string) => decodeURIComponent(new URL(uri).pathname).slice(bucket.length + 1);
    appendFileSync(path.join(bucket, keyOf(a.destination)), 'X-1,forged,m,2025-01-01T00:00:00Z,1,0.1,false\n');
    unlinkSync(path.join(bucket, keyOf(b.destination)));
    writeFileSync(path.join(bucket, 'watt-about-it/raw/_manifests/20250101T000000Z-zzzzzz.json'), '{ not json');

    const bad = await verify(dir, env);
    expect(bad.code).toBe(1);
    expect(bad.json.ok).toBe(false);
    expect(bad.json.findings.map((f) => [f.kind, f.key]).sort()).toEqual(
      [
        ['manifest_invalid', 'watt-about-it/raw/_manifests/20250101T000000Z-zzzzzz.json'],
        ['object_missing', keyOf(b.destination)],
        // The forged line is one row more than the manifest says (issue 21).
        ['rows_mismatch', keyOf(a.destination)],
        ['sha256_mismatch', keyOf(a.destination)],
      ].sort(),
    );
    const text = await runWatt(['verify'], { cwd: dir, env });
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/FAIL sha256_mismatch/);
    expect(text.stdout).toMatch(/verify: FAILED/);
    expect(text.stderr.trim().split('\n')).toHaveLength(1);
  }, 60_000);
});

describe.each([S3_LAKE, AZURE_LAKE])('watt verify on %s from an empty WATT_HOME', (name, start) => {
  const serverEnv = useLakeServer(start);

  it('passes on a clean lake (trail skipped), reports and repairs an orphan, then fails on a changed object', async () => {
    const dir = scratchDir('watt-verify-remote-');
    dirs.push(dir);
    const prefix = `v-${name.slice(0, 2)}/raw`;
    const env = wattEnv(dir, { ...serverEnv(), DATA_LAKE_PREFIX: prefix });
    const a = await ingest(dir, env, 'mixed-a.csv', '2025-01-01');
    const elsewhere = { ...env, WATT_HOME: path.join(dir, 'empty-home') };

    const clean = await verify(dir, elsewhere);
    expect(clean.code).toBe(0);
    expect(clean.json).toMatchObject({ ok: true, objects_hashed: 1, trail: { status: 'skipped' } });

    const lake = await lakeFor(env);
    try {
      const orphan = `${prefix}/2025/01/05/lost_20250105T000000Z-orphan.csv`;
      await lake.put(orphan, 'record_id\nZ-1\n');
      const young = await verify(dir, elsewhere);
      expect(young.code).toBe(0); // within the grace period: maybe a writer elsewhere
      expect(young.json.findings).toEqual([expect.objectContaining({ kind: 'pending', key: orphan })]);
      const repaired = await verify(dir, elsewhere, ['--repair', '--grace', '0']);
      expect(repaired.code).toBe(0);
      expect(repaired.json.findings).toEqual([expect.objectContaining({ kind: 'orphan', key: orphan, repaired: true })]);
      expect(await lake.head(orphan)).toBeUndefined();

      const objectKey = a.destination.replace(/^.*?watt-lake\//, '');
      await lake.put(objectKey, 'record_id\nforged\n');
      const changed = await verify(dir, elsewhere);
      expect(changed.code).toBe(1);
      expect(changed.json.findings).toEqual([expect.objectContaining({ kind: 'sha256_mismatch', key: objectKey }), expect.objectContaining({ kind: 'rows_mismatch', key: objectKey })]);
    } finally {
      await lake.close();
    }
  }, 90_000);
});
