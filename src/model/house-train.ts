import type { DpeClass } from './params.js';
import { clockToMinutes, thermalParams } from './params.js';
import type { IgnitionRecord } from './history.js';
import type { HeatingParams, TwoNodeStructure } from './house-physics.js';
import type { CalibrationRow, HeatingFit, HeatingPrior } from './house-fit.js';
import { calibrateCoolDown, calibrateHeating } from './house-fit.js';
import type { BaselineScore, HouseEvaluation, HouseModel, HouseQuality, StructureChoice } from './house-model.js';
import { HOUSE_MODEL_FORMAT, pointParams } from './house-model.js';
import { MARGIN_OFFSET_MIN, pessimisticParams } from './house-predict.js';
import { effectiveOutdoorC, twoNodeCeilingC, twoNodeLeadMin } from './house-physics.js';
import type { MarginBands, MarginSample } from './house-margin.js';
import { fitMarginBands } from './house-margin.js';
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
      ...(r.temp_min_c === undefined ? {} : { tempMinC: r.temp_min_c }),
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
  init?: HeatingParams & { temp_min_weight?: number };
  /** The two-node structure (default: the DPE class table's). */
  structure?: TwoNodeStructure;
  structureChoice?: StructureChoice;
  /** The banded margin learned from out-of-fold nights (default: none, the single factor). */
  bands?: MarginBands;
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
  const { structure: tableStructure, prior } = classPrior(label);
  const structure = options.structure ?? tableStructure;
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
      ...(heating.tempMinWeight ? { temp_min_weight: { value: sig(heating.tempMinWeight.value, 6), sd: sig(heating.tempMinWeight.sd, 4) } } : {}),
      ...(options.structureChoice ? { structure_choice: options.structureChoice } : {}),
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
  const w = model.heating.temp_min_weight?.value;
  const ratios = rows
    .filter((r) => r.leadMin > 0)
    .map((r) => (r.leadMin - LATE_TOLERANCE_MIN + MARGIN_OFFSET_MIN) / (twoNodeLeadMin(pess, structure, w === undefined ? r.outdoorC : effectiveOutdoorC(r.outdoorC, r.tempMinC, w), r.indoorC, r.targetC, r.powerKw) + MARGIN_OFFSET_MIN))
    .filter(Number.isFinite)
    .sort((a, b) => a - b);
  model.margin.factor = ratios.length ? sig(Math.max(1, quantileSorted(ratios, HOUSE_MARGIN_QUANTILE)), 6) : 1;
  if (options.bands) model.margin.bands = options.bands;
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
  /** Of the refused: nights answered plainly "keep the stove on low overnight". */
  plain: number;
  meanLead: number;
  mae: number;
  p90: number;
  bias: number;
  late: number;
}

/** Advise each test night as `watt predict --indoor` would, and score against the recorded lead. */
export function scoreHouse(model: HouseModel, test: readonly IgnitionRecord[]): Score {
  const errs: number[] = [];
  let refused = 0;
  let plain = 0;
  let late = 0;
  let bias = 0;
  let leads = 0;
  for (const r of test) {
    const p = predictHouseLead(model, {
      outdoorC: r.outdoor_temp_c,
      indoorC: Math.min(r.indoor_start_temp_c, r.target_temp_c),
      targetC: r.target_temp_c,
      powerKw: r.stove_power_kw,
      at: r.target_time,
      ...(r.temp_min_c === undefined ? {} : { tempMinC: r.temp_min_c }),
    });
    if (!p.feasible) {
      refused++;
      if (p.advice === 'keep-on') plain++;
      continue;
    }
    leads += r.lead_time_min;
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
    plain,
    meanLead: n ? r2(leads / n) : 0,
    mae: n ? r2(errs.reduce((a, b) => a + b, 0) / n) : 0,
    p90: n ? r2(quantileSorted(sorted, 0.9)) : 0,
    bias: n ? r2(bias / n) : 0,
    late: n ? Math.round((late / n) * 1e4) / 1e4 : 0,
  };
}

