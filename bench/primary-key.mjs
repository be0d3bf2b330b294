/**
 * Primary-key check (issue 11, item 5): memory and time of the 128-bit key table at 1M rows,
 * in one table (one range) and as two half tables merged (two worker ranges), against a JS
 * Map of the key strings for scale. Prints figures; run with `npm run bench:primary-key`.
 */
import { KeySet, KeyTracker, crossRangeDuplicates, hash128, newKeySeed } from '../dist/ingest/primary-key.js';

const N = Number(process.argv[2] ?? 1_000_000);
const schema = { primaryKey: ['record_id'], types: new Map([['record_id', 'string']]), dateTimes: new Set() };
const seed = newKeySeed();
const id = (i) => `REC-${String(i).padStart(8, '0')}`;
const mib = (b) => (b / 1024 / 1024).toFixed(1);

function track(from, to) {
  const t = new KeyTracker(schema, seed);
  const row = {};
  for (let i = from; i < to; i++) {
    row.record_id = id(i);
    if (t.check(row, i + 2)) throw new Error('unexpected duplicate');
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
console.log(`one range, ${N.toLocaleString('en')} keys: table ${mib(one.bytes)} MiB (${one.count} entries), ${(oneMs * 1e6 / N).toFixed(0)} ns/row (canonical key + hash + insert), array buffers +${mib(rss1.arrayBuffers - rss0.arrayBuffers)} MiB, heap +${mib(rss1.heapUsed - rss0.heapUsed)} MiB`);

t0 = performance.now();
const a = track(0, N / 2);
const b = track(N / 2, N);
const halvesMs = performance.now() - t0;
t0 = performance.now();
const dups = crossRangeDuplicates([a.table(), b.table()]);
const mergeMs = performance.now() - t0;
console.log(`two ranges of ${(N / 2).toLocaleString('en')}: tables ${mib(a.bytes)} + ${mib(b.bytes)} MiB, ${(halvesMs * 1e6 / N).toFixed(0)} ns/row, merge ${mergeMs.toFixed(0)} ms (${dups[1].length} cross-range duplicates)`);

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
