#!/usr/bin/env node
/**
 * npm run bench:serve — `watt serve` under load on loopback, side by side in one run with a
 * minimal FastAPI + uvicorn twin (bench/fastapi_predict.py: same validation, equivalent formula)
 * and a bare node:http server answering a constant (the ceiling). Each server runs alone, in its
 * own process; autocannon (one process, this one) loads it.
 *
 * Prints, for each: requests/s at full load (BENCH_CONNECTIONS connections, BENCH_DURATION s),
 * then latency percentiles at a fixed 1,000 req/s. Also the in-process cost of one prediction
 * (cache hit and miss). Env: BENCH_DURATION (s, default 10), BENCH_CONNECTIONS (default 32),
 * BENCH_PYTHON (default /usr/bin/python3).
 */
import { spawn, spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { mkdtempSync } from 'node:fs';
import autocannon from 'autocannon';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const PYTHON = process.env.BENCH_PYTHON ?? '/usr/bin/python3';
const KEY = 'bench-key-0123456789abcdef';
const MODEL = path.join(ROOT, 'models', 'default', 'model.json');

/** 400 distinct realistic bodies: every class, outdoor -10..9 °C by 1 K, three stoves. */
const BODIES = [];
for (const dpe_class of ['A', 'B', 'C', 'D', 'E', 'F', 'G']) for (let t = -10; t < 10; t++) for (const p of [6, 8, 10]) BODIES.push(JSON.stringify({ dpe_class, outdoor_temp_c: t, stove_power_kw: p }));
const ONE = JSON.stringify({ dpe_class: 'C', outdoor_temp_c: 4 });

function freePort() {
  const r = spawnSync(process.execPath, ['-e', "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"], { encoding: 'utf8' });
  return Number(r.stdout.trim());
}

async function waitHttp(url, headers = {}) {
  for (let i = 0; i < 200; i++) {
    try {
      const r = await fetch(url, { headers });
      if (r.ok) return;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not come up`);
}

async function startWatt(extra = [], home) {
  const port = freePort();
  const cwd = mkdtempSync(path.join(os.tmpdir(), 'watt-bench-serve-'));
  const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'watt.js'), 'serve', '--port', String(port), ...extra], { cwd, env: { ...process.env, WATT_API_KEYS: KEY, WATT_HOME: home ?? path.join(cwd, '.watt') }, stdio: ['ignore', 'ignore', 'ignore'] });
  await waitHttp(`http://127.0.0.1:${port}/readyz`);
  return { child, url: `http://127.0.0.1:${port}` };
}

async function startFastapi() {
  const port = freePort();
  const child = spawn(PYTHON, [path.join(ROOT, 'bench', 'fastapi_predict.py'), String(port)], { env: { ...process.env, WATT_API_KEYS: KEY, WATT_BENCH_MODEL: MODEL }, stdio: ['ignore', 'ignore', 'inherit'] });
  await waitHttp(`http://127.0.0.1:${port}/healthz`);
  return { child, url: `http://127.0.0.1:${port}` };
}

async function startConstant() {
  const port = freePort();
  const body = JSON.stringify({ feasible: true, lead_time_min: 57, ignition_time: '06:03' });
  const code = `require('http').createServer((q,s)=>{q.resume();q.on('end',()=>{s.writeHead(200,{'content-type':'application/json'});s.end(${JSON.stringify(body)})})}).listen(${port},'127.0.0.1')`;
  const child = spawn(process.execPath, ['-e', code], { stdio: 'ignore' });
  await waitHttp(`http://127.0.0.1:${port}/`);
  return { child, url: `http://127.0.0.1:${port}` };
}

function load(url, { bodies, rate }) {
  let i = 0;
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url: `${url}/v1/predict`,
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': KEY },
        connections: rate ? 10 : CONNECTIONS,
        duration: DURATION,
        ...(rate ? { overallRate: rate } : {}),
        requests: [{ setupRequest: (req) => ({ ...req, body: bodies[i++ % bodies.length] }) }],
      },
      (err, result) => (err ? reject(err) : resolve(result)),
    );
  });
}

