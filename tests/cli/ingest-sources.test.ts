import { existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { spawn, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { parse } from 'csv-parse/sync';
import { runWatt, scratchDir, BIN, ROOT, type CliResult } from '../helpers/cli.js';
import { acquireLock, lockNames } from '../../src/lock.js';
import { destinationUri } from '../../src/store/index.js';
import { resolveLakeConfig } from '../../src/config.js';

/**
 * Several sources per `watt ingest` (issue 11, item 6), through the real CLI: a folder, a glob,
 * stdin, repeated --source; each file its own run; NDJSON with --json; the worst exit code.
 * Rows are counted in the lake with csv-parse, not with watt's reader.
 */

const HEADER = 'record_id,customer_id,meter_id,reading_ts,consumption_kwh,tariff_eur_kwh,is_peak';
const KEY = { WATT_PSEUDONYMISATION_KEY: 'test-key-0123456789abcdef0123456789abcdef' };

/** A valid CSV of `n` readings whose record ids start with `tag` (distinct bytes per tag). */
function csv(tag: string, n: number, customer = 'CUST-001'): string {
  const rows = Array.from({ length: n }, (_, i) => `${tag}-${i},${customer},METER-01,2025-01-0${(i % 9) + 1}T08:00:00Z,1.5,0.18,false`);
  return [HEADER, ...rows].join('\n') + '\n';
}

/** Manifests in the local lake of `cwd`, parsed. */
function manifests(cwd: string): Array<Record<string, any>> {
  const dir = path.join(cwd, 'lake', 'watt-lake', 'watt-about-it', 'raw', '_manifests');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(path.join(dir, f), 'utf8')));
}

/** Data rows of every object the manifests name, read with csv-parse. */
function lakeRows(cwd: string): Array<Record<string, string>> {
  const rows: Array<Record<string, string>> = [];
  for (const m of manifests(cwd)) {
    const objects: Array<{ key: string }> = m.objects ?? (m.object ? [m.object] : []);
    for (const o of objects) {
      const file = path.join(cwd, 'lake', 'watt-lake', o.key);
      rows.push(...(parse(readFileSync(file), { columns: true }) as Array<Record<string, string>>));
    }
  }
  return rows;
}

function ndjson(r: CliResult): Array<Record<string, any>> {
  const lines = r.stdout.split('\n').filter((l) => l !== '');
  return lines.map((l) => JSON.parse(l));
}

const sha = (text: string) => createHash('sha256').update(text).digest('hex');

describe('watt ingest --source FOLDER', () => {
  it('lands each regular *.csv of the folder as its own run, in name order; hidden files, subfolders, other names and symlinks are left alone', async () => {
    const cwd = scratchDir();
    const inbox = path.join(cwd, 'inbox');
    mkdirSync(path.join(inbox, 'sub'), { recursive: true });
    writeFileSync(path.join(inbox, 'c.csv'), csv('C', 4));
    writeFileSync(path.join(inbox, 'a.csv'), csv('A', 2));
    writeFileSync(path.join(inbox, 'B.CSV'), csv('B', 3));
    writeFileSync(path.join(inbox, '.hidden.csv'), csv('H', 5));
    writeFileSync(path.join(inbox, 'notes.txt'), 'not a csv\n');
    writeFileSync(path.join(inbox, 'sub', 'd.csv'), csv('D', 6));
    symlinkSync(path.join(inbox, 'sub', 'd.csv'), path.join(inbox, 'link.csv'));

    const r = await runWatt(['ingest', '--source', 'inbox', '--json'], { cwd, env: KEY });
    expect(r.code).toBe(0);
    const lines = ndjson(r);
    expect(lines.map((l) => l.source)).toEqual(['B.CSV', 'a.csv', 'c.csv']); // code-point order
    expect(lines.map((l) => l.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    expect(new Set(lines.map((l) => l.run_id)).size).toBe(3);
    expect(r.stderr).toMatch(/skipped 1 entry that is not a regular file/);

    const ms = manifests(cwd);
    expect(ms).toHaveLength(3);
    expect(new Set(ms.map((m) => m.run_id))).toEqual(new Set(lines.map((l) => l.run_id)));
    // each run has its own log
    for (const l of lines) expect(existsSync(path.join(cwd, 'logs', `ingestion_${l.run_id}.log`))).toBe(true);
    const ids = lakeRows(cwd).map((row) => row.record_id!);
    expect(ids).toHaveLength(2 + 3 + 4);
    expect(ids.some((id) => id.startsWith('H-') || id.startsWith('D-'))).toBe(false);
  });

  it('an empty folder (or one without CSV) is a usage error: exit 2, one line, nothing runs', async () => {
    const cwd = scratchDir();
    mkdirSync(path.join(cwd, 'empty'));
    writeFileSync(path.join(cwd, 'empty', 'readme.txt'), 'x\n');
    const r = await runWatt(['ingest', '--source', 'empty'], { cwd, env: KEY });
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^watt: no CSV file in folder empty/)]);
    expect(existsSync(path.join(cwd, 'lake'))).toBe(false);
  });

  it('text output: one line per file and a summary line', async () => {
    const cwd = scratchDir();
    mkdirSync(path.join(cwd, 'in'));
    writeFileSync(path.join(cwd, 'in', 'a.csv'), csv('A', 1));
    writeFileSync(path.join(cwd, 'in', 'b.csv'), csv('B', 1));
    const r = await runWatt(['ingest', '--source', 'in'], { cwd, env: KEY });
    expect(r.code).toBe(0);
    const out = r.stdout.trim().split('\n');
    expect(out).toHaveLength(3);
    expect(out[0]).toMatch(/^a\.csv: file:.*\/a_.*\.csv \(1 rows, run /);
    expect(out[2]).toBe('2 files: 2 landed (exit 0)');
  });
});

