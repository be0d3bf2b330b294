import type { DpeClass } from './params.js';
import type { CoolDownParams, HeatingParams, TwoNodeStructure } from './house-physics.js';
import type { MarginBands } from './house-margin.js';

/**
 * The model of one calibrated house (`watt train --data`): `model.json` with format
 * `watt-house-model/1`. Light module (types and checks only): `watt predict` imports it.
 */

export const HOUSE_MODEL_FORMAT = 'watt-house-model/1';

/** A calibrated value with its standard deviation (from the Jacobian covariance at the solution). */
export interface Estimate {
  value: number;
  sd: number;
}

/** The held-out evaluation of a house model (chronological: the newest ~20 % of nights). */
export interface HouseEvaluation {
  split: 'newest-20pct';
  description: string;
  train_nights: number;
  test_nights: number;
  /** Test nights watt answered (the others are refused: counted apart, never scored). */
  answered: number;
  refused: number;
  /** Over the answered test nights, the advice as `watt predict --indoor` gives it (margin included), minutes. */
  mae_min: number;
  p90_abs_err_min: number;
  /** Mean advice - recorded lead (minutes; positive = early). */
  bias_min: number;
  /** Share of answered nights whose advice is more than `late_tolerance_min` short of the recorded lead. */
  late_rate: number;
  late_tolerance_min: number;
  /** The same hold-out scored after calibrating on the first 10 / 30 / 100 nights only. */
  learning_curve: { train_nights: number; mae_min: number; late_rate: number; refused: number }[];
  /** Test nights answered plainly (keep the stove on low overnight, or out of reach), counted apart. */
  plain?: number;
  /** Mean recorded lead of the answered test nights (minutes): the scale of the bias check. */
  mean_lead_min?: number;
  /** The same test nights advised by baselines built from the same training nights (issue 19's quality gate). */
  baselines?: {
    /** The calibrated house without any margin. */
    raw: BaselineScore;
    /** A lookup schedule by outdoor air: the median recorded lead of the training nights within ±1 K (widened to 5 nights). */
    lookup: BaselineScore;
  };
}

/** A baseline scored on the hold-out: MAE, bias, late share (minutes, minutes, 0..1). */
export interface BaselineScore {
  mae_min: number;
  bias_min: number;
  late_rate: number;
  answered: number;
}

/** The training's verdict on the model (issue 19's quality gate, see house-train.ts `qualityOf`). */
export interface HouseQuality {
  /** `ok`: passed; `poor`: failed and saved only with `--accept-poor`; `unrated`: too few nights for a hold-out. */
  status: 'ok' | 'poor' | 'unrated';
  /** Why it failed, one phrase each (empty when ok). */
  reasons: string[];
}

/** How the two-node structure was chosen (absent: the DPE class table's, as before issue 19). */
export interface StructureChoice {
  /** `class-table` (short histories) or `hold-out` (the candidate with the lowest raw MAE on the newest training nights). */
  method: 'class-table' | 'hold-out';
  chosen: string;
  /** Each candidate and its raw MAE (minutes) on the selection nights. */
  candidates: { name: string; mae_min: number }[];
  selection_nights: number;
}

