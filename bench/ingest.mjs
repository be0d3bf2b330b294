#!/usr/bin/env node
// npm run bench:ingest [-- --rows N] [-- --repeat K] [-- --order ordered|random|both]: generates N
// rows (default: 100,000 then 1,000,000) of the seed's shape, in two orders (default both): the
// ordered file (hour by hour, meters in order within each hour) and the same rows in a random
// order (issue 23: an export sorted by something else, where consecutive rows rarely share a
// meter or an hour), and for each file, in the same run, times:
// - floor A: csv-parse alone streaming arrays with 64 KiB reads, wall time with Node start-up
//   (bench/parse-only.mjs: the floor this bench always had);
// - floor B: csv-parse alone streaming the same file at its fastest (1 MiB reads, arrays), the
//   parse alone timed inside the process (no start-up, no module load): the strict floor;
// - `watt ingest --source FILE --json` into a temporary local lake (CSV, the default);
// - `watt ingest --format parquet`, and `--format parquet --partition-by reading_ts`;
// and prints rows/s, MB/s, peak RSS, the lake's data bytes, the CSV path's ratio to both floors and
// the Parquet lake's size as a fraction of the CSV lake. CPU s: user + system time of all the
// process's threads (watt uses two worker threads), comparable on a shared machine where wall
// times are not. Then the dialect path (issue 17; --no-dialect skips it): a 210,240-row French
// load curve, `watt schema infer` and `watt ingest` with the inferred schema. With --repeat K every tool runs K times,
// alternating, and the fastest run is kept (the machine may be shared).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { lakeData, writeReadings, writeReadingsShuffled } from './readings.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name) => (process.argv.indexOf(name) > 0 ? process.argv[process.argv.indexOf(name) + 1] : undefined);
const sizes = arg('--rows') ? [Number(arg('--rows'))] : [100_000, 1_000_000];
const repeat = Number(arg('--repeat') ?? 1);
const orderArg = arg('--order') ?? 'both';
if (!['ordered', 'random', 'both'].includes(orderArg)) throw new Error('--order: ordered, random or both');
const orders = orderArg === 'both' ? ['ordered', 'random'] : [orderArg];


/** Runs a node script: wall seconds, peak RSS (MiB, worker threads included), the in-process parse time if printed. */
function measure(args, env) {
  const t = process.hrtime.bigint();
  const startedAt = Date.now();
  const r = spawnSync(process.execPath, args, { env: { ...process.env, ...env }, encoding: 'utf8', maxBuffer: 1 << 26 });
  const seconds = Number(process.hrtime.bigint() - t) / 1e9;
  if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  const rss = /peak_rss_kb=(\d+)/.exec(r.stderr)?.[1];
  const parse = /parse_seconds=([\d.]+)/.exec(r.stderr)?.[1];
  const parseCpu = /parse_cpu_seconds=([\d.]+)/.exec(r.stderr)?.[1];
  const user = /cpu_user_us=(\d+)/.exec(r.stderr)?.[1];
  const system = /cpu_system_us=(\d+)/.exec(r.stderr)?.[1];
  const cpu = parseCpu ? Number(parseCpu) : (Number(user) + Number(system)) / 1e6;
  return { seconds: parse ? Number(parse) : seconds, cpu, rssMiB: rss ? Number(rss) / 1024 : NaN, stdout: r.stdout, startedAt, endedAt: startedAt + seconds * 1000 };
}

