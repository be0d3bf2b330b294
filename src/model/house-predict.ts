import type { HeatingParams } from './house-physics.js';
import { cooledIndoorC, twoNodeCeilingC, twoNodeLeadMin } from './house-physics.js';
import type { HouseModel } from './house-model.js';
import { pointParams } from './house-model.js';
import { bandFactor } from './house-margin.js';

/**
 * Prediction with a calibrated house (`watt-house-model/1`): closed-form physics plus a ~5-step
 * Newton solve per lead, no envelope, no table. Light module (no fitting library).
 */

/** Offset (minutes) of the multiplicative margin: (lead + 15)·factor - 15, as the class models. */
export const MARGIN_OFFSET_MIN = 15;
/** The regime near the stove's limit (K): its ceiling at the night's coldest air less than this above the target. */
export const NEAR_LIMIT_K = 4;

/** One query in SI-ish units. */
export interface HouseQuery {
  outdoorC: number;
  indoorC: number;
  targetC: number;
  powerKw: number;
}

/**
 * How far a query lies beyond what the history saw (dimensionless, 0 inside): the relative excess
 * of the load ratio x = (T_set - T_o)·H/P over the largest seen, plus that of the indoor-to-target
 * gap. Both grow only in the harder direction (colder, higher target, smaller stove, colder room),
 * so the margin they widen keeps the advice monotone.
 */
export function extrapolationDistance(m: HouseModel, q: HouseQuery): number {
  const h = m.heating.h_w_per_k.value;
  const x = Math.max(0, ((q.targetC - q.outdoorC) * h) / (q.powerKw * 1000));
  const gap = Math.max(0, q.targetC - q.indoorC);
  const s = m.seen;
  return Math.max(0, x / Math.max(0.05, s.load_ratio_max) - 1) + Math.max(0, gap / Math.max(0.5, s.gap_max_k) - 1);
}

/** Plain-language list of what lies outside the history (empty inside). */
export function extrapolationReasons(m: HouseModel, q: HouseQuery & { indoorGiven: boolean }): string[] {
  const s = m.seen;
  const out: string[] = [];
  const r1 = (v: number) => Math.round(v * 10) / 10;
  if (q.outdoorC < s.outdoor_temp_c[0] - 1) out.push(`${r1(s.outdoor_temp_c[0] - q.outdoorC)} K colder than any recorded night`);
  if (q.outdoorC > s.outdoor_temp_c[1] + 1) out.push(`${r1(q.outdoorC - s.outdoor_temp_c[1])} K milder than any recorded night`);
  if (q.targetC < s.target_temp_c[0] - 0.25 || q.targetC > s.target_temp_c[1] + 0.25) {
    out.push(`a ${q.targetC} °C target (recorded: ${s.target_temp_c[0] === s.target_temp_c[1] ? `${s.target_temp_c[0]} °C` : `${s.target_temp_c[0]} to ${s.target_temp_c[1]} °C`})`);
  }
  if (q.powerKw < s.stove_power_kw[0] - 0.25 || q.powerKw > s.stove_power_kw[1] + 0.25) {
    out.push(`a ${q.powerKw} kW stove (recorded: ${s.stove_power_kw[0] === s.stove_power_kw[1] ? `${s.stove_power_kw[0]} kW` : `${s.stove_power_kw[0]} to ${s.stove_power_kw[1]} kW`})`);
  }
  if (q.indoorGiven && (q.indoorC < s.indoor_start_temp_c[0] - 1 || q.indoorC > s.indoor_start_temp_c[1] + 1)) out.push(`${q.indoorC} °C indoors (recorded: ${s.indoor_start_temp_c[0]} to ${s.indoor_start_temp_c[1]} °C)`);
  if (out.length === 0 && extrapolationDistance(m, q) > 0) out.push('a harder night (load on the stove or rise to the target) than any recorded');
  return out;
}

/** The pessimistic parameters at extrapolation distance `dist`: ln H, ln τ and d raised by z + z_per_distance·dist standard deviations. */
export function pessimisticParams(m: HouseModel, dist: number): HeatingParams {
  const k = m.margin.z + m.margin.z_per_distance * dist;
  const h = m.heating;
  return {
    h_w_per_k: h.h_w_per_k.value * Math.exp(k * h.sd_ln_h),
    tau_min: h.tau_min.value * Math.exp(k * h.sd_ln_tau),
    delay_min: h.delay_min.value + k * h.delay_min.sd,
  };
}