/** Nights whose out-of-fold folds and structure choice fit on at most this many of the newest nights before them (speed; the physics does not age). */
export const FOLD_FIT_MAX_NIGHTS = 400;
/** Nights from which the two-node structure is chosen by hold-out rather than taken from the class table. */
export const STRUCTURE_CHOICE_MIN_NIGHTS = 150;
/** Out-of-fold nights from which the folds calibrated on few nights are left out of the margin. */
export const MIN_MARGIN_SAMPLES = 60;
/** Chronological folds of the out-of-fold errors (the newest one is the hold-out). */
const FOLDS = 5;
/** Quality gate (issue 19): the largest |bias| (minutes, and share of the mean recorded lead) and late share of the hold-out. */
export const QUALITY_GATE = { max_abs_bias_min: 15, max_bias_share: 0.25, max_late_rate: 0.03 } as const;

/** A night kept on: indoor air at or above the target with a positive lead (the household never let the room cool). */
export function keptOn(r: IgnitionRecord): boolean {
  return r.indoor_start_temp_c >= r.target_temp_c && r.lead_time_min > 0;
}

/** The candidate structures tried by hold-out: the class table's, and its air capacity and air-mass coupling halved and doubled. */
export function structureCandidates(table: TwoNodeStructure): { name: string; structure: TwoNodeStructure }[] {
  return [
    { name: 'class-table', structure: table },
    { name: 'air capacity ×0.5', structure: { ...table, air_share_of_c: table.air_share_of_c * 0.5 } },
    { name: 'air capacity ×2', structure: { ...table, air_share_of_c: Math.min(0.8, table.air_share_of_c * 2) } },
    { name: 'air-mass coupling ×0.5', structure: { ...table, air_mass_coupling_w_per_k: table.air_mass_coupling_w_per_k * 0.5 } },
    { name: 'air-mass coupling ×2', structure: { ...table, air_mass_coupling_w_per_k: table.air_mass_coupling_w_per_k * 2 } },
  ];
}

/** Heating parameters, the fitted forecast-minimum weight and the structure: what a raw lead needs. */
interface RawHouse {
  params: HeatingParams;
  weight?: number;
  structure: TwoNodeStructure;
}

function rawOf(fit: HeatingFit, structure: TwoNodeStructure): RawHouse {
  return { params: fit.params, weight: fit.tempMinWeight?.value, structure };
}

function rawOfModel(m: HouseModel): RawHouse {
  return { params: pointParams(m), weight: m.heating.temp_min_weight?.value, structure: m.heating.structure };
}

/** The raw lead (minutes, no margin) of a night at its recorded state, and the stove's headroom at its coldest air (K). */
function rawNight(h: RawHouse, r: IgnitionRecord): { raw: number; headroom: number } {
  const outdoor = h.weight === undefined ? r.outdoor_temp_c : effectiveOutdoorC(r.outdoor_temp_c, r.temp_min_c, h.weight);
  const raw = twoNodeLeadMin(h.params, h.structure, outdoor, Math.min(r.indoor_start_temp_c, r.target_temp_c), r.target_temp_c, r.stove_power_kw);
  const cold = Math.min(r.outdoor_temp_c, r.temp_min_c ?? r.outdoor_temp_c);
  return { raw, headroom: twoNodeCeilingC(h.params.h_w_per_k, h.structure, cold, r.stove_power_kw) - r.target_temp_c };
}

function fitRaw(records: readonly IgnitionRecord[], structure: TwoNodeStructure, prior: HeatingPrior, init?: HeatingParams & { temp_min_weight?: number }): HeatingFit {
  const params = thermalParams();
  const rows = calibrationRows(records, minutesClock(params.night.stoveOffMin), params.night.maxLeadMin);
  return calibrateHeating(rows, prior, structure, init);
}

function initOf(fit: HeatingFit): HeatingParams & { temp_min_weight?: number } {
  return { ...fit.params, ...(fit.tempMinWeight ? { temp_min_weight: fit.tempMinWeight.value } : {}) };
}

