#!/usr/bin/env node
// npm run bench:sources [-- --rows N]: several sources per `watt ingest` (issue 11, item 6).
// Generates N rows (default 1,000,000) of the seed's shape, then measures with the real CLI, each
// into a fresh local lake: the file as --source FILE, the same bytes piped to --source - (spooled
// to WATT_HOME/tmp first), and the same rows cut into 3 files of a folder (--source DIR: 3 runs
// in one process). Prints wall seconds, rows/s and peak RSS of the watt process.
import { spawnSync } from 'node:child_process';
import { createReadStream, mkdirSync, mkdtempSync, openSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeReadings } from './readings.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const argRows = process.argv.indexOf('--rows');
const rows = argRows > 0 ? Number(process.argv[argRows + 1]) : 1_000_000;

const rssHook = path.join(root, 'bench', 'peak-rss.cjs');
function measure(dir, args, stdinFile) {
  for (const d of ['.watt', 'lake', 'logs']) rmSync(path.join(dir, d), { recursive: true, force: true });
  const env = { ...process.env, WATT_HOME: path.join(dir, '.watt'), WATT_LAKE_ROOT: path.join(dir, 'lake'), WATT_LOG_DIR: path.join(dir, 'logs'), WATT_PSEUDONYMISATION_KEY: 'bench-key-0123456789abcdef0123456789abcdef' };
  const stdin = stdinFile ? openSync(stdinFile, 'r') : 'ignore';
  const t = process.hrtime.bigint();
  const r = spawnSync(process.execPath, ['-r', rssHook, path.join(root, 'bin', 'watt.js'), 'ingest', ...args, '--json'], { env, stdio: [stdin, 'pipe', 'pipe'], encoding: 'utf8', maxBuffer: 1 << 26 });
  const seconds = Number(process.hrtime.bigint() - t) / 1e9;
  if (r.status !== 0) throw new Error(`watt ingest ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  const landed = r.stdout.trim().split('\n').reduce((n, l) => n + JSON.parse(l).rows, 0);
  if (landed !== rows) throw new Error(`landed ${landed} rows, expected ${rows}`);
  const rss = Number(/peak_rss_kb=(\d+)/.exec(r.stderr)?.[1]) / 1024;
  return { seconds, rss };
}

console.log(`machine: ${os.cpus().length} x ${os.cpus()[0].model}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, load ${os.loadavg()[0].toFixed(1)}`);
const dir = mkdtempSync(path.join(os.tmpdir(), 'watt-bench-sources-'));
try {
  const file = path.join(dir, 'readings.csv');
  await writeReadings(file, 0, rows);
  mkdirSync(path.join(dir, 'inbox'));
  const third = Math.ceil(rows / 3);
  for (let p = 0; p < 3; p++) await writeReadings(path.join(dir, 'inbox', `part${p}.csv`), p * third, Math.min(rows, (p + 1) * third));
  console.log(`${rows.toLocaleString('en')} rows, ${(statSync(file).size / 1e6).toFixed(1)} MB`);
  console.log('source                  | seconds | rows/s    | peak RSS');
  for (const [name, args, stdin] of [
    ['--source FILE', ['--source', file]],
    ['--source - (stdin)', ['--source', '-'], file],
    ['--source DIR (3 files)', ['--source', path.join(dir, 'inbox')]],
  ]) {
    const m = measure(dir, args, stdin);
    console.log(`${name.padEnd(23)} | ${m.seconds.toFixed(2).padStart(7)} | ${Math.round(rows / m.seconds).toLocaleString('en').padStart(9)} | ${m.rss.toFixed(0)} MiB`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
