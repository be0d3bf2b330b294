import { MultivariateLinearRegression } from 'ml-regression';
import type { DpeClass } from './params.js';
import { clockToMinutes, effectiveH, thermalParams } from './params.js';
import type { FeatureInput } from './features.js';
import { COMPACT_FEATURES, FULL_FEATURES, FULL_SET_MIN_ROWS, MIN_ROWS_PER_CLASS, featureVector, sortedClasses } from './features.js';
import type { ClassModel, CoolDownCurve, LeadModel } from './model-file.js';
import { MODEL_FORMAT } from './model-file.js';
import type { IgnitionRecord } from './history.js';
import { advisedLeadMin } from './predict.js';
import { coolDownCurve } from './simulator.js';
import type { FeasibilitySample } from './feasibility.js';
import { learnFeasibilityBoundary } from './feasibility.js';
import { quantileSorted, sig, valueRange } from './numbers.js';

/**
 * Fitting: one `ml-regression` MultivariateLinearRegression per DPE class on the physics-informed
 * features (features.ts), target ln(lead + 15 min), then a multiplicative safety margin: the
 * `marginQuantile` of the training ratios (lead + 15) / (prediction + 15), at least 1, for the class
 * (`margin_factor`) and for each region of the raw lead (`margin_by_lead`, which predict uses).
 */

/** Added to the lead before the logarithm (minutes): keeps ln finite at 0 and errors relative above ~15 min. */
export const OFFSET_MIN = 15;
/** Default margin quantile: the 90th percentile of the training ratios keeps ~1 % of held-out nights late (0.3 K tolerance). */
export const DEFAULT_MARGIN_QUANTILE = 0.9;

export interface FitOptions {
  marginQuantile?: number;
  version: string;
  createdAt: string | null;
  wattVersion: string;
  training: LeadModel['training'];
  /** Nights to calibrate the feasibility boundary on (synthetic, with the infeasible ones); none: the bare ceiling. */
  feasibility?: readonly FeasibilitySample[];
}

export interface FitResult {
  model: LeadModel;
  /** Classes present in the rows but too rare to fit (fewer than 10 rows). */
  skippedClasses: DpeClass[];
}

/** Features of one history row, for a class's effective H. */
export function rowFeatureInput(r: IgnitionRecord, hEff: number): FeatureInput {
  return { hEffWPerK: hEff, outdoorC: r.outdoor_temp_c, indoorC: r.indoor_start_temp_c, targetC: r.target_temp_c, powerKw: r.stove_power_kw };
}

/**
 * Fit the lead model on history rows. Classes with at least 200 rows get the full feature set,
 * classes with 10 to 199 the compact one (the issue's: -ln(1-u), x, x², gap), rarer ones are skipped.
 * Deterministic: same rows in the same order give the same JSON.
 * @throws Error if no class has 10 rows (callers turn it into a DataError).
 */
