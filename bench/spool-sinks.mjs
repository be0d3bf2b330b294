#!/usr/bin/env node
// npm run bench:sinks [-- --rows N] [-- --repeat K]: the output side of one `watt ingest` range alone,
// CSV sink against Parquet sink (src/ingest/partition-spool.ts, from the build), in a worker thread
// with the ingest workers' heap limits (64 MiB old generation, 8 MiB young), fed N rows (default
// 500,000: one worker's half of bench:ingest's 1M) of the bench:ingest shape as the pipeline hands
// them over: canonical cells, fresh strings for each row, pseudonyms shared from a cache. Prints
// the CPU seconds of the sink alone (rows made and timed alone first, subtracted), rows/s of the
// sink, and the output bytes. CPU s covers every thread of the process (GC helpers included).
import { Worker, isMainThread, workerData, parentPort } from 'node:worker_threads';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const arg = (name, fallback) => (process.argv.indexOf(name) > 0 ? process.argv[process.argv.indexOf(name) + 1] : fallback);

if (isMainThread) {
  const rows = Number(arg('--rows', 500_000));
  const repeat = Number(arg('--repeat', 3));
  const dir = mkdtempSync(path.join(os.tmpdir(), 'watt-sinks-'));
  console.log(`machine: ${os.cpus().length} x ${os.cpus()[0].model}, Node ${process.version}; load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  console.log(`${rows.toLocaleString('en')} rows, one worker (64 MiB old generation), ${repeat} runs per sink alternated, fastest kept`);
  const best = new Map();
  try {
    for (let k = 0; k < repeat; k++) {
      for (const format of ['csv', 'parquet']) {
        const w = new Worker(new URL(import.meta.url), { workerData: { format, rows, prefix: path.join(dir, `${format}${k}`) }, resourceLimits: { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 8 } });
        const r = await new Promise((resolve, reject) => w.on('message', resolve).on('error', reject));
        await w.terminate();
        if (!best.has(format) || r.cpu < best.get(format).cpu) best.set(format, r);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log('sink    | CPU s (sink alone) | rows/s (CPU) | output');
  for (const [format, r] of best) console.log(`${format.padEnd(7)} | ${r.cpu.toFixed(2).padStart(18)} | ${Math.round(rows / r.cpu).toLocaleString('en').padStart(12)} | ${(r.bytes / 2 ** 20).toFixed(1)} MiB`);
} else {
  const { createSink } = await import('../dist/ingest/partition-spool.js');
  const { format, rows, prefix } = workerData;
  const cache = new Map();
  const pseudo = (v) => {
    let o = cache.get(v);
    if (o === undefined) cache.set(v, (o = createHmac('sha256', 'bench').update(v).digest('hex')));
    return o;
  };
  const t0 = Date.UTC(2025, 0, 1);
  const columns = [
    ['record_id', 'string', true],
    ['customer_id', 'string', false],
    ['meter_id', 'string', false],
    ['reading_ts', 'timestamp', true],
    ['consumption_kwh', 'double', true],
    ['tariff_eur_kwh', 'double', true],
    ['is_peak', 'boolean', true],
  ].map(([name, kind, statistics]) => ({ name, kind, statistics }));
  const make = (i) => {
    const c = i % 20000;
    const hour = Math.floor(i / 20000) % 24;
    return [`REC-${String(i).padStart(8, '0')}`, pseudo(`CUST-${String(c).padStart(6, '0')}`), pseudo(`METER-${String(c).padStart(6, '0')}`), new Date(t0 + Math.floor(i / 20000) * 3600_000).toISOString().replace('.000Z', 'Z'), String(((i * 7919) % 3000) / 100), `0.${17 + (hour % 7)}`, hour >= 7 && hour < 23 ? 'true' : 'false'];
  };
  for (let i = 0; i < 20000; i++) make(i);
  let cpu = process.cpuUsage();
  let n = 0;
  for (let i = 0; i < rows; i++) n += make(i).length;
  const alone = process.cpuUsage(cpu);
  // Created (its module loaded) before the clock starts.
  const sink = await createSink({ format, prefix, columns, plain: columns.map((c) => !c.statistics) }, columns.map((c) => c.name).join(',') + '\n');
  cpu = process.cpuUsage();
  for (let i = 0; i < rows; i++) {
    const r = make(i);
    sink.write(r[3].slice(0, 10), r);
  }
  const parts = sink.finish();
  const all = process.cpuUsage(cpu);
  parentPort.postMessage({ cpu: (all.user + all.system - alone.user - alone.system) / 1e6, bytes: parts.reduce((b, p) => b + p.bytes, 0), n });
}
