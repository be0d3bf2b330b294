/**
 * Issue 22, item 2: nothing raw outlives a process on disk. Reproduced for real: the CLI is
 * spawned on a generated export big enough for its spool files to exist for a while, killed with
 * SIGKILL as soon as they appear (partition spools of a CSV lake, per-day `.rows` spools of a
 * Parquet lake, the quarantine file of a run checking its primary key), then every byte of
 * WATT_HOME and of the OS temp folder the run was given is searched for raw subject identifiers
 * and raw values: none. A rerun then lands the export exactly once, and its recovery removes the
 * killed run's leftovers.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { BIN, ROOT, runWatt, scratchDir } from '../helpers/cli.js';

const SAMPLE = path.join(ROOT, 'samples', 'sample_energy_consumption.csv');
const HEADER = readFileSync(SAMPLE, 'utf8').split('\n')[0]!;

/** Raw strings that only the source holds: identifiers (personal and not) and one raw value. */
const RAW_CUSTOMER = 'CUST-RAW-';
const RAW_METER = 'PDL-RAW-';
const RAW_RECORD = 'REC-RAW-';
const RAW_TARIFF = '0.18731';
const RAW_BAD_VALUE = 'BAD-RAW-KWH';
const NEEDLES = [RAW_CUSTOMER, RAW_METER, RAW_RECORD, RAW_TARIFF, RAW_BAD_VALUE];

/**
 * An export of `rows` readings over `days` days in random customer order (seeded shuffle), as
 * exports sorted by time across many meters come. `bad`: every 50th row has a value that fails
 * validation (a raw cell kept in the quarantine file).
 */
function exportCsv(file: string, rows: number, days: number, bad = false): void {
  const order = Array.from({ length: rows }, (_, i) => i);
  let state = 12345;
  for (let k = order.length - 1; k > 0; k--) {
    state = (state * 1103515245 + 12345) % 2147483648;
    const j = state % (k + 1);
    [order[k], order[j]] = [order[j]!, order[k]!];
  }
  const lines = [HEADER];
  for (const i of order) {
    const day = new Date(Date.UTC(2026, 10, 1) + (i % days) * 86_400_000).toISOString().slice(0, 10);
    const ts = `${day}T${String(i % 24).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}:00Z`;
    const kwh = bad && i % 50 === 7 ? RAW_BAD_VALUE : `${(i % 900) / 100}`;
    lines.push(`${RAW_RECORD}${String(i).padStart(8, '0')},${RAW_CUSTOMER}${i % 5000},${RAW_METER}${i % 5000},${ts},${kwh},${RAW_TARIFF},${i % 3 === 0}`);
  }
  writeFileSync(file, lines.join('\n') + '\n');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Files under `dir` (recursive), with sizes. */
function filesUnder(dir: string): { file: string; size: number }[] {
  if (!existsSync(dir)) return [];
  const out: { file: string; size: number }[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p));
    else if (e.isFile()) out.push({ file: p, size: statSync(p).size });
  }
  return out;
}

/** How many times each needle occurs in the bytes of every file under `dirs` (grep -a -o -F). */
function rawHits(dirs: string[]): Record<string, number> {
  const hits: Record<string, number> = {};
  for (const needle of NEEDLES) {
    let n = 0;
    for (const dir of dirs.filter(existsSync)) {
      const r = spawnSync('grep', ['-r', '-a', '-o', '-F', needle, dir], { encoding: 'buffer', maxBuffer: 1 << 30 });
      n += r.stdout.toString('latin1').split('\n').filter(Boolean).length;
    }
    hits[needle] = n;
  }
  return hits;
}

/**
 * Run `watt <args>` in `cwd` with its own OS temp folder, and SIGKILL it as soon as `ready` finds
 * the spool files it waits for under WATT_HOME/tmp (polled every 20 ms, up to 120 s).
 * @returns the spool files seen at the kill
 */
async function killWhenSpooled(args: string[], cwd: string, ready: (files: { file: string; size: number }[]) => boolean): Promise<{ file: string; size: number }[]> {
  const osTmp = path.join(cwd, 'os-tmp');
  mkdirSync(osTmp, { recursive: true });
  const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1', LANG: 'C.UTF-8', TMPDIR: osTmp } });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  child.stdout.resume();
  let exited = false;
  const closed = new Promise<void>((resolve) => child.on('close', () => ((exited = true), resolve())));
  let seen: { file: string; size: number }[] = [];
  for (let i = 0; i < 6000 && !exited; i++) {
    seen = filesUnder(path.join(cwd, '.watt', 'tmp'));
    if (ready(seen)) break;
    await sleep(20);
  }
  expect([exited, stderr.slice(-400)]).toEqual([false, stderr.slice(-400)]); // still running: the kill lands mid-run
  child.kill('SIGKILL');
  await closed;
  return seen;
}

