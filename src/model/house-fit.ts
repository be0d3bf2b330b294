import { levenbergMarquardt } from 'ml-levenberg-marquardt';
import type { CoolDownParams, HeatingParams } from './house-physics.js';
import type { TwoNodeStructure } from './house-physics.js';
import { cooledIndoorC, effectiveOutdoorC, heatingLeadMin, twoNodeLead } from './house-physics.js';

/**
 * Calibration of one house from its ignition history: nonlinear least squares with
 * ml-levenberg-marquardt (the mljs family of ml-regression), a Huber loss by iteratively
 * reweighted least squares, and a Gaussian prior (the DPE class's house) added as pseudo-
 * observations, i.e. a maximum a posteriori fit that keeps small histories sane.
 *
 * Parameters are fitted as θ = [ln H, ln τ, d] (heating) and [T_e, ln τ_cool] (cool-down), so H and
 * τ stay positive. Their covariance is σ² (JᵀWJ + σ² Σ_prior⁻¹)⁻¹ at the solution (J the Jacobian
 * of the leads, W the Huber weights, σ the robust residual scale): the uncertainty the model card
 * prints and the pessimism predict adds where the history is thin.
 */

/** One night as the calibration sees it. Temperatures °C, power kW, times minutes. */
export interface CalibrationRow {
  outdoorC: number;
  indoorC: number;
  targetC: number;
  powerKw: number;
  leadMin: number;
  /** Minutes from stove-off to ignition (for the cool-down). */
  sinceOffMin: number;
  /** The night's minimum outdoor air between ignition and the target time (°C), when the history has it. */
  tempMinC?: number;
}

export { effectiveOutdoorC };

/** Prior of the forecast-minimum weight: the mean of the two airs, ± 0.25 (bounded to [0, 1]). */
export const TEMP_MIN_WEIGHT_PRIOR = { mean: 0.5, sd: 0.25 } as const;

/** A Gaussian prior on each fitted parameter: mean and standard deviation. */
export interface HeatingPrior {
  /** Mean H (W/K) and sd of ln H. */
  h_w_per_k: number;
  sd_ln_h: number;
  /** Mean τ (minutes) and sd of ln τ. */
  tau_min: number;
  sd_ln_tau: number;
  /** Mean d (minutes) and its sd (minutes). */
  delay_min: number;
  sd_delay_min: number;
}

/** The weight of the night's minimum in the outdoor air the heating meets ({@link effectiveOutdoorC}), with its sd. */
export interface TempMinWeightFit {
  value: number;
  sd: number;
}

export interface HeatingFit {
  params: HeatingParams;
  /** Covariance of [ln H, ln τ, d] (3×3, row-major). */
  covariance: number[][];
  /** Standard deviations: of H (W/K, delta method), τ (minutes), d (minutes), and of ln H, ln τ. */
  sd: { h_w_per_k: number; tau_min: number; delay_min: number; ln_h: number; ln_tau: number };
  /** Robust residual scale (minutes, 1.4826 × MAD). */
  residualScaleMin: number;
  /** Residuals truth - fit (minutes), row order. */
  residuals: number[];
  /** Nights down-weighted by the Huber loss (weight < 1). */
  downweighted: number;
  iterations: number;
  /** Fitted when enough nights carry a colder forecast minimum (see {@link calibrateHeating}); absent otherwise. */
  tempMinWeight?: TempMinWeightFit;
}

/** Huber's tuning constant (95 % efficiency under Gaussian noise). */
export const HUBER_K = 1.345;
/** Reweighting passes. */
const IRLS_PASSES = 3;
/** Levenberg-Marquardt iterations per pass (the fit converges in 10 to 30 from the class prior). */
const LM_MAX_ITERATIONS = 25;
/** Below this many nights iterations are cheap: the first pass runs 4× longer (the prior is far from a small house). */
const SMALL_HISTORY_NIGHTS = 200;
/** Iterations of the later (reweighted) passes, which start from the previous solution. */
const LM_REFINE_ITERATIONS = 8;
/** Floor of the residual scale (minutes): leads are recorded to the minute or on a 5-min grid. */
export const MIN_RESIDUAL_SCALE_MIN = 1;
/** Smallest T_top - T_set the fit evaluates (K): keeps ln finite while parameters move. */
const MIN_HEADROOM_K = 0.05;

/** Steps of the finite-difference Jacobian of the two-node form ([ln H, ln τ, d]). */
const FD_STEP = [1e-5, 1e-5, 1e-4, 1e-4];

