#!/usr/bin/env node
// `npm run bench:house`: watt train --data on independent test houses (src/model/test-houses.ts:
// real NOAA nights of samples/weather.csv, 2R2C houses that are not their DPE label's table house),
// scored on the newest 20 % of nights as a user would meet them (advice vs recorded lead, late =
// more than 5 min short), next to the shipped class model asked with the same inputs; then the
// timings: calibration on 2,000 nights, one in-process prediction.
import os from 'node:os';
import { heatingSeasonNights, loadDailyWeather, outdoorAt } from '../dist/model/weather.js';
import { testHistory, HOUSE_ONE, HOUSE_TWO, HOUSE_THREE } from '../dist/model/test-houses.js';
import { fitHouse, scoreHouse } from '../dist/model/house-train.js';
import { predictLead } from '../dist/model/predict.js';
import { readModel, shippedModelFile } from '../dist/model/model-file.js';

const weather = heatingSeasonNights(loadDailyWeather());
const shipped = readModel(shippedModelFile());
const opts = { version: 'bench', createdAt: null, wattVersion: 'bench', training: { source: 'file', name: 'bench', sha256: '', rows: 0 } };
const pct = (x) => `${(x * 100).toFixed(1)} %`;

function shippedScore(test) {
  let refused = 0, late = 0, abs = 0, n = 0;
  for (const r of test) {
    let p;
    try {
      p = predictLead(shipped, { dpeClass: r.dpe_class, outdoorC: r.outdoor_temp_c, indoorC: Math.min(r.indoor_start_temp_c, r.target_temp_c), targetC: r.target_temp_c, powerKw: r.stove_power_kw, at: r.target_time });
    } catch { refused++; continue; }
    if (!p.feasible) { refused++; continue; }
    n++; abs += Math.abs(p.lead_time_min - r.lead_time_min); if (p.lead_time_min < r.lead_time_min - 5) late++;
  }
  return { mae: n ? abs / n : NaN, late: n ? late / n : NaN, refused };
}

