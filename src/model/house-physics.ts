/**
 * The grey-box physics of one calibrated house: closed forms only, no fitting library, so that
 * `watt predict` and `watt serve` import it for free.
 *
 * Heating (one node with a start-up delay, the single-capacity simplification of EN ISO 13790 §12
 * as a grey box in the sense of Bacher & Madsen 2011):
 *
 *   lead = d + τ · ln[(T_top - T_0) / (T_top - T_set)],   T_top = T_o + P / H
 *
 * with H the effective heat-loss coefficient seen by the stove (W/K), τ = C/H the time constant
 * (minutes), d the stove's start-up delay (minutes: ignition and ramp to nominal output), T_0 the
 * indoor air at ignition, T_set the target, T_o outdoors (°C), P the nominal power (W). The lead is
 * increasing in T_set and decreasing in T_0, T_o and P for any positive H, τ: monotone by
 * construction. T_set >= T_top: the stove can never reach the target.
 *
 * Cool-down (stove off since `stove_off`, one exponential fitted on the same history):
 *
 *   T_0(t) = T_o + (T_e - T_o) · exp(-t / τ_cool),   t minutes since the stove went off
 */

/** Calibrated heating parameters (the point estimate or a pessimistic copy). */
export interface HeatingParams {
  /** Effective heat-loss coefficient H (W/K). */
  h_w_per_k: number;
  /** Time constant τ = C/H (minutes). */
  tau_min: number;
  /** Start-up delay d (minutes). */
  delay_min: number;
}

/** Calibrated cool-down. */
export interface CoolDownParams {
  /** Effective indoor air when the stove went off (°C). */
  evening_air_temp_c: number;
  /** Time constant of the free cool-down (minutes). */
  tau_min: number;
  /** When the stove goes off, HH:MM the eve (as the shipped model assumes, 22:00). */
  stove_off: string;
}

/**
 * The outdoor air the heating meets (°C): the air at ignition moved a share `weight` (0..1) of the
 * way to the night's forecast minimum when one is known and colder; the air at ignition otherwise.
 * The weight is fitted per house when its history carries `temp_min_c` (house-fit.ts).
 */
export function effectiveOutdoorC(outdoorC: number, tempMinC: number | undefined, weight: number): number {
  return tempMinC !== undefined && tempMinC < outdoorC ? outdoorC + weight * (tempMinC - outdoorC) : outdoorC;
}

/** T_top = T_o + P/H (°C): the highest indoor air the stove can hold. */
export function ceilingC(p: HeatingParams, outdoorC: number, powerKw: number): number {
  return outdoorC + (powerKw * 1000) / p.h_w_per_k;
}

/**
 * The heating lead (minutes, no margin): 0 when T_0 >= T_set, Infinity when T_set >= T_top.
 */
export function heatingLeadMin(p: HeatingParams, outdoorC: number, indoorC: number, targetC: number, powerKw: number): number {
  if (indoorC >= targetC) return 0;
  const top = outdoorC + (powerKw * 1000) / p.h_w_per_k;
  if (targetC >= top) return Number.POSITIVE_INFINITY;
  return p.delay_min + p.tau_min * Math.log((top - indoorC) / (top - targetC));
}

/** Indoor air (°C) `minutes` after the stove went off, outdoors constant at `outdoorC`. */
export function cooledIndoorC(c: CoolDownParams, outdoorC: number, minutes: number): number {
  return outdoorC + (c.evening_air_temp_c - outdoorC) * Math.exp(-Math.max(0, minutes) / c.tau_min);
}

/**
 * The steady ceiling of the two-node form (°C): T_o + P/H_eff, H_eff the loss seen from the air node
 * (its own share of H plus the mass's, in series with the air-mass coupling).
 */
export function twoNodeCeilingC(hWPerK: number, s: TwoNodeStructure, outdoorC: number, powerKw: number): number {
  const hao = hWPerK * s.air_share_of_h;
  const hmo = hWPerK - hao;
  const ham = s.air_mass_coupling_w_per_k;
  return outdoorC + (powerKw * 1000) / (hao + (ham * hmo) / (ham + hmo));
}