/** The committed manifests of the lake under `cwd` (JSON). */
function manifests(cwd: string): { run_id: string; rows: number; objects: { rows: number }[] }[] {
  return filesUnder(path.join(cwd, 'lake'))
    .filter((f) => f.file.includes(`${path.sep}_manifests${path.sep}`) && f.file.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(f.file, 'utf8')));
}

/** After the kill: no raw byte anywhere in WATT_HOME or the OS temp folder; then a rerun lands once and cleans up. */
async function checkKilledRun(cwd: string, seen: { file: string; size: number }[], rerun: string[], expectedRows: number, exitCode = 0): Promise<void> {
  const home = path.join(cwd, '.watt');
  const killedRun = path.basename(seen[0]!.file).split('.')[0]!;
  // The spool files are still there (recovery's grace) and hold no raw byte.
  expect(filesUnder(path.join(home, 'tmp')).some((f) => path.basename(f.file).startsWith(killedRun + '.') && f.size > 0)).toBe(true);
  expect(rawHits([home, path.join(cwd, 'os-tmp')])).toEqual(Object.fromEntries(NEEDLES.map((n) => [n, 0])));
  expect(manifests(cwd)).toEqual([]);

  const r = await runWatt([...rerun, '--json'], { cwd, env: { TMPDIR: path.join(cwd, 'os-tmp') }, timeoutMs: 300_000 });
  expect([r.code, r.stderr.slice(-400)]).toEqual([exitCode, r.stderr.slice(-400)]);
  expect(r.stderr).toMatch(/removed \d+ stale spool files? of earlier runs/);
  const landed = manifests(cwd);
  expect(landed).toHaveLength(1);
  expect(landed[0]!.objects.reduce((n, o) => n + o.rows, 0)).toBe(expectedRows);
  // Recovery removed what the killed run left; the rerun left nothing behind either.
  expect(filesUnder(path.join(home, 'tmp')).map((f) => path.basename(f.file))).toEqual([]);
  expect(rawHits([home, path.join(cwd, 'os-tmp')])).toEqual(Object.fromEntries(NEEDLES.map((n) => [n, 0])));
}

describe('spool files of a killed run hold nothing readable', () => {
  // The generated exports and lakes are tens of MB each: removed after the tests.
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  it('CSV lake, --partition-by on a random-order export: partition spools killed mid-run', async () => {
    const cwd = scratchDir();
    dirs.push(cwd);
    const rows = 300_000;
    exportCsv(path.join(cwd, 'export.csv'), rows, 40);
    const args = ['ingest', '--source', 'export.csv', '--partition-by', 'reading_ts', '--allow-expired'];
    // Partition spools of the byte ranges: `<run>.r<i>.<YYYY-MM-DD>.csv`, at least 1 MB written.
    const seen = await killWhenSpooled(args, cwd, (files) => {
      const parts = files.filter((f) => /\.r\d+\.\d{4}-\d\d-\d\d\.csv$/.test(f.file));
      return parts.length >= 10 && parts.reduce((n, f) => n + f.size, 0) > 1 << 20;
    });
    await checkKilledRun(cwd, seen, args, rows);
  }, 600_000);

  it('Parquet lake, --partition-by on a random-order export: per-day .rows spools killed mid-run', async () => {
    const cwd = scratchDir();
    dirs.push(cwd);
    const rows = 600_000;
    exportCsv(path.join(cwd, 'export.csv'), rows, 30);
    const args = ['ingest', '--source', 'export.csv', '--partition-by', 'reading_ts', '--format', 'parquet', '--allow-expired'];
    // The sink switched to spooling rows per day (`<run>.r<i>.<YYYY-MM-DD>.rows`) and wrote some.
    const seen = await killWhenSpooled(args, cwd, (files) => files.some((f) => f.file.endsWith('.rows') && f.size > 0));
    expect(seen.some((f) => f.file.endsWith('.rows'))).toBe(true);
    await checkKilledRun(cwd, seen, args, rows);
  }, 600_000);

  it('primary key and quarantine: the quarantine spool (raw rejected cells) killed mid-run', async () => {
    const cwd = scratchDir();
    dirs.push(cwd);
    const rows = 300_000;
    exportCsv(path.join(cwd, 'export.csv'), rows, 1, true);
    const args = ['ingest', '--source', 'export.csv', '--quarantine'];
    // The quarantine spool `<run>.rejects.jsonl` has rejected rows in it.
    const seen = await killWhenSpooled(args, cwd, (files) => files.some((f) => f.file.includes('.rejects.jsonl') && f.size > 4096));
    const bad = Array.from({ length: rows }, (_, i) => i).filter((i) => i % 50 === 7).length;
    // Exit 1: rows were quarantined (the valid ones land).
    await checkKilledRun(cwd, seen, args, rows - bad, 1);
  }, 600_000);
});