export function fitLeadModel(records: readonly IgnitionRecord[], options: FitOptions): FitResult {
  const params = thermalParams();
  const quantile = options.marginQuantile ?? DEFAULT_MARGIN_QUANTILE;
  const byClass = new Map<DpeClass, IgnitionRecord[]>();
  for (const r of records) {
    const list = byClass.get(r.dpe_class) ?? [];
    list.push(r);
    byClass.set(r.dpe_class, list);
  }
  const model: LeadModel = {
    format: MODEL_FORMAT,
    version: options.version,
    created_at: options.createdAt,
    watt_version: options.wattVersion,
    method:
      'one ml-regression MultivariateLinearRegression per DPE class on physics-informed features (one-node closed form -ln(1-u), load ratio x, temperature gap, cool-down; see src/model/features.ts); target ln(lead + 15 min); multiplicative safety margin from the training residuals, by region of the raw lead (0, 2, 4, 6 h and more; non-decreasing)',
    offset_min: OFFSET_MIN,
    margin_quantile: quantile,
    max_lead_min: params.night.maxLeadMin,
    defaults: { target_temp_c: 19, target_time: '07:00', stove_power_kw: params.stove.defaultPowerKw },
    training: options.training,
    classes: {},
    cooldown: { stove_off: minutesClock(params.night.stoveOffMin), evening_air_temp_c: params.night.eveningAirTempC, classes: {} },
    feasibility: learnFeasibilityBoundary([], {}),
    metrics: [],
  };
  const skippedClasses: DpeClass[] = [];
  for (const cls of sortedClasses(byClass.keys())) {
    const classRows = byClass.get(cls)!;
    // the regressions and their margins learn from the core stove powers; edge powers (the 2.5-3 and
    // 15 kW copies) only calibrate the small-stove factor and widen the accepted range
    const rows = classRows.filter((r) => r.stove_power_kw >= REGRESSION_POWER_KW[0] && r.stove_power_kw <= REGRESSION_POWER_KW[1]);
    const smallRows = classRows.filter((r) => r.stove_power_kw < REGRESSION_POWER_KW[0]);
    if (rows.length < MIN_ROWS_PER_CLASS) {
      skippedClasses.push(cls);
      continue;
    }
    const hEff = effectiveH(params.classes[cls]);
    const classModel = fitClassRegression(model, rows, hEff, quantile);
    // small stoves (2.5-3 kW copies, with the 4 kW nights as anchor): a regression of their own,
    // whose long ratio tails would otherwise widen every night's margin
    const small = [...smallRows, ...rows.filter((r) => r.stove_power_kw === REGRESSION_POWER_KW[0])];
    if (smallRows.length >= FULL_SET_MIN_ROWS) classModel.small_stove = { below_kw: SMALL_STOVE_KW, ...fitClassRegression(model, small, hEff, quantile) };
    model.classes[cls] = classModel;
    const curve: CoolDownCurve = coolDownCurve(params.classes[cls]);
    model.cooldown.classes[cls] = { w_fast: sig(curve.w_fast), tau_fast_min: sig(curve.tau_fast_min), w_slow: sig(curve.w_slow), tau_slow_min: sig(curve.tau_slow_min) };
  }
  if (Object.keys(model.classes).length === 0) {
    throw new Error(`no DPE class has at least ${MIN_ROWS_PER_CLASS} nights to learn from`);
  }
  const hEff: Partial<Record<DpeClass, number>> = {};
  for (const [k, c] of Object.entries(model.classes)) hEff[k as DpeClass] = c!.h_eff_w_per_k;
  model.feasibility = learnFeasibilityBoundary(options.feasibility ?? [], hEff);
  const fitted = records.filter((r) => model.classes[r.dpe_class]);
  const range = (pick: (r: IgnitionRecord) => number) => valueRange(fitted, pick);
  model.input_range = { outdoor_temp_c: range((r) => r.outdoor_temp_c), stove_power_kw: range((r) => r.stove_power_kw) };
  return { model, skippedClasses };
}

/** Stoves below this power (kW) get their own margin factor (`margin_small_stove`). */
export const SMALL_STOVE_KW = 4;
/** Stove powers (kW) the regressions are fitted on (the synthetic draws of 4 to 14 kW); outside, features are clipped to the training range and small stoves get their own margin. */
export const REGRESSION_POWER_KW = [4, 14] as const;

/** One class regression on `rows` with its margins (by lead and by ceiling region). */
function fitClassRegression(model: LeadModel, rows: readonly IgnitionRecord[], hEff: number, quantile: number): ClassModel {
  const names = rows.length >= FULL_SET_MIN_ROWS ? [...FULL_FEATURES] : [...COMPACT_FEATURES];
  const x = rows.map((r) => featureVector(rowFeatureInput(r, hEff), names));
  const y = rows.map((r) => Math.log(r.lead_time_min + OFFSET_MIN));
  const mlr = new MultivariateLinearRegression(x, y.map((v) => [v]), { intercept: false, statistics: false });
  const weights = mlr.weights.map((w) => w[0]!);
  const featureMin = names.map(() => Number.POSITIVE_INFINITY);
  const featureMax = names.map(() => Number.NEGATIVE_INFINITY);
  for (const v of x) {
    for (let j = 0; j < v.length; j++) {
      if (v[j]! < featureMin[j]!) featureMin[j] = v[j]!;
      if (v[j]! > featureMax[j]!) featureMax[j] = v[j]!;
    }
  }
  const classModel: ClassModel = {
    h_eff_w_per_k: sig(hEff),
    features: names,
    weights: weights.map((w) => sig(w)),
    feature_min: featureMin.map((v) => sig(v)),
    feature_max: featureMax.map((v) => sig(v)),
    margin_factor: 1,
    rows: rows.length,
  };
  const pairs = rows
    .map((r) => {
      const raw = advisedLeadMin(model, classModel, rowFeatureInputNoH(r), false);
      return { raw, m: r.outdoor_temp_c + (r.stove_power_kw * 1000) / hEff - r.target_temp_c, ratio: (r.lead_time_min + OFFSET_MIN) / (raw + OFFSET_MIN) };
    })
    .filter((p) => Number.isFinite(p.ratio));
  const ratios = pairs.map((p) => p.ratio).sort((a, b) => a - b);
  classModel.margin_factor = sig(Math.max(1, quantileSorted(ratios, quantile)), 8);
  classModel.margin_by_lead = marginByLead(pairs, quantile, classModel.margin_factor);
  classModel.margin_by_ceiling = marginByCeiling(pairs, quantile);
  return classModel;
}

