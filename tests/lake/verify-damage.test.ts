/**
 * `watt verify` on the damage of issue 21 (real CLI, local lake; needs the build): an edited row
 * count, a duplicated manifest, a deleted trail anchor; and `--repair` never deleting committed
 * data when a succeeded run's manifest, or the whole `_manifests/` folder, is gone (rebuilt from
 * the catalog's copy when the objects re-hash to it; vouched for by the table log from another WATT_HOME).
 */
import path from 'node:path';
import { copyFileSync, existsSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { runWatt, scratchDir } from '../helpers/cli.js';
import { PREFIX, SUBJECT, ingest, wattEnv } from '../retention/helpers.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

type Findings = { kind: string; key: string; repaired?: boolean; detail: string }[];

async function verify(dir: string, env: Record<string, string>, extra: string[] = []) {
  const r = await runWatt(['verify', '--json', ...extra], { cwd: dir, env });
  return { ...r, json: JSON.parse(r.stdout) as { ok: boolean; findings: Findings } };
}

function setup(): { dir: string; env: Record<string, string>; bucket: string } {
  const dir = scratchDir('watt-verify-damage-');
  dirs.push(dir);
  // Grace 0: anything the repair may call garbage it would delete at once.
  return { dir, env: wattEnv(dir, { WATT_RECOVERY_GRACE_MINUTES: '0' }), bucket: path.join(dir, 'lake', 'watt-lake') };
}

const keyOf = (bucket: string, uri: string) => decodeURIComponent(new URL(uri).pathname).slice(bucket.length + 1);

describe('watt verify finds the damage of issue 21', () => {
  it('an edited row count in a manifest: rows_mismatch (exit 1)', async () => {
    const { dir, env, bucket } = setup();
    const a = await ingest(dir, env, 'mixed-a.csv', '2025-01-01');
    const file = path.join(bucket, keyOf(bucket, (a as unknown as { manifest: string }).manifest));
    const m = JSON.parse(readFileSync(file, 'utf8'));
    m.objects[0].rows += 1;
    m.rows += 1;
    writeFileSync(file, JSON.stringify(m, null, 2) + '\n');
    const r = await verify(dir, env);
    expect(r.code).toBe(1);
    expect(r.json.findings.map((f) => f.kind)).toEqual(['rows_mismatch']);
    expect(r.json.findings[0]!.detail).toMatch(/holds \d+ rows, .* says \d+/);
  }, 60_000);

  it('a duplicated manifest (the same source landed twice): duplicate_landing (exit 1)', async () => {
    const { dir, env, bucket } = setup();
    const a = await ingest(dir, env, 'mixed-a.csv', '2025-01-01');
    const file = path.join(bucket, keyOf(bucket, (a as unknown as { manifest: string }).manifest));
    copyFileSync(file, path.join(path.dirname(file), '20250101T000000Z-dup001.json'));
    const r = await verify(dir, env);
    expect(r.code).toBe(1);
    expect(r.json.findings.map((f) => f.kind)).toContain('duplicate_landing');
  }, 60_000);

  it('a deliberate --force relanding is recorded as forced in its manifest and is not a duplicate landing (exit 0)', async () => {
    const { dir, env, bucket } = setup();
    await ingest(dir, env, 'mixed-a.csv', '2025-01-01');
    const again = await ingest(dir, env, 'mixed-a.csv', '2025-01-02', ['--force']);
    const m = JSON.parse(readFileSync(path.join(bucket, keyOf(bucket, (again as unknown as { manifest: string }).manifest)), 'utf8'));
    expect(m.forced).toBe(true);
    const r = await verify(dir, env);
    expect(r.json.findings).toEqual([]);
    expect(r.code).toBe(0);
  }, 60_000);

  it('a deleted trail anchor: anchor_missing (exit 1), so a trail forged after it cannot pass', async () => {
    const { dir, env, bucket } = setup();
    await ingest(dir, env, 'mixed-a.csv', '2025-01-01');
    const purge = await runWatt(['purge', '--subject', '-', '--json'], { cwd: dir, env, input: `${SUBJECT}\n` });
    expect(purge.code).toBe(0);
    expect((await verify(dir, env)).code).toBe(0);
    const audit = path.join(bucket, PREFIX, '_audit');
    for (const f of readdirSync(audit)) unlinkSync(path.join(audit, f));
    const r = await verify(dir, env);
    expect(r.code).toBe(1);
    expect(r.json.findings.map((f) => f.kind)).toEqual(['anchor_missing']);
  }, 60_000);
});

describe('watt verify --repair never deletes committed data', () => {
  it("a succeeded run's manifest deleted: rebuilt byte for byte from the catalog after re-hashing its object (exit 0), with a trail entry", async () => {
    const { dir, env, bucket } = setup();
    const a = await ingest(dir, env, 'mixed-a.csv', '2025-01-01');
    const b = await ingest(dir, env, 'mixed-b.csv', '2025-01-02');
    const manifestFile = path.join(bucket, keyOf(bucket, (a as unknown as { manifest: string }).manifest));
    const lost = readFileSync(manifestFile);
    unlinkSync(manifestFile);
    const found = await verify(dir, env);
    expect(found.code).toBe(1);
    expect(found.json.findings).toEqual([expect.objectContaining({ kind: 'manifest_missing', key: keyOf(bucket, a.destination) })]);
    const r = await verify(dir, env, ['--repair']);
    expect(r.code).toBe(0);
    expect(r.json.findings).toEqual([expect.objectContaining({ kind: 'manifest_missing', key: keyOf(bucket, (a as unknown as { manifest: string }).manifest), repaired: true })]);
    expect(readFileSync(manifestFile).equals(lost)).toBe(true);
    expect(existsSync(path.join(bucket, keyOf(bucket, a.destination)))).toBe(true);
    expect(existsSync(path.join(bucket, keyOf(bucket, b.destination)))).toBe(true);
    expect((await verify(dir, env)).code).toBe(0);
    const trail = await runWatt(['purge', '--verify-trail', '--json'], { cwd: dir, env });
    expect(trail.code).toBe(0);
    const db = new Database(path.join(env.WATT_HOME!, 'catalog.db'), { readonly: true });
    try {
      const rows = db.prepare("SELECT key, count FROM audit_log WHERE action = 'recovery.restore_manifest'").all() as { key: string; count: number }[];
      expect(rows).toEqual([{ key: keyOf(bucket, (a as unknown as { manifest: string }).manifest), count: 1 }]);
    } finally {
      db.close();
    }
  }, 60_000);

  it('a lost manifest whose object changed since: not rebuilt, the object kept and reported (exit 1)', async () => {
    const { dir, env, bucket } = setup();
    const a = await ingest(dir, env, 'mixed-a.csv', '2025-01-01');
    const manifestFile = path.join(bucket, keyOf(bucket, (a as unknown as { manifest: string }).manifest));
    unlinkSync(manifestFile);
    const object = path.join(bucket, keyOf(bucket, a.destination));
    writeFileSync(object, readFileSync(object, 'utf8') + readFileSync(object, 'utf8').split('\n')[1] + '\n');
    const r = await verify(dir, env, ['--repair']);
    expect(r.code).toBe(1);
    expect(r.json.findings.filter((f) => f.repaired)).toEqual([]);
    expect(r.json.findings.map((f) => f.kind)).toEqual(['manifest_missing', 'manifest_missing']);
    expect(r.json.findings[0]!.detail).toContain('no longer hashes');
    expect(existsSync(manifestFile)).toBe(false);
    expect(existsSync(object)).toBe(true);
  }, 60_000);

  it('the whole _manifests/ folder deleted: every manifest rebuilt, every data object kept', async () => {
    const { dir, env, bucket } = setup();
    const runs = [await ingest(dir, env, 'mixed-a.csv', '2025-01-01'), await ingest(dir, env, 'mixed-b.csv', '2025-01-02'), await ingest(dir, env, 'other.csv', '2025-01-03')];
    const folder = path.join(bucket, PREFIX, '_manifests');
    const before = Object.fromEntries(readdirSync(folder).map((f) => [f, readFileSync(path.join(folder, f), 'utf8')]));
    rmSync(folder, { recursive: true });
    const r = await verify(dir, env, ['--repair']);
    expect(r.code).toBe(0);
    expect(r.json.findings.map((f) => [f.kind, f.repaired])).toEqual([['manifest_missing', true], ['manifest_missing', true], ['manifest_missing', true]]);
    expect(Object.fromEntries(readdirSync(folder).map((f) => [f, readFileSync(path.join(folder, f), 'utf8')]))).toEqual(before);
    for (const run of runs) expect(existsSync(path.join(bucket, keyOf(bucket, run.destination)))).toBe(true);
  }, 60_000);

  it('from another WATT_HOME that never saw the runs: the table log vouches for the objects, nothing deleted', async () => {
    const { dir, env, bucket } = setup();
    const runs = [await ingest(dir, env, 'mixed-a.csv', '2025-01-01'), await ingest(dir, env, 'mixed-b.csv', '2025-01-02')];
    rmSync(path.join(bucket, PREFIX, '_manifests'), { recursive: true });
    const other = { ...env, WATT_HOME: path.join(dir, 'other-machine') };
    const r = await verify(dir, other, ['--repair']);
    expect(r.code).toBe(1);
    expect(r.json.findings.filter((f) => f.repaired)).toEqual([]);
    // Per run: its manifest, not rebuilt (this catalog keeps no copy), and its object, kept.
    expect(r.json.findings.map((f) => f.kind)).toEqual(Array(4).fill('manifest_missing'));
    expect(r.json.findings.filter((f) => f.key.includes('/_manifests/')).map((f) => f.detail)).toEqual([expect.stringContaining('keeps no copy'), expect.stringContaining('keeps no copy')]);
    expect(r.json.findings.filter((f) => !f.key.includes('/_manifests/')).map((f) => f.detail)).toEqual([expect.stringContaining('table log'), expect.stringContaining('table log')]);
    for (const run of runs) expect(existsSync(path.join(bucket, keyOf(bucket, run.destination)))).toBe(true);
  }, 60_000);
});