export interface HouseModel {
  format: typeof HOUSE_MODEL_FORMAT;
  version: string;
  created_at: string | null;
  watt_version: string;
  method: string;
  /** The DPE class label of the history (the prior's class). */
  dpe_class: DpeClass;
  max_lead_min: number;
  /** Defaults for predict: the history's most common target, target time and stove power. */
  defaults: { target_temp_c: number; target_time: string; stove_power_kw: number };
  heating: {
    form: 'two-node';
    structure: TwoNodeStructure;
    h_w_per_k: Estimate;
    tau_min: Estimate;
    delay_min: Estimate;
    /** sd of ln H and ln τ (the covariance's diagonal), used for the pessimistic parameters. */
    sd_ln_h: number;
    sd_ln_tau: number;
    /** The class prior (mean, sd) the calibration was pulled toward. */
    prior: { h_w_per_k: number; sd_ln_h: number; tau_min: number; sd_ln_tau: number; delay_min: number; sd_delay_min: number };
    residual_scale_min: number;
    nights: number;
    downweighted_nights: number;
    /**
     * The share of the way from the air at ignition to the night's forecast minimum at which the
     * heating meets the outdoor air (0..1; see house-fit.ts `effectiveOutdoorC`), fitted when the
     * history has `temp_min_c`; absent: the air at ignition, and `--temp-min` as the class models use it.
     */
    temp_min_weight?: Estimate;
    structure_choice?: StructureChoice;
    /** Nights recorded with the stove kept on (indoor at or above the target, positive lead): set aside from the calibration, counted here. */
    kept_on_nights?: number;
  };
  cooldown: CoolDownParams & { sd_evening_c: number; sd_tau_min: number; residual_scale_k: number };
  /**
   * Safety margin: the lead of the pessimistic house (ln H, ln τ, d each raised by
   * z + z_per_distance × distance standard deviations) is scaled as (lead + 15)·factor - 15; beyond
   * what the history saw, factor - 1 grows by (1 + distance) and the factor by
   * `extrapolation_gain` per unit of distance (house-predict.ts).
   */
  margin: {
    z: number;
    z_per_distance: number;
    factor: number;
    quantile: number;
    extrapolation_gain: number;
    /** The margin by band of lead and stove headroom (issue 19; house-margin.ts); when present it replaces `factor`. */
    bands?: MarginBands;
  };
  /** The house id of the registry (`watt train --data --house ID`), when trained for one. */
  house_id?: string;
  /** The training's quality gate (absent in models written before it). */
  quality?: HouseQuality;
  /** What the history saw: ranges and the largest load ratio and indoor-to-target gap. */
  seen: {
    outdoor_temp_c: [number, number];
    indoor_start_temp_c: [number, number];
    target_temp_c: [number, number];
    stove_power_kw: [number, number];
    load_ratio_max: number;
    gap_max_k: number;
  };
  training: { source: 'file'; name: string; sha256: string; rows: number; ignored_columns?: string[]; warnings?: string[] };
  evaluation: HouseEvaluation | null;
}

/** The point estimate of the heating parameters. */
export function pointParams(m: HouseModel): HeatingParams {
  return { h_w_per_k: m.heating.h_w_per_k.value, tau_min: m.heating.tau_min.value, delay_min: m.heating.delay_min.value };
}

/** Whether a parsed model file is a house model. */
export function isHouseModel(m: { format?: unknown }): m is HouseModel {
  return m.format === HOUSE_MODEL_FORMAT;
}

/**
 * Check the shape of a parsed house model; returns the reason it is unusable, or undefined.
 */
export function houseModelProblem(m: HouseModel): string | undefined {
  const num = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
  if (typeof m.version !== 'string' || !m.version) return 'no version';
  const h = m.heating;
  if (!h || h.form !== 'two-node' || !h.structure) return 'no heating parameters';
  if (![h.h_w_per_k?.value, h.tau_min?.value, h.delay_min?.value, h.sd_ln_h, h.sd_ln_tau, h.delay_min?.sd].every(num)) return 'heating parameters are not numbers';
  if (!(h.h_w_per_k.value > 0 && h.tau_min.value > 0)) return 'H and τ must be positive';
  if (![h.structure.air_share_of_h, h.structure.air_share_of_c, h.structure.air_mass_coupling_w_per_k].every(num)) return 'inconsistent two-node structure';
  const c = m.cooldown;
  if (!c || ![c.evening_air_temp_c, c.tau_min].every(num) || typeof c.stove_off !== 'string') return 'no cool-down';
  if (!m.margin || ![m.margin.z, m.margin.z_per_distance, m.margin.factor, m.margin.extrapolation_gain].every(num)) return 'no margin';
  const s = m.seen;
  if (!s || ![...s.outdoor_temp_c, ...s.indoor_start_temp_c, ...s.target_temp_c, ...s.stove_power_kw, s.load_ratio_max, s.gap_max_k].every(num)) return 'no seen ranges';
  if (!num(m.max_lead_min)) return 'no max_lead_min';
  const b = m.margin.bands;
  if (b !== undefined) {
    const okShape = Array.isArray(b.lead_from_min) && Array.isArray(b.headroom_below_k) && Array.isArray(b.factor) && b.factor.length === b.headroom_below_k.length && b.factor.every((row) => Array.isArray(row) && row.length === b.lead_from_min.length && row.every((f) => num(f) && f >= 1));
    if (!okShape) return 'inconsistent margin bands';
  }
  if (h.temp_min_weight !== undefined && !(num(h.temp_min_weight.value) && h.temp_min_weight.value >= 0 && h.temp_min_weight.value <= 1)) return 'temp_min_weight is not in [0, 1]';
  return undefined;
}
