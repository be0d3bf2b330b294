import type { DpeClass } from './params.js';
import { clockToMinutes, thermalParams } from './params.js';
import type { IgnitionRecord } from './history.js';
import type { HeatingParams, TwoNodeStructure } from './house-physics.js';
import type { CalibrationRow, HeatingPrior } from './house-fit.js';
import { calibrateCoolDown, calibrateHeating } from './house-fit.js';
import type { HouseEvaluation, HouseModel } from './house-model.js';
import { HOUSE_MODEL_FORMAT, pointParams } from './house-model.js';
import { MARGIN_OFFSET_MIN, pessimisticParams } from './house-predict.js';
import { twoNodeLeadMin } from './house-physics.js';
import { predictHouseLead } from './predict.js';
import { quantileSorted, sig, valueRange } from './numbers.js';

/**
 * `watt train --data`: calibrate the user's own house (house-fit.ts) and evaluate it honestly on
 * the newest nights.
 */

/** A history row counts as late when the advice is more than this short of the recorded lead (minutes). */
export const LATE_TOLERANCE_MIN = 5;
/** Quantile of the training ratios (recorded - tolerance + 15) / (pessimistic lead + 15) used as the margin factor. */
export const HOUSE_MARGIN_QUANTILE = 0.98;
/** Standard deviations of the pessimistic parameters within the history (0: the fit's residual factor suffices there, bench:house). */
export const HOUSE_MARGIN_Z = 0;
/** More standard deviations per unit of extrapolation distance. */
export const HOUSE_MARGIN_Z_PER_DISTANCE = 1;
/** Margin growth per unit of extrapolation distance (10 %). */
export const EXTRAPOLATION_GAIN = 0.05;
/** Nights needed to calibrate a house. */
export const MIN_HOUSE_NIGHTS = 10;
/** Prior spread around the class house: ln H and ln τ within a factor ~1.65 (1 sd), delay 7.5 ± 15 min. */
export const PRIOR_SD = { ln_h: 0.5, ln_tau: 0.5, delay_min: 5 } as const;

/** The two-node structure and the prior of a DPE class (dpe-classes.json). */
export function classPrior(dpeClass: DpeClass): { structure: TwoNodeStructure; prior: HeatingPrior } {
  const params = thermalParams();
  const c = params.classes[dpeClass];
  const cTot = c.cAir + c.cMass;
  return {
    structure: { air_share_of_h: c.hAirOut / c.h, air_share_of_c: c.cAir / cTot, air_mass_coupling_w_per_k: c.hAirMass },
    prior: {
      h_w_per_k: c.h,
      sd_ln_h: PRIOR_SD.ln_h,
      tau_min: cTot / c.h / 60,
      sd_ln_tau: PRIOR_SD.ln_tau,
      delay_min: params.stove.rampMinutes / 2,
      sd_delay_min: PRIOR_SD.delay_min,
    },
  };
}

/** Calibration rows of history records (minutes since the stove went off at `stoveOff` the eve). */
export function calibrationRows(records: readonly IgnitionRecord[], stoveOff: string, maxLeadMin: number): CalibrationRow[] {
  const off = clockToMinutes(stoveOff);
  return records.map((r) => {
    const targetMin = clockToMinutes(r.target_time);
    const offMin = Math.min(off - 1440, targetMin - maxLeadMin);
    return {
      outdoorC: r.outdoor_temp_c,
      indoorC: r.indoor_start_temp_c,
      targetC: r.target_temp_c,
      powerKw: r.stove_power_kw,
      leadMin: r.lead_time_min,
      sinceOffMin: targetMin - r.lead_time_min - offMin,
    };
  });
}

function mode<T extends string | number>(values: readonly T[]): T {
  const counts = new Map<T, number>();
  let best = values[0]!;
  for (const v of values) {
    const n = (counts.get(v) ?? 0) + 1;
    counts.set(v, n);
    if (n > counts.get(best)!) best = v;
  }
  return best;
}

export interface FitHouseOptions {
  /** Warm start of the heating fit (e.g. a fit on fewer nights of the same house). */
  init?: HeatingParams;
  version: string;
  createdAt: string | null;
  wattVersion: string;
  training: HouseModel['training'];
}

/**
 * Calibrate one house on its nights (all of one DPE class label).
 * @throws Error if fewer than {@link MIN_HOUSE_NIGHTS} nights.
 */