function twoNodeLeadOf(t: readonly number[], r: CalibrationRow, s: TwoNodeStructure): number {
  const outdoor = t.length > 3 ? effectiveOutdoorC(r.outdoorC, r.tempMinC, t[3]!) : r.outdoorC;
  const v = twoNodeLead(Math.exp(t[0]!), Math.exp(t[1]!), t[2]!, s, outdoor, r.indoorC, r.targetC, r.powerKw);
  return Number.isFinite(v) ? v : 5000;
}

function twoNodeLeadAndGradient(theta: readonly number[], r: CalibrationRow, s: TwoNodeStructure): { lead: number; grad: number[] } {
  const at = (t: readonly number[]) => twoNodeLeadOf(t, r, s);
  const lead = at(theta);
  const grad = new Array<number>(theta.length).fill(0);
  const t = [...theta];
  for (let k = 0; k < theta.length; k++) {
    // the weight moves nothing on a night without a colder minimum
    if (k === 3 && !(r.tempMinC !== undefined && r.tempMinC < r.outdoorC)) continue;
    t[k] = theta[k]! + FD_STEP[k]!;
    grad[k] = (at(t) - lead) / FD_STEP[k]!;
    t[k] = theta[k]!;
  }
  return { lead, grad };
}

/** Share of nights with a colder forecast minimum from which its weight is fitted (below: the air at ignition alone). */
export const MIN_TEMP_MIN_SHARE = 0.2;

function oneNodeLeadAndGradient(theta: readonly number[], r: CalibrationRow): { lead: number; grad: number[] } {
  const h = Math.exp(theta[0]!);
  const tau = Math.exp(theta[1]!);
  const d = theta[2]!;
  if (r.indoorC >= r.targetC) return { lead: 0, grad: [0, 0, 0] };
  const rise = (r.powerKw * 1000) / h;
  const top = r.outdoorC + rise;
  const a = Math.max(MIN_HEADROOM_K, top - r.indoorC);
  const b = Math.max(MIN_HEADROOM_K * Math.min(1, a), top - r.targetC);
  const ln = Math.log(a / b);
  return { lead: d + tau * ln, grad: [tau * rise * (1 / b - 1 / a), tau * ln, 1] };
}

/** Median of a copy of `xs`. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Inverse of a small symmetric positive-definite matrix (Gauss-Jordan with partial pivoting). */
export function invert(m: readonly (readonly number[])[]): number[][] {
  const n = m.length;
  const a = m.map((row, i) => [...row, ...Array.from({ length: n }, (_, j) => (i === j ? 1 : 0))]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(a[r]![c]!) > Math.abs(a[p]![c]!)) p = r;
    [a[c], a[p]] = [a[p]!, a[c]!];
    const pivot = a[c]![c]!;
    if (Math.abs(pivot) < 1e-300) throw new Error('singular matrix');
    for (let j = 0; j < 2 * n; j++) a[c]![j]! /= pivot;
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = a[r]![c]!;
      if (f !== 0) for (let j = 0; j < 2 * n; j++) a[r]![j]! -= f * a[c]![j]!;
    }
  }
  return a.map((row) => row.slice(n));
}

/**
 * Fit H, τ and d on the nights (MAP with the class prior, Huber loss).
 * @throws Error if `rows` is empty.
 */
