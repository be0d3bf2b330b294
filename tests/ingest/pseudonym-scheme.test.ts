/**
 * Pseudonym schemes (issue 23 item 4), with the real CLI on local lakes: v2 pseudonyms are the
 * first 128 bits of HMAC-SHA256 in base64url (22 characters) and a new lake prefix gets them; a
 * prefix whose runs are v1 (64 hex characters, or manifests that record no scheme, as watt wrote
 * before v2) keeps v1 run after run; a different scheme needs `--new-key` (the rotation), which
 * lands v2; the manifest records the scheme of every run; `watt purge --subject` erases the
 * subject from the v1 and the v2 runs of one prefix. Needs the build (dist/).
 */
import path from 'node:path';
import { createHmac } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import Database from 'better-sqlite3';
import { runWatt, scratchDir, filesUnder } from '../helpers/cli.js';
import { parsePseudonymScheme, pseudonymOf, Pseudonymiser } from '../../src/records/pseudonymise.js';

const KEY = 'k'.repeat(16) + '0123456789abcdef'.repeat(3);
const SUBJECT = 'CUST-SCHEME-5';
const HEADER = 'record_id,customer_id,meter_id,reading_ts,consumption_kwh,tariff_eur_kwh,is_peak';
const V1 = /^[0-9a-f]{64}$/;
const V2 = /^[A-Za-z0-9_-]{22}$/;
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const files = filesUnder;

describe('pseudonym schemes (unit)', () => {
  const key = Buffer.from(KEY, 'utf8');
  it('v2 is the first 128 bits of the v1 HMAC, in base64url: 22 characters of A-Z a-z 0-9 - _', () => {
    const v1 = new Pseudonymiser(key, 'hmac-sha256').pseudonym(SUBJECT);
    const v2 = new Pseudonymiser(key, 'hmac-sha256-128-b64url').pseudonym(SUBJECT);
    expect(v1).toMatch(V1);
    expect(v2).toMatch(V2);
    expect(v1).toBe(createHmac('sha256', key).update(SUBJECT).digest('hex'));
    expect(Buffer.from(v2, 'base64url').toString('hex')).toBe(v1.slice(0, 32));
    // Many identifiers: always 22 characters of the URL-safe alphabet, never padding, all distinct.
    const many = Array.from({ length: 5000 }, (_, i) => pseudonymOf(key, 'hmac-sha256-128-b64url', `CUST-${i}`));
    for (const p of many) expect(p).toMatch(V2);
    expect(new Set(many).size).toBe(many.length);
    expect(many.some((p) => p.includes('-') || p.includes('_'))).toBe(true);
  });
  it('the memo answers what the HMAC answers, across growth, resets and FNV hash collisions, for any text', () => {
    // A small memo (resets every 700 entries) over 3,000 identifiers seen in a shuffled order, three
    // times: every answer is the HMAC of the identifier asked for.
    const memo = new Pseudonymiser(key, 'hmac-sha256-128-b64url', 700);
    const ids = Array.from({ length: 3000 }, (_, i) => (i % 3 === 0 ? `PRM ${String(i).padStart(14, '0')}` : i % 3 === 1 ? `Zoë-${i}-日本` : `c${i}`));
    let state = 12345;
    const next = () => ((state = (Math.imul(state, 1103515245) + 12345) >>> 0), state);
    for (let round = 0; round < 3; round++) {
      for (let k = 0; k < ids.length; k++) {
        const id = ids[next() % ids.length]!;
        expect(memo.pseudonym(id)).toBe(pseudonymOf(key, 'hmac-sha256-128-b64url', id));
      }
    }
    expect(memo.size).toBeLessThanOrEqual(700);
    // Two identifiers with the same FNV-1a hash (found by search) get their own pseudonyms.
    const fnv = (s: string) => {
      let h = 0x811c9dc5;
      for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
      return h | 1;
    };
    const seen = new Map<number, string>();
    let pair: [string, string] | undefined;
    for (let i = 0; !pair; i++) {
      const s = `id${i}`;
      const h = fnv(s);
      const other = seen.get(h);
      if (other !== undefined) pair = [other, s];
      else seen.set(h, s);
    }
    const both = new Pseudonymiser(key, 'hmac-sha256');
    expect([both.pseudonym(pair[0]), both.pseudonym(pair[1]), both.pseudonym(pair[0])]).toEqual([pseudonymOf(key, 'hmac-sha256', pair[0]), pseudonymOf(key, 'hmac-sha256', pair[1]), pseudonymOf(key, 'hmac-sha256', pair[0])]);
  });
  it('scheme names: v1, v2 or the full name; anything else is a usage error', () => {
    expect(parsePseudonymScheme('v1')).toBe('hmac-sha256');
    expect(parsePseudonymScheme('V2')).toBe('hmac-sha256-128-b64url');
    expect(parsePseudonymScheme('hmac-sha256-128-b64url')).toBe('hmac-sha256-128-b64url');
    expect(() => parsePseudonymScheme('md5')).toThrow(/unknown pseudonym scheme/);
  });
});

