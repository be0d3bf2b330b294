// npm run bench:pseudonyms [-- --rows N] [-- --order ordered|random]: the lake's size under the two
// pseudonym schemes (issue 23 item 4) and with amounts as DECIMAL or DOUBLE (item 5). Generates N
// rows (default 1,000,000) of the bench's shape (bench/readings.mjs), then runs the real CLI,
// `watt ingest` into a fresh local lake, once per format (csv, parquet) and scheme
// (--pseudonym-scheme v1: 64 hex characters; v2: 22 base64url characters), with the shipped schema
// (kWh DECIMAL(18,3), tariffs DECIMAL(18,5)); then v2 with the same schema without `x-decimal`
// (amounts as DOUBLE). Prints the data bytes, bytes per row, the ratio to v1, wall and CPU
// seconds (user+sys of the process and its worker threads) and the load average.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { lakeData, writeReadings, writeReadingsShuffled } from './readings.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name) => (process.argv.indexOf(name) > 0 ? process.argv[process.argv.indexOf(name) + 1] : undefined);
const rows = Number(arg('--rows') ?? 1_000_000);
const order = arg('--order') ?? 'ordered';
if (!['ordered', 'random'].includes(order)) throw new Error('--order: ordered or random');

const dir = mkdtempSync(path.join(os.tmpdir(), 'watt-bench-schemes-'));
try {
  console.log(`machine: ${os.cpus().length} x ${os.cpus()[0].model}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}; load average at start ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  const source = path.join(dir, 'readings.csv');
  if (order === 'random') await writeReadingsShuffled(source, 0, rows);
  else await writeReadings(source, 0, rows);
  const shipped = path.join(root, 'schemas', 'energy_consumption.schema.json');
  const doubles = path.join(dir, 'doubles.schema.json');
  const schema = JSON.parse(readFileSync(shipped, 'utf8'));
  for (const p of Object.values(schema.properties)) delete p['x-decimal'];
  writeFileSync(doubles, JSON.stringify(schema));
  console.log(`source: ${rows.toLocaleString('en')} rows (${order}), ${(statSync(source).size / 1e6).toFixed(1)} MB`);
  console.log('format  | scheme | amounts | data bytes  | bytes/row | vs v1 | objects | wall s | CPU s  | load (1 min)');
  const cases = [];
  for (const format of ['csv', 'parquet']) {
    for (const [scheme, amounts] of [['v1', 'DECIMAL'], ['v2', 'DECIMAL'], ['v2', 'DOUBLE']]) cases.push({ format, scheme, amounts });
  }
  const v1 = new Map();
  for (const c of cases) {
    const run = path.join(dir, `${c.format}-${c.scheme}-${c.amounts}`);
    const env = { ...process.env, WATT_HOME: path.join(run, '.watt'), WATT_LAKE_ROOT: path.join(run, 'lake'), WATT_LOG_DIR: path.join(run, 'logs'), WATT_PSEUDONYMISATION_KEY: 'b'.repeat(64) };
    const args = [path.join(root, 'bin', 'watt.js'), 'ingest', '--source', source, '--format', c.format, '--pseudonym-scheme', c.scheme, '--date', '2025-01-01', '--json'];
    if (c.amounts === 'DOUBLE') args.push('--schema', doubles);
    childCpuSeconds();
    const t = process.hrtime.bigint();
    const r = spawnSync(process.execPath, args, { cwd: dir, env, encoding: 'utf8', maxBuffer: 1 << 26 });
    const seconds = Number(process.hrtime.bigint() - t) / 1e9;
    if (r.status !== 0) throw new Error(`ingest ${c.format} ${c.scheme} exited ${r.status}: ${r.stderr.slice(0, 500)}`);
    const out = JSON.parse(r.stdout);
    if (out.rows !== rows) throw new Error(`ingest landed ${out.rows} rows of ${rows}`);
    const cpu = childCpuSeconds();
    const data = lakeData(path.join(run, 'lake'));
    if (c.scheme === 'v1') v1.set(c.format, data.bytes);
    const ratio = c.scheme === 'v1' ? '1.00' : (data.bytes / v1.get(c.format)).toFixed(2);
    console.log(`${c.format.padEnd(7)} | ${c.scheme.padEnd(6)} | ${c.amounts.padEnd(7)} | ${String(data.bytes).padStart(11)} | ${(data.bytes / rows).toFixed(1).padStart(9)} | ${ratio.padStart(5)} | ${String(data.objects).padStart(7)} | ${seconds.toFixed(2).padStart(6)} | ${cpu} | ${os.loadavg()[0].toFixed(2)}`);
    rmSync(run, { recursive: true, force: true });
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

/**
 * CPU seconds (user+sys) of the children waited for since the previous call, or `n/a` off Linux:
 * Node exposes no RUSAGE_CHILDREN, so this reads cutime and cstime from /proc/self/stat (clock
 * ticks, USER_HZ = 100 on Linux).
 */
function childCpuSeconds() {
  try {
    const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
    // cutime and cstime are fields 16 and 17 of /proc/<pid>/stat (1-based), in clock ticks.
    const ticks = Number(fields[13]) + Number(fields[14]);
    const last = childCpuSeconds.last ?? 0;
    childCpuSeconds.last = ticks;
    return ((ticks - last) / 100).toFixed(2).padStart(6);
  } catch {
    return '   n/a';
  }
}
