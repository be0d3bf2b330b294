#!/usr/bin/env node
/**
 * npm run bench:dashboard — the dashboard's JSON endpoints on a catalog of 10,000 runs (BENCH_RUNS):
 * 90 days of ingests into 4 prefixes (each with a data object and a manifest), purges, erasures,
 * verify and audit runs, 2,000 audit-trail entries. The app is built in-process (dist/) and each
 * endpoint is called through fastify's inject (no socket: what is measured is the query and the
 * JSON) BENCH_REPEAT times after one warm-up call. Prints median and p95 per endpoint (ms), and
 * the page's first-load weight (gzip bytes of the HTML and the four assets).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const RUNS = Number(process.env.BENCH_RUNS ?? 10_000);
const REPEAT = Number(process.env.BENCH_REPEAT ?? 50);
const KEY = 'bench-key-0123456789abcdef';

const { Catalog } = await import(path.join(ROOT, 'dist', 'catalog', 'catalog.js'));
const { appendTrail } = await import(path.join(ROOT, 'dist', 'retention', 'trail.js'));
const { buildApp } = await import(path.join(ROOT, 'dist', 'serve', 'app.js'));
const { parseApiKeys } = await import(path.join(ROOT, 'dist', 'serve', 'auth.js'));
const { loadPredictor } = await import(path.join(ROOT, 'dist', 'serve', 'predictor.js'));

const home = mkdtempSync(path.join(os.tmpdir(), 'watt-bench-dashboard-'));
const catalog = Catalog.open(home);
const prefixes = ['homes/north', 'homes/south', 'homes/east', 'homes/west'];
const now = Date.now();
const t0 = performance.now();
catalog.db.transaction(() => {
  for (let i = 0; i < RUNS; i++) {
    const at = new Date(now - Math.floor((i / RUNS) * 90 * 86_400_000)).toISOString();
    const prefix = prefixes[i % prefixes.length];
    const runId = `bench-${String(i).padStart(6, '0')}`;
    const kind = i % 50 === 0 ? 'purge' : i % 97 === 0 ? 'erasure' : i % 200 === 0 ? 'verify' : i % 300 === 0 ? 'audit-rgpd' : 'ingest';
    const failed = i % 41 === 0;
    catalog.recordRun({ run_id: runId, command: kind, status: failed ? 'failed' : kind === 'ingest' && i % 7 === 0 ? 'rejected' : 'succeeded', started_at: at, finished_at: at, prefix: kind === 'audit-rgpd' ? null : prefix, destination: `s3://lake/${prefix}`, rows: kind === 'ingest' ? 1000 + (i % 100) : kind === 'erasure' ? 12 : null, rejected: kind === 'ingest' ? i % 7 : null, objects: kind === 'purge' ? 8 : kind === 'erasure' ? 2 : null, exit_code: failed ? 3 : 0, source_name: kind === 'ingest' ? 'export.csv' : null, detail: kind === 'audit-rgpd' ? '{"findings":{"error":0,"warning":2,"info":1}}' : null });
    if (kind === 'ingest' && !failed) {
      const day = at.slice(0, 10);
      catalog.addLakeObject({ run_id: runId, kind: 'data', uri: `s3://lake/${prefix}/${day}/${runId}.csv`, provider: 's3', bucket: 'lake', key: `${prefix}/${day.replace(/-/g, '/')}/${runId}.csv`, bytes: 50_000, rows: 1000, partition_date: day });
      catalog.addLakeObject({ run_id: runId, kind: 'manifest', uri: `s3://lake/${prefix}/_manifests/${runId}.json`, provider: 's3', bucket: 'lake', key: `${prefix}/_manifests/${runId}.json`, bytes: 1500, partition_date: day });
    }
  }
})();
for (let i = 0; i < 20; i++) appendTrail(catalog.db, Array.from({ length: 100 }, (_, j) => ({ action: 'retention.delete', lake: 's3://lake/homes/north', key: `k${i}-${j}`, count: 1, run_id: 'bench-000000' })));
catalog.close();
console.log(`catalog: ${RUNS} runs, ${RUNS * 2} lake objects (about), 2000 trail entries, filled in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

// The purge preview lists the configured lake: a local one, empty here (its cost is the lake's listing, cached a minute).
const watt = await buildApp({ keys: parseApiKeys(KEY), load: () => loadPredictor({ home }), log: () => {}, home, env: { WATT_LAKE_ROOT: path.join(home, 'lake') } });
const endpoints = ['/ui/api/runs?days=30', '/ui/api/runs?days=90', '/ui/api/runs?days=90&prefix=homes/south', '/ui/api/runs/bench-004321', '/ui/api/lake', '/ui/api/gdpr?days=90', '/ui/api/model', '/metrics'];
const pct = (xs, p) => xs.slice().sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))];
// "changed": a run is recorded by another connection before each call (as a verb does), so the
// answer is computed again; "unchanged": the catalog did not change since the last call (cached).
const writer = Catalog.open(home);
let n = 0;
const touch = () => writer.recordRun({ run_id: `bench-touch-${n++}`, command: 'verify', status: 'succeeded', started_at: new Date(now - 200 * 86_400_000).toISOString() });
console.log('endpoint                                   changed: median ms  p95 ms   unchanged: median ms   bytes');
for (const url of endpoints) {
  const headers = { 'x-api-key': KEY };
  const first = await watt.app.inject({ method: 'GET', url, headers });
  if (first.statusCode !== 200) throw new Error(`${url}: ${first.statusCode} ${first.body.slice(0, 200)}`);
  const cold = [];
  const warm = [];
  for (let i = 0; i < REPEAT; i++) {
    touch();
    let s = performance.now();
    await watt.app.inject({ method: 'GET', url, headers });
    cold.push(performance.now() - s);
    s = performance.now();
    await watt.app.inject({ method: 'GET', url, headers });
    warm.push(performance.now() - s);
  }
  console.log(`${url.padEnd(42)} ${pct(cold, 0.5).toFixed(2).padStart(17)} ${pct(cold, 0.95).toFixed(2).padStart(7)} ${pct(warm, 0.5).toFixed(2).padStart(22)} ${String(first.body.length).padStart(7)}`);
}
writer.close();
let total = 0;
const sizes = [];
for (const url of ['/ui/', '/ui/assets/app.js', '/ui/assets/app.css', '/ui/assets/uPlot.min.js', '/ui/assets/uPlot.min.css']) {
  const r = await watt.app.inject({ method: 'GET', url, headers: { 'accept-encoding': 'gzip' } });
  total += r.rawPayload.length;
  sizes.push(`${url.replace('/ui/assets/', '')} ${r.rawPayload.length}`);
}
console.log(`first load (gzip): ${total} bytes = ${(total / 1024).toFixed(1)} KiB (${sizes.join(', ')})`);
await watt.app.close();
rmSync(home, { recursive: true, force: true });
