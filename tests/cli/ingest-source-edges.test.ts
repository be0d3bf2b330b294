/**
 * Issue 22, item 1: sources are snapshots. Reproduced for real: a file appended to by a child
 * process while watt reads it, and FIFOs made with mkfifo (with a writer, and with none while a
 * signal arrives).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { BIN, ROOT, runWatt, scratchDir } from '../helpers/cli.js';

const SAMPLE = path.join(ROOT, 'samples', 'sample_energy_consumption.csv');
const HEADER = readFileSync(SAMPLE, 'utf8').split('\n')[0]!;

/** A CSV of `rows` valid rows (about 60 bytes each). */
function bigCsv(file: string, rows: number): void {
  const lines = [HEADER];
  for (let i = 0; i < rows; i++) lines.push(`REC-${i},CUST-${i % 50},METER-${i % 7},2025-01-01T08:00:00Z,${(i % 90) / 10},0.18,false`);
  writeFileSync(file, lines.join('\n') + '\n');
}

function manifests(cwd: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    if (!existsSync(d)) return;
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (d.endsWith('_manifests')) out.push(p);
    }
  };
  walk(path.join(cwd, 'lake'));
  return out;
}

/** Spawn watt in `cwd` (clean environment), collecting its output. */
function spawnWatt(args: string[], cwd: string): { child: ChildProcess; done: Promise<{ code: number | null; stderr: string; at: number }> } {
  const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1', LANG: 'C.UTF-8' } });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  child.stdout!.resume();
  const done = new Promise<{ code: number | null; stderr: string; at: number }>((resolve) => child.on("close", (code, signal) => resolve({ code: code ?? (signal as unknown as number), stderr, at: Date.now() })));
  return { child, done };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Wait (up to 20 s: the machine may be loaded) until `ready()` is true. */
async function waitFor(ready: () => boolean): Promise<void> {
  for (let i = 0; i < 400 && !ready(); i++) await sleep(50);
  expect(ready()).toBe(true);
}

/** A thread of `pid` sleeps in the kernel's FIFO open, waiting for a writer (Linux: /proc/<pid>/task/<tid>/wchan). */
const waitsForWriter = (pid: number) => () => {
  try {
    return readdirSync(`/proc/${pid}/task`).some((t) => /fifo|wait_for_partner/.test(readFileSync(`/proc/${pid}/task/${t}/wchan`, 'utf8')));
  } catch {
    return false;
  }
};

describe('a regular file that changes while it is read', () => {
  it('fails the run (exit 1, "source changed while it was read") and commits nothing when a child process appends to it', async () => {
    const cwd = scratchDir();
    const file = path.join(cwd, 'export.csv');
    bigCsv(file, 60_000);
    // The writer: another process appending rows every 5 ms, as an export still being written.
    const writer = spawn(process.execPath, ['-e', `const fs=require('fs');let i=0;setInterval(()=>fs.appendFileSync(${JSON.stringify(file)},'REC-x'+(i++)+',CUST-1,METER-1,2025-01-01T08:00:00Z,1.5,0.18,false\\n'),5)`]);
    try {
      await sleep(150);
      const r = await runWatt(['ingest', '--source', 'export.csv'], { cwd });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/source changed while it was read \(.*size \d+ -> \d+ bytes.*\); nothing was committed/);
      expect(manifests(cwd)).toEqual([]);
    } finally {
      writer.kill('SIGKILL');
    }
    // Once the export is complete, it lands whole, once.
    const ok = await runWatt(['ingest', '--source', 'export.csv', '--json'], { cwd });
    expect(ok.code).toBe(0);
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n').length - 1;
    expect(JSON.parse(ok.stdout).rows).toBe(lines);
    expect(manifests(cwd)).toHaveLength(1);
  }, 120_000);

  it('fails the run when the file grows between the hash and the transform (paused at the exact step)', async () => {
    const cwd = scratchDir();
    const file = path.join(cwd, 'export.csv');
    bigCsv(file, 100);
    const resume = path.join(cwd, 'resume');
    const child = spawn(process.execPath, [BIN, 'ingest', '--source', 'export.csv'], {
      cwd,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1', WATT_PAUSEPOINT: 'ingest:before-transform', WATT_PAUSEPOINT_RESUME: resume },
    });
    let stderr = '';
    const paused = new Promise<void>((resolve) =>
      child.stderr.on('data', (c: Buffer) => {
        stderr += c.toString();
        if (stderr.includes('paused at')) resolve();
      }),
    );
    const done = new Promise<number | null>((resolve) => child.on('close', resolve));
    await paused;
    appendFileSync(file, 'REC-late,CUST-1,METER-1,2025-01-01T08:00:00Z,1.5,0.18,false\n');
    writeFileSync(resume, '');
    expect(await done).toBe(1);
    expect(stderr).toMatch(/source changed while it was read/);
    expect(manifests(cwd)).toEqual([]);
  }, 60_000);
});

