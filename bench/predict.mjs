#!/usr/bin/env node
// `npm run bench:predict`: wall time of `node bin/watt.js predict --dpe C --temp 4` from a shell-like
// spawn (process start to exit), 20 runs after 2 warm-ups, with the shipped default model; plus
// which heavy modules a predict run loads (none of the AWS/Azure SDKs, winston, the simulator).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = path.join(root, 'bin', 'watt.js');
const runs = Number(process.env.RUNS || 20);
const env = { ...process.env, WATT_HOME: mkdtempSync(path.join(os.tmpdir(), 'watt-bench-')), NO_COLOR: '1' };
const args = [bin, 'predict', '--dpe', 'C', '--temp', '4'];

const once = () => {
  const t = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { env, encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  if (r.status !== 0) throw new Error(`watt predict failed: ${r.stderr}`);
  return { ms, out: r.stdout.split('\n')[0] };
};
once();
once();
const times = [];
let line = '';
for (let i = 0; i < runs; i++) {
  const r = once();
  times.push(r.ms);
  line = r.out;
}
times.sort((a, b) => a - b);
const q = (p) => times[Math.min(times.length - 1, Math.ceil(p * times.length) - 1)];
const baseline = [];
for (let i = 0; i < 10; i++) {
  const t = process.hrtime.bigint();
  spawnSync(process.execPath, ['-e', '0']);
  baseline.push(Number(process.hrtime.bigint() - t) / 1e6);
}
baseline.sort((a, b) => a - b);
// Packages a predict run loads: CommonJS ones from the require cache, ES modules from a load hook
// (node:module register) that writes each URL it loads to a file; a chunk of the start-up bundle
// (dist/bundle/, scripts/build.mjs) counts for every package esbuild put in it (its
// `// node_modules/<package>/` markers).
const loadLog = path.join(env.WATT_HOME, 'loaded.txt');
const hook = `data:text/javascript,${encodeURIComponent(`import { appendFileSync } from 'node:fs';
export async function load(url, context, next) { if (url.startsWith('file:')) appendFileSync(${JSON.stringify(loadLog)}, url + '\\n'); return next(url, context); }`)}`;
const heavy = spawnSync(
  process.execPath,
  ['--import', `data:text/javascript,${encodeURIComponent(`import { register } from 'node:module'; register(${JSON.stringify(hook)});`)}`, '-e', `process.argv=[process.argv[0], ${JSON.stringify(bin)}, 'predict','--dpe','C','--temp','4'];
   const origOut=process.stdout.write.bind(process.stdout); process.stdout.write=()=>true;
   await import(${JSON.stringify('file://' + bin)});
   await new Promise(r=>setTimeout(r,50));
   const { createRequire } = await import('node:module');
   origOut(JSON.stringify(Object.keys(createRequire(import.meta.url).cache)));`,
   '--input-type=module'],
  { env, encoding: 'utf8' },
);
const packageOf = (file) => file.split('node_modules/').pop().split('/').slice(0, file.split('node_modules/').pop().startsWith('@') ? 2 : 1).join('/');
const loadedPackages = new Set();
for (const f of JSON.parse(heavy.stdout || '[]')) if (f.includes('node_modules/')) loadedPackages.add(packageOf(f));
for (const url of existsSync(loadLog) ? readFileSync(loadLog, 'utf8').split('\n').filter(Boolean) : []) {
  const file = fileURLToPath(url);
  if (file.includes('node_modules/')) loadedPackages.add(packageOf(file));
  else if (file.includes(`${path.sep}dist${path.sep}bundle${path.sep}`)) for (const m of readFileSync(file, 'utf8').matchAll(/^\/\/ node_modules\/((?:@[^/]+\/)?[^/]+)\//gm)) loadedPackages.add(m[1]);
}
const heavyLoaded = [...loadedPackages].filter((p) => /aws-sdk|@azure|winston|better-sqlite3|ml-regression|^ajv/.test(p)).sort();
process.stdout.write(`watt predict --dpe C --temp 4 (${runs} runs, Node ${process.version}, ${os.cpus().length} cores, ${os.platform()} ${os.release()})\n`);
process.stdout.write(`  output: ${line}\n`);
process.stdout.write(`  wall: median ${q(0.5).toFixed(0)} ms, p95 ${q(0.95).toFixed(0)} ms, min ${times[0].toFixed(0)} ms, max ${times.at(-1).toFixed(0)} ms\n`);
process.stdout.write(`  bare node -e 0: median ${baseline[5].toFixed(0)} ms\n`);
process.stdout.write(`  packages loaded by predict: ${[...loadedPackages].sort().join(', ') || (heavy.status !== 0 ? heavy.stderr.split('\n')[0] : 'none')}; of them heavy (AWS, Azure, winston, sqlite, ml-regression, ajv): ${JSON.stringify(heavyLoaded)}\n`);

// One in-process prediction (what `watt serve` calls per request): predictLead on a loaded model.
const { predictLead, predictLeadReference } = await import('../dist/model/predict.js');
const { readModel, shippedModelFile } = await import('../dist/model/model-file.js');
const { fitHouse } = await import('../dist/model/house-train.js');
const { testHistory, HOUSE_ONE } = await import('../dist/model/test-houses.js');
const { heatingSeasonNights, loadDailyWeather } = await import('../dist/model/weather.js');
const shippedModel = readModel(shippedModelFile());
const houseModel = fitHouse(testHistory(HOUSE_ONE, heatingSeasonNights(loadDailyWeather())).nights.slice(0, 300).map((n) => n.record), { version: 'bench', createdAt: null, wattVersion: 'bench', training: { source: 'file', name: 'bench', sha256: '', rows: 0 } });
const perCall = (model, make, n = 2000, predict = predictLead) => {
  for (let i = 0; i < 200; i++) predict(model, make(i));
  const t = process.hrtime.bigint();
  for (let i = 0; i < n; i++) predict(model, make(i));
  return Number(process.hrtime.bigint() - t) / 1e3 / n;
};
const query = (i, indoor) => ({ dpeClass: 'D', outdoorC: -6 + (i % 17), indoorC: indoor ? 14 + (i % 4) : undefined, targetC: 19 + (i % 3) * 0.5, powerKw: 8 + (i % 4), at: '07:00' });
process.stdout.write('  in-process predictLead, µs per call (2,000 calls, varied nights):\n');
process.stdout.write(`    shipped class model, --indoor given: ${perCall(shippedModel, (i) => query(i, true)).toFixed(1)} µs; without --indoor: ${perCall(shippedModel, (i) => query(i, false)).toFixed(1)} µs (reference scan, predictLeadReference: ${perCall(shippedModel, (i) => query(i, false), 300, predictLeadReference).toFixed(0)} µs)\n`);
// the same without --indoor over all classes, any target 16..22 °C, 2.5..15 kW, a third with --temp-min
const varied = (i) => ({ dpeClass: 'ABCDEFG'[i % 7], outdoorC: -20 + (i % 37), targetC: 16 + (i % 13) * 0.5, powerKw: 2.5 + (i % 26) * 0.5, at: '07:00', tempMinC: i % 3 === 0 ? -25 + (i % 37) : undefined });
process.stdout.write(`    shipped class model without --indoor, varied (all classes, 16-22 °C, 2.5-15 kW, a third with --temp-min): ${perCall(shippedModel, varied).toFixed(1)} µs\n`);
process.stdout.write(`    calibrated house model, --indoor given: ${perCall(houseModel, (i) => query(i, true)).toFixed(1)} µs; without --indoor: ${perCall(houseModel, (i) => query(i, false)).toFixed(1)} µs\n`);