/**
 * The fixed structure of the two-node (air + mass) form, taken from the DPE class table
 * (dpe-classes.json, EN ISO 13790): the share of H on the air node, the share of the capacity in
 * the air node, and the air-mass coupling (W/K). Only H, τ and d are calibrated.
 */
export interface TwoNodeStructure {
  air_share_of_h: number;
  air_share_of_c: number;
  air_mass_coupling_w_per_k: number;
}

/**
 * The heating lead of the two-node form (minutes, no margin): the mass starts at the indoor air
 * (after hours of cool-down the two are within a kelvin or two: the free air settles between the
 * mass and outdoors), the stove heats the air at P, and the lead is d plus the time the air takes
 * to reach T_set, solved by safeguarded Newton on the two-exponential trajectory (~5 iterations).
 * 0 when T_0 >= T_set, Infinity when T_set >= T_o + P/H_eff. Monotone in every input: the 2×2
 * system is cooperative (positive off-diagonal), so a warmer start, milder outdoors or a bigger
 * stove never gives a cooler trajectory.
 */
export function twoNodeLeadMin(p: HeatingParams, s: TwoNodeStructure, outdoorC: number, indoorC: number, targetC: number, powerKw: number): number {
  return twoNodeLead(p.h_w_per_k, p.tau_min, p.delay_min, s, outdoorC, indoorC, targetC, powerKw);
}

/**
 * {@link twoNodeLeadMin} on scalars, without allocating (the calibration calls it millions of
 * times): H (W/K), τ (minutes), d (minutes).
 */
export function twoNodeLead(hWPerK: number, tauMin: number, delayMin: number, s: TwoNodeStructure, outdoorC: number, indoorC: number, targetC: number, powerKw: number): number {
  if (indoorC >= targetC) return 0;
  // the modal form of trajectory(), inlined (mass starting at the indoor air)
  const hao = hWPerK * s.air_share_of_h;
  const hmo = hWPerK - hao;
  const ham = s.air_mass_coupling_w_per_k;
  const heff = hao + (ham * hmo) / (ham + hmo);
  const tInf = outdoorC + (powerKw * 1000) / heff;
  if (targetC >= tInf) return Number.POSITIVE_INFINITY;
  const mInf = (hmo * outdoorC + ham * tInf) / (hmo + ham);
  const cTot = tauMin * 60 * hWPerK;
  const ca = cTot * s.air_share_of_c;
  const cm = cTot - ca;
  const a = (-(hao + ham) / ca) * 60;
  const b = (ham / ca) * 60;
  const c = (ham / cm) * 60;
  const d = (-(hmo + ham) / cm) * 60;
  const sMid = (a + d) / 2;
  const q = Math.sqrt(Math.max(1e-30, ((a - d) / 2) ** 2 + b * c));
  const xa = indoorC - tInf;
  const xm = indoorC - mInf;
  const k = ((a - sMid) * xa + b * xm) / (2 * q);
  const a1 = xa / 2 + k;
  const l1 = sMid + q;
  const a2 = xa / 2 - k;
  const l2 = sMid - q;
  const goal = targetC - tInf;
  // Newton from the left: the trajectory rises and is concave when both modes start below their
  // equilibria (the usual case), so the iterates climb to the root without overshoot; a bracket
  // and bisection guard the other cases.
  let lo = 0;
  let hi = Number.POSITIVE_INFINITY;
  let t = 0;
  for (let i = 0; i < 60; i++) {
    const e1 = Math.exp(l1 * t);
    const e2 = Math.exp(l2 * t);
    const v = a1 * e1 + a2 * e2 - goal;
    if (Math.abs(v) < 1e-7) break;
    if (v < 0) lo = t;
    else hi = t;
    const slope = l1 * a1 * e1 + l2 * a2 * e2;
    let next = slope > 0 ? t - v / slope : Number.NaN;
    if (!(next > lo && next < hi)) next = Number.isFinite(hi) ? (lo + hi) / 2 : Math.max(2 * lo, 60);
    if (Math.abs(next - t) < 1e-6) {
      t = next;
      break;
    }
    t = next;
  }
  return delayMin + t;
}