describe('FIFOs', () => {
  const hasMkfifo = spawnSync('mkfifo', ['--version']).status === 0;
  const itFifo = hasMkfifo ? it : it.skip;

  itFifo('a FIFO with a writer is read like stdin and lands once (same sha256 as the file)', async () => {
    const cwd = scratchDir();
    const fifo = path.join(cwd, 'readings.fifo');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const writer = spawn('sh', ['-c', `cat "${SAMPLE}" > "${fifo}"`], { stdio: 'ignore' });
    const r = await runWatt(['ingest', '--source', 'readings.fifo', '--json'], { cwd });
    writer.kill();
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ status: 'succeeded', rows: 5 });
    // The same bytes from the file are already ingested.
    const again = await runWatt(['ingest', '--source', SAMPLE, '--json'], { cwd });
    expect(JSON.parse(again.stdout).status).toBe('skipped');
    // No spool copy is left behind.
    expect(readdirSync(path.join(cwd, '.watt', 'tmp')).filter((n) => !n.startsWith('.'))).toEqual([]);
  }, 60_000);

  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    itFifo(`a FIFO with no writer yet: ${sig} ends the wait within 2 s (exit ${sig === 'SIGTERM' ? 143 : 130})`, async () => {
      const cwd = scratchDir();
      const fifo = path.join(cwd, 'never.fifo');
      expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
      const { child, done } = spawnWatt(['ingest', '--source', 'never.fifo'], cwd);
      await waitFor(waitsForWriter(child.pid!)); // well into the wait for a writer
      const sent = Date.now();
      child.kill(sig);
      const timeout = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const r = await done;
      clearTimeout(timeout);
      expect(r.code).toBe(sig === 'SIGTERM' ? 143 : 130);
      expect(r.at - sent).toBeLessThan(2000);
      expect(r.stderr).toMatch(/interrupted/);
      expect(manifests(cwd)).toEqual([]);
    }, 30_000);
  }

  itFifo('a FIFO whose writer stays silent: SIGTERM ends the read within 2 s and removes the spool copy', async () => {
    const cwd = scratchDir();
    const fifo = path.join(cwd, 'silent.fifo');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    // A writer that opens the FIFO, writes the header and then says nothing.
    const writer = spawn('sh', ['-c', `{ head -1 "${SAMPLE}"; exec sleep 60; } > "${fifo}"`], { stdio: 'ignore' });
    try {
      const { child, done } = spawnWatt(['ingest', '--source', 'silent.fifo'], cwd);
      // Reading: the spool copy's folder exists.
      await waitFor(() => existsSync(path.join(cwd, '.watt', 'tmp')) && readdirSync(path.join(cwd, '.watt', 'tmp')).some((n) => n.endsWith('.stdin')));
      await sleep(300);
      const sent = Date.now();
      child.kill('SIGTERM');
      const timeout = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const r = await done;
      clearTimeout(timeout);
      expect({ code: r.code, stderr: r.stderr }).toMatchObject({ code: 143 });
      expect(r.at - sent).toBeLessThan(2000);
      const tmp = path.join(cwd, '.watt', 'tmp');
      expect(existsSync(tmp) ? readdirSync(tmp).filter((n) => !n.startsWith('.')) : []).toEqual([]);
    } finally {
      writer.kill('SIGKILL');
    }
  }, 30_000);
});

describe('nothing raw outlives a killed run on disk', () => {
  it('a stdin ingest killed (SIGKILL) after spooling, then an erasure of the subject: the raw identifier is nowhere in WATT_HOME', async () => {
    const cwd = scratchDir();
    const SUBJECT = 'CUST-RAW-SUBJECT-4242';
    const lines = [HEADER];
    for (let i = 0; i < 2000; i++) lines.push(`REC-${i},${SUBJECT},METER-1,2025-01-01T08:00:00Z,1.${i % 10},0.18,false`);
    const env = { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1', WATT_PAUSEPOINT: 'ingest:before-transform', WATT_PAUSEPOINT_RESUME: path.join(cwd, 'never') };
    // A first run lands something, so that the lake and the key exist for the erasure.
    expect((await runWatt(['ingest', '--source', SAMPLE], { cwd })).code).toBe(0);
    const child = spawn(process.execPath, [BIN, 'ingest', '--source', '-'], { cwd, env });
    let stderr = '';
    const paused = new Promise<void>((resolve) =>
      child.stderr.on('data', (c: Buffer) => {
        stderr += c.toString();
        if (stderr.includes('paused at')) resolve();
      }),
    );
    const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
    child.stdin.end(lines.join('\n') + '\n');
    await paused; // stdin is fully spooled, the run is about to transform it
    child.kill('SIGKILL');
    await exited;
    // The spool copy is still there (within the recovery grace period)...
    const tmp = path.join(cwd, '.watt', 'tmp');
    const spools = readdirSync(tmp).filter((n) => n.endsWith('.stdin'));
    expect(spools).toHaveLength(1);
    expect(readFileSync(path.join(tmp, spools[0]!, 'stdin')).length).toBeGreaterThan(2000 * 50);
    // ... an erasure of the subject runs ...
    const purge = await runWatt(['purge', '--subject', SUBJECT, '--json'], { cwd });
    expect(purge.code).toBe(0);
    // ... and no byte of WATT_HOME holds the raw identifier.
    const hits = spawnSync('grep', ['-r', '-a', '-c', '-F', SUBJECT, path.join(cwd, '.watt')], { encoding: 'utf8' });
    const counts = hits.stdout.trim().split('\n').filter(Boolean).map((l) => Number(l.split(':').at(-1)));
    expect(counts.reduce((a, b) => a + b, 0)).toBe(0);
  }, 120_000);
});