const rows = [];
for (const [name, house, targets] of [
  ['house 1 (label D, H 175 W/K, 9 kW, 19.5 °C, New York)', HOUSE_ONE, { mae: 3, late: 0.02, refused: 0, mae14: 5, late14: 0.03 }],
  ['house 2 (label C, H 240 W/K, 12 kW, 18-21 °C per night, Seattle)', HOUSE_TWO, { mae: 4, late: 0.03, refusedShare: 0.01 }],
  ['house 3, hard corner (label E, H 290 W/K, 7 kW, 18-21 °C, Seattle)', HOUSE_THREE, null],
]) {
  const h = testHistory(house, weather);
  const recs = h.nights.map((n) => n.record);
  const cut = Math.floor(recs.length * 0.8);
  const train = recs.slice(0, cut), test = recs.slice(cut);
  const t0 = performance.now();
  const model = fitHouse(train, opts);
  const fitMs = performance.now() - t0;
  const full = scoreHouse(model, test);
  const m14 = scoreHouse(fitHouse(recs.slice(0, 14), opts), test);
  const base = shippedScore(test);
  // the same test nights asked with --temp-min (the forecast minimum from ignition to the target time)
  let late = 0, abs = 0, n = 0, refused = 0;
  for (const night of h.nights.slice(cut)) {
    const r = night.record;
    const [hh, mm] = r.target_time.split(':').map(Number);
    const targetMin = hh * 60 + mm;
    let min = Infinity;
    for (let m = targetMin - r.lead_time_min; m <= targetMin; m += 10) min = Math.min(min, outdoorAt(night.weather, m));
    const p = predictLead(model, { outdoorC: r.outdoor_temp_c, indoorC: Math.min(r.indoor_start_temp_c, r.target_temp_c), targetC: r.target_temp_c, powerKw: r.stove_power_kw, at: r.target_time, tempMinC: Math.round(min * 10) / 10 });
    if (!p.feasible) { refused++; continue; }
    n++; abs += Math.abs(p.lead_time_min - r.lead_time_min); if (p.lead_time_min < r.lead_time_min - 5) late++;
  }
  const withMin = { mae: abs / n, late: late / n, refused };
  rows.push({ name, nights: recs.length, test: test.length, full, m14, base, model, fitMs, targets, withMin });
}
process.stdout.write(`watt train --data on test houses (Node ${process.version}, ${os.cpus().length} cores); hold-out = newest 20 % of nights; late = advice > 5 min short\n\n`);
process.stdout.write('| house | nights (test) | shipped --dpe: MAE, late, refused | calibrated: MAE, p90, late, refused | with --temp-min: MAE, late, refused | first 14 nights only: MAE, late, refused | H (W/K) | τ (min) | d (min) | fit |\n|---|---|---|---|---|---|---|---|---|---|\n');
for (const r of rows) {
  const h = r.model.heating;
  process.stdout.write(`| ${r.name} | ${r.nights} (${r.test}) | ${r.base.mae.toFixed(1)} min, ${pct(r.base.late)}, ${r.base.refused} | ${r.full.mae.toFixed(2)} min, ${r.full.p90.toFixed(1)} min, ${pct(r.full.late)}, ${r.full.refused} | ${r.withMin.mae.toFixed(2)} min, ${pct(r.withMin.late)}, ${r.withMin.refused} | ${r.m14.mae.toFixed(2)} min, ${pct(r.m14.late)}, ${r.m14.refused} | ${h.h_w_per_k.value.toFixed(0)} ± ${h.h_w_per_k.sd.toFixed(0)} | ${h.tau_min.value.toFixed(0)} ± ${h.tau_min.sd.toFixed(0)} | ${h.delay_min.value.toFixed(1)} ± ${h.delay_min.sd.toFixed(1)} | ${r.fitMs.toFixed(0)} ms |\n`);
}
process.stdout.write('\nissue targets:\n');
const [one, two] = rows;
const check = (label, ok) => process.stdout.write(`  ${ok ? 'ok    ' : 'FAILED'} ${label}\n`);
check(`house 1 MAE ${one.full.mae.toFixed(2)} <= 3 min`, one.full.mae <= 3);
check(`house 1 late ${pct(one.full.late)} <= 2 %`, one.full.late <= 0.02);
check(`house 1 no feasible night refused (${one.full.refused})`, one.full.refused === 0);
check(`house 1, first 14 nights: MAE ${one.m14.mae.toFixed(2)} <= 5 min`, one.m14.mae <= 5);
check(`house 1, first 14 nights: late ${pct(one.m14.late)} <= 3 %`, one.m14.late <= 0.03);
check(`house 2 MAE ${two.full.mae.toFixed(2)} <= 4 min`, two.full.mae <= 4);
check(`house 2 late ${pct(two.full.late)} <= 3 %`, two.full.late <= 0.03);
check(`house 2 refused ${two.full.refused}/${two.test} <= 1 %`, two.full.refused <= 0.01 * two.test);

// timing: calibration on 2,000 nights (both cities' nights of house 1, Seattle moved 10 years on so dates stay unique)
const big = [];
for (const loc of ['New York', 'Seattle']) {
  const h = testHistory({ ...HOUSE_ONE, location: loc }, weather);
  for (const n of h.nights) big.push(loc === 'Seattle' ? { ...n.record, date: `${Number(n.record.date.slice(0, 4)) + 10}${n.record.date.slice(4)}` } : n.record);
}
while (big.length < 2000) big.push({ ...big[big.length % 1000], date: `${3000 + big.length}-01-01` });
const t1 = performance.now();
fitHouse(big.slice(0, 2000), opts);
process.stdout.write(`\ncalibration on 2,000 nights (fit only): ${(performance.now() - t1).toFixed(0)} ms\n`);