const fmtSeconds = (s) => s.toFixed(2).padStart(7);
const rssHook = path.join(root, 'bench', 'peak-rss.cjs');
console.log(`machine: ${os.cpus().length} x ${os.cpus()[0].model}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}; load average at start ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
console.log(`fastest of ${repeat} run(s) per tool`);
console.log('rows       | order   | tool                                     | seconds | rows/s    | MB/s  | CPU s  | peak RSS | lake data');
for (const rows of sizes) for (const order of orders) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'watt-bench-'));
  try {
    const file = path.join(dir, 'readings.csv');
    if (order === 'random') await writeReadingsShuffled(file, 0, rows);
    else await writeReadings(file, 0, rows);
    const mb = statSync(file).size / 1e6;
    const tools = [
      ['csv-parse alone (floor A: 64 KiB, wall)', () => measure(['-r', rssHook, path.join(root, 'bench', 'parse-only.mjs'), file])],
      ['csv-parse alone (floor B: 1 MiB, parse)', () => measure(['-r', rssHook, path.join(root, 'bench', 'parse-only.mjs'), file, '--fast'])],
      ['watt ingest (csv)', (i) => ingest(dir, file, `csv${i}`, [])],
      ['watt ingest --format parquet', (i) => ingest(dir, file, `pq${i}`, ['--format', 'parquet'])],
      ['  ... --partition-by reading_ts', (i) => ingest(dir, file, `pqd${i}`, ['--format', 'parquet', '--partition-by', 'reading_ts', '--allow-expired'])],
    ];
    const best = new Map();
    for (let i = 0; i < repeat; i++) {
      for (const [name, run] of tools) {
        const m = run(i);
        if (!best.has(name) || m.seconds < best.get(name).seconds) best.set(name, m);
      }
    }
    for (const [name] of tools) {
      const m = best.get(name);
      const data = m.lake ? `${(m.lake.bytes / 2 ** 20).toFixed(1)} MiB in ${m.lake.objects} object(s)` : '';
      console.log(`${String(rows).padEnd(10)} | ${order.padEnd(7)} | ${name.padEnd(40)} | ${fmtSeconds(m.seconds)} | ${Math.round(rows / m.seconds).toLocaleString('en').padStart(9)} | ${(mb / m.seconds).toFixed(1).padStart(5)} | ${m.cpu.toFixed(2).padStart(6)} | ${m.rssMiB.toFixed(0).padStart(4)} MiB | ${data}`);
    }
    const csv = best.get('watt ingest (csv)');
    const pq = best.get('watt ingest --format parquet');
    const pqd = best.get('  ... --partition-by reading_ts');
    console.log(
      `${String(rows).padEnd(10)} | ${order.padEnd(7)} | CSV path / floor A ${(csv.seconds / best.get(tools[0][0]).seconds).toFixed(2)}x, / floor B ${(csv.seconds / best.get(tools[1][0]).seconds).toFixed(2)}x (wall, target < 1.6x); ` +
        `CPU ${(csv.cpu / best.get(tools[0][0]).cpu).toFixed(2)}x, ${(csv.cpu / best.get(tools[1][0]).cpu).toFixed(2)}x; ` +
        `input ${(mb * 1e6 / 2 ** 20).toFixed(1)} MiB; Parquet lake / CSV lake ${(pq.lake.bytes / csv.lake.bytes).toFixed(3)} (target <= 0.5); ` +
        `partitioned Parquet lake / one-object Parquet lake ${(pqd.lake.bytes / pq.lake.bytes).toFixed(2)} (issue 23 target <= 1.2)`,
    );
    if (!pq.parquetObjects) console.log('  (no .parquet object landed: this build ignores --format parquet; its figures are CSV)');
    if (csv.phases) {
      const p = csv.phases;
      console.log(`${String(rows).padEnd(10)} | ${order.padEnd(7)} | CSV run phases (its fastest run, from its log's timestamps): start-up ${p.startup} s, scan and checks ${p.before} s, ranges ${p.ranges} s, upload and commit ${p.commit} s, exit ${p.exit} s`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// The dialect path (issue 17): a French load curve as utilities export it (scripts/load-curve.mjs:
// `;`, decimal commas, CRLF, windows-1252, Europe/Paris local times, 12 PDLs = 210,240 rows),
// `watt schema infer --timezone Europe/Paris` timed, then `watt ingest` with the inferred schema
// (conversions of every number and date-time cell; read as one range, in order, for the DST rule).
// The plain path above is the same command without any of that.
if (!process.argv.includes('--no-dialect')) {
  const { loadCurve } = await import('../scripts/load-curve.mjs');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'watt-bench-dialect-'));
  try {
    const curve = loadCurve({ pdls: 12, encoding: 'windows-1252' });
    const file = path.join(dir, 'courbe.csv');
    (await import('node:fs')).writeFileSync(file, curve.bytes);
    const mb = curve.bytes.length / 1e6;
    const schemaFile = path.join(dir, 'courbe.schema.json');
    let infer;
    for (let i = 0; i < repeat; i++) {
      const m = measure(['-r', rssHook, path.join(root, 'bin', 'watt.js'), 'schema', 'infer', file, '--timezone', 'Europe/Paris'], {});
      if (!infer || m.seconds < infer.seconds) infer = m;
    }
    (await import('node:fs')).writeFileSync(schemaFile, infer.stdout);
    let best;
    for (let i = 0; i < repeat; i++) {
      const m = ingest(dir, file, `dialect${i}`, ['--schema', schemaFile]);
      if (!best || m.seconds < best.seconds) best = m;
    }
    const rows = curve.rows;
    console.log(`${String(rows).padEnd(10)} | ${'watt schema infer --timezone (5,000 rows)'.padEnd(40)} | ${fmtSeconds(infer.seconds)} |           |       | ${infer.cpu.toFixed(2).padStart(6)} | ${infer.rssMiB.toFixed(0).padStart(4)} MiB |`);
    const data = best.lake ? `${(best.lake.bytes / 2 ** 20).toFixed(1)} MiB in ${best.lake.objects} object(s)` : '';
    console.log(`${String(rows).padEnd(10)} | ${'watt ingest (csv), dialect path'.padEnd(40)} | ${fmtSeconds(best.seconds)} | ${Math.round(rows / best.seconds).toLocaleString('en').padStart(9)} | ${(mb / best.seconds).toFixed(1).padStart(5)} | ${best.cpu.toFixed(2).padStart(6)} | ${best.rssMiB.toFixed(0).padStart(4)} MiB | ${data}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One `watt ingest` into a fresh local lake `lake-<name>` (and state folder) under `dir`. */
function ingest(dir, file, name, extra) {
  const env = {
    WATT_HOME: path.join(dir, `.watt-${name}`),
    WATT_LAKE_ROOT: path.join(dir, `lake-${name}`),
    WATT_LOG_DIR: path.join(dir, `logs-${name}`),
    WATT_PSEUDONYMISATION_KEY: 'bench-key-0123456789abcdef0123456789abcdef',
  };
  const m = measure(['-r', rssHook, path.join(root, 'bin', 'watt.js'), 'ingest', '--source', file, '--json', ...extra], env);
  const lake = lakeData(env.WATT_LAKE_ROOT);
  const out = { ...m, lake, parquetObjects: lake.parquet, phases: phases(env.WATT_LOG_DIR, m) };
  rmSync(env.WATT_LAKE_ROOT, { recursive: true, force: true });
  return out;
}

/**
 * Where one run's wall time went, from the timestamps of its run log (JSON lines, `step` fields):
 * start-up (process start to the first line), scan and checks (to the `plan` line that starts the
 * ranges), ranges (to the `validate` line), upload and commit (to the last line), exit (to the
 * process's end). Seconds with two decimals; undefined without a log.
 */
function phases(logDir, m) {
  let lines;
  try {
    const name = readdirSync(logDir).find((f) => f.endsWith('.log'));
    lines = readFileSync(path.join(logDir, name), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  } catch {
    return undefined;
  }
  if (!lines.length) return undefined;
  const at = (step) => Date.parse(lines.find((l) => l.step === step)?.timestamp ?? '');
  const first = Date.parse(lines[0].timestamp);
  const last = Date.parse(lines.at(-1).timestamp);
  const plan = at('plan');
  const validate = at('validate');
  if ([first, last, plan, validate].some(Number.isNaN)) return undefined;
  const s = (ms) => (ms / 1000).toFixed(2);
  return { startup: s(first - m.startedAt), before: s(plan - first), ranges: s(validate - plan), commit: s(last - validate), exit: s(m.endedAt - last) };
}

