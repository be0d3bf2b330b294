/**
 * Issue 19: the banded margin, the regime near the stove's limit and the controller-style
 * protocol, on houses the project generates (src/model/test-houses.ts), never one house's tuning.
 */
import { describe, expect, it } from '@jest/globals';
import { heatingSeasonNights, loadDailyWeather } from '../../src/model/weather.js';
import { CONTROLLER_HOUSES, HOUSE_ONE, testHistory } from '../../src/model/test-houses.js';
import { lookupSchedule, qualityOf, trainHouseModel } from '../../src/model/house-train.js';
import { bandFactor, fitMarginBands, type MarginSample } from '../../src/model/house-margin.js';
import { scoreProtocols } from '../../src/model/controller-eval.js';
import { predictLead } from '../../src/model/predict.js';
import { mulberry32 } from '../../src/model/synthetic.js';

const weather = heatingSeasonNights(loadDailyWeather());
const opts = { version: 't', createdAt: null, wattVersion: 't', training: { source: 'file' as const, name: 't.csv', sha256: 'x', rows: 0 } };

describe('the margin by band (house-margin.ts)', () => {
  // raw leads err more when long and when the stove is near its ceiling
  const rand = mulberry32(5);
  const samples: MarginSample[] = Array.from({ length: 2000 }, () => {
    const raw = 20 + rand() * 400;
    const headroom = rand() * 14;
    const spread = 0.03 + (headroom < 4 ? 0.25 : 0) + raw / 4000;
    return { raw, headroom, truth: raw * (1 + spread * (rand() * 2 - 1)) };
  });
  const bands = fitMarginBands(samples, 5);

  it('keeps the out-of-fold late share within its budget, and grows with the lead and as the ceiling nears the target', () => {
    expect(bands.oof_late_rate).toBeLessThanOrEqual(bands.late_target + 1e-9);
    for (const row of bands.factor) for (let l = 1; l < row.length; l++) expect(row[l]!).toBeGreaterThanOrEqual(row[l - 1]!);
    for (let h = 1; h < bands.factor.length; h++) for (let l = 0; l < bands.factor[h]!.length; l++) expect(bands.factor[h]![l]!).toBeGreaterThanOrEqual(bands.factor[h - 1]![l]!);
    // near the limit (< 2 K) far more than with ample headroom, at the same lead
    expect(bandFactor(bands, 100, 1)).toBeGreaterThan(bandFactor(bands, 100, 12) + 0.1);
  });

  it('costs fewer minutes than one factor for every night at the same late share', () => {
    const needs = samples.map((s) => (s.truth - 5 + 15) / (s.raw + 15)).sort((a, b) => b - a);
    const single = Math.max(1, needs[Math.floor(bands.late_target * samples.length)]!);
    const added = samples.reduce((a, s) => a + (s.raw + 15) * (single - 1), 0) / samples.length;
    expect(bands.oof_added_min).toBeLessThan(added * 0.8);
  });
});

describe('a lookup schedule by outdoor air (the gate baseline)', () => {
  it('answers the median lead of the nights within ±1 K, widening until 5 nights', () => {
    const rec = (t: number, lead: number) => ({ date: '2020-01-01', dpe_class: 'C' as const, outdoor_temp_c: t, indoor_start_temp_c: 15, target_temp_c: 19, lead_time_min: lead, stove_power_kw: 8, target_time: '07:00' });
    const f = lookupSchedule([rec(0, 100), rec(0.5, 110), rec(1, 120), rec(-0.5, 90), rec(-1, 80), rec(10, 20)]);
    expect(f(0)).toBe(100);
    expect(f(10)).toBeGreaterThan(20); // one night within ±1 K: widened to 5 nights
    expect(qualityOf(null).status).toBe('unrated');
  });
});

describe('controller-style scoring on generated houses', () => {
  it('a well-sized house: controller MAE <= 3 min and late <= 1 %, and kept-on nights never refuse an undersized history', () => {
    const h = testHistory(HOUSE_ONE, weather);
    const recs = h.nights.map((n) => n.record);
    const model = trainHouseModel(recs.slice(0, 400), opts).model;
    expect(model.quality?.status).toBe('ok');
    const test = h.all.filter((w) => w.date >= recs[400]!.date).slice(0, 80);
    const s = scoreProtocols(model, HOUSE_ONE, test);
    expect(s.controller.answered).toBe(80);
    expect(s.controller.mae).toBeLessThanOrEqual(3);
    expect(s.controller.late).toBeLessThanOrEqual(0.01);
    const under = CONTROLLER_HOUSES.find((c) => c.kind.startsWith('undersized'))!.house;
    const hu = testHistory(under, weather);
    expect(hu.keptOn).toBeGreaterThan(0);
    const mu = trainHouseModel(hu.nights.map((n) => n.record).slice(0, 300), opts).model;
    expect(mu.heating.kept_on_nights).toBeGreaterThan(0);
  });

  it('near the limit: a forecast minimum that puts the ceiling under the target gets a plain "keep the stove on" answer, never a lead', () => {
    const near = CONTROLLER_HOUSES.find((c) => c.kind.startsWith('near its limit'))!.house;
    const model = trainHouseModel(testHistory(near, weather).nights.map((n) => n.record).slice(0, 400), opts).model;
    expect(model.margin.bands).toBeDefined();
    const mild = predictLead(model, { outdoorC: 5, indoorC: 15, targetC: 20, powerKw: 8, at: '07:00', tempMinC: 3 });
    expect(mild).toMatchObject({ feasible: true, advice: 'light', near_limit: false });
    const cold = predictLead(model, { outdoorC: -2, indoorC: 15, targetC: 21, powerKw: 8, at: '07:00', tempMinC: -14 });
    expect(cold).toMatchObject({ feasible: false, advice: 'keep-on', near_limit: true });
    if (!cold.feasible) expect(cold.reason).toMatch(/^keep the stove on low overnight: this stove cannot hold 21 °C at the forecast -14 °C/);
    // a colder forecast never shortens the lead
    let last = 0;
    for (const tmin of [5, 3, 1, -1, -3]) {
      const p = predictLead(model, { outdoorC: 5, indoorC: 15, targetC: 20, powerKw: 8, at: '07:00', tempMinC: tmin });
      if (!p.feasible) break;
      expect(p.lead_time_min).toBeGreaterThanOrEqual(last);
      last = p.lead_time_min;
    }
  });
});
