/**
 * Erasure across a key rotation (issue 8, items 1, 2 and 6), with the real CLI on a local lake:
 * the subject sits in several files, ingested under two keys, written with surrounding spaces.
 * `watt purge --subject` must refuse (exit 2, nothing changed) while a key id of the lake has no
 * key, then erase every row under every key; afterwards the raw identifier is in no file of the
 * lake, the logs or WATT_HOME (the SQLite files read as raw bytes), and every other row is
 * byte-identical (compared with csv-parse). Needs the build (dist/).
 */
import path from 'node:path';
import { mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import { runWatt, scratchDir } from '../helpers/cli.js';
import { landedKey } from '../helpers/v2-lake.js';
import { keyIdOf } from '../../src/records/pseudonymise.js';

const RAW = 'CUST-ROT-42';
const K1 = '1'.repeat(32) + 'abcdef0123456789'.repeat(2);
const K2 = '2'.repeat(32) + 'fedcba9876543210'.repeat(2);
const HEADER = 'record_id,customer_id,meter_id,reading_ts,consumption_kwh,tariff_eur_kwh,is_peak';
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function files(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const full = path.join(d, name);
      if (statSync(full).isDirectory()) walk(full);
      else out.push(full);
    }
  };
  walk(dir);
  return out;
}

/** Every CSV data object of the lake: key -> rows (csv-parse, arrays of cells) and the raw line of each row. */
function lakeRows(lakeDir: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const f of files(lakeDir).filter((f) => f.endsWith('.csv'))) {
    const text = readFileSync(f, 'utf8');
    const records = parse(text, { columns: false, raw: true }) as unknown as { raw: string; record: string[] }[];
    // by the key ingest landed the object under (an erasure writes its copy under a new key)
    out.set(landedKey(path.relative(lakeDir, f)), records.slice(1).map((r) => r.raw));
  }
  return out;
}

/** Manifests written before key ids (this branch, before the ingest side lands) get the key id ingest would write. */
function ensureKeyIds(lakeDir: string, key: string): void {
  for (const f of files(lakeDir).filter((f) => f.includes('/_manifests/'))) {
    const m = JSON.parse(readFileSync(f, 'utf8'));
    if (m.pseudonymisation.key_id) continue;
    m.pseudonymisation.key_id = keyIdOf(Buffer.from(key, 'utf8'));
    writeFileSync(f, JSON.stringify(m, null, 2) + '\n');
  }
}