async function check(url, body) {
  const r = await fetch(`${url}/v1/predict`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': KEY }, body });
  if (r.status !== 200) throw new Error(`${url}: ${r.status} ${await r.text()}`);
}

const rows = [];
async function measure(name, start, bodies) {
  const server = await start();
  try {
    for (const body of bodies) await check(server.url, body); // every distinct body once (fills watt's cache)
    await load(server.url, { bodies, rate: 0 }); // warm-up (JIT)
    const full = await load(server.url, { bodies });
    const fixed = await load(server.url, { bodies, rate: 1000 });
    const bad = full.non2xx + full.errors + fixed.non2xx + fixed.errors;
    rows.push({ name, rps: full.requests.average, p50Full: full.latency.p50, p99Full: full.latency.p99, rate: fixed.requests.average, p50: fixed.latency.p50, p99: fixed.latency.p99, p999: fixed.latency.p99_9 ?? fixed.latency.p999, bad });
    process.stderr.write(`${name}: ${Math.round(full.requests.average)} req/s, p99 at 1,000 req/s ${fixed.latency.p99} ms\n`);
  } finally {
    server.child.kill('SIGTERM');
    await new Promise((r) => server.child.once('exit', r));
  }
}

// one prediction, in process
const { loadPredictor } = await import(path.join(ROOT, 'dist', 'serve', 'predictor.js'));
const predictor = await loadPredictor({ home: mkdtempSync(path.join(os.tmpdir(), 'watt-bench-home-')), cacheSize: 0 });
const parsed = BODIES.map((b) => JSON.parse(b));
let t0 = process.hrtime.bigint();
for (const b of parsed) predictor.predict(b);
const missUs = Number(process.hrtime.bigint() - t0) / parsed.length / 1000;
const cached = await loadPredictor({ home: mkdtempSync(path.join(os.tmpdir(), 'watt-bench-home-')) });
for (const b of parsed) cached.predict(b);
t0 = process.hrtime.bigint();
const N = 200_000;
for (let i = 0; i < N; i++) cached.predict(parsed[i % parsed.length]);
const hitUs = Number(process.hrtime.bigint() - t0) / N / 1000;

process.stderr.write(`bench: each distinct body sent once first, then ${DURATION} s warm-up, ${DURATION} s per run, ${CONNECTIONS} connections at full load, 10 at 1,000 req/s\n`);
await measure('bare node:http constant (ceiling)', startConstant, [ONE]);
await measure('watt serve, 420 distinct bodies (cache warm)', () => startWatt(), BODIES);
await measure('watt serve, no cache (--cache-size 0)', () => startWatt(['--cache-size', '0']), BODIES);
let houseUs;
// many houses (issue 19): 20 house models in the registry, bodies naming a house_id (loaded lazily, LRU)
const houseHome = mkdtempSync(path.join(os.tmpdir(), 'watt-bench-houses-'));
{
  const { heatingSeasonNights, loadDailyWeather } = await import(path.join(ROOT, 'dist', 'model', 'weather.js'));
  const { testHistory, HOUSE_ONE, HOUSE_TWO } = await import(path.join(ROOT, 'dist', 'model', 'test-houses.js'));
  const { trainHouseModel } = await import(path.join(ROOT, 'dist', 'model', 'house-train.js'));
  const { saveHouseModel } = await import(path.join(ROOT, 'dist', 'model', 'model-store.js'));
  const w = heatingSeasonNights(loadDailyWeather());
  const opts = { version: 'bench-house', createdAt: null, wattVersion: 'bench', training: { source: 'file', name: 'bench', sha256: '', rows: 0 } };
  const models = [HOUSE_ONE, HOUSE_TWO].map((h) => trainHouseModel(testHistory(h, w).nights.slice(0, 300).map((n) => n.record), opts).model);
  for (let i = 0; i < 20; i++) saveHouseModel({ ...models[i % 2], version: `bench-house-${i}` }, houseHome, `house-${i}`);
}
const HOUSE_BODIES = [];
for (let i = 0; i < 20; i++) for (let t = -10; t < 11; t++) HOUSE_BODIES.push(JSON.stringify({ house_id: `house-${i}`, outdoor_temp_c: t }));
{
  // one prediction through the predictor, house_id bodies, no cache (in process; CPU time beside the wall time)
  const p = await loadPredictor({ home: houseHome, cacheSize: 0 });
  const bodies = HOUSE_BODIES.map((b) => JSON.parse(b));
  for (const b of bodies) p.predict(b);
  const t = process.hrtime.bigint();
  const c = process.cpuUsage();
  for (let k = 0; k < 10; k++) for (const b of bodies) p.predict(b);
  const cpu = process.cpuUsage(c);
  houseUs = { wall: Number(process.hrtime.bigint() - t) / (10 * bodies.length) / 1000, cpu: (cpu.user + cpu.system) / (10 * bodies.length) };
}
await measure('watt serve, house_id: 20 houses, 420 distinct bodies (cache warm)', () => startWatt([], houseHome), HOUSE_BODIES);
await measure('watt serve, house_id: 20 houses, no cache (--cache-size 0)', () => startWatt(['--cache-size', '0'], houseHome), HOUSE_BODIES);
let fastapi = true;
try {
  await measure('FastAPI 0.92 + uvicorn 0.17 (uvloop, httptools)', startFastapi, BODIES);
} catch (err) {
  fastapi = false;
  process.stderr.write(`FastAPI twin not run: ${err.message}\n`);
}

const fmt = (n) => (n === undefined ? '-' : n >= 100 ? String(Math.round(n)) : n.toFixed(2));
console.log(`\nmachine: ${os.cpus().length} vCPU ${os.cpus()[0]?.model ?? ''}, Node ${process.version}, ${os.platform()} ${os.release()}`);
console.log(`one prediction in process: ${missUs.toFixed(1)} µs computed (mean over ${parsed.length} distinct nights), ${hitUs.toFixed(2)} µs from the cache`);
if (houseUs) console.log(`one house_id prediction in process, no cache (20 houses, 420 bodies, warm): ${houseUs.wall.toFixed(1)} µs wall, ${houseUs.cpu.toFixed(1)} µs CPU`);
console.log('');
console.log('| server | req/s (full load) | p50 / p99 ms (full load) | achieved req/s at 1,000 | p50 / p99 / p99.9 ms at 1,000 req/s | non-2xx + errors |');
console.log('|---|---|---|---|---|---|');
for (const r of rows) console.log(`| ${r.name} | ${fmt(r.rps)} | ${fmt(r.p50Full)} / ${fmt(r.p99Full)} | ${fmt(r.rate)} | ${fmt(r.p50)} / ${fmt(r.p99)} / ${fmt(r.p999)} | ${r.bad} |`);
const watt = rows.find((r) => r.name.startsWith('watt serve, 420'));
const py = rows.find((r) => r.name.startsWith('FastAPI'));
const bare = rows.find((r) => r.name.startsWith('bare'));
if (watt && py) console.log(`\nwatt / FastAPI: ${(watt.rps / py.rps).toFixed(2)}x; bare node:http / FastAPI: ${(bare.rps / py.rps).toFixed(2)}x`);
for (const r of rows.filter((x) => x.name.includes('house_id'))) if (py) console.log(`${r.name} / FastAPI: ${(r.rps / py.rps).toFixed(2)}x`);
if (!fastapi) console.log('\nFastAPI twin: not run (see above)');