/** Raw lead (minutes, point estimate, no margin); Infinity when the ceiling is at or below the target. */
export function houseRawLeadMin(m: HouseModel, q: HouseQuery): number {
  return twoNodeLeadMin(pointParams(m), m.heating.structure, q.outdoorC, q.indoorC, q.targetC, q.powerKw);
}

/**
 * The advised lead (minutes, margin included, not rounded, not capped): the pessimistic house's lead
 * times the margin factor (of its band when the model has bands: `headroomK` is the ceiling at the
 * night's coldest air minus the target, default at `q.outdoorC`), both widened by the extrapolation distance.
 * `rawLeadMin`, the point estimate's lead for `q` when the caller has it, saves a solve inside the history. Infinity when even the
 * pessimistic house cannot reach the target (callers cap it when the point estimate can).
 */
export function houseAdvisedLeadMin(m: HouseModel, q: HouseQuery, headroomK?: number, rawLeadMin?: number): number {
  if (q.indoorC >= q.targetC) return 0;
  const dist = extrapolationDistance(m, q);
  // no pessimism inside the history (z = 0): the pessimistic house is the point estimate, whose lead the caller may already have
  const k = m.margin.z + m.margin.z_per_distance * dist;
  const lead = k === 0 && rawLeadMin !== undefined ? rawLeadMin : twoNodeLeadMin(pessimisticParams(m, dist), m.heating.structure, q.outdoorC, q.indoorC, q.targetC, q.powerKw);
  // the banded margin (issue 19) picks its factor by the raw lead and the stove's headroom at the night's coldest air
  const base = m.margin.bands ? bandFactor(m.margin.bands, lead, headroomK ?? houseCeilingC(m, q.outdoorC, q.powerKw) - q.targetC) : m.margin.factor;
  const factor = (1 + (base - 1) * (1 + dist)) * (1 + m.margin.extrapolation_gain * dist);
  return Math.max(0, (lead + MARGIN_OFFSET_MIN) * factor - MARGIN_OFFSET_MIN);
}

/** The steady-state ceiling of the point estimate (°C): T_o + P/H_eff. */
export function houseCeilingC(m: HouseModel, outdoorC: number, powerKw: number): number {
  return twoNodeCeilingC(m.heating.h_w_per_k.value, m.heating.structure, outdoorC, powerKw);
}

/** Minutes from the stove going off (the eve, `cooldown.stove_off`, or 9 h before the target if earlier) to an ignition `leadMin` before `targetMin`. */
export function sinceStoveOffMin(m: HouseModel, targetMin: number, leadMin: number, stoveOffMin: number): number {
  const off = Math.min(stoveOffMin - 1440, targetMin - m.max_lead_min);
  return targetMin - leadMin - off;
}

/** The calibrated cool-down estimate of the indoor air after `minutes` of cool-down (°C). */
export function houseCooledIndoorC(m: HouseModel, outdoorC: number, minutes: number): number {
  return cooledIndoorC(m.cooldown, outdoorC, minutes);
}

/** Bisection steps of the default-path fixed point (540 min / 2^14 < 0.04 min). */
const FIXED_POINT_STEPS = 14;

/**
 * The lead L without an indoor reading: the indoor air at ignition is the calibrated cool-down at
 * that very ignition, so L solves L = lead(T_0(L)). lead(T_0(L)) - L is decreasing in L (earlier
 * ignition: warmer room, shorter need), so the root is unique; bisection on [0, max lead].
 * Returns undefined when even a `max_lead_min` lead is not enough for `leadFn`.
 */
export function defaultPathLead(
  m: HouseModel,
  q: Omit<HouseQuery, 'indoorC'>,
  targetMin: number,
  stoveOffMin: number,
  leadFn: (query: HouseQuery) => number,
): { lead: number; indoorC: number } | undefined {
  const indoorAt = (lead: number) => houseCooledIndoorC(m, q.outdoorC, sinceStoveOffMin(m, targetMin, lead, stoveOffMin));
  const max = m.max_lead_min;
  const atMax = indoorAt(max);
  if (leadFn({ ...q, indoorC: atMax }) > max) return undefined;
  const at0 = indoorAt(0);
  if (leadFn({ ...q, indoorC: at0 }) <= 0) return { lead: 0, indoorC: at0 };
  let lo = 0;
  let hi = max;
  for (let i = 0; i < FIXED_POINT_STEPS; i++) {
    const mid = (lo + hi) / 2;
    if (leadFn({ ...q, indoorC: indoorAt(mid) }) <= mid) hi = mid;
    else lo = mid;
  }
  return { lead: hi, indoorC: indoorAt(hi) };
}