describe('watt ingest --source GLOB and repeated --source', () => {
  it('a quoted glob lands the regular files it matches; a glob matching nothing is exit 2', async () => {
    const cwd = scratchDir();
    mkdirSync(path.join(cwd, 'in', 'deep'), { recursive: true });
    writeFileSync(path.join(cwd, 'in', '2025-01.csv'), csv('J', 2));
    writeFileSync(path.join(cwd, 'in', '2025-02.csv'), csv('F', 3));
    writeFileSync(path.join(cwd, 'in', '2024-12.csv'), csv('X', 7));
    writeFileSync(path.join(cwd, 'in', 'deep', '2025-03.csv'), csv('M', 1));
    const r = await runWatt(['ingest', '--source', 'in/**/2025-*.csv', '--json'], { cwd, env: KEY });
    expect(r.code).toBe(0);
    expect(ndjson(r).map((l) => l.source)).toEqual(['2025-01.csv', '2025-02.csv', '2025-03.csv']);
    expect(lakeRows(cwd)).toHaveLength(2 + 3 + 1);

    const none = await runWatt(['ingest', '--source', path.join(cwd, 'in', '*.parquet')], { cwd, env: KEY });
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/^watt: no file matches --source ".*\*\.parquet"/m);
  });

  it('--source may be repeated; the same file named twice runs once', async () => {
    const cwd = scratchDir();
    writeFileSync(path.join(cwd, 'one.csv'), csv('O', 2));
    writeFileSync(path.join(cwd, 'two.csv'), csv('T', 3));
    const r = await runWatt(['ingest', '--source', 'two.csv', '--source', 'one.csv', '--source', './two.csv', '--json'], { cwd, env: KEY });
    expect(r.code).toBe(0);
    expect(ndjson(r).map((l) => l.source)).toEqual(['two.csv', 'one.csv']);
    expect(manifests(cwd)).toHaveLength(2);
  });

  it('without --source the shipped sample is still ingested', async () => {
    const cwd = scratchDir();
    const r = await runWatt(['ingest', '--json'], { cwd, env: KEY });
    expect(r.code).toBe(0);
    expect(ndjson(r)).toEqual([expect.objectContaining({ source: 'sample_energy_consumption.csv', status: 'succeeded', rows: 5 })]);
    expect(lakeRows(cwd)).toHaveLength(5);
  });
});

