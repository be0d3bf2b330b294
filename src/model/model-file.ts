import path from 'node:path';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { UsageError } from '../errors.js';
import { assetPath } from '../paths.js';
import type { DpeClass } from './params.js';
import { isDpeClass } from './params.js';
import { FEATURES } from './features.js';
import type { HouseModel } from './house-model.js';
import { HOUSE_MODEL_FORMAT, houseModelProblem } from './house-model.js';

/**
 * The model file (`model.json`) and where `watt predict` finds it. Light module: no simulator,
 * no catalog (better-sqlite3), no logger.
 */

export const MODEL_FORMAT = 'watt-lead-model/1';

/** One DPE class's regression: ln(lead + offset) = weights · features, then × margin_factor. */
export interface ClassModel {
  /** H_eff of the class used by the features (W/K). */
  h_eff_w_per_k: number;
  /** Feature names (see features.ts), in weight order. */
  features: string[];
  weights: number[];
  /** Range of each feature in the training rows; inputs are clipped to it. */
  feature_min: number[];
  feature_max: number[];
  /** Safety factor on (lead + offset): the `margin_quantile` of the training ratios truth / prediction, >= 1. */
  margin_factor: number;
  /**
   * Margin by region (absent in older models: `margin_factor` everywhere): from each raw lead in
   * `from_min` (minutes, ascending, the first 0), `factor` applies; non-decreasing, so a longer raw
   * lead never gets a shorter advice. Long leads (near the 9 h cap) err more than short ones.
   */
  margin_by_lead?: { from_min: number[]; factor: number[] };
  /**
   * Margin by how far the stove's ceiling T_o + P/H_eff is above the target (K; absent in older
   * models): below each `below_k` (descending) `factor` applies; it grows as the ceiling nears the
   * target. There the outdoor air falling until 06:00 brings the ceiling to or below the target, the
   * house must be heated early while it is milder, and the true lead rises far faster than the
   * regression follows. predict applies the larger of this factor and the lead region's.
   */
  margin_by_ceiling?: { below_k: number[]; factor: number[] };
  /**
   * The regression of stoves below `below_kw` (absent in older models: the class regression,
   * clipped): fitted on the 2.5-3 kW copies and the 4 kW nights, with margins of its own; predict
   * takes the larger of it and the class regression at `below_kw`, so a smaller stove never gets a
   * shorter lead.
   */
  small_stove?: ClassModel & { below_kw: number };
  /** Training rows of this class. */
  rows: number;
}

/** Free cool-down of the air after the stove goes off, constant outdoors: T_a(t) - T_o = (T_e - T_o)·(w_fast·e^(-t/τ_fast) + w_slow·e^(-t/τ_slow)). */
export interface CoolDownCurve {
  w_fast: number;
  tau_fast_min: number;
  w_slow: number;
  tau_slow_min: number;
}

/** Metrics of one held-out evaluation (see evaluate.ts). */
export interface SplitMetrics {
  split: string;
  description: string;
  train_rows: number;
  test_rows: number;
  /** Mean absolute error of the lead actually advised (margin included), minutes. */
  mae_min: number;
  /** Same without the safety margin, minutes. */
  mae_raw_min: number;
  /** Share of test nights more than 0.3 K short at the target time when the advice is followed (0..1). */
  late_rate: number;
  /** How lateness was checked: `resimulated` (synthetic) or `recorded-lead` (user data: advice shorter than the recorded lead). */
  late_check: 'resimulated' | 'recorded-lead';
  stove_on_h_per_night: number;
  kwh_per_night: number | null;
  fixed_2h: { stove_on_h_per_night: number; kwh_per_night: number | null; late_rate: number };
  fixed_p95: { lead_min: number; stove_on_h_per_night: number; kwh_per_night: number | null; late_rate: number };
  /** Reduction of stove-on time against the schedules (0..1; negative = longer). */
  reduction_vs_2h: number;
  reduction_vs_p95: number;
  /**
   * Nights the simulator found unreachable in 9 h, and how many of them `watt predict` refused when
   * asked at stove-off (22:00, the outdoor temperature then, no `--indoor`: the default estimate).
   */
  infeasible_nights: number;
  infeasible_flagged: number;
  /** infeasible_flagged / infeasible_nights (0..1), null without infeasible test nights. */
  infeasible_recall: number | null;
  /** Feasible test nights refused by the same stove-off query, count and share (0..1); null without weather (user data). */
  false_refusals: number | null;
  false_refusal_rate: number | null;
  /** Share of feasible test nights refused when asked at ignition with `--indoor` (the rows the MAE is computed on). */
  false_refusal_rate_at_ignition: number;
}