describe('watt purge --subject across a key rotation', () => {
  it('refuses while a key id has no key, then erases under every key; the raw id is left nowhere and every other row is byte-identical', async () => {
    const dir = scratchDir('watt-rotate-');
    dirs.push(dir);
    // No erasure grace: the replaced objects are vacuumed at the end of the erasure (tests/table/delta-log.test.ts tests the grace).
    const env = { WATT_HOME: path.join(dir, '.watt'), WATT_LAKE_ROOT: path.join(dir, 'lake'), WATT_LOG_DIR: path.join(dir, 'logs'), WATT_ERASURE_GRACE_MINUTES: '0' };
    const src = path.join(dir, 'sources');
    mkdirSync(src);
    const row = (id: string, customer: string, meter: string) => `${id},${customer},${meter},2025-03-01T08:00:00Z,3.5,0.2,false`;
    writeFileSync(path.join(src, 'january.csv'), [HEADER, row('J-1', `" ${RAW}"`, 'M-1'), row('J-2', 'CUST-OTHER-1', 'M-2'), row('J-3', RAW, 'M-1'), row('J-4', 'CUST-OTHER-2', 'M-3')].join('\n') + '\n');
    writeFileSync(path.join(src, 'february.csv'), [HEADER, row('F-1', 'CUST-OTHER-1', 'M-2'), row('F-2', `"${RAW}  "`, 'M-1'), row('F-3', 'CUST-OTHER-3', 'M-4')].join('\n') + '\n');
    writeFileSync(path.join(src, 'march.csv'), [HEADER, row('S-1', RAW, 'M-1'), row('S-2', RAW, 'M-1')].join('\n') + '\n');
    const lakeDir = path.join(dir, 'lake');

    const ingest = async (file: string, key: string, extra: string[] = []) => {
      const r = await runWatt(['ingest', '--source', path.join(src, file), '--date', '2025-03-01', '--json', ...extra], { cwd: dir, env: { ...env, WATT_PSEUDONYMISATION_KEY: key } });
      expect(r.stderr).not.toMatch(/internal error/);
      expect(r.code).toBe(0);
      ensureKeyIds(lakeDir, key);
    };
    await ingest('january.csv', K1);
    // Rotation: with the ingest side of issue 8 a new key needs --new-key.
    const help = await runWatt(['ingest', '--help'], { cwd: dir, env });
    const rotate = help.stdout.includes('--new-key') ? ['--new-key'] : [];
    await ingest('february.csv', K2, rotate);
    await ingest('march.csv', K2);
    const before = lakeRows(lakeDir);
    const snapshot = () => files(lakeDir).map((f) => `${f}:${readFileSync(f, 'utf8').length}`).sort();
    const untouched = snapshot();

    // 1. Only the current key: a key id of the lake has no key -> exit 2, nothing changed.
    const refused = await runWatt(['purge', '--subject', ` ${RAW} `], { cwd: dir, env: { ...env, WATT_PSEUDONYMISATION_KEY: K2 } });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(keyIdOf(Buffer.from(K1, 'utf8')));
    expect(refused.stderr).toContain('nothing was changed');
    expect(refused.stderr).not.toContain(RAW);
    expect(snapshot()).toEqual(untouched);

    // 2a. The previous key in WATT_PSEUDONYMISATION_PREVIOUS_KEYS: a dry run finds every row.
    const viaEnv = await runWatt(['purge', '--subject', RAW, '--dry-run', '--json'], { cwd: dir, env: { ...env, WATT_PSEUDONYMISATION_KEY: K2, WATT_PSEUDONYMISATION_PREVIOUS_KEYS: `${K1}` } });
    expect(viaEnv.code).toBe(0);
    expect(JSON.parse(viaEnv.stdout).rows_removed).toBe(5);
    expect(snapshot()).toEqual(untouched);

    // 2. The previous key in the keyring folder: every row of the subject goes, under both keys.
    mkdirSync(path.join(env.WATT_HOME, 'keys'), { recursive: true, mode: 0o700 });
    writeFileSync(path.join(env.WATT_HOME, 'keys', 'january.key'), K1 + '\n', { mode: 0o600 });
    const done = await runWatt(['purge', '--subject', ` ${RAW}\t`, '--json'], { cwd: dir, env: { ...env, WATT_PSEUDONYMISATION_KEY: K2 } });
    expect(done.stderr).not.toMatch(/internal error/);
    expect(done.code).toBe(0);
    const result = JSON.parse(done.stdout);
    expect(result.rows_removed).toBe(5);
    expect(result.objects_deleted).toBe(1);
    expect(result.keys.map((k: { key_id: string }) => k.key_id).sort()).toEqual([keyIdOf(Buffer.from(K1, 'utf8')), keyIdOf(Buffer.from(K2, 'utf8'))].sort());

    // No raw id anywhere: lake objects and keys, manifests, logs, catalog (raw bytes), trail, spool.
    const hits = [...files(lakeDir), ...files(path.join(dir, 'logs')), ...files(env.WATT_HOME)].filter((f) => f.includes(RAW) || readFileSync(f).includes(Buffer.from(RAW)));
    expect(hits).toEqual([]);

    // Every other row byte-identical, in the objects' copies (one per object ingest landed).
    const after = lakeRows(lakeDir);
    const subjectIds = new Set(['J-1', 'J-3', 'F-2', 'S-1', 'S-2']);
    const expected = new Map([...before].map(([k, rows]) => [k, rows.filter((r) => !subjectIds.has(r.split(',')[0]!))] as const).filter(([, rows]) => rows.length > 0));
    expect(after).toEqual(expected);

    // The trail is anchored in the lake and verifies; `watt verify` agrees.
    expect(result.trail_anchor.key).toMatch(/\/_audit\/.+\.json$/);
    expect((await runWatt(['purge', '--verify-trail'], { cwd: dir, env })).code).toBe(0);
    const verify = await runWatt(['verify', '--json'], { cwd: dir, env });
    expect(JSON.parse(verify.stdout)).toMatchObject({ ok: true, trail: { status: 'ok', anchors_checked: 1 } });
  }, 90_000);
});