/** Raw-lead regions (minutes) of the margin: long leads, near the 9 h cap, err more (mass still cold, outdoor air falling longer). */
export const MARGIN_REGIONS_MIN = [0, 120, 240, 360] as const;
/** Rows a region needs for its own quantile; fewer: the class's single factor. */
export const MARGIN_REGION_MIN_ROWS = 50;

/**
 * The margin by region of the raw lead: in each region of {@link MARGIN_REGIONS_MIN} the `quantile`
 * of its training ratios (at least 1; the class's single factor when the region has fewer than 50
 * rows), then a running maximum so the factor never decreases with the lead (monotone advice).
 */
export function marginByLead(pairs: readonly { raw: number; ratio: number }[], quantile: number, single: number): ClassModel['margin_by_lead'] {
  const factor: number[] = [];
  let running = 1;
  for (let i = 0; i < MARGIN_REGIONS_MIN.length; i++) {
    const lo = MARGIN_REGIONS_MIN[i]!;
    const hi = MARGIN_REGIONS_MIN[i + 1] ?? Number.POSITIVE_INFINITY;
    const inRegion = pairs.filter((p) => p.raw >= lo && p.raw < hi).map((p) => p.ratio).sort((a, b) => a - b);
    const q = inRegion.length >= MARGIN_REGION_MIN_ROWS ? Math.max(1, quantileSorted(inRegion, quantile)) : single;
    running = Math.max(running, q);
    factor.push(sig(running, 8));
  }
  return { from_min: [...MARGIN_REGIONS_MIN], factor };
}

/**
 * Ceiling-margin regions (K) of the third margin, m = T_o + P/H_eff - T_set at the ignition-time
 * outdoor air: within ~6 K of the target the night's fall of the outdoor air (3 to 10 K until 06:00)
 * takes the ceiling to or below the target (small stoves in classes D to G), and the training ratios
 * have a long tail (97th percentile 1.2 to 1.5 below 6 K, 1.05 to 1.1 above, default history); 0.94 keeps the hold-out MAE <= 10 min and the stove-on reduction >= 20 % (0.97 does not).
 */
export const MARGIN_CEILING_BELOW_K = [6, 5, 4, 3, 2] as const;
/** Quantile of the ratios in each ceiling region (at least the model's): near the ceiling a short lead leaves the room cold. */
export const MARGIN_CEILING_QUANTILE = 0.94;

/**
 * The margin by ceiling region: for each m < {@link MARGIN_CEILING_BELOW_K}[i] (down to the next
 * bound) the larger of `quantile` and {@link MARGIN_CEILING_QUANTILE} of its training ratios (at
 * least 1; the previous region's factor when it has fewer than 50 rows), then a running maximum so
 * the factor never decreases as the ceiling nears the target (monotone in the target and the cold).
 */
export function marginByCeiling(pairs: readonly { m: number; ratio: number }[], quantile: number): NonNullable<ClassModel['margin_by_ceiling']> {
  const factor: number[] = [];
  let running = 1;
  for (let i = 0; i < MARGIN_CEILING_BELOW_K.length; i++) {
    const hi = MARGIN_CEILING_BELOW_K[i]!;
    const lo = MARGIN_CEILING_BELOW_K[i + 1] ?? Number.NEGATIVE_INFINITY;
    const inRegion = pairs.filter((p) => p.m < hi && p.m >= lo).map((p) => p.ratio).sort((a, b) => a - b);
    if (inRegion.length >= MARGIN_REGION_MIN_ROWS) running = Math.max(running, quantileSorted(inRegion, Math.max(quantile, MARGIN_CEILING_QUANTILE)));
    factor.push(sig(running, 8));
  }
  return { below_k: [...MARGIN_CEILING_BELOW_K], factor };
}

/** The predict-side view of a history row (H comes from the class model). */
export function rowFeatureInputNoH(r: IgnitionRecord): Omit<FeatureInput, 'hEffWPerK'> {
  return { outdoorC: r.outdoor_temp_c, indoorC: r.indoor_start_temp_c, targetC: r.target_temp_c, powerKw: r.stove_power_kw };
}

function minutesClock(m: number): string {
  return `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
}

/** Target time of a record in minutes after midnight. */
export function targetMinutes(r: IgnitionRecord): number {
  return clockToMinutes(r.target_time);
}