/**
 * A lookup schedule by outdoor air, the baseline a household could keep on paper: the median
 * recorded lead of the training nights whose outdoor air is within ±1 K (widened by 1 K until 5
 * nights are found).
 */
export function lookupSchedule(train: readonly IgnitionRecord[]): (outdoorC: number) => number {
  const pts = train.filter((r) => r.lead_time_min > 0).map((r) => [r.outdoor_temp_c, r.lead_time_min] as const).sort((a, b) => a[0] - b[0]);
  const xs = pts.map((p) => p[0]);
  const lowerBound = (v: number) => {
    let lo = 0;
    let hi = xs.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (xs[mid]! < v) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  return (t: number) => {
    if (pts.length === 0) return 0;
    for (let w = 1; ; w++) {
      const a = lowerBound(t - w);
      const b = lowerBound(t + w + 1e-9);
      if (b - a >= Math.min(5, pts.length) || w > 80) {
        const leads = pts.slice(a, b).map((p) => p[1]).sort((x, y) => x - y);
        return leads.length ? quantileSorted(leads, 0.5) : 0;
      }
    }
  };
}

function scoreLeads(test: readonly IgnitionRecord[], lead: (r: IgnitionRecord) => number): BaselineScore {
  let n = 0;
  let abs = 0;
  let bias = 0;
  let late = 0;
  for (const r of test) {
    const l = lead(r);
    if (!Number.isFinite(l)) continue;
    const e = Math.min(540, l) - r.lead_time_min;
    n++;
    abs += Math.abs(e);
    bias += e;
    if (e < -LATE_TOLERANCE_MIN) late++;
  }
  const r2 = (x: number) => Math.round(x * 100) / 100;
  return { mae_min: n ? r2(abs / n) : 0, bias_min: n ? r2(bias / n) : 0, late_rate: n ? Math.round((late / n) * 1e4) / 1e4 : 0, answered: n };
}

/**
 * The quality gate (issue 19), on the chronological hold-out: the model fails when its physics
 * without margin is worse (MAE) than a lookup schedule by outdoor air built from the same training
 * nights (both are point estimates: the comparison is fair; the advised lead carries a margin that
 * the lookup does not), when the advice's |bias| exceeds 15 min or 25 % of the mean recorded lead,
 * whichever is larger (15 min on short leads, a quarter of the lead on long ones), or when the
 * advice is late on more than 3 % of the nights it answered (and on two nights at least).
 */
export function qualityOf(e: HouseEvaluation | null): HouseQuality {
  if (!e || !e.baselines) return { status: 'unrated', reasons: [] };
  const reasons: string[] = [];
  const r1 = (x: number) => Math.round(x * 10) / 10;
  const { raw, lookup } = e.baselines;
  if (lookup.answered > 0 && raw.answered > 0 && raw.mae_min > lookup.mae_min) reasons.push(`without margin its MAE ${r1(raw.mae_min)} min is worse than a lookup schedule by outdoor air (${r1(lookup.mae_min)} min)`);
  const meanLead = e.mean_lead_min ?? 0;
  const maxBias = Math.max(QUALITY_GATE.max_abs_bias_min, QUALITY_GATE.max_bias_share * meanLead);
  if (Math.abs(e.bias_min) > maxBias) reasons.push(`bias ${e.bias_min > 0 ? '+' : ''}${r1(e.bias_min)} min is beyond ±${r1(maxBias)} min (15 min or 25 % of the mean lead, ${r1(meanLead)} min)`);
  // one late night among a handful is no evidence: the late check needs two late nights at least
  const lateNights = Math.round(e.late_rate * e.answered);
  if (e.late_rate > QUALITY_GATE.max_late_rate && lateNights >= 2) reasons.push(`late on ${r1(e.late_rate * 100)} % of the answered nights (more than ${QUALITY_GATE.max_late_rate * 100} %)`);
  return { status: reasons.length ? 'poor' : 'ok', reasons };
}

export interface HouseTraining {
  model: HouseModel;
  /** Nights kept on, set aside from the calibration (they stay in the history). */
  keptOn: number;
  /** Seconds: hold-out evaluation (folds, structure choice, learning curve) and the final fit. */
  evaluate_s: number;
  fit_s: number;
}

/**
 * `watt train --data`'s pipeline for one house, in date order:
 *
 * 1. nights kept on (indoor at or above the target, positive lead) are set aside and counted;
 * 2. from {@link STRUCTURE_CHOICE_MIN_NIGHTS} nights, the two-node structure is chosen among
 *    {@link structureCandidates} by raw MAE on the newest training fold (else the class table's);
 * 3. chronological folds: each fifth of the nights is advised by a calibration on the nights before
 *    it only (out-of-fold), and the banded margin (house-margin.ts) is learned from those errors;
 * 4. the hold-out (newest fifth) is advised by the calibration on the first 80 % with the margin
 *    from its own folds, scored beside the raw model and a lookup schedule, and judged by the
 *    quality gate ({@link qualityOf});
 * 5. the final model is calibrated on every night with the margin from every fold.
 * Below 25 nights: no hold-out, the single-factor margin, quality `unrated`.
 * @throws Error if fewer than {@link MIN_HOUSE_NIGHTS} usable nights.
 */
export function trainHouseModel(all: readonly IgnitionRecord[], options: FitHouseOptions & { skipEvaluation?: boolean }): HouseTraining {
  const t0 = performance.now();
  const sorted = [...all].sort((a, b) => (a.date < b.date ? -1 : a.date > b.date ? 1 : 0));
  const records = sorted.filter((r) => !keptOn(r));
  const kept = sorted.length - records.length;
  if (records.length < MIN_HOUSE_NIGHTS) throw new Error(`${records.length} nights: a house needs at least ${MIN_HOUSE_NIGHTS} to calibrate`);
  const n = records.length;
  const label = mode(records.map((r) => r.dpe_class));
  const { structure: table, prior } = classPrior(label);
  const finish = (m: HouseModel, evaluateS: number, t1: number): HouseTraining => {
    if (kept) m.heating.kept_on_nights = kept;
    return { model: m, keptOn: kept, evaluate_s: evaluateS, fit_s: (performance.now() - t1) / 1000 };
  };
  if (options.skipEvaluation || n < 2 * MIN_HOUSE_NIGHTS + 5) {
    const t1 = performance.now();
    const m = fitHouse(records, { ...options, structureChoice: { method: 'class-table', chosen: 'class-table', candidates: [], selection_nights: 0 } });
    m.quality = { status: 'unrated', reasons: [] };
    return finish(m, 0, t1);
  }
  // fold edges: b[k] = first night of fold k (fold 0 is only ever trained on)
  const b = Array.from({ length: FOLDS + 1 }, (_, k) => (k === 0 ? 0 : k === FOLDS ? n : Math.max(MIN_HOUSE_NIGHTS, Math.floor((k * n) / FOLDS))));
  const cut = b[FOLDS - 1]!;
  const window = (end: number) => records.slice(Math.max(0, end - FOLD_FIT_MAX_NIGHTS), end);
  // 2. structure: chosen on the fold before the hold-out, from calibrations on the nights before it
  let structure = table;
  let choice: StructureChoice = { method: 'class-table', chosen: 'class-table', candidates: [], selection_nights: 0 };
  const fits = new Map<number, HeatingFit>();
  const selStart = b[FOLDS - 2]!;
  if (n >= STRUCTURE_CHOICE_MIN_NIGHTS) {
    const sel = records.slice(selStart, cut);
    // the class table's structure from the prior, the others warm-started from its solution (refining passes only)
    let tableFit: HeatingFit | undefined;
    const tried = structureCandidates(table).map((c, i) => {
      const fit = fitRaw(window(selStart), c.structure, prior, tableFit ? initOf(tableFit) : undefined);
      tableFit ??= fit;
      const h = rawOf(fit, c.structure);
      const mae = scoreLeads(sel, (r) => rawNight(h, r).raw).mae_min;
      return { ...c, fit, mae, i };
    });
    const best = tried.reduce((a, c) => (c.mae < a.mae - 1e-9 ? c : a), tried[0]!);
    structure = best.structure;
    fits.set(FOLDS - 2, best.fit);
    choice = { method: 'hold-out', chosen: best.name, candidates: tried.map((c) => ({ name: c.name, mae_min: c.mae })), selection_nights: sel.length };
  }
  // 3. out-of-fold raw leads: fold k (1 .. FOLDS-2) from a calibration on the nights before it
  const oof: MarginSample[][] = [];
  let init: (HeatingParams & { temp_min_weight?: number }) | undefined;
  for (let k = 1; k <= FOLDS - 2; k++) {
    if (b[k]! >= b[k + 1]!) {
      oof.push([]);
      continue;
    }
    const fit = fits.get(k) ?? fitRaw(window(b[k]!), structure, prior, init);
    init = initOf(fit);
    const h = rawOf(fit, structure);
    oof.push(records.slice(b[k]!, b[k + 1]!).map((r) => ({ ...rawNight(h, r), truth: r.lead_time_min })));
  }
  // 4. the hold-out model: the first 80 %, the margin of its own folds
  const base = { ...options, structure, structureChoice: choice };
  const train = records.slice(0, cut);
  const test = records.slice(cut);
  let curveInit: (HeatingParams & { temp_min_weight?: number }) | undefined;
  const curve = LEARNING_CURVE_NIGHTS.filter((c) => c < cut).map((c) => {
    const m = fitHouse(records.slice(0, c), { ...base, version: `eval-${c}` });
    curveInit = { ...pointParams(m), ...(m.heating.temp_min_weight ? { temp_min_weight: m.heating.temp_min_weight.value } : {}) };
    const sc = scoreHouse(m, test);
    return { train_nights: c, mae_min: sc.mae, late_rate: sc.late, refused: sc.refused };
  });
  // folds calibrated on few nights err more than the model they protect: from MIN_MARGIN_SAMPLES on,
  // only folds whose calibration saw at least 40 % of the nights count
  const useful = oof.filter((_, i) => b[i + 1]! >= 0.4 * n);
  const marginSamples = useful.flat().length >= MIN_MARGIN_SAMPLES ? useful.flat() : oof.flat();
  const heldBands = fitMarginBands(marginSamples, LATE_TOLERANCE_MIN);
  const held = fitHouse(train, { ...base, init: init ?? curveInit, bands: heldBands, version: 'eval' });
  const s = scoreHouse(held, test);
  const heldRaw = rawOfModel(held);
  const lookup = lookupSchedule(train);
  const evaluation: HouseEvaluation = {
    split: 'newest-20pct',
    description: `calibrate on the first ${cut} nights by date (to ${train.at(-1)!.date}), advise the newest ${test.length} (from ${test[0]!.date})`,
    train_nights: cut,
    test_nights: test.length,
    answered: s.answered,
    refused: s.refused,
    plain: s.plain,
    mae_min: s.mae,
    p90_abs_err_min: s.p90,
    bias_min: s.bias,
    late_rate: s.late,
    late_tolerance_min: LATE_TOLERANCE_MIN,
    learning_curve: curve,
    mean_lead_min: s.meanLead,
    baselines: {
      raw: scoreLeads(test, (r) => rawNight(heldRaw, r).raw),
      lookup: scoreLeads(test, (r) => lookup(r.outdoor_temp_c)),
    },
  };
  const hold = test.map((r) => ({ ...rawNight(heldRaw, r), truth: r.lead_time_min }));
  const evaluateS = (performance.now() - t0) / 1000;
  // 5. the final model: every night, the margin of every fold
  const t1 = performance.now();
  const bands = fitMarginBands([...marginSamples, ...hold], LATE_TOLERANCE_MIN);
  const model = fitHouse(records, { ...base, init: { ...pointParams(held), ...(held.heating.temp_min_weight ? { temp_min_weight: held.heating.temp_min_weight.value } : {}) }, bands });
  model.evaluation = evaluation;
  model.quality = qualityOf(evaluation);
  return finish(model, evaluateS, t1);
}