describe('watt ingest --source - (stdin)', () => {
  it('lands piped bytes as "stdin", leaves no spool, and the same bytes piped again are already ingested', async () => {
    const cwd = scratchDir();
    const input = csv('S', 6);
    const r = await runWatt(['ingest', '--source', '-', '--json'], { cwd, env: KEY, input });
    expect(r.code).toBe(0);
    const [line] = ndjson(r);
    expect(line).toMatchObject({ source: 'stdin', status: 'succeeded', rows: 6 });
    expect(line!.destination).toMatch(/\/stdin_\d{8}T\d{6}Z-[a-z0-9]{10}\.csv$/);
    const [m] = manifests(cwd);
    expect(m!.source).toMatchObject({ name: 'stdin', sha256: sha(input), bytes: Buffer.byteLength(input) });
    expect(lakeRows(cwd).map((row) => row.record_id)).toEqual(Array.from({ length: 6 }, (_, i) => `S-${i}`));
    expect(readdirSync(path.join(cwd, '.watt', 'tmp'))).toEqual([]);

    const again = await runWatt(['ingest', '--source', '-', '--json'], { cwd, env: KEY, input });
    expect(again.code).toBe(0);
    expect(ndjson(again)).toEqual([expect.objectContaining({ source: 'stdin', status: 'skipped', previous_run_id: line!.run_id })]);
    expect(manifests(cwd)).toHaveLength(1);
  });

  it('invalid rows on stdin: exit 1 and the spool is removed', async () => {
    const cwd = scratchDir();
    const r = await runWatt(['ingest', '--source', '-'], { cwd, env: KEY, input: `${HEADER}\nR-1,CUST-1,M-1,not-a-date,1,0.1,false\n` });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^watt: 1 invalid row in stdin/m);
    expect(readdirSync(path.join(cwd, '.watt', 'tmp'))).toEqual([]);
    expect(manifests(cwd)).toHaveLength(0);
  });

  it('SIGINT while stdin is still being read: exit 130 and no spool left', async () => {
    const cwd = scratchDir();
    const child = spawn(process.execPath, [BIN, 'ingest', '--source', '-'], { cwd, env: { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1', ...KEY } });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.stdin.write(`${HEADER}\n`);
    // wait until the spool exists: stdin is being read
    const tmp = path.join(cwd, '.watt', 'tmp');
    for (let i = 0; i < 200 && !(existsSync(tmp) && readdirSync(tmp).length > 0); i++) await new Promise((res) => setTimeout(res, 25));
    expect(readdirSync(tmp)).toEqual([expect.stringMatching(/\.stdin$/)]);
    const code = await new Promise<number | null>((resolve) => {
      child.on('close', (c) => resolve(c));
      child.kill('SIGINT');
    });
    expect(code).toBe(130);
    expect(stderr).toMatch(/interrupted while reading stdin/);
    expect(readdirSync(tmp)).toEqual([]);
    expect(manifests(cwd)).toHaveLength(0);
  });

  it('- twice is a usage error', async () => {
    const cwd = scratchDir();
    const r = await runWatt(['ingest', '--source', '-', '--source', '-'], { cwd, env: KEY, input: csv('S', 1) });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/given twice/);
  });
});

describe('a batch with failures', () => {
  it('the 2nd of 3 files is invalid: files 1 and 3 land, exit 1, the failed NDJSON line has exit_code 1 and names the file by its sha256', async () => {
    const cwd = scratchDir();
    mkdirSync(path.join(cwd, 'in'));
    // the file name holds a customer number: it must appear nowhere
    const bad = `${HEADER}\nR-1,CUST-000777,M-1,2025-01-01T00:00:00Z,-5,0.1,false\n`;
    writeFileSync(path.join(cwd, 'in', '1.csv'), csv('A', 2));
    writeFileSync(path.join(cwd, 'in', '2_CUST-000777.csv'), bad);
    writeFileSync(path.join(cwd, 'in', '3.csv'), csv('C', 3));
    const r = await runWatt(['ingest', '--source', 'in', '--json', '--metrics-file', 'm.prom'], { cwd, env: KEY });
    expect(r.code).toBe(1);
    const lines = ndjson(r);
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatchObject({ source: '1.csv', status: 'succeeded', rows: 2 });
    expect(lines[0]).not.toHaveProperty('exit_code');
    expect(lines[1]).toMatchObject({ status: 'failed', exit_code: 1, error: expect.stringMatching(/invalid row/), run_id: expect.any(String) });
    expect(readFileSync(lines[1]!.log, 'utf8')).toMatch(/invalid row/); // the failed run's own log
    // the run redacts the name once every cell is read; this one failed: `redacted` or its sha256
    expect(lines[1]!.source).toBe(`source sha256:${sha(bad).slice(0, 12)}`);
    expect(lines[2]).toMatchObject({ source: '3.csv', status: 'succeeded', rows: 3 });
    expect(r.stdout + r.stderr).not.toContain('CUST-000777');
    expect(lakeRows(cwd).map((row) => row.record_id)).toEqual(expect.arrayContaining(['A-0', 'A-1', 'C-0', 'C-1', 'C-2']));
    expect(lakeRows(cwd)).toHaveLength(5);
    expect(manifests(cwd)).toHaveLength(2);
    // metrics: totals over the files, files by status, the command's exit code
    const prom = readFileSync(path.join(cwd, 'm.prom'), 'utf8');
    expect(prom).toMatch(/^watt_run_rows_landed\{verb="ingest",lake="[^"]*",prefix="watt-about-it\/raw"\} 5$/m);
    expect(prom).toMatch(/^watt_run_files\{verb="ingest",lake="[^"]*",prefix="watt-about-it\/raw",status="succeeded"\} 2$/m);
    expect(prom).toMatch(/^watt_run_files\{verb="ingest",lake="[^"]*",prefix="watt-about-it\/raw",status="failed"\} 1$/m);
    expect(prom).toMatch(/^watt_run_last_exit_code\{verb="ingest",lake="[^"]*",prefix="watt-about-it\/raw"\} 1$/m);
    expect(prom).toMatch(/^watt_run_bytes\{verb="ingest",lake="[^"]*",prefix="watt-about-it\/raw"\} \d+$/m);

    // text mode: the failed file on stderr, the summary on stdout (the others are already ingested)
    const text = await runWatt(['ingest', '--source', 'in'], { cwd, env: KEY });
    expect(text.code).toBe(1);
    expect(text.stdout.trim().split('\n').at(-1)).toBe('3 files: 2 already ingested, 1 failed (exit 1)');
    expect(text.stderr).toMatch(/^watt: 1 of 3 files failed \(exit 1\); the others ran/m);

    // --log-format json: every stderr line of the batch is a JSON object, the failed file's too
    const logs = await runWatt(['ingest', '--source', 'in', '--log-format', 'json'], { cwd, env: KEY });
    expect(logs.code).toBe(1);
    const records = logs.stderr.trim().split('\n').map((l) => JSON.parse(l));
    expect(records).toContainEqual(expect.objectContaining({ level: 'error', exit_code: 1, source: lines[1]!.source }));
    expect(records.at(-1)).toMatchObject({ level: 'error', exit_code: 1, message: expect.stringMatching(/1 of 3 files failed/) });
  });

  it('exit code is the worst file: a held lock (4) outranks invalid data (1)', async () => {
    const cwd = scratchDir();
    const env = { ...KEY, WATT_HOME: path.join(cwd, '.watt'), WATT_LAKE_ROOT: path.join(cwd, 'lake') };
    mkdirSync(path.join(cwd, 'in'));
    const locked = csv('L', 2);
    writeFileSync(path.join(cwd, 'in', 'a.csv'), csv('A', 1));
    writeFileSync(path.join(cwd, 'in', 'b.csv'), locked);
    writeFileSync(path.join(cwd, 'in', 'c.csv'), `${HEADER}\nR-1,CUST-1,M-1,2025-01-01T00:00:00Z,oops,0.1,false\n`);
    // this test process holds the ingest lock of b.csv to this lake
    const destination = destinationUri(resolveLakeConfig({}, env));
    const lock = acquireLock(env.WATT_HOME, lockNames.ingest(sha(locked), destination), 'a test');
    try {
      const r = await runWatt(['ingest', '--source', 'in', '--json'], { cwd, env });
      expect(ndjson(r).map((l) => l.exit_code ?? 0)).toEqual([0, 4, 1]);
      expect(r.code).toBe(4);
    } finally {
      lock.release();
    }
  });
});

describe('several large files in one process (worker threads)', () => {
  /** A CSV of at least 4 MiB (the size from which ranges run in worker threads). */
  function large(tag: string): string {
    const rows: string[] = [HEADER];
    for (let i = 0; i < 80_000; i++) rows.push(`${tag}-${i},CUST-${i % 500},METER-${i % 500},2025-01-01T08:00:00Z,1.5,0.18,false`);
    return rows.join('\n') + '\n';
  }

  // re2 loaded by a 2nd generation of workers used to abort the process (V8 fatal, exit 133)
  it.each([
    ['the default schema', undefined],
    ['a schema with patterns (re2)', 'pattern'],
  ])('%s: 3 files of 4+ MiB land, every row counted', async (_name, variant) => {
    const cwd = scratchDir();
    mkdirSync(path.join(cwd, 'in'));
    for (const t of ['A', 'B', 'C']) writeFileSync(path.join(cwd, 'in', `${t}.csv`), large(t));
    const args = ['ingest', '--source', 'in', '--json'];
    if (variant) {
      const schema = JSON.parse(readFileSync(path.join(ROOT, 'schemas', 'energy_consumption.schema.json'), 'utf8'));
      schema.properties.customer_id.pattern = 'CUST-[0-9]+';
      writeFileSync(path.join(cwd, 'schema.json'), JSON.stringify(schema));
      args.push('--schema', 'schema.json');
    }
    const r = await runWatt(args, { cwd, env: KEY, timeoutMs: 120_000 });
    expect(r.stderr).not.toMatch(/Fatal error/);
    expect(r.code).toBe(0);
    expect(ndjson(r).map((l) => [l.source, l.rows])).toEqual([['A.csv', 80_000], ['B.csv', 80_000], ['C.csv', 80_000]]);
    expect(lakeRows(cwd)).toHaveLength(240_000);
  }, 120_000);
});

describe('interruptions and crashes', () => {
  it('SIGINT during the 1st of 3 files stops the batch at once: exit 130, nothing landed, the rest not run', async () => {
    const cwd = scratchDir();
    mkdirSync(path.join(cwd, 'in'));
    for (const n of ['a', 'b', 'c']) writeFileSync(path.join(cwd, 'in', `${n}.csv`), csv(n.toUpperCase(), 2));
    const resume = path.join(cwd, 'resume');
    const env = { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1', ...KEY, WATT_PAUSEPOINT: 'ingest:before-transform', WATT_PAUSEPOINT_RESUME: resume };
    const child = spawn(process.execPath, [BIN, 'ingest', '--source', 'in'], { cwd, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    const paused = new Promise<void>((resolve) =>
      child.stderr.on('data', (c: Buffer) => {
        stderr += c.toString();
        if (stderr.includes('paused at')) resolve();
      }),
    );
    const closed = new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    await paused;
    child.kill('SIGINT');
    await new Promise((res) => setTimeout(res, 100));
    writeFileSync(resume, '');
    expect(await closed).toBe(130);
    expect(stdout.trim().split('\n').at(-1)).toBe('3 files: 1 interrupted, 2 not run (exit 130)');
    expect(stderr.match(/paused at/g)).toHaveLength(1); // b.csv and c.csv never started
    expect(manifests(cwd)).toHaveLength(0);
  });

  it("a crashed run's stdin spool (unknown run, older than the grace period) is removed by the next run's recovery", async () => {
    const cwd = scratchDir();
    const stale = path.join(cwd, '.watt', 'tmp', '20250101T000000Z-abcdefghij.stdin');
    mkdirSync(stale, { recursive: true });
    writeFileSync(path.join(stale, 'stdin'), csv('P', 1));
    const old = new Date(Date.now() - 2 * 3600 * 1000);
    utimesSync(path.join(stale, 'stdin'), old, old);
    utimesSync(stale, old, old);
    const r = await runWatt(['ingest', '--source', '-'], { cwd, env: KEY, input: csv('Q', 1) });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/removed 1 stale spool file/);
    expect(readdirSync(path.join(cwd, '.watt', 'tmp'))).toEqual([]);
  });
});

describe('watt ingest --help', () => {
  it('documents folder, glob, stdin and the exit-code rule', () => {
    const help = execFileSync(process.execPath, [BIN, 'ingest', '--help'], { cwd: ROOT, encoding: 'utf8' });
    expect(help).toMatch(/FOLDER/);
    expect(help).toMatch(/GLOB/);
    expect(help).toMatch(/- for stdin/);
    expect(help).toMatch(/3 \(storage\) > 4 \(lock\) > 2 \(usage\)/);
  });
});
