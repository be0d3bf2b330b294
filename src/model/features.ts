import type { DpeClass } from './params.js';
import { DPE_CLASSES } from './params.js';

/**
 * Physics-informed features of one night. Light module: `watt predict` imports it.
 *
 * They come from the one-node closed form of a house heated at constant power P (the single
 * capacity simplification of EN ISO 13790):
 *
 *   t = τ · ln[(T_o + P/H - T_0) / (T_o + P/H - T_set)] = -τ · ln(1 - u),
 *   u = (T_set - T_0) / (T_o + P/H - T_0)
 *
 * with T_0 the indoor air at ignition, T_set the target and T_o outdoors (°C), H the heat-loss
 * coefficient (W/K). watt uses H_eff, the loss seen by a heater in the air node of the two-node
 * model (`effectiveH`), so that u >= 1 means "never reachable" for the simulator too. Features:
 * `ln_u` = -ln(1 - u), `x` = max(0, (T_set - T_o)·H_eff / P) (load ratio), `gap` = T_set - T_0,
 * and `cool` = max(0, 20 - T_0) (how far the night has cooled the house: a proxy for the
 * unobserved building-mass temperature, which a one-node model ignores and which makes the largest
 * errors on long leads), plus their low-order products. One regression per DPE class, so each class
 * has its own time constant; the target is ln(lead + 15 min) (errors grow with the lead).
 *
 * Across classes, `watt predict` takes the largest lead of the class and of the better ones, so a
 * worse class never gets a shorter lead in the same conditions.
 */

/** Inputs of one prediction or one history row. Temperatures °C, power kW, H W/K. */
export interface FeatureInput {
  /** Effective heat-loss coefficient of the class (W/K). */
  hEffWPerK: number;
  outdoorC: number;
  indoorC: number;
  targetC: number;
  powerKw: number;
}

/** Largest u used: beyond it the one-node model says the target is (almost) out of reach. */
export const U_MAX = 0.98;

/** Base quantities from which every feature is built. */
export interface BaseQuantities {
  u: number;
  ln_u: number;
  x: number;
  gap: number;
  cool: number;
}

/** u = (T_set - T_0) / (T_o + P/H - T_0): the share of the reachable rise that is asked for; >= 1 means unreachable. */
export function loadShare(f: FeatureInput): number {
  const reach = f.outdoorC + (f.powerKw * 1000) / f.hEffWPerK - f.indoorC;
  if (reach <= 0) return Number.POSITIVE_INFINITY;
  return (f.targetC - f.indoorC) / reach;
}

/** The base quantities of one row (u clamped to [0, U_MAX]). */
export function baseQuantities(f: FeatureInput): BaseQuantities {
  const u = Math.min(U_MAX, Math.max(0, loadShare(f)));
  return {
    u,
    ln_u: -Math.log(1 - u),
    x: Math.max(0, ((f.targetC - f.outdoorC) * f.hEffWPerK) / (f.powerKw * 1000)),
    gap: Math.max(0, f.targetC - f.indoorC),
    cool: Math.max(0, 20 - f.indoorC),
  };
}

type FeatureFn = (b: BaseQuantities) => number;

/** Every feature watt knows, by name; a model lists the ones it uses. */
export const FEATURES: Readonly<Record<string, FeatureFn>> = {
  one: () => 1,
  ln_u: (b) => b.ln_u,
  ln_u2: (b) => b.ln_u * b.ln_u,
  ln_u3: (b) => b.ln_u ** 3,
  x: (b) => b.x,
  x2: (b) => b.x * b.x,
  x3: (b) => b.x ** 3,
  gap: (b) => b.gap,
  gap2: (b) => b.gap * b.gap,
  cool: (b) => b.cool,
  cool2: (b) => b.cool * b.cool,
  ln_u_x: (b) => b.ln_u * b.x,
  ln_u_gap: (b) => b.ln_u * b.gap,
  x_gap: (b) => b.x * b.gap,
  cool_x: (b) => b.cool * b.x,
  cool_ln_u: (b) => b.cool * b.ln_u,
  cool_gap: (b) => b.cool * b.gap,
  cool_x2: (b) => b.cool * b.x * b.x,
  ln_u2_x: (b) => b.ln_u * b.ln_u * b.x,
};

/** The compact set (the suggestion: -ln(1-u), x, x², the gap), for classes with few rows. */
export const COMPACT_FEATURES = ['one', 'ln_u', 'x', 'x2', 'gap'] as const;
/** The full set, for classes with at least {@link FULL_SET_MIN_ROWS} rows. */
export const FULL_FEATURES = Object.keys(FEATURES);
/** Rows of one class needed for the full feature set (~10 per coefficient). */
export const FULL_SET_MIN_ROWS = 200;
/** Rows of one class needed to fit it at all. */
export const MIN_ROWS_PER_CLASS = 10;

/**
 * The feature vector of one row.
 * @throws Error for an unknown feature name (a corrupt model file; callers wrap it).
 */
export function featureVector(f: FeatureInput, names: readonly string[]): number[] {
  const b = baseQuantities(f);
  return names.map((n) => {
    const fn = FEATURES[n];
    if (!fn) throw new Error(`unknown feature "${n}"`);
    return fn(b);
  });
}

/** Sorted, de-duplicated DPE classes. */
export function sortedClasses(values: Iterable<DpeClass>): DpeClass[] {
  const set = new Set(values);
  return DPE_CLASSES.filter((c) => set.has(c));
}

/**
 * Closed-form lead time (minutes) of the one-node model: τ·ln[(T_o + P/H - T_0)/(T_o + P/H - T_set)],
 * τ = C/H. Infinity when T_set >= T_o + P/H (never reached), 0 when T_0 >= T_set.
 * @param hWPerK H (W/K) @param cJPerK C (J/K) @param powerKw P (kW); temperatures °C
 */
export function closedFormLeadMin(hWPerK: number, cJPerK: number, powerKw: number, outdoorC: number, indoorC: number, targetC: number): number {
  if (indoorC >= targetC) return 0;
  const top = outdoorC + (powerKw * 1000) / hWPerK;
  if (targetC >= top) return Number.POSITIVE_INFINITY;
  return ((cJPerK / hWPerK) * Math.log((top - indoorC) / (top - targetC))) / 60;
}