describe('watt ingest and purge --subject across pseudonym schemes', () => {
  let dir = '';
  let env: Record<string, string> = {};
  let src = '';
  const lakeDir = () => path.join(dir, 'lake');
  const row = (id: string, customer: string, meter: string) => `${id},${customer},${meter},2025-03-01T08:00:00Z,3.5,0.2,false`;
  const source = (name: string, rows: string[]) => {
    const file = path.join(src, name);
    writeFileSync(file, [HEADER, ...rows].join('\n') + '\n');
    return file;
  };
  const ingest = (file: string, prefix: string, extra: string[] = []) =>
    runWatt(['ingest', '--source', file, '--prefix', prefix, '--date', '2025-03-01', '--json', ...extra], { cwd: dir, env });
  const manifests = (prefix: string) =>
    files(lakeDir())
      .filter((f) => f.includes(`/${prefix}/_manifests/`) && f.endsWith('.json'))
      .map((f) => ({ file: f, m: JSON.parse(readFileSync(f, 'utf8')) as { run_id: string; finished_at: string; pseudonymisation: { pseudonym_scheme?: string }; objects: { uri: string }[] } }))
      // In landing order (run ids of the same second sort by their random part).
      .sort((a, b) => (a.m.finished_at < b.m.finished_at ? -1 : a.m.finished_at > b.m.finished_at ? 1 : 0));
  /** The customer_id cells of one run's data objects (csv-parse). */
  const customers = (m: { objects: { uri: string }[] }) =>
    m.objects.flatMap((o) => (parse(readFileSync(fileURLToPath(o.uri), 'utf8'), { columns: true }) as { customer_id: string }[]).map((r) => r.customer_id));

  beforeAll(() => {
    dir = scratchDir('watt-scheme-');
    dirs.push(dir);
    env = { WATT_HOME: path.join(dir, '.watt'), WATT_LAKE_ROOT: lakeDir(), WATT_LOG_DIR: path.join(dir, 'logs'), WATT_PSEUDONYMISATION_KEY: KEY };
    src = path.join(dir, 'sources');
    mkdirSync(src);
  });

  it('a new prefix gets v2: 22-character pseudonyms, the manifest records hmac-sha256-128-b64url', async () => {
    const r = await ingest(source('new.csv', [row('N-1', SUBJECT, 'M-1'), row('N-2', 'CUST-OTHER', 'M-2')]), 'fresh/raw');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).pseudonym_scheme).toBe('hmac-sha256-128-b64url');
    const [{ m }] = manifests('fresh/raw');
    expect(m!.pseudonymisation.pseudonym_scheme).toBe('hmac-sha256-128-b64url');
    const cells = customers(m!);
    for (const c of cells) expect(c).toMatch(V2);
    expect(cells).toContain(new Pseudonymiser(Buffer.from(KEY), 'hmac-sha256-128-b64url').pseudonym(SUBJECT));
  });

  it('a v1 lake (manifests before schemes) keeps v1; another scheme needs --new-key; the rotation lands v2; erasure removes the subject from both', async () => {
    const prefix = 'old/raw';
    // A lake as watt wrote it before v2: v1 pseudonyms, manifests that record no scheme.
    const first = await ingest(source('jan.csv', [row('J-1', SUBJECT, 'M-1'), row('J-2', 'CUST-OTHER', 'M-2')]), prefix, ['--pseudonym-scheme', 'v1']);
    expect(first.code).toBe(0);
    for (const { file, m } of manifests(prefix)) {
      expect(m.pseudonymisation.pseudonym_scheme).toBe('hmac-sha256');
      delete m.pseudonymisation.pseudonym_scheme;
      writeFileSync(file, JSON.stringify(m, null, 2) + '\n');
    }

    // New runs keep v1 (and record it).
    const second = await ingest(source('feb.csv', [row('F-1', 'CUST-OTHER', 'M-2'), row('F-2', SUBJECT, 'M-1')]), prefix);
    expect(second.code).toBe(0);
    expect(JSON.parse(second.stdout).pseudonym_scheme).toBe('hmac-sha256');
    let runs = manifests(prefix);
    expect(runs.map((r) => r.m.pseudonymisation.pseudonym_scheme)).toEqual([undefined, 'hmac-sha256']);
    for (const r of runs) for (const c of customers(r.m)) expect(c).toMatch(V1);

    // v2 without --new-key: refused, nothing landed (a prefix never mixes schemes).
    const mixed = await ingest(source('mar.csv', [row('S-1', SUBJECT, 'M-1'), row('S-2', 'CUST-THIRD', 'M-3')]), prefix, ['--pseudonym-scheme', 'v2']);
    expect(mixed.code).toBe(2);
    expect(mixed.stderr).toMatch(/never mixes schemes/);
    expect(mixed.stderr).toMatch(/--new-key/);
    expect(manifests(prefix)).toHaveLength(2);

    // The rotation: --new-key with the same key moves the prefix to v2, said in the output and the manifest.
    const rotated = await ingest(path.join(src, 'mar.csv'), prefix, ['--new-key']);
    expect(rotated.code).toBe(0);
    const out = JSON.parse(rotated.stdout);
    expect(out).toMatchObject({ pseudonym_scheme: 'hmac-sha256-128-b64url', rotated_from_scheme: 'hmac-sha256' });
    expect(rotated.stderr).toMatch(/pseudonym scheme rotation/);
    // The audit trail records the rotation with both schemes.
    const db = new Database(path.join(env.WATT_HOME!, 'catalog.db'), { readonly: true });
    const entries = db.prepare("SELECT run_id, detail FROM audit_log WHERE action = 'key.rotation'").all() as { run_id: string; detail: string }[];
    db.close();
    expect(entries).toHaveLength(1);
    expect(entries[0]!.run_id).toBe(out.run_id);
    expect(JSON.parse(entries[0]!.detail)).toMatchObject({ from_scheme: 'hmac-sha256', to_scheme: 'hmac-sha256-128-b64url' });
    // After the rotation the prefix is v2: the next run follows without any flag.
    const after = await ingest(source('apr.csv', [row('A-1', SUBJECT, 'M-1')]), prefix);
    expect(after.code).toBe(0);
    runs = manifests(prefix);
    expect(runs.map((r) => r.m.pseudonymisation.pseudonym_scheme)).toEqual([undefined, 'hmac-sha256', 'hmac-sha256-128-b64url', 'hmac-sha256-128-b64url']);
    for (const r of runs.slice(2)) for (const c of customers(r.m)) expect(c).toMatch(V2);

    // Erasure: the subject's v1 pseudonym in the first two runs, its v2 pseudonym in the last two.
    const v1 = new Pseudonymiser(Buffer.from(KEY), 'hmac-sha256').pseudonym(SUBJECT);
    const v2 = new Pseudonymiser(Buffer.from(KEY), 'hmac-sha256-128-b64url').pseudonym(SUBJECT);
    const before = runs.flatMap((r) => customers(r.m));
    expect(before.filter((c) => c === v1)).toHaveLength(2);
    expect(before.filter((c) => c === v2)).toHaveLength(2);
    const erased = await runWatt(['purge', '--subject', SUBJECT, '--prefix', prefix, '--yes', '--json'], { cwd: dir, env });
    expect(erased.stderr).not.toContain(SUBJECT);
    expect(erased.code).toBe(0);
    const result = JSON.parse(erased.stdout);
    expect(result.rows_removed).toBe(4);
    expect(result.keys.map((k: { pseudonym_scheme: string }) => k.pseudonym_scheme).sort()).toEqual(['hmac-sha256', 'hmac-sha256-128-b64url']);
    const left = manifests(prefix).flatMap((r) => customers(r.m));
    expect(left).not.toContain(v1);
    expect(left).not.toContain(v2);
    expect(left).toHaveLength(before.length - 4);
    for (const f of files(lakeDir())) expect(readFileSync(f, 'utf8')).not.toContain(SUBJECT);
  });
  it('a key rotation of a v1 lake lands v2 under the new key; erasure with the old key kept removes the subject from both', async () => {
    const prefix = 'rotated/raw';
    const K2 = 'z'.repeat(16) + 'fedcba9876543210'.repeat(3);
    const first = await ingest(source('k1.csv', [row('K-1', SUBJECT, 'M-1'), row('K-2', 'CUST-OTHER', 'M-2')]), prefix, ['--pseudonym-scheme', 'v1']);
    expect(first.code).toBe(0);
    const newEnv = { ...env, WATT_PSEUDONYMISATION_KEY: K2 };
    const rotated = await runWatt(['ingest', '--source', source('k2.csv', [row('L-1', SUBJECT, 'M-1')]), '--prefix', prefix, '--date', '2025-03-01', '--json', '--new-key'], { cwd: dir, env: newEnv });
    expect(rotated.code).toBe(0);
    expect(JSON.parse(rotated.stdout)).toMatchObject({ pseudonym_scheme: 'hmac-sha256-128-b64url', rotated_from_scheme: 'hmac-sha256' });
    expect(rotated.stderr).toMatch(/key rotation: .* and from scheme v1 \(hmac-sha256\) to v2 \(hmac-sha256-128-b64url\)/);
    const runs = manifests(prefix);
    expect(customers(runs[1]!.m)).toEqual([new Pseudonymiser(Buffer.from(K2), 'hmac-sha256-128-b64url').pseudonym(SUBJECT)]);
    // Without the old key: exit 2, nothing changed; with it: both runs lose the subject.
    const refused = await runWatt(['purge', '--subject', SUBJECT, '--prefix', prefix, '--yes', '--json'], { cwd: dir, env: newEnv });
    expect(refused.code).toBe(2);
    const erased = await runWatt(['purge', '--subject', SUBJECT, '--prefix', prefix, '--yes', '--json'], { cwd: dir, env: { ...newEnv, WATT_PSEUDONYMISATION_PREVIOUS_KEYS: KEY } });
    expect(erased.code).toBe(0);
    const result = JSON.parse(erased.stdout);
    expect(result.rows_removed).toBe(2);
    expect(result.keys.map((k: { pseudonym_scheme: string }) => k.pseudonym_scheme).sort()).toEqual(['hmac-sha256', 'hmac-sha256-128-b64url']);
    expect(manifests(prefix).flatMap((r) => customers(r.m))).toHaveLength(1);
  });
});