/**
 * The feasibility boundary learned at train time: `watt predict` refuses a night when the stove's
 * steady-state ceiling at the given outdoor temperature, T_o + P/H_eff, is less than
 * `min_margin_k` above the target. The margin stands for the fall of the outdoor air between the
 * evening and the morning on real nights, and for the time the last kelvins take; 0 = the bare
 * ceiling (a model trained on a user's history, which holds no infeasible night).
 */
export interface FeasibilityBoundary {
  /** K, >= 0. */
  min_margin_k: number;
  /** How it was chosen, in one line. */
  method: string;
  /** The nights it was calibrated on (synthetic, asked at stove-off). */
  feasible_nights: number;
  infeasible_nights: number;
  /** On those nights: infeasible ones refused, feasible ones refused. */
  infeasible_refused: number;
  feasible_refused: number;
}

export interface LeadModel {
  format: typeof MODEL_FORMAT;
  version: string;
  created_at: string | null;
  watt_version: string;
  method: string;
  /** ln(lead_time_min + offset_min) is what each class regression predicts. */
  offset_min: number;
  margin_quantile: number;
  max_lead_min: number;
  defaults: { target_temp_c: number; target_time: string; stove_power_kw: number };
  training: {
    source: 'synthetic' | 'file';
    name: string;
    sha256: string;
    rows: number;
    seed?: number;
    variants?: number;
    /** Cold copies of each night (weather shifted colder), training only. */
    cold_variants?: number;
    weather_sha256?: string;
    ignored_columns?: string[];
  };
  classes: Partial<Record<DpeClass, ClassModel>>;
  cooldown: { stove_off: string; evening_air_temp_c: number; classes: Partial<Record<DpeClass, CoolDownCurve>> };
  /** Absent in models written before it existed: the bare ceiling (margin 0). */
  feasibility?: FeasibilityBoundary;
  /** Outdoor temperatures (°C) and stove powers (kW) of the training nights, [min, max]; predict refuses queries outside (see predict.ts). Absent in older models: no check. */
  input_range?: InputRange;
  metrics: SplitMetrics[];
}

/** Ranges of the training nights' inputs, [min, max]. */
export interface InputRange {
  outdoor_temp_c: [number, number];
  stove_power_kw: [number, number];
}

/** Any model watt predicts with: a DPE-class model (shipped) or a calibrated house (`watt train --data`). */
export type WattModel = LeadModel | HouseModel;

/** Where a model came from, for messages. */
export interface ResolvedModel {
  model: WattModel;
  file: string;
  origin: 'flag' | 'watt-home' | 'shipped' | 'registry';
}

/** Defaults of a query to a class model (the shipped default): 19 °C at 07:00 with an 8 kW stove. */
export const CLASS_MODEL_DEFAULTS = { target_temp_c: 19, target_time: '07:00', stove_power_kw: 8 } as const;

/**
 * The defaults of the target, target time and stove power for one model: a house model's own (its
 * history's usual ones), else {@link CLASS_MODEL_DEFAULTS}. The one set of defaults of `watt
 * predict` and `POST /v1/predict` (issue 19: the two used to differ for a house model).
 */
export function predictDefaults(model: WattModel): { target_temp_c: number; target_time: string; stove_power_kw: number } {
  return 'heating' in model ? model.defaults : CLASS_MODEL_DEFAULTS;
}

/** The shipped default model: `models/default/model.json` in the package. */
export function shippedModelFile(): string {
  return assetPath('models', 'default', 'model.json');
}

/**
 * Find the model to use: `--model` (a model.json or its folder), else the newest model under
 * `<WATT_HOME>/models/` (versions sort by time), else the shipped default.
 * @throws UsageError if `--model` does not exist or a file is not a watt model.
 */
export function resolveModel(explicit: string | undefined, home: string): ResolvedModel {
  if (explicit) {
    let file = path.resolve(explicit);
    if (existsSync(file) && statSync(file).isDirectory()) file = path.join(file, 'model.json');
    if (!existsSync(file)) throw new UsageError(`model not found: ${explicit}`, { hint: 'pass a model.json or its folder to --model, or omit --model' });
    return { model: readModel(file), file, origin: 'flag' };
  }
  const dir = path.join(home, 'models');
  if (existsSync(dir)) {
    const versions = readdirSync(dir, { withFileTypes: true })
      .filter((d) => d.isDirectory() && existsSync(path.join(dir, d.name, 'model.json')))
      .map((d) => d.name)
      .sort();
    const newest = versions.at(-1);
    if (newest) {
      const file = path.join(dir, newest, 'model.json');
      return { model: readModel(file), file, origin: 'watt-home' };
    }
  }
  const file = shippedModelFile();
  if (!existsSync(file)) throw new UsageError(`no model: none in ${dir} and the shipped default ${file} is missing`, { hint: 'run watt train, or reinstall watt' });
  return { model: readModel(file), file, origin: 'shipped' };
}

