// Cost of issue 21's commit checks on the local lake: checking the objects a run wrote
// (changedObjects: the file identity its put returned compared with stat(2), which is what ingest
// does; and, for comparison, the full re-hash it falls back to when the identity differs or is
// unknown) and taking the landing claim (claimSource), per commit. Prints figures.
// Usage: npm run bench:commit [-- <object MiB, default 64>]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { LocalLake } from '../dist/store/local.js';
import { changedObjects } from '../dist/table/committed.js';
import { claimSource } from '../dist/table/claim.js';

const mib = Number(process.argv[2] ?? 64);
const dir = mkdtempSync(path.join(os.tmpdir(), 'watt-bench-commit-'));
const logger = { debug() {}, info() {}, warn() {}, error() {} };
try {
  const lake = new LocalLake(dir, 'watt-lake');
  const body = randomBytes(mib * 1024 * 1024);
  const file = path.join(dir, 'object.csv');
  writeFileSync(file, body);
  const sha256 = createHash('sha256').update(body).digest('hex');
  const put = await lake.putFile('p/2025/01/01/o_20250101T000000Z-bench00001.csv', file, {});
  const objects = [{ key: 'p/2025/01/01/o_20250101T000000Z-bench00001.csv', sha256, bytes: body.length }];
  const identified = objects.map((o) => ({ ...o, identity: put.identity }));
  const statMs = [];
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    const changed = await changedObjects(lake, identified);
    statMs.push(performance.now() - t);
    if (changed.length) throw new Error('object reported changed');
  }
  const hashMs = [];
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    const changed = await changedObjects(lake, objects);
    hashMs.push(performance.now() - t);
    if (changed.length) throw new Error('object reported changed');
  }
  const claimMs = [];
  for (let i = 0; i < 20; i++) {
    const t = performance.now();
    const c = await claimSource({ lake, prefix: 'p', sourceSha256: randomBytes(32).toString('hex'), keyId: 'bench', runId: `20250101T000000Z-bench${String(i).padStart(5, '0')}`, logger, graceMs: 3600_000 });
    claimMs.push(performance.now() - t);
    if (!c.won) throw new Error('claim lost');
  }
  const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
  console.log(`object ${mib} MiB: pre-manifest check by file identity (what ingest does) median ${median(statMs).toFixed(2)} ms`);
  console.log(`object ${mib} MiB: pre-manifest re-hash (identity unknown or changed) median ${median(hashMs).toFixed(1)} ms (${(mib / (median(hashMs) / 1000)).toFixed(0)} MiB/s), runs: ${hashMs.map((m) => m.toFixed(0)).join(' ')}`);
  console.log(`landing claim (list + create-if-absent): median ${median(claimMs).toFixed(2)} ms over ${claimMs.length} claims`);
  console.log(`machine: ${os.cpus().length} x ${os.cpus()[0]?.model ?? '?'}, node ${process.version}, loaded (other engineers' builds and tests running)`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