export function fitHouse(records: readonly IgnitionRecord[], options: FitHouseOptions): HouseModel {
  if (records.length < MIN_HOUSE_NIGHTS) throw new Error(`${records.length} nights: a house needs at least ${MIN_HOUSE_NIGHTS} to calibrate`);
  const params = thermalParams();
  const label = mode(records.map((r) => r.dpe_class));
  const { structure, prior } = classPrior(label);
  const maxLead = params.night.maxLeadMin;
  const stoveOff = minutesClock(params.night.stoveOffMin);
  const rows = calibrationRows(records, stoveOff, maxLead);
  const heating = calibrateHeating(rows, prior, structure, options.init);
  // cool-down on the nights the room had cooled (lead > 0: the reading is before ignition)
  const coolRows = rows.filter((r) => r.leadMin > 0);
  const cls = params.classes[label];
  const cool = calibrateCoolDown(
    coolRows.length ? coolRows : rows,
    { evening_air_temp_c: params.night.eveningAirTempC, sd_evening_c: 2, tau_min: (cls.cAir + cls.cMass) / cls.h / 60, sd_ln_tau: 1 },
    stoveOff,
  );
  const range = (pick: (r: IgnitionRecord) => number) => valueRange(records, pick, 6);
  const h = heating.params.h_w_per_k;
  const model: HouseModel = {
    format: HOUSE_MODEL_FORMAT,
    version: options.version,
    created_at: options.createdAt,
    watt_version: options.wattVersion,
    method:
      'grey-box calibration of the house (two-node air + mass form, structure from the DPE class table; H, τ = C/H and the start-up delay d fitted by ml-levenberg-marquardt with a Huber loss (IRLS) and the class house as a Gaussian prior); lead solved from the closed-form trajectory; margin: the lead of the house with ln H, ln τ, d raised by z standard deviations, times a factor from the training residuals, both widened beyond the recorded nights',
    dpe_class: label,
    max_lead_min: maxLead,
    defaults: {
      target_temp_c: mode(records.map((r) => r.target_temp_c)),
      target_time: mode(records.map((r) => r.target_time)),
      stove_power_kw: mode(records.map((r) => r.stove_power_kw)),
    },
    heating: {
      form: 'two-node',
      structure: { air_share_of_h: sig(structure.air_share_of_h, 8), air_share_of_c: sig(structure.air_share_of_c, 8), air_mass_coupling_w_per_k: sig(structure.air_mass_coupling_w_per_k, 8) },
      h_w_per_k: { value: sig(h, 8), sd: sig(heating.sd.h_w_per_k, 4) },
      tau_min: { value: sig(heating.params.tau_min, 8), sd: sig(heating.sd.tau_min, 4) },
      delay_min: { value: sig(heating.params.delay_min, 8), sd: sig(heating.sd.delay_min, 4) },
      sd_ln_h: sig(heating.sd.ln_h, 6),
      sd_ln_tau: sig(heating.sd.ln_tau, 6),
      prior: { ...prior, tau_min: sig(prior.tau_min, 8) },
      residual_scale_min: sig(heating.residualScaleMin, 4),
      nights: rows.length,
      downweighted_nights: heating.downweighted,
    },
    cooldown: {
      stove_off: stoveOff,
      evening_air_temp_c: sig(cool.params.evening_air_temp_c, 6),
      tau_min: sig(cool.params.tau_min, 6),
      sd_evening_c: sig(cool.sd.evening_air_temp_c, 4),
      sd_tau_min: sig(cool.sd.tau_min, 4),
      residual_scale_k: sig(cool.residualScaleK, 4),
    },
    margin: { z: HOUSE_MARGIN_Z, z_per_distance: HOUSE_MARGIN_Z_PER_DISTANCE, factor: 1, quantile: HOUSE_MARGIN_QUANTILE, extrapolation_gain: EXTRAPOLATION_GAIN },
    seen: {
      outdoor_temp_c: range((r) => r.outdoor_temp_c),
      indoor_start_temp_c: range((r) => r.indoor_start_temp_c),
      target_temp_c: range((r) => r.target_temp_c),
      stove_power_kw: range((r) => r.stove_power_kw),
      load_ratio_max: sig(Math.max(...records.map((r) => Math.max(0, ((r.target_temp_c - r.outdoor_temp_c) * h) / (r.stove_power_kw * 1000)))), 6),
      gap_max_k: sig(Math.max(...records.map((r) => Math.max(0, r.target_temp_c - r.indoor_start_temp_c))), 6),
    },
    training: options.training,
    evaluation: null,
  };
  // margin factor: the quantile of (recorded - tolerance + 15) / (pessimistic lead + 15) on the training nights
  const pess = pessimisticParams(model, 0);
  const ratios = rows
    .filter((r) => r.leadMin > 0)
    .map((r) => (r.leadMin - LATE_TOLERANCE_MIN + MARGIN_OFFSET_MIN) / (twoNodeLeadMin(pess, structure, r.outdoorC, r.indoorC, r.targetC, r.powerKw) + MARGIN_OFFSET_MIN))
    .filter(Number.isFinite)
    .sort((a, b) => a - b);
  model.margin.factor = ratios.length ? sig(Math.max(1, quantileSorted(ratios, HOUSE_MARGIN_QUANTILE)), 6) : 1;
  return model;
}

