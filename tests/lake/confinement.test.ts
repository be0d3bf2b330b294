/**
 * Locks, concurrency and the local lake's root (issue 8, items 8 and 9), with the real CLI:
 * - ingest and purge through a symlinked WATT_LAKE_ROOT exclude each other (exit 4);
 * - six ingests at once into a fresh WATT_HOME all succeed (catalog migrations under BEGIN IMMEDIATE);
 * - a partition or prefix folder that is a symlink leading outside the lake root is refused
 *   (exit 2) by ingest, purge (age and erasure) and verify, and nothing outside is read, written or deleted;
 * - SIGTERM / SIGINT end a purge and a verify within 2 s (143 / 130), lock released, even while
 *   the store stalls (a proxy holding reads on 127.0.0.1 in front of s3rver).
 * Needs the build (dist/).
 */
import path from 'node:path';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync, createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { BIN, runWatt, scratchDir } from '../helpers/cli.js';
import { FIXTURES, KEY, SUBJECT, ingest, wattEnv } from '../retention/helpers.js';
import { startS3 } from '../helpers/servers.js';
import { startDroppingProxy } from '../helpers/dropping-proxy.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const HEADER = 'record_id,customer_id,meter_id,reading_ts,consumption_kwh,tariff_eur_kwh,is_peak';

