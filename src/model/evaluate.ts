import { clockToMinutes, thermalParams } from './params.js';
import type { SplitMetrics } from './model-file.js';
import type { IgnitionRecord } from './history.js';
import type { WeatherNight } from './weather.js';
import { outdoorAt } from './weather.js';
import { NightSimulator } from './simulator.js';
import type { FitOptions } from './fit.js';
import { fitLeadModel, rowFeatureInputNoH, targetMinutes } from './fit.js';
import { quantileSorted } from './numbers.js';
import { classLeadMin, refusalReason } from './predict.js';
import type { SyntheticHistory } from './synthetic.js';
import { SYNTHETIC_TARGET_TIME } from './synthetic.js';
import { feasibilitySamples, stoveOffOutdoorC } from './feasibility.js';

/**
 * Held-out evaluation: fit on one part of the history, advise the other, and measure what a user
 * would notice: MAE of the advised lead (minutes), late rate (room more than 0.3 K short at the
 * target time when the advice is followed, re-simulated by the 2R2C model for synthetic nights),
 * stove-on hours and kWh per night, against two fixed schedules: "light 2 h before" and "the fixed
 * lead that is on time on 95 % of the training nights"; and how `watt predict` (refusalReason)
 * treats the nights the simulator finds out of reach in 9 h (recall) and the feasible ones (false
 * refusals), each asked at stove-off with the outdoor temperature then and no indoor reading.
 */

/** A history row, with its weather when it is synthetic (then lateness and kWh are re-simulated). */
export interface EvalRow {
  record: IgnitionRecord;
  weather?: WeatherNight;
  /** A synthetic cold copy: in the training part only, not in the feasibility calibration. */
  augmented?: boolean;
}

/** An infeasible synthetic night (no history row). */
export interface InfeasibleNight {
  dpeClass: IgnitionRecord['dpe_class'];
  weather: WeatherNight;
  targetC: number;
  powerKw: number;
}

export interface SplitSpec {
  split: string;
  description: string;
  train: EvalRow[];
  test: EvalRow[];
  /** Infeasible synthetic nights of each part (the training ones calibrate the feasibility boundary). */
  trainInfeasible?: InfeasibleNight[];
  testInfeasible?: InfeasibleNight[];
}

/** The two synthetic hold-outs: by season (train winters up to 2013-14, test 2014-15) and by city (train Seattle, test New York). */
export function syntheticSplits(history: SyntheticHistory): SplitSpec[] {
  const rows: EvalRow[] = history.nights.map((n) => ({ record: n.record, weather: n.weather, ...(n.augmented ? { augmented: true } : {}) }));
  const real = history.infeasible.filter((n) => !n.augmented);
  const splits: SplitSpec[] = [];
  const season = {
    split: 'season',
    description: 'train winters 2011-12 to 2013-14, test winter 2014-15 (both cities)',
    train: rows.filter((r) => r.weather!.season <= '2013-14'),
    test: rows.filter((r) => !r.augmented && r.weather!.season === '2014-15'),
    trainInfeasible: real.filter((n) => n.weather.season <= '2013-14'),
    testInfeasible: real.filter((n) => n.weather.season === '2014-15'),
  };
  if (season.train.length && season.test.length) splits.push(season);
  const city = {
    split: 'city',
    description: 'train Seattle, test New York (all winters)',
    train: rows.filter((r) => r.weather!.location === 'Seattle'),
    test: rows.filter((r) => !r.augmented && r.weather!.location === 'New York'),
    trainInfeasible: real.filter((n) => n.weather.location === 'Seattle'),
    testInfeasible: real.filter((n) => n.weather.location === 'New York'),
  };
  if (city.train.length && city.test.length) splits.push(city);
  return splits;
}

interface Outcome {
  late: boolean;
  kwh: number | null;
}

/** Follow a lead on one row: re-simulate it when its weather is known, else compare with the recorded lead. */
function follow(row: EvalRow, leadMin: number, sims: Map<EvalRow, NightSimulator>): Outcome {
  const r = row.record;
  if (!row.weather) return { late: leadMin < r.lead_time_min, kwh: null };
  let sim = sims.get(row);
  if (!sim) {
    const weather = row.weather;
    sim = new NightSimulator(thermalParams().classes[r.dpe_class], (m) => outdoorAt(weather, m), {
      targetMin: targetMinutes(r),
      targetTempC: r.target_temp_c,
      powerKw: r.stove_power_kw,
    });
    sims.set(row, sim);
  }
  const run = sim.run(leadMin);
  return { late: run.airAtTargetC < r.target_temp_c - thermalParams().night.lateToleranceK, kwh: run.energyKwh };
}

/**
 * Fit on `spec.train` with the same procedure as the final model and score `spec.test`.
 * @throws Error if the training part cannot be fitted (see fitLeadModel).
 */
