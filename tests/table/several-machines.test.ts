/**
 * One lake, two machines (two WATT_HOMEs, one lake), through the real CLI (run `npm run build`
 * first): the landing claim lets exactly one of two runs of the same file commit it (local lake
 * and Azurite); purge and erasure on one machine never touch the other's unfinished run; an ingest
 * whose object changed before its manifest commits nothing (exit 3).
 *
 * Races are made exact with the `ingest:before-commit` pause point: both runs write their objects,
 * pause, and are resumed together (within 50 ms), then race for the commit.
 */
import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, utimesSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { scratchDir } from '../helpers/cli.js';
import { raceSource, start, twoMachines, until, type Machine, type Running } from '../helpers/machines.js';
import { dataFiles } from '../helpers/machines.js';
import { startAzurite, startS3, type AzureServer, type S3Server } from '../helpers/servers.js';
import { FIXTURES, KEY, PREFIX, SUBJECT, lakeFor, snapshot } from '../retention/helpers.js';
import { Pseudonymiser } from '../../src/records/pseudonymise.js';
import { jest } from '@jest/globals';

jest.setTimeout(600_000);

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** Two machines sharing the lake of `dir` (or the remote lake of `lakeEnv`). */
const machines = (dir: string, lakeEnv: Record<string, string> = {}): [Machine, Machine] => twoMachines(dir, lakeEnv);

/** Run both machines on one source, paused before the commit and resumed together. */
async function race(dir: string, pair: [Machine, Machine], source: string, i: number): Promise<{ code: number | null; stdout: string; stderr: string }[]> {
  const resume = path.join(dir, `resume-${i}`);
  const pause = { WATT_PAUSEPOINT: 'ingest:before-commit', WATT_PAUSEPOINT_RESUME: resume };
  const runs = pair.map((m) => start(m, ['ingest', '--source', source, '--date', '2025-02-01', '--json'], dir, pause));
  await until(`race ${i} to pause`, () => runs.every((r) => r.stderr().includes('paused at ingest:before-commit') || r.stderr().includes('error')));
  writeFileSync(resume, '');
  return Promise.all(runs.map((r) => r.done));
}

