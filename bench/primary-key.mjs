/**
 * Primary-key check (issue 11, item 5): memory and time of the 128-bit key table at 1M rows
 * (`--quarantine`: checked inline), in one table (one range) and as two half tables merged (two
 * worker ranges); of the key logs of strict mode (appended, radix-sorted, searched after the
 * ranges); against a JS Map of the key strings for scale. Prints figures; run with `npm run bench:primary-key`.
 */
import { KeySet, KeyTracker, crossRangeDuplicates, hash128, logDuplicates, newKeySeed } from '../dist/ingest/primary-key.js';

const N = Number(process.argv[2] ?? 1_000_000);
const schema = { primaryKey: ['record_id'], types: new Map([['record_id', 'string']]), dateTimes: new Set() };
const seed = newKeySeed();
const id = (i) => `REC-${String(i).padStart(8, '0')}`;
const mib = (b) => (b / 1024 / 1024).toFixed(1);

function track(from, to) {
  const t = new KeyTracker(schema, seed, undefined, ['record_id']);
  const record = [''];
  for (let i = from; i < to; i++) {
    record[0] = id(i);
    if (t.check(record, i + 2)) throw new Error('unexpected duplicate');
  }
  return t.set;
}

globalThis.gc?.();
const rss0 = process.memoryUsage();
let t0 = performance.now();
const one = track(0, N);
const oneMs = performance.now() - t0;
globalThis.gc?.();
const rss1 = process.memoryUsage();
console.log(`one range, ${N.toLocaleString('en')} keys: table ${mib(one.bytes)} MiB (${one.count} entries), ${(oneMs * 1e6 / N).toFixed(0)} ns/row (key + hash + insert), array buffers +${mib(rss1.arrayBuffers - rss0.arrayBuffers)} MiB, heap +${mib(rss1.heapUsed - rss0.heapUsed)} MiB`);

t0 = performance.now();
const a = track(0, N / 2);
const b = track(N / 2, N);
const halvesMs = performance.now() - t0;
t0 = performance.now();
const dups = crossRangeDuplicates([a.table(), b.table()]);
const mergeMs = performance.now() - t0;
console.log(`two ranges of ${(N / 2).toLocaleString('en')}: tables ${mib(a.bytes)} + ${mib(b.bytes)} MiB, ${(halvesMs * 1e6 / N).toFixed(0)} ns/row, merge ${mergeMs.toFixed(0)} ms (${dups[1].length} cross-range duplicates)`);

/** Strict mode: keys logged per range, sorted, duplicates searched once after the ranges. */
function logged(from, to) {
  const t = new KeyTracker(schema, seed, undefined, ['record_id'], 'log');
  const record = [''];
  for (let i = from; i < to; i++) {
    record[0] = id(i);
    t.check(record, i + 2);
  }
  return t;
}
t0 = performance.now();
const la = logged(0, N / 2);
const lb = logged(N / 2, N);
const logMs = performance.now() - t0;
const logBytes = la.log.bytes + lb.log.bytes;
t0 = performance.now();
const sorted = [la.keys(), lb.keys()];
const sortMs = performance.now() - t0;
t0 = performance.now();
const found = logDuplicates(sorted);
const searchMs = performance.now() - t0;
const sortedBytes = sorted.reduce((n, s) => n + s.slots.byteLength + s.order.byteLength + s.words.byteLength, 0);
console.log(`strict mode, two ranges of ${(N / 2).toLocaleString('en')}: logs ${mib(logBytes)} MiB while reading (${mib(sortedBytes)} MiB sorted, with order and first words), ${(logMs * 1e6 / N).toFixed(0)} ns/row (key + hash + append), sort ${sortMs.toFixed(0)} ms, duplicate search ${searchMs.toFixed(0)} ms (${found.flat().length} duplicates)`);

const h = new Int32Array(4);
t0 = performance.now();
for (let i = 0; i < N; i++) hash128(id(i), seed, h);
console.log(`hash128 alone: ${((performance.now() - t0) * 1e6 / N).toFixed(0)} ns/key`);

const keep = [one, a, b];
keep.length = 0;
globalThis.gc?.();
const m0 = process.memoryUsage().heapUsed;
const map = new Map();
t0 = performance.now();
for (let i = 0; i < N; i++) map.set(id(i), i + 2);
const mapMs = performance.now() - t0;
globalThis.gc?.();
map.get(id(0));
console.log(`for scale, a JS Map<string, number> of the same keys: heap +${mib(process.memoryUsage().heapUsed - m0)} MiB, ${(mapMs * 1e6 / N).toFixed(0)} ns/row`);
void KeySet;

// The cost inside `watt ingest`: the same 1M-row file (bench:ingest's shape) with the shipped
// schema (x-primary-key record_id) and with a copy without the keyword, alternated.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { writeReadings } from './readings.mjs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

if (!process.argv.includes('--no-ingest')) {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'watt-bench-pk-'));
  try {
    const file = path.join(dir, 'readings.csv');
    await writeReadings(file, 0, N, id);
    const shipped = path.join(root, 'schemas', 'energy_consumption.schema.json');
    const keyless = path.join(dir, 'keyless.schema.json');
    writeFileSync(keyless, readFileSync(shipped, 'utf8').replace(/\s*"x-primary-key": \[[^\]]*\],/, ''));
    const results = { 'with x-primary-key': [], 'without': [] };
    for (let round = 0; round < 3; round++) {
      for (const [name, schema] of [['without', keyless], ['with x-primary-key', shipped]]) {
        const env = { ...process.env, WATT_HOME: path.join(dir, '.watt'), WATT_LAKE_ROOT: path.join(dir, 'lake'), WATT_LOG_DIR: path.join(dir, 'logs'), WATT_PSEUDONYMISATION_KEY: 'bench-key-0123456789abcdef0123456789abcdef' };
        const t = process.hrtime.bigint();
        // /usr/bin/time: user CPU seconds (comparable on a busy machine, where wall time is noise).
        const r = spawnSync('/usr/bin/time', ['-f', 'user_cpu_s=%U', process.execPath, '-r', path.join(root, 'bench', 'peak-rss.cjs'), path.join(root, 'bin', 'watt.js'), 'ingest', '--source', file, '--schema', schema, '--force', '--json'], { env, encoding: 'utf8', maxBuffer: 1 << 26 });
        const seconds = Number(process.hrtime.bigint() - t) / 1e9;
        if (r.status !== 0) throw new Error(`watt ingest exited ${r.status}: ${r.stderr.slice(-500)}`);
        const rss = Number(/peak_rss_kb=(\d+)/.exec(r.stderr)?.[1] ?? NaN) / 1024;
        const user = Number(/user_cpu_s=([\d.]+)/.exec(r.stderr)?.[1] ?? NaN);
        results[name].push({ seconds, rss, user });
      }
    }
    console.log(`watt ingest of ${N.toLocaleString('en')} rows (2 worker ranges), 3 alternated runs each (machine: ${os.cpus().length} x ${os.cpus()[0].model}, Node ${process.version}):`);
    for (const [name, runs] of Object.entries(results)) {
      const mean = runs.reduce((a, x) => a + x.user, 0) / runs.length;
      console.log(`  ${name.padEnd(18)} mean user ${mean.toFixed(2)} s: ${runs.map((x) => `${x.seconds.toFixed(2)} s wall, ${x.user.toFixed(2)} s user, ${x.rss.toFixed(0)} MiB peak RSS`).join('; ')}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