function minutesClock(m: number): string {
  return `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
}

/** Learning-curve sizes (first nights by date). */
export const LEARNING_CURVE_NIGHTS = [10, 30, 100] as const;

interface Score {
  answered: number;
  refused: number;
  mae: number;
  p90: number;
  bias: number;
  late: number;
}

/** Advise each test night as `watt predict --indoor` would, and score against the recorded lead. */
export function scoreHouse(model: HouseModel, test: readonly IgnitionRecord[]): Score {
  const errs: number[] = [];
  let refused = 0;
  let late = 0;
  let bias = 0;
  for (const r of test) {
    const p = predictHouseLead(model, {
      outdoorC: r.outdoor_temp_c,
      indoorC: Math.min(r.indoor_start_temp_c, r.target_temp_c),
      targetC: r.target_temp_c,
      powerKw: r.stove_power_kw,
      at: r.target_time,
    });
    if (!p.feasible) {
      refused++;
      continue;
    }
    const e = p.lead_time_min - r.lead_time_min;
    errs.push(Math.abs(e));
    bias += e;
    if (e < -LATE_TOLERANCE_MIN) late++;
  }
  const n = errs.length;
  const sorted = [...errs].sort((a, b) => a - b);
  const r2 = (x: number) => Math.round(x * 100) / 100;
  return {
    answered: n,
    refused,
    mae: n ? r2(errs.reduce((a, b) => a + b, 0) / n) : 0,
    p90: n ? r2(quantileSorted(sorted, 0.9)) : 0,
    bias: n ? r2(bias / n) : 0,
    late: n ? Math.round((late / n) * 1e4) / 1e4 : 0,
  };
}

/**
 * The chronological hold-out: calibrate on the oldest ~80 % of nights, advise the newest ~20 %, and
 * the learning curve (the same test nights after the first 10 / 30 / 100 nights only). Undefined
 * below 2 × {@link MIN_HOUSE_NIGHTS} + 5 nights.
 */
export function evaluateHouse(records: readonly IgnitionRecord[], options: FitHouseOptions): { evaluation: HouseEvaluation; heating: HeatingParams } | undefined {
  if (records.length < 2 * MIN_HOUSE_NIGHTS + 5) return undefined;
  const sorted = [...records].sort((a, b) => (a.date < b.date ? -1 : a.date > b.date ? 1 : 0));
  const cut = Math.max(MIN_HOUSE_NIGHTS, Math.floor(sorted.length * 0.8));
  const train = sorted.slice(0, cut);
  const test = sorted.slice(cut);
  // the learning curve first (small fits from the prior), the hold-out fit warm-started from the largest
  let init: HeatingParams | undefined;
  const curve = LEARNING_CURVE_NIGHTS.filter((n) => n < cut).map((n) => {
    const m = fitHouse(sorted.slice(0, n), { ...options, version: `eval-${n}` });
    init = pointParams(m);
    const c = scoreHouse(m, test);
    return { train_nights: n, mae_min: c.mae, late_rate: c.late, refused: c.refused };
  });
  const held = fitHouse(train, { ...options, init, version: 'eval' });
  const s = scoreHouse(held, test);
  const evaluation: HouseEvaluation = {
    split: 'newest-20pct',
    description: `calibrate on the first ${cut} nights by date (to ${train.at(-1)!.date}), advise the newest ${test.length} (from ${test[0]!.date})`,
    train_nights: cut,
    test_nights: test.length,
    answered: s.answered,
    refused: s.refused,
    mae_min: s.mae,
    p90_abs_err_min: s.p90,
    bias_min: s.bias,
    late_rate: s.late,
    late_tolerance_min: LATE_TOLERANCE_MIN,
    learning_curve: curve,
  };
  return { evaluation, heating: pointParams(held) };
}