/**
 * Read and check a model file.
 * @throws UsageError if it is unreadable, not JSON, or not a `watt-lead-model/1` with consistent classes.
 */
export function readModel(file: string): WattModel {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new UsageError(`cannot read model ${file}: ${(err as Error).message.split('\n')[0]}`, { hint: 'pass a model.json written by watt train' });
  }
  return checkModel(parsed, file);
}

/**
 * Check the shape of a parsed model.
 * @throws UsageError naming the first problem.
 */
export function checkModel(value: unknown, file = 'model'): WattModel {
  const fail = (why: string): never => {
    throw new UsageError(`${file} is not a usable watt model: ${why}`, { hint: 'retrain with watt train or pass another --model' });
  };
  const m = value as LeadModel;
  if (typeof m !== 'object' || m === null) fail('not a JSON object');
  if ((m as { format: string }).format === HOUSE_MODEL_FORMAT) {
    const why = houseModelProblem(value as HouseModel);
    if (why) fail(why);
    return value as HouseModel;
  }
  if (m.format !== MODEL_FORMAT) fail(`format is ${JSON.stringify(m.format)}, expected "${MODEL_FORMAT}" or "${HOUSE_MODEL_FORMAT}"`);
  if (typeof m.version !== 'string' || !m.version) fail('no version');
  if (typeof m.offset_min !== 'number' || typeof m.max_lead_min !== 'number') fail('no offset_min or max_lead_min');
  if (typeof m.classes !== 'object' || m.classes === null || Object.keys(m.classes).length === 0) fail('no class');
  for (const [k, c] of Object.entries(m.classes)) {
    if (!isDpeClass(k)) fail(`unknown class ${k}`);
    const n = c?.features?.length;
    if (!n || c.weights?.length !== n || c.feature_min?.length !== n || c.feature_max?.length !== n) fail(`class ${k} has inconsistent features and weights`);
    if (c.features.some((f) => !(f in FEATURES))) fail(`class ${k} uses an unknown feature`);
    if (![...c.weights, ...c.feature_min, ...c.feature_max, c.margin_factor, c.h_eff_w_per_k].every(Number.isFinite)) fail(`class ${k} has a non-numeric coefficient`);
    const mb = c.margin_by_lead;
    if (mb !== undefined && !(Array.isArray(mb.from_min) && Array.isArray(mb.factor) && mb.from_min.length === mb.factor.length && mb.factor.length > 0 && [...mb.from_min, ...mb.factor].every(Number.isFinite))) fail(`class ${k} has an inconsistent margin_by_lead`);
    const mc = c.margin_by_ceiling;
    const ss = c.small_stove;
    if (ss !== undefined && !(Number.isFinite(ss.below_kw) && ss.features?.length && ss.weights?.length === ss.features.length && ss.feature_min?.length === ss.features.length && ss.feature_max?.length === ss.features.length && ss.features.every((f) => f in FEATURES) && [...ss.weights, ...ss.feature_min, ...ss.feature_max, ss.margin_factor].every(Number.isFinite))) fail(`class ${k} has an inconsistent small_stove regression`);
    if (mc !== undefined && !(Array.isArray(mc.below_k) && Array.isArray(mc.factor) && mc.below_k.length === mc.factor.length && [...mc.below_k, ...mc.factor].every(Number.isFinite))) fail(`class ${k} has an inconsistent margin_by_ceiling`);
  }
  if (typeof m.cooldown?.classes !== 'object') fail('no cool-down curves');
  if (m.input_range !== undefined && ![...(m.input_range?.outdoor_temp_c ?? []), ...(m.input_range?.stove_power_kw ?? [])].every(Number.isFinite)) fail('input_range is not two [min, max] pairs');
  if (m.input_range !== undefined && (m.input_range.outdoor_temp_c.length !== 2 || m.input_range.stove_power_kw.length !== 2)) fail('input_range is not two [min, max] pairs');
  if (m.feasibility !== undefined && !(Number.isFinite(m.feasibility?.min_margin_k) && m.feasibility.min_margin_k >= 0)) fail('feasibility.min_margin_k is not a number >= 0');
  return m;
}