export function evaluateSplit(spec: SplitSpec, fit: Omit<FitOptions, 'version' | 'createdAt'>): SplitMetrics {
  const { model } = fitLeadModel(
    spec.train.map((r) => r.record),
    { ...fit, version: `eval-${spec.split}`, createdAt: null, feasibility: feasibilitySamples(spec.train, spec.trainInfeasible ?? [], clockToMinutes(SYNTHETIC_TARGET_TIME)) },
  );
  const maxLead = model.max_lead_min;
  const trainLeads = spec.train.map((r) => r.record.lead_time_min).sort((a, b) => a - b);
  const p95 = quantileSorted(trainLeads, 0.95);
  const sims = new Map<EvalRow, NightSimulator>();
  const test = spec.test.filter((r) => model.classes[r.record.dpe_class]);
  let absErr = 0;
  let absErrRaw = 0;
  let late = 0;
  let onMin = 0;
  let kwh = 0;
  const fixed2h = { late: 0, kwh: 0, on: 0 };
  const fixedP95 = { late: 0, kwh: 0, on: 0 };
  let hasKwh = true;
  for (const row of test) {
    const r = row.record;
    const f = rowFeatureInputNoH(r);
    const advised = Math.min(maxLead, Math.ceil(classLeadMin(model, r.dpe_class, f) - 1e-9));
    const raw = Math.min(maxLead, classLeadMin(model, r.dpe_class, f, false));
    absErr += Math.abs(advised - r.lead_time_min);
    absErrRaw += Math.abs(raw - r.lead_time_min);
    onMin += advised;
    const o = follow(row, advised, sims);
    if (o.late) late++;
    if (o.kwh === null) hasKwh = false;
    else kwh += o.kwh;
    for (const [acc, lead] of [
      [fixed2h, 120],
      [fixedP95, p95],
    ] as const) {
      const x = follow(row, lead, sims);
      acc.on += lead;
      if (x.late) acc.late++;
      acc.kwh += x.kwh ?? 0;
    }
    sims.delete(row);
  }
  // Infeasible nights and false refusals, as `watt predict` answers them (refusalReason): asked at
  // stove-off with the outdoor temperature then and the default indoor estimate (the same query for
  // the infeasible and the feasible nights), and for feasible nights also at ignition with --indoor.
  const infeasible = (spec.testInfeasible ?? []).filter((n) => model.classes[n.dpeClass]);
  let flagged = 0;
  for (const n of infeasible) {
    const at = SYNTHETIC_TARGET_TIME;
    if (refusalReason(model, { dpeClass: n.dpeClass, outdoorC: stoveOffOutdoorC(n.weather, clockToMinutes(at)), targetC: n.targetC, powerKw: n.powerKw, at }) !== undefined) flagged++;
  }
  let refusedEvening = 0;
  let refusedAtIgnition = 0;
  for (const row of test) {
    const r = row.record;
    const ask = { dpeClass: r.dpe_class, targetC: r.target_temp_c, powerKw: r.stove_power_kw, at: r.target_time };
    if (row.weather && refusalReason(model, { ...ask, outdoorC: stoveOffOutdoorC(row.weather, targetMinutes(r)) }) !== undefined) refusedEvening++;
    if (refusalReason(model, { ...ask, outdoorC: r.outdoor_temp_c, indoorC: r.indoor_start_temp_c }) !== undefined) refusedAtIgnition++;
  }
  const count = Math.max(1, test.length);
  const onModel = onMin / count;
  const on2h = fixed2h.on / count;
  const onP95 = fixedP95.on / count;
  const r4 = (x: number) => Math.round(x * 1e4) / 1e4;
  const r2 = (x: number) => Math.round(x * 100) / 100;
  return {
    split: spec.split,
    description: spec.description,
    train_rows: spec.train.length,
    test_rows: test.length,
    mae_min: r2(absErr / count),
    mae_raw_min: r2(absErrRaw / count),
    late_rate: r4(late / count),
    late_check: hasKwh ? 'resimulated' : 'recorded-lead',
    stove_on_h_per_night: r2(onModel / 60),
    kwh_per_night: hasKwh ? r2(kwh / count) : null,
    fixed_2h: { stove_on_h_per_night: r2(on2h / 60), kwh_per_night: hasKwh ? r2(fixed2h.kwh / count) : null, late_rate: r4(fixed2h.late / count) },
    fixed_p95: { lead_min: p95, stove_on_h_per_night: r2(onP95 / 60), kwh_per_night: hasKwh ? r2(fixedP95.kwh / count) : null, late_rate: r4(fixedP95.late / count) },
    reduction_vs_2h: r4(1 - onModel / on2h),
    reduction_vs_p95: r4(1 - onModel / onP95),
    infeasible_nights: infeasible.length,
    infeasible_flagged: flagged,
    infeasible_recall: infeasible.length ? r4(flagged / infeasible.length) : null,
    false_refusals: hasKwh ? refusedEvening : null,
    false_refusal_rate: hasKwh ? r4(refusedEvening / count) : null,
    false_refusal_rate_at_ignition: r4(refusedAtIgnition / count),
  };
}