async function racesLandOnce(lakeEnv: Record<string, string>): Promise<void> {
  const dir = scratchDir('watt-machines-');
  dirs.push(dir);
  const pair = machines(dir, lakeEnv);
  const RACES = 20;
  for (let i = 0; i < RACES; i++) {
    const results = await race(dir, pair, raceSource(dir, i), i);
    for (const r of results) expect(r.code).toBe(0);
    const statuses = results.map((r) => JSON.parse(r.stdout).status).sort();
    expect(statuses).toEqual(['skipped', 'succeeded']);
  }
  const lake = await lakeFor(pair[0].env);
  const snap = await snapshot(lake);
  await lake.close();
  // Each source landed once: 20 manifests, 40 rows each, no record id twice, nothing left over.
  expect(snap.keys.filter((k) => k.includes('/_manifests/'))).toHaveLength(RACES);
  expect(snap.recordIds).toHaveLength(RACES * 40);
  expect(new Set(snap.recordIds).size).toBe(RACES * 40);
  expect(snap.inconsistent).toEqual([]);
  const dataKeys = snap.keys.filter((k) => /\/\d{4}\/\d{2}\/\d{2}\//.test(k));
  expect(dataKeys).toHaveLength(RACES); // --date: one object per run
}

describe('several machines on one lake', () => {
  it('20 races of the same file from two WATT_HOMEs on the local lake: each lands once', async () => {
    await racesLandOnce({});
  });

  describe('on Azurite', () => {
    let az: AzureServer;
    beforeAll(async () => {
      az = await startAzurite(['watt-lake']);
    });
    afterAll(async () => {
      await az?.stop();
    });
    it('20 races of the same file from two WATT_HOMEs: each lands once (Blob If-None-Match)', async () => {
      await racesLandOnce(az.env);
    });
  });
});

describe('purge and erasure on one machine never touch the other machine\'s unfinished run (local lake)', () => {
  const pseudonym = new Pseudonymiser(Buffer.from(KEY, 'utf8'), 'hmac-sha256-128-b64url').pseudonym(SUBJECT);

  /** Machine A starts an ingest of a retention fixture and pauses with its object written, before its manifest. */
  async function pausedIngest(dir: string, a: Machine, file: string, date: string): Promise<{ run: Running; resume: () => void }> {
    const resume = path.join(dir, `resume-${file}`);
    const run = start(a, ['ingest', '--source', path.join(FIXTURES, file), '--date', date, '--json'], dir, { WATT_PAUSEPOINT: 'ingest:before-commit', WATT_PAUSEPOINT_RESUME: resume });
    await until('the ingest to pause', () => run.stderr().includes('paused at ingest:before-commit'));
    return { run, resume: () => writeFileSync(resume, '') };
  }

  it('purge --days 30 on B keeps A\'s unmanifested object of 2020 (seconds old), deletes an old orphan by its store time; A then commits', async () => {
    const dir = scratchDir('watt-machines-');
    dirs.push(dir);
    const [a, b] = machines(dir);
    const paused = await pausedIngest(dir, a, 'mixed-a.csv', '2020-01-01');
    const [object] = dataFiles(dir);
    expect(object).toContain('/2020/01/01/');
    // A crashed run's leftover: no manifest, written 2 hours ago by the store's clock.
    const orphan = path.join(dir, 'lake', 'watt-lake', PREFIX, '2025', '03', '01', 'lost_20250301T000000Z-deadbeef.csv');
    mkdirSync(path.dirname(orphan), { recursive: true });
    writeFileSync(orphan, 'record_id\nX\n');
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
    utimesSync(orphan, twoHoursAgo, twoHoursAgo);

    const purge = await start(b, ['purge', '--days', '30', '--json'], dir).done;
    expect(purge.code).toBe(0);
    expect(existsSync(object!)).toBe(true);
    expect(existsSync(orphan)).toBe(false);

    paused.resume();
    const r = await paused.run.done;
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).status).toBe('succeeded');
    const lake = await lakeFor(a.env);
    expect((await snapshot(lake)).inconsistent).toEqual([]);
    await lake.close();
  });

  it('erasure on B leaves A\'s unfinished object alone (reported), A commits with a true hash, and the erasure run again removes every row of the subject', async () => {
    const dir = scratchDir('watt-machines-');
    dirs.push(dir);
    const [a, b] = machines(dir);
    const paused = await pausedIngest(dir, a, 'mixed-a.csv', '2025-02-01');
    const [object] = dataFiles(dir);
    const before = readFileSync(object!, 'utf8');

    const erase = await start(b, ['purge', '--subject', '-', '--json'], dir, {}, `${SUBJECT}\n`).done;
    expect(erase.code).toBe(0);
    expect(JSON.parse(erase.stdout)).toMatchObject({ rows_removed: 0, objects_unfinished: 1 });
    expect(erase.stderr).toContain('named by no manifest');
    expect(readFileSync(object!, 'utf8')).toBe(before);

    paused.resume();
    const r = await paused.run.done;
    expect(r.code).toBe(0);
    const lake = await lakeFor(a.env);
    expect((await snapshot(lake)).inconsistent).toEqual([]);
    expect((await snapshot(lake)).customers).toContain(pseudonym);

    const again = await start(b, ['purge', '--subject', '-', '--json'], dir, {}, `${SUBJECT}\n`).done;
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout).rows_removed).toBeGreaterThan(0);
    const after = await snapshot(lake);
    expect(after.customers).not.toContain(pseudonym);
    expect(after.inconsistent).toEqual([]);
    await lake.close();
  });

  it('an object changed under an unfinished ingest: exit 3, no manifest, its objects removed', async () => {
    const dir = scratchDir('watt-machines-');
    dirs.push(dir);
    const [a] = machines(dir);
    const paused = await pausedIngest(dir, a, 'mixed-a.csv', '2025-02-01');
    const [object] = dataFiles(dir);
    appendFileSync(object!, 'FORGED,row\n');
    paused.resume();
    const r = await paused.run.done;
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/changed in the lake before its manifest \(size differs/);
    expect(existsSync(path.join(dir, 'lake', 'watt-lake', PREFIX, '_manifests'))).toBe(false);
    expect(dataFiles(dir)).toEqual([]);
    // The claim was never taken (the check comes first): a new run lands the file at once.
    const again = await start(a, ['ingest', '--source', path.join(FIXTURES, 'mixed-a.csv'), '--date', '2025-02-01', '--json'], dir).done;
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout).status).toBe('succeeded');
  });

  it('an object rewritten under an unfinished ingest with the same size (in place, then replaced by rename): exit 3 each time, nothing committed', async () => {
    // The local lake compares the file's identity (inode, size, mtime, ctime) before re-hashing:
    // same-size rewrites must still be caught, whether written in place or swapped in by rename.
    const dir = scratchDir('watt-machines-');
    dirs.push(dir);
    const [a] = machines(dir);
    for (const how of ['in place', 'rename'] as const) {
      const paused = await pausedIngest(dir, a, 'mixed-a.csv', '2025-02-01');
      const [object] = dataFiles(dir);
      const bytes = readFileSync(object!);
      bytes[bytes.length - 2] = bytes[bytes.length - 2] === 0x31 ? 0x32 : 0x31;
      if (how === 'in place') {
        const fd = openSync(object!, 'r+');
        writeSync(fd, bytes, bytes.length - 2, 1, bytes.length - 2);
        closeSync(fd);
      } else {
        writeFileSync(object! + '.new', bytes);
        renameSync(object! + '.new', object!);
      }
      paused.resume();
      const r = await paused.run.done;
      expect([how, r.code]).toEqual([how, 3]);
      expect(r.stderr).toMatch(/changed in the lake before its manifest \(sha256 differs/);
      expect(existsSync(path.join(dir, 'lake', 'watt-lake', PREFIX, '_manifests'))).toBe(false);
      rmSync(path.join(dir, `resume-mixed-a.csv`), { force: true });
    }
  });
});

describe('an S3 endpoint that ignores If-None-Match (s3rver)', () => {
  let s3: S3Server;
  beforeAll(async () => {
    s3 = await startS3(['watt-lake']);
  });
  afterAll(async () => {
    await s3?.stop();
  });

  it('is detected by the probe and every ingest warns that the claim cannot stop a double landing; declared off, it is said at info level only', async () => {
    const dir = scratchDir('watt-machines-');
    dirs.push(dir);
    const [a] = machines(dir, { ...s3.env, WATT_S3_CONDITIONAL_WRITES: 'auto' });
    const r = await start(a, ['ingest', '--source', raceSource(dir, 0), '--json'], dir).done;
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/ignores If-None-Match/);
    const declared = await start(a, ['ingest', '--source', raceSource(dir, 1), '--json'], dir, { WATT_S3_CONDITIONAL_WRITES: 'off' }).done;
    expect(declared.code).toBe(0);
    expect(declared.stderr).toBe('');
    const bad = await start(a, ['ingest', '--source', raceSource(dir, 2), '--json'], dir, { WATT_S3_CONDITIONAL_WRITES: 'maybe' }).done;
    expect(bad.code).toBe(2);
  });
});