export function calibrateHeating(rows: readonly CalibrationRow[], prior: HeatingPrior, structure?: TwoNodeStructure, init?: HeatingParams & { temp_min_weight?: number }, maxIterations?: number): HeatingFit {
  const n = rows.length;
  // the forecast minimum's weight is a 4th parameter when enough nights carry a colder minimum
  const withMin = rows.filter((r) => r.tempMinC !== undefined && r.tempMinC < r.outdoorC).length;
  const useWeight = Boolean(structure) && n > 0 && withMin >= MIN_TEMP_MIN_SHARE * n;
  const leadAndGradient = structure ? (t: readonly number[], r: CalibrationRow) => twoNodeLeadAndGradient(t, r, structure) : oneNodeLeadAndGradient;
  // the residuals need the lead only (the Jacobian is asked for separately)
  const leadOnly = structure ? (t: readonly number[], r: CalibrationRow) => twoNodeLeadOf(t, r, structure) : (t: readonly number[], r: CalibrationRow) => oneNodeLeadAndGradient(t, r).lead;
  if (n === 0) throw new Error('no night to calibrate on');
  const mu = [Math.log(prior.h_w_per_k), Math.log(prior.tau_min), prior.delay_min];
  const sdPrior = [prior.sd_ln_h, prior.sd_ln_tau, prior.sd_delay_min];
  if (useWeight) {
    mu.push(TEMP_MIN_WEIGHT_PRIOR.mean);
    sdPrior.push(TEMP_MIN_WEIGHT_PRIOR.sd);
  }
  const np = mu.length;
  // a warm start (the hold-out fit's solution, for the final fit) needs only the refining passes
  let theta = init ? [Math.log(init.h_w_per_k), Math.log(init.tau_min), init.delay_min] : mu.slice(0, 3);
  if (useWeight) theta.push(init?.temp_min_weight ?? TEMP_MIN_WEIGHT_PRIOR.mean);
  let scale = 5;
  const irls = new Array<number>(n).fill(1);
  const x = Array.from({ length: n + np }, (_, i) => i);
  const y = [...rows.map((r) => r.leadMin), ...new Array<number>(np).fill(0)];
  let iterations = 0;
  let residuals: number[] = [];
  for (let pass = 0; pass < IRLS_PASSES; pass++) {
    const s0 = scale;
    const result = levenbergMarquardt(
      { x, y },
      (p: number[]) => (i: number) => (i < n ? leadOnly(p, rows[i]!) : ((p[i - n]! - mu[i - n]!) / sdPrior[i - n]!) * s0),
      {
        initialValues: theta,
        weights: [...irls.map((w) => Math.sqrt(w)), ...new Array<number>(np).fill(1)],
        damping: 1e-2,
        maxIterations: maxIterations ?? (pass === 0 && !init ? (n < SMALL_HISTORY_NIGHTS ? LM_MAX_ITERATIONS * 4 : LM_MAX_ITERATIONS) : LM_REFINE_ITERATIONS),
        errorTolerance: 1e-9,
        improvementThreshold: 1e-6,
        minValues: [Math.log(5), Math.log(1), -60, 0].slice(0, np),
        maxValues: [Math.log(20000), Math.log(50000), 240, 1].slice(0, np),
        jacobianFunction: (p: number[]) => (i: number) => {
          if (i < n) return leadAndGradient(p, rows[i]!).grad;
          const g = new Array<number>(np).fill(0);
          g[i - n] = s0 / sdPrior[i - n]!;
          return g;
        },
      },
    );
    theta = result.parameterValues;
    iterations += result.iterations;
    residuals = rows.map((r) => r.leadMin - leadOnly(theta, r));
    const center = median(residuals);
    const mad = median(residuals.map((v) => Math.abs(v - center)));
    scale = Math.max(MIN_RESIDUAL_SCALE_MIN, 1.4826 * mad);
    for (let i = 0; i < n; i++) {
      const a = Math.abs(residuals[i]!);
      irls[i] = a <= HUBER_K * scale ? 1 : (HUBER_K * scale) / a;
    }
  }
  // Covariance: σ² (JᵀWJ + σ² Σ_prior⁻¹)⁻¹
  const info = Array.from({ length: np }, () => new Array<number>(np).fill(0));
  for (let i = 0; i < n; i++) {
    const g = leadAndGradient(theta, rows[i]!).grad;
    const w = irls[i]!;
    for (let a = 0; a < np; a++) for (let b = 0; b < np; b++) info[a]![b]! += w * g[a]! * g[b]!;
  }
  for (let k = 0; k < np; k++) info[k]![k]! += (scale * scale) / (sdPrior[k]! * sdPrior[k]!);
  const inv = invert(info);
  const covariance = inv.map((row) => row.map((v) => v * scale * scale));
  const params: HeatingParams = { h_w_per_k: Math.exp(theta[0]!), tau_min: Math.exp(theta[1]!), delay_min: theta[2]! };
  const sdLnH = Math.sqrt(Math.max(0, covariance[0]![0]!));
  const sdLnTau = Math.sqrt(Math.max(0, covariance[1]![1]!));
  return {
    params,
    covariance,
    sd: {
      h_w_per_k: params.h_w_per_k * sdLnH,
      tau_min: params.tau_min * sdLnTau,
      delay_min: Math.sqrt(Math.max(0, covariance[2]![2]!)),
      ln_h: sdLnH,
      ln_tau: sdLnTau,
    },
    residualScaleMin: scale,
    residuals,
    downweighted: irls.filter((w) => w < 1).length,
    iterations,
    ...(useWeight ? { tempMinWeight: { value: theta[3]!, sd: Math.sqrt(Math.max(0, covariance[3]![3]!)) } } : {}),
  };
}

