#!/usr/bin/env node
// npm run bench:ingest [-- --rows N]: generates N rows (default 1,000,000) of the seed's shape,
// ingests them into a temporary local lake with the real CLI, and prints rows/s, MB/s and peak
// RSS for watt and, in the same run, for csv-parse alone (parse only, no validation). Repeats at
// 100,000 rows to show memory stays flat.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, createWriteStream } from 'node:fs';
import { once } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const argRows = process.argv.indexOf('--rows');
const sizes = argRows > 0 ? [Number(process.argv[argRows + 1])] : [100_000, 1_000_000];
// --format csv|parquet and --partition-by COLUMN are passed to watt ingest.
const passthrough = ['--format', '--partition-by'].flatMap((flag) => {
  const i = process.argv.indexOf(flag);
  return i > 0 ? [flag, process.argv[i + 1]] : [];
});

/** Writes `rows` meter readings: 20,000 customers, one meter each, hourly readings. */
async function generate(file, rows) {
  const out = createWriteStream(file);
  out.write('record_id,customer_id,meter_id,reading_ts,consumption_kwh,tariff_eur_kwh,is_peak\n');
  const t0 = Date.UTC(2025, 0, 1);
  let chunk = '';
  for (let i = 0; i < rows; i++) {
    const c = i % 20000;
    const ts = new Date(t0 + Math.floor(i / 20000) * 3600_000).toISOString().replace('.000Z', 'Z');
    const hour = Math.floor(i / 20000) % 24;
    chunk += `REC-${String(i).padStart(8, '0')},CUST-${String(c).padStart(6, '0')},METER-${String(c).padStart(6, '0')},${ts},${((i * 7919) % 3000 / 100).toFixed(2)},0.${17 + (hour % 7)},${hour >= 7 && hour < 23 ? 'true' : 'false'}\n`;
    if (chunk.length > 1 << 16) {
      if (!out.write(chunk)) await once(out, 'drain');
      chunk = '';
    }
  }
  out.end(chunk);
  await once(out, 'finish');
}

/** Runs a command under /usr/bin/time-like accounting: wall seconds and peak RSS (MiB). */
function measure(args, env) {
  const t = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { env: { ...process.env, ...env }, encoding: 'utf8', maxBuffer: 1 << 26 });
  const seconds = Number(process.hrtime.bigint() - t) / 1e9;
  if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  const rss = /peak_rss_kb=(\d+)/.exec(r.stderr)?.[1];
  const cpu = /cpu_ms=(\d+)/.exec(r.stderr)?.[1];
  return { seconds, rssMiB: rss ? Number(rss) / 1024 : NaN, cpuSeconds: cpu ? Number(cpu) / 1000 : NaN, stdout: r.stdout };
}

const rssHook = path.join(root, 'bench', 'peak-rss.cjs');
console.log(`machine: ${os.cpus().length} x ${os.cpus()[0].model}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}`);
console.log('rows       | tool              | seconds | rows/s    | MB/s  | peak RSS | CPU s');
for (const rows of sizes) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'watt-bench-'));
  try {
    const file = path.join(dir, 'readings.csv');
    await generate(file, rows);
    const mb = statSync(file).size / 1e6;
    const parse = measure(['-r', rssHook, path.join(root, 'bench', 'parse-only.mjs'), file]);
    const env = { WATT_HOME: path.join(dir, '.watt'), WATT_LAKE_ROOT: path.join(dir, 'lake'), WATT_LOG_DIR: path.join(dir, 'logs'), WATT_PSEUDONYMISATION_KEY: 'bench-key-0123456789abcdef0123456789abcdef' };
    const watt = measure(['-r', rssHook, path.join(root, 'bin', 'watt.js'), 'ingest', '--source', file, '--json', ...passthrough], env);
    const lakeBytes = (JSON.parse(watt.stdout).objects ?? []).reduce((n, o) => n + statSync(new URL(o.uri)).size, 0);
    for (const [name, m] of [['csv-parse alone', parse], ['watt ingest', watt]]) {
      console.log(`${String(rows).padEnd(10)} | ${name.padEnd(17)} | ${m.seconds.toFixed(2).padStart(7)} | ${Math.round(rows / m.seconds).toLocaleString('en').padStart(9)} | ${(mb / m.seconds).toFixed(1).padStart(5)} | ${m.rssMiB.toFixed(0).padStart(4)} MiB | ${m.cpuSeconds.toFixed(2)}`);
    }
    console.log(`${String(rows).padEnd(10)} | source ${mb.toFixed(1)} MB, lake ${(lakeBytes / 2 ** 20).toFixed(1)} MiB (${passthrough.join(' ') || 'csv'}), watt/csv-parse ${(watt.seconds / parse.seconds).toFixed(2)}x`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
