#!/usr/bin/env node
// npm run bench:parquet-writers [-- --rows N]: writes the same N rows (default 1,000,000) of the
// bench:ingest shape, held in memory, to one Parquet file with each writer that is installed, one
// child process per writer (single thread), and prints seconds, file size and peak RSS.
//
// Writers:
// - watt (dist/lake/parquet.js ParquetFileWriter: its own column encoder, typed buffers, DATA_PAGE
//   v1, dictionary or PLAIN strings, zstd level 1, footer by hyparquet-writer), fed canonical CSV
//   cells with appendCanonical as `watt ingest --format parquet` does, and typed cells with append
//   (erasure's path); row groups within 16 MiB of buffers (the ingest sink's budget);
// - hyparquet-writer 0.17 (a dependency) alone, as watt used it before its own encoder: row groups of
//   100,000 rows, Snappy, dictionary for the pseudonyms, PLAIN record_id, BigInt timestamps;
// - parquet-wasm + apache-arrow (optional): Arrow table built from the columns, IPC, writeParquet, zstd;
// - @dsnp/parquetjs (optional): appendRow per row, Snappy;
// - @duckdb/node-api (dev dependency): appender into a table, COPY ... (FORMAT parquet, COMPRESSION zstd), threads=1.
// Writers not installed are skipped with the command that installs them (--no-save: nothing in
// package.json changes). Needs the build (npm run build) for watt's writer.
import { spawnSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(path.join(root, 'package.json'));
const arg = (name, fallback) => (process.argv.indexOf(name) > 0 ? process.argv[process.argv.indexOf(name) + 1] : fallback);
const ROWS = Number(arg('--rows', 1_000_000));

const WRITERS = {
  '(columns only, no writer)': { packages: [], install: '', write: async () => 'baseline: the rows in memory, nothing written' },
  'watt appendCanonical': { packages: ['zstd-napi'], install: 'npm install (a dependency)', prepare: canonicalRows, write: writeWattCanonical },
  'watt append (typed cells)': { packages: ['zstd-napi'], install: 'npm install (a dependency)', write: writeWattTyped },
  'hyparquet-writer (Snappy)': { packages: ['hyparquet-writer'], install: 'npm install (a dependency)', write: writeHyparquet },
  'parquet-wasm + apache-arrow': { packages: ['parquet-wasm', 'apache-arrow'], install: 'npm install --no-save parquet-wasm@0.8 apache-arrow@21', write: writeParquetWasm },
  '@dsnp/parquetjs': { packages: ['@dsnp/parquetjs'], install: 'npm install --no-save @dsnp/parquetjs@1.8.8 (1.8.9+ needs Node >= 24)', write: writeParquetjs },
  '@duckdb/node-api': { packages: ['@duckdb/node-api'], install: 'npm install --no-save @duckdb/node-api@1.5', write: writeDuckdb },
};

/** The bench:ingest rows as columns, after pseudonymisation (two 64-hex HMAC columns, 20,000 subjects). */
function columns(rows) {
  const key = 'bench-key-0123456789abcdef0123456789abcdef';
  const pseudo = (p, c) => createHmac('sha256', key).update(`${p}-${String(c).padStart(6, '0')}`).digest('hex');
  const customers = Array.from({ length: 20000 }, (_, c) => pseudo('CUST', c));
  const meters = Array.from({ length: 20000 }, (_, c) => pseudo('METER', c));
  const t0 = Date.UTC(2025, 0, 1);
  const cols = { record_id: [], customer_id: [], meter_id: [], reading_ts: [], consumption_kwh: [], tariff_eur_kwh: [], is_peak: [] };
  for (let i = 0; i < rows; i++) {
    const c = i % 20000;
    const hour = Math.floor(i / 20000) % 24;
    cols.record_id.push(`REC-${String(i).padStart(8, '0')}`);
    cols.customer_id.push(customers[c]);
    cols.meter_id.push(meters[c]);
    cols.reading_ts.push(BigInt(t0 + Math.floor(i / 20000) * 3600_000) * 1000n); // microseconds
    cols.consumption_kwh.push(((i * 7919) % 3000) / 100);
    cols.tariff_eur_kwh.push(Number(`0.${17 + (hour % 7)}`));
    cols.is_peak.push(hour >= 7 && hour < 23);
  }
  return cols;
}
const NAMES = ['record_id', 'customer_id', 'meter_id', 'reading_ts', 'consumption_kwh', 'tariff_eur_kwh', 'is_peak'];

const KINDS = ['string', 'string', 'string', 'timestamp', 'double', 'double', 'boolean'];
/** watt's columns: no statistics on the pseudonyms, as ingest writes them. */
const WATT_COLUMNS = NAMES.map((name, i) => ({ name, kind: KINDS[i], statistics: i !== 1 && i !== 2 }));
/** Row groups of the ingest sink (PARQUET_BUFFER_BYTES = 16 MiB, a row group at half of it). */
const WATT_ROW_GROUP_BYTES = 16 * 1024 * 1024;

/** The rows as ingest hands them to the sink: canonical CSV cells (strings), pseudonyms shared. */
function canonicalRows(cols) {
  const rows = new Array(ROWS);
  for (let i = 0; i < ROWS; i++) {
    const ts = new Date(Number(cols.reading_ts[i] / 1000n)).toISOString().replace('.000Z', 'Z');
    rows[i] = [cols.record_id[i], cols.customer_id[i], cols.meter_id[i], ts, String(cols.consumption_kwh[i]), String(cols.tariff_eur_kwh[i]), String(cols.is_peak[i])];
  }
  return rows;
}

async function writeWattCanonical(cols, file, rows) {
  const { ParquetFileWriter } = await import(pathToFileURL(path.join(root, 'dist', 'lake', 'parquet.js')).href);
  const w = new ParquetFileWriter(file, WATT_COLUMNS, { rowGroupBytes: WATT_ROW_GROUP_BYTES });
  for (let i = 0; i < ROWS; i++) w.appendCanonical(rows[i]);
  w.close();
  return 'zstd 1, canonical CSV cells (as ingest), row groups by bytes';
}

async function writeWattTyped(cols, file) {
  const { ParquetFileWriter } = await import(pathToFileURL(path.join(root, 'dist', 'lake', 'parquet.js')).href);
  const w = new ParquetFileWriter(file, WATT_COLUMNS, { rowGroupBytes: WATT_ROW_GROUP_BYTES });
  const row = new Array(NAMES.length);
  for (let i = 0; i < ROWS; i++) {
    for (let j = 0; j < NAMES.length; j++) row[j] = cols[NAMES[j]][i];
    w.append(row);
  }
  w.close();
  return 'zstd 1, typed cells (BigInt timestamps, as erasure), row groups by bytes';
}

async function writeHyparquet(cols, file) {
  const { ParquetWriter, fileWriter } = await import('hyparquet-writer');
  const schema = [
    { name: 'root', num_children: NAMES.length },
    ...NAMES.map((name, i) => {
      const base = { name, repetition_type: 'OPTIONAL' };
      const kind = KINDS[i];
      if (kind === 'string') return { ...base, type: 'BYTE_ARRAY', converted_type: 'UTF8' };
      if (kind === 'timestamp') return { ...base, type: 'INT64', logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MICROS' } };
      return { ...base, type: kind === 'double' ? 'DOUBLE' : 'BOOLEAN' };
    }),
  ];
  const writer = new ParquetWriter({ writer: fileWriter(file), schema, codec: 'SNAPPY', statistics: true });
  const encoder = new TextEncoder();
  for (let start = 0; start < ROWS; start += 100_000) {
    const end = Math.min(ROWS, start + 100_000);
    const columnData = NAMES.map((name, i) => {
      const data = cols[name].slice(start, end);
      if (i === 0) return { name, data: data.map((v) => encoder.encode(v)), encoding: 'PLAIN' };
      if (i <= 2) return { name, data, encoding: 'RLE_DICTIONARY', statistics: false };
      return { name, data };
    });
    writer.write({ columnData, rowGroupSize: end - start });
  }
  writer.finish();
  return 'Snappy, row groups of 100,000 rows (watt before its own encoder)';
}

async function writeParquetWasm(cols, file) {
  const arrow = await import('apache-arrow');
  const pq = await import('parquet-wasm');
  const table = arrow.tableFromArrays({
    record_id: arrow.vectorFromArray(cols.record_id, new arrow.Utf8()),
    customer_id: arrow.vectorFromArray(cols.customer_id, new arrow.Utf8()),
    meter_id: arrow.vectorFromArray(cols.meter_id, new arrow.Utf8()),
    reading_ts: arrow.vectorFromArray(cols.reading_ts.map((v) => Number(v / 1000n)), new arrow.TimestampMillisecond('UTC')),
    consumption_kwh: Float64Array.from(cols.consumption_kwh),
    tariff_eur_kwh: Float64Array.from(cols.tariff_eur_kwh),
    is_peak: arrow.vectorFromArray(cols.is_peak, new arrow.Bool()),
  });
  const wasmTable = pq.Table.fromIPCStream(arrow.tableToIPC(table, 'stream'));
  const props = new pq.WriterPropertiesBuilder().setCompression(pq.Compression.ZSTD).build();
  writeFileSync(file, pq.writeParquet(wasmTable, props));
  return 'zstd, whole table in memory';
}

async function writeParquetjs(cols, file) {
  const { ParquetSchema, ParquetWriter } = await import('@dsnp/parquetjs');
  const schema = new ParquetSchema({
    record_id: { type: 'UTF8', compression: 'SNAPPY' },
    customer_id: { type: 'UTF8', compression: 'SNAPPY' },
    meter_id: { type: 'UTF8', compression: 'SNAPPY' },
    reading_ts: { type: 'TIMESTAMP_MILLIS', compression: 'SNAPPY' },
    consumption_kwh: { type: 'DOUBLE', compression: 'SNAPPY' },
    tariff_eur_kwh: { type: 'DOUBLE', compression: 'SNAPPY' },
    is_peak: { type: 'BOOLEAN', compression: 'SNAPPY' },
  });
  const w = await ParquetWriter.openFile(schema, file, { rowGroupSize: 100_000 });
  for (let i = 0; i < ROWS; i++) {
    await w.appendRow({
      record_id: cols.record_id[i],
      customer_id: cols.customer_id[i],
      meter_id: cols.meter_id[i],
      reading_ts: new Date(Number(cols.reading_ts[i] / 1000n)),
      consumption_kwh: cols.consumption_kwh[i],
      tariff_eur_kwh: cols.tariff_eur_kwh[i],
      is_peak: cols.is_peak[i],
    });
  }
  await w.close();
  return 'Snappy, row groups of 100,000 rows, plain encoding';
}

async function writeDuckdb(cols, file) {
  const { DuckDBInstance, DuckDBTimestampTZValue } = await import('@duckdb/node-api');
  const instance = await DuckDBInstance.create(':memory:', { threads: '1' });
  const con = await instance.connect();
  await con.run('CREATE TABLE t (record_id VARCHAR, customer_id VARCHAR, meter_id VARCHAR, reading_ts TIMESTAMPTZ, consumption_kwh DOUBLE, tariff_eur_kwh DOUBLE, is_peak BOOLEAN)');
  const app = await con.createAppender('t');
  for (let i = 0; i < ROWS; i++) {
    app.appendVarchar(cols.record_id[i]);
    app.appendVarchar(cols.customer_id[i]);
    app.appendVarchar(cols.meter_id[i]);
    app.appendTimestampTZ(new DuckDBTimestampTZValue(cols.reading_ts[i]));
    app.appendDouble(cols.consumption_kwh[i]);
    app.appendDouble(cols.tariff_eur_kwh[i]);
    app.appendBoolean(cols.is_peak[i]);
    app.endRow();
  }
  app.closeSync();
  await con.run(`COPY t TO '${file.replace(/'/g, "''")}' (FORMAT parquet, COMPRESSION zstd)`);
  return 'zstd, appender then COPY, threads=1';
}

function installed(pkg) {
  try {
    require.resolve(pkg);
    return true;
  } catch {
    return false;
  }
}

function installSize(packages) {
  // du of the packages' folders (and their platform bindings), as a rough install weight.
  let bytes = 0;
  const walk = (dir) => {
    const r = spawnSync('du', ['-sb', dir], { encoding: 'utf8' });
    return Number(r.stdout.split('\t')[0]) || 0;
  };
  for (const p of packages) {
    const dir = path.join(root, 'node_modules', p);
    bytes += walk(dir);
    if (p === '@duckdb/node-api') bytes += walk(path.join(root, 'node_modules', '@duckdb', 'node-bindings')) + walk(path.join(root, 'node_modules', '@duckdb', `node-bindings-${process.platform}-${process.arch}`));
  }
  return bytes;
}

if (arg('--child')) {
  // Child: build the columns, then time the writer alone.
  const name = arg('--child');
  const file = arg('--out');
  const cols = columns(ROWS);
  const prepared = WRITERS[name].prepare?.(cols);
  const { PerformanceObserver } = await import('node:perf_hooks');
  let gc = 0;
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gc += e.duration;
  }).observe({ entryTypes: ['gc'] });
  await new Promise((r) => setTimeout(r, 50));
  gc = 0;
  const cpu = process.cpuUsage();
  const t = process.hrtime.bigint();
  const note = await WRITERS[name].write(cols, file, prepared);
  const seconds = Number(process.hrtime.bigint() - t) / 1e9;
  const used = process.cpuUsage(cpu);
  await new Promise((r) => setTimeout(r, 50));
  console.log(JSON.stringify({ seconds, cpu: (used.user + used.system) / 1e6, gc: gc / 1000, note }));
} else {
  console.log(`machine: ${os.cpus().length} x ${os.cpus()[0].model}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}; load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  // Baseline: the child building the columns and writing nothing, to subtract from peak RSS.
  console.log(`${ROWS.toLocaleString('en')} rows of the bench:ingest shape (two 64-hex pseudonyms of 20,000 subjects), in memory, one thread`);
  console.log("peak RSS includes the ~1M rows held in memory by every child; install MB: the packages' own folders, not their dependencies");
  console.log('CPU s: all threads of the child during the write (GC helpers included); GC s: pauses of the main thread (PerformanceObserver "gc")');
  console.log("writer                      | seconds | rows/s    | CPU s | GC s | file MiB | peak RSS | install MB | notes");
  const dir = mkdtempSync(path.join(os.tmpdir(), 'watt-pqw-'));
  try {
    for (const [name, w] of Object.entries(WRITERS)) {
      const missing = w.packages.filter((p) => !installed(p));
      if (missing.length) {
        console.log(`${name.padEnd(27)} | skipped: ${missing.join(', ')} not installed (${w.install})`);
        continue;
      }
      const file = path.join(dir, `${name.replace(/[^a-z]+/g, '_')}.parquet`);
      if (!w.packages.length) writeFileSync(file, '');
      const r = spawnSync(process.execPath, ['-r', path.join(root, 'bench', 'peak-rss.cjs'), fileURLToPath(import.meta.url), '--child', name, '--out', file, '--rows', String(ROWS)], { encoding: 'utf8', maxBuffer: 1 << 26 });
      if (r.status !== 0) {
        console.log(`${name.padEnd(27)} | failed (exit ${r.status}): ${r.stderr.split('\n').find((l) => l.trim()) ?? ''}`);
        continue;
      }
      const { seconds, cpu, gc, note } = JSON.parse(r.stdout.trim().split('\n').pop());
      const rss = Number(/peak_rss_kb=(\d+)/.exec(r.stderr)?.[1]) / 1024;
      const mib = statSync(file).size / 2 ** 20;
      const rate = w.packages.length ? Math.round(ROWS / seconds).toLocaleString('en') : '';
      console.log(`${name.padEnd(27)} | ${seconds.toFixed(2).padStart(7)} | ${rate.padStart(9)} | ${cpu.toFixed(2).padStart(5)} | ${gc.toFixed(2).padStart(4)} | ${mib.toFixed(1).padStart(8)} | ${rss.toFixed(0).padStart(4)} MiB | ${(installSize(w.packages) / 1e6).toFixed(1).padStart(10)} | ${note}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