/** A readings file of `rows` rows (one customer in ten is the test subject). */
async function bigFile(file: string, rows: number): Promise<void> {
  const out = createWriteStream(file);
  out.write(HEADER + '\n');
  for (let i = 0; i < rows; i++) {
    if (!out.write(`R-${i},${i % 10 === 0 ? SUBJECT : `CUST-${i % 5000}`},METER-${i % 5000},2025-02-01T08:00:00Z,${(i % 97) / 10},0.18,false\n`)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

function setup(): { dir: string; env: Record<string, string> } {
  const dir = scratchDir('watt-confine-');
  dirs.push(dir);
  return { dir, env: wattEnv(dir) };
}

/** Spawn watt without waiting; resolves its exit code and the time from `signalAt` to exit. */
function spawnWatt(args: string[], cwd: string, env: Record<string, string>) {
  const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1', ...env } as NodeJS.ProcessEnv });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  child.stdout.resume();
  const exited = new Promise<{ code: number | null; stderr: string; at: number }>((resolve) => child.on('close', (code) => resolve({ code, stderr, at: Date.now() })));
  return { child, exited };
}

async function waitFor(predicate: () => boolean, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}

function lockNamesHeld(home: string): string[] {
  const dir = path.join(home, 'locks');
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((f) => {
    try {
      return [JSON.parse(readFileSync(path.join(dir, f), 'utf8')).name as string];
    } catch {
      return [];
    }
  });
}

describe('locks on the real lake location', () => {
  it('a purge through a symlinked WATT_LAKE_ROOT is refused (exit 4) while an ingest runs through the real path', async () => {
    const { dir, env } = setup();
    const source = path.join(dir, 'big.csv');
    await bigFile(source, 300_000);
    mkdirSync(path.join(dir, 'lake'));
    symlinkSync(path.join(dir, 'lake'), path.join(dir, 'lake-link'));
    const ingest = spawnWatt(['ingest', '--source', source, '--date', '2025-02-01'], dir, env);
    await waitFor(() => lockNamesHeld(env.WATT_HOME!).some((n) => n.startsWith('ingest:')));
    const purge = await runWatt(['purge', '--subject', SUBJECT], { cwd: dir, env: { ...env, WATT_LAKE_ROOT: path.join(dir, 'lake-link') } });
    const ingested = await ingest.exited;
    expect(ingested.code).toBe(0);
    expect(purge.code).toBe(4);
    expect(purge.stderr).toMatch(/an ingest into .* is running/);
  }, 120_000);
});

describe('catalog set-up under concurrency', () => {
  it('six ingests at once into a fresh WATT_HOME all succeed', async () => {
    for (let round = 0; round < 2; round++) {
      const { dir, env } = setup();
      const files = ['mixed-a.csv', 'mixed-b.csv', 'other.csv', 'only-subject.csv'].map((f) => path.join(FIXTURES, f));
      for (let i = 0; i < 2; i++) {
        const copy = path.join(dir, `extra-${i}.csv`);
        writeFileSync(copy, readFileSync(files[i]!, 'utf8').replace(/\n(\w)-/g, `\n$1${i}X-`));
        files.push(copy);
      }
      const results = await Promise.all(files.map((f) => runWatt(['ingest', '--source', f, '--date', '2025-02-01'], { cwd: dir, env })));
      for (const r of results) {
        expect(r.stderr).not.toMatch(/already exists|SQLITE_BUSY|locked/);
        expect(r.code).toBe(0);
      }
    }
  }, 120_000);
});

describe('the local lake stays inside its root', () => {
  function withOutside(): { dir: string; env: Record<string, string>; outside: string; prefixDir: string } {
    const { dir, env } = setup();
    const outside = path.join(dir, 'outside');
    mkdirSync(outside);
    writeFileSync(path.join(outside, 'precious.txt'), 'not lake data\n');
    return { dir, env, outside, prefixDir: path.join(dir, 'lake', 'watt-lake', 'watt-about-it', 'raw') };
  }

  it('a partition folder that is a symlink to outside: ingest refuses (exit 2) and writes nothing there', async () => {
    const { dir, env, outside, prefixDir } = withOutside();
    mkdirSync(prefixDir, { recursive: true });
    symlinkSync(outside, path.join(prefixDir, '2025'));
    const r = await runWatt(['ingest', '--source', path.join(FIXTURES, 'mixed-a.csv'), '--date', '2025-02-01'], { cwd: dir, env });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/symlink leading outside the lake/);
    expect(readdirSync(outside)).toEqual(['precious.txt']);
  });

  it('a prefix folder that is a symlink to outside: purge by age, erasure and verify refuse (exit 2); nothing outside is deleted or rewritten', async () => {
    const { dir, env, outside, prefixDir } = withOutside();
    // A data object outside the root, reachable through the symlinked prefix folder.
    mkdirSync(path.join(outside, '2020', '01', '01'), { recursive: true });
    const victim = path.join(outside, '2020', '01', '01', 'x_20200101T000000Z-aaaaaa.csv');
    writeFileSync(victim, `${HEADER}\nA-1,${'a'.repeat(64)},m,2020-01-01T00:00:00Z,1,0.1,false\n`);
    mkdirSync(path.dirname(prefixDir), { recursive: true });
    symlinkSync(outside, prefixDir);
    for (const args of [['purge', '--days', '1', '--yes'], ['purge', '--subject', SUBJECT], ['verify'], ['verify', '--repair']]) {
      const r = await runWatt(args, { cwd: dir, env: { ...env, WATT_PSEUDONYMISATION_KEY: KEY } });
      expect([args.join(' '), r.code]).toEqual([args.join(' '), 2]);
      expect(r.stderr).toMatch(/symlink leading outside the lake/);
    }
    expect(existsSync(victim)).toBe(true);
    expect(readFileSync(path.join(outside, 'precious.txt'), 'utf8')).toBe('not lake data\n');
  }, 60_000);

  it('a symlink to outside deeper in the lake: the erasure refuses rather than missing it', async () => {
    const { dir, env, outside, prefixDir } = withOutside();
    mkdirSync(path.join(prefixDir, '2025'), { recursive: true });
    symlinkSync(outside, path.join(prefixDir, '2025', '03'));
    const r = await runWatt(['purge', '--subject', SUBJECT], { cwd: dir, env });
    expect(r.code).toBe(2);
    expect(readdirSync(outside)).toEqual(['precious.txt']);
  });
});

describe('signals', () => {
  let server: Awaited<ReturnType<typeof startS3>>;
  beforeAll(async () => {
    server = await startS3(['watt-lake']);
  });
  afterAll(async () => {
    await server?.stop();
  });

  it.each([
    ['purge --subject', 'SIGTERM', 143, ['purge', '--subject', SUBJECT]],
    ['verify', 'SIGTERM', 143, ['verify']],
    ['verify --repair', 'SIGINT', 130, ['verify', '--repair']],
  ] as const)('%s on a store that stalls: %s ends it within 2 s (exit %s) and releases the lock', async (_label, sig, code, args) => {
    const { dir, env: base } = setup();
    const env: Record<string, string> = { ...base, ...server.env, DATA_LAKE_PREFIX: `sig-${args.join("-")}/raw` };
    await ingest(dir, env, 'mixed-a.csv', '2025-01-01');
    await ingest(dir, env, 'other.csv', '2025-01-02');
    // The store answers reads of data objects only after 20 s: the run is surely mid-way when the signal comes.
    const proxy = await startDroppingProxy(server.endpoint, () => false);
    proxy.stall((method, p) => method === 'GET' && p.split('?')[0]!.endsWith('.csv'), 20_000);
    try {
      const run = spawnWatt([...args], dir, { ...env, AWS_ENDPOINT_URL_S3: proxy.endpoint });
      await waitFor(() => proxy.stalled.length > 0);
      const sent = Date.now();
      run.child.kill(sig);
      const done = await run.exited;
      expect(done.code).toBe(code);
      expect(done.at - sent).toBeLessThan(2000);
      expect(lockNamesHeld(env.WATT_HOME!)).toEqual([]);
    } finally {
      await proxy.stop();
    }
  }, 60_000);
});