/** Prior of the cool-down: evening air (°C, sd) and τ_cool (minutes, sd of ln). */
export interface CoolDownPrior {
  evening_air_temp_c: number;
  sd_evening_c: number;
  tau_min: number;
  sd_ln_tau: number;
}

export interface CoolDownFit {
  params: CoolDownParams;
  sd: { evening_air_temp_c: number; tau_min: number };
  /** Robust residual scale of the indoor estimate (K). */
  residualScaleK: number;
}

/**
 * Fit the free cool-down T_0 = T_o + (T_e - T_o)·exp(-t/τ_cool) on the indoor air recorded at each
 * ignition (MAP with a prior, Huber loss).
 */
export function calibrateCoolDown(rows: readonly CalibrationRow[], prior: CoolDownPrior, stoveOff: string): CoolDownFit {
  const n = rows.length;
  const mu = [prior.evening_air_temp_c, Math.log(prior.tau_min)];
  const sdPrior = [prior.sd_evening_c, prior.sd_ln_tau];
  let theta = [...mu];
  let scale = 0.5;
  const irls = new Array<number>(n).fill(1);
  const x = Array.from({ length: n + 2 }, (_, i) => i);
  const y = [...rows.map((r) => r.indoorC), 0, 0];
  const at = (p: readonly number[], r: CalibrationRow) => cooledIndoorC({ evening_air_temp_c: p[0]!, tau_min: Math.exp(p[1]!), stove_off: stoveOff }, r.outdoorC, r.sinceOffMin);
  const grad = (p: readonly number[], r: CalibrationRow): [number, number] => {
    const tau = Math.exp(p[1]!);
    const t = Math.max(0, r.sinceOffMin);
    const e = Math.exp(-t / tau);
    return [e, (p[0]! - r.outdoorC) * e * (t / tau)];
  };
  for (let pass = 0; pass < IRLS_PASSES; pass++) {
    const s0 = scale;
    theta = levenbergMarquardt(
      { x, y },
      (p: number[]) => (i: number) => (i < n ? at(p, rows[i]!) : ((p[i - n]! - mu[i - n]!) / sdPrior[i - n]!) * s0),
      {
        initialValues: theta,
        weights: [...irls.map((w) => Math.sqrt(w)), 1, 1],
        // two parameters: the first pass converges from the prior, the reweighted ones in a few steps
        maxIterations: pass === 0 ? 200 : 25,
        errorTolerance: 1e-10,
        improvementThreshold: 1e-6,
        minValues: [0, Math.log(10)],
        maxValues: [35, Math.log(1e6)],
        jacobianFunction: (p: number[]) => (i: number) => {
          if (i < n) return grad(p, rows[i]!);
          const g = [0, 0];
          g[i - n] = s0 / sdPrior[i - n]!;
          return g;
        },
      },
    ).parameterValues;
    const res = rows.map((r) => r.indoorC - at(theta, r));
    const center = median(res);
    const mad = median(res.map((v) => Math.abs(v - center)));
    scale = Math.max(0.05, 1.4826 * mad);
    for (let i = 0; i < n; i++) {
      const a = Math.abs(res[i]!);
      irls[i] = a <= HUBER_K * scale ? 1 : (HUBER_K * scale) / a;
    }
  }
  const info = [
    [0, 0],
    [0, 0],
  ];
  for (let i = 0; i < n; i++) {
    const g = grad(theta, rows[i]!);
    for (let a = 0; a < 2; a++) for (let b = 0; b < 2; b++) info[a]![b]! += irls[i]! * g[a]! * g[b]!;
  }
  for (let k = 0; k < 2; k++) info[k]![k]! += (scale * scale) / (sdPrior[k]! * sdPrior[k]!);
  const cov = invert(info).map((row) => row.map((v) => v * scale * scale));
  const tau = Math.exp(theta[1]!);
  return {
    params: { evening_air_temp_c: theta[0]!, tau_min: tau, stove_off: stoveOff },
    sd: { evening_air_temp_c: Math.sqrt(Math.max(0, cov[0]![0]!)), tau_min: tau * Math.sqrt(Math.max(0, cov[1]![1]!)) },
    residualScaleK: scale,
  };
}

/** The leads of a fitted house on rows (for residual checks). */
export function fittedLeads(p: HeatingParams, rows: readonly CalibrationRow[]): number[] {
  return rows.map((r) => heatingLeadMin(p, r.outdoorC, r.indoorC, r.targetC, r.powerKw));
}
