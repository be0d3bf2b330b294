import type { HouseParams } from './params.js';
import { effectiveH, thermalParams } from './params.js';

/**
 * Two-node ("2R2C") thermal model of a house heated by a pellet stove: the ground truth of watt's
 * synthetic ignition history and of the late-rate check.
 *
 *   C_a dT_a/dt = H_ao (T_o - T_a) + H_am (T_m - T_a) + P(t)
 *   C_m dT_m/dt = H_mo (T_o - T_m) + H_am (T_a - T_m)
 *
 * (structure: Bacher & Madsen 2011 "TiTe"; capacities and coupling: EN ISO 13790; parameters per DPE
 * class in `dpe-classes.json`). Each step (60 s by default) is integrated exactly for piecewise-
 * constant outdoor temperature and power (matrix exponential of the 2×2 system), so the one-node
 * limit matches the closed form t = τ ln[(T_o + P/H - T_0) / (T_o + P/H - T_set)] to the step.
 *
 * The stove ramps linearly to its nominal power P over `rampMinutes`, runs at P until the air
 * reaches the target, then modulates (no minimum output) to hold it; it never heats the air above
 * the target. Before ignition the stove is off from `stoveOff` (22:00 the eve, or 9 h before the
 * target if earlier), when the air is at the evening set point and the mass at the matching steady
 * state.
 */

/** Outdoor temperature (°C) at a minute relative to midnight of the target date. */
export type OutdoorFn = (minute: number) => number;

export interface NightSetup {
  /** Target time, minutes after midnight of the target date (07:00 -> 420). */
  targetMin: number;
  /** Target air temperature (°C). */
  targetTempC: number;
  /** Stove nominal power (kW). */
  powerKw: number;
  /** Ramp to nominal power (minutes); default from the data file (15). */
  rampMinutes?: number;
  /** Air temperature held until the stove went off (°C); default from the data file (20). */
  eveningAirTempC?: number;
  /** Stove-off time, minutes relative to midnight of the target date; default 22:00 the eve (-120), or earlier if the target minus 9 h is earlier. */
  stoveOffMin?: number;
}

/** The air and mass temperatures (°C). */
export interface ThermalState {
  airC: number;
  massC: number;
}

/** Outcome of following one ignition time. */
export interface StoveRunResult {
  /** Ignition, minutes relative to midnight of the target date. */
  ignitionMin: number;
  /** Lead time (minutes from ignition to the target time). */
  leadMin: number;
  /** Air temperature at ignition and at the target time (°C). */
  airAtIgnitionC: number;
  airAtTargetC: number;
  /** Outdoor temperature at ignition (°C). */
  outdoorAtIgnitionC: number;
  /** Heat delivered by the stove from ignition to the target time (kWh). */
  energyKwh: number;
}

/** Ground truth of one night. */
export type TruthLead =
  | { feasible: true; leadMin: number; run: StoveRunResult }
  | { feasible: false; maxLeadRun: StoveRunResult };

/** exp(A·t) of a 2×2 matrix [[a, b], [c, d]] with real eigenvalues (b·c >= 0), row-major. */
export function expm2(a: number, b: number, c: number, d: number, t: number): [number, number, number, number] {
  const s = (a + d) / 2;
  const q = Math.sqrt(Math.max(0, ((a - d) / 2) ** 2 + b * c));
  const e = Math.exp(s * t);
  const ch = Math.cosh(q * t);
  const sh = q * t < 1e-12 ? t : Math.sinh(q * t) / q;
  return [e * (ch + sh * (a - s)), e * sh * b, e * sh * c, e * (ch + sh * (d - s))];
}

/**
 * Simulates one night of one house under one weather: the cool-down once, then any ignition time.
 */
export class NightSimulator {
  readonly house: HouseParams;
  readonly setup: Required<NightSetup>;
  /** Step (minutes). */
  readonly dtMin: number;
  private readonly startMin: number;
  private readonly steps: number;
  private readonly outdoor: Float64Array;
  private readonly coolAir: Float64Array;
  private readonly coolMass: Float64Array;
  private readonly phi: [number, number, number, number];
  private readonly hEff: number;
  private readonly holdDecay: number;

  /**
   * @param house 2R2C parameters (W/K, J/K)
   * @param outdoor outdoor temperature (°C) by minute relative to midnight of the target date
   * @param setup target, stove power and night scenario
   */
  constructor(house: HouseParams, outdoor: OutdoorFn, setup: NightSetup) {
    const params = thermalParams();
    this.house = house;
    const maxLead = params.night.maxLeadMin;
    this.setup = {
      rampMinutes: params.stove.rampMinutes,
      eveningAirTempC: params.night.eveningAirTempC,
      stoveOffMin: Math.min(params.night.stoveOffMin - 1440, setup.targetMin - maxLead),
      ...setup,
    };
    this.dtMin = params.night.stepSeconds / 60;
    this.startMin = Math.min(this.setup.stoveOffMin, setup.targetMin - maxLead);
    this.steps = Math.round((setup.targetMin - this.startMin) / this.dtMin);
    this.outdoor = new Float64Array(this.steps);
    for (let k = 0; k < this.steps; k++) this.outdoor[k] = outdoor(this.startMin + (k + 0.5) * this.dtMin);
    const dt = this.dtMin * 60;
    const { hAirOut: hao, hMassOut: hmo, hAirMass: ham, cAir: ca, cMass: cm } = house;
    this.phi = expm2(-(hao + ham) / ca, ham / ca, ham / cm, -(hmo + ham) / cm, dt);
    this.hEff = effectiveH(house);
    this.holdDecay = Math.exp((-(hmo + ham) * dt) / cm);
    // Cool-down from the stove-off state, stove off all night.
    this.coolAir = new Float64Array(this.steps + 1);
    this.coolMass = new Float64Array(this.steps + 1);
    const evening = this.setup.eveningAirTempC;
    const to0 = this.outdoor[0] ?? outdoor(this.startMin);
    this.coolAir[0] = evening;
    this.coolMass[0] = hmo + ham > 0 ? (hmo * to0 + ham * evening) / (hmo + ham) : evening;
    for (let k = 0; k < this.steps; k++) {
      const [a, m] = this.freeStep(this.coolAir[k]!, this.coolMass[k]!, this.outdoor[k]!, 0);
      this.coolAir[k + 1] = a;
      this.coolMass[k + 1] = m;
    }
  }

  /** One exact step with constant outdoor `to` (°C) and power `p` (W). */
  private freeStep(air: number, mass: number, to: number, p: number): [number, number] {
    const { hAirMass: ham, hMassOut: hmo } = this.house;
    const airEq = to + p / this.hEff;
    const massEq = hmo + ham > 0 ? (hmo * to + ham * airEq) / (hmo + ham) : mass;
    const da = air - airEq;
    const dm = mass - massEq;
    const phi = this.phi;
    return [airEq + phi[0] * da + phi[1] * dm, massEq + phi[2] * da + phi[3] * dm];
  }

  /** Air and mass temperatures (°C) with the stove off since stove-off, at a minute relative to midnight of the target date. */
  cooledStateAt(minute: number): ThermalState {
    const k = Math.max(0, Math.min(this.steps, Math.round((minute - this.startMin) / this.dtMin)));
    return { airC: this.coolAir[k]!, massC: this.coolMass[k]! };
  }

  /** Outdoor temperature (°C) during the step starting at `minute`. */
  outdoorAtMin(minute: number): number {
    const k = Math.max(0, Math.min(this.steps - 1, Math.round((minute - this.startMin) / this.dtMin)));
    return this.outdoor[k]!;
  }

  /**
   * Light the stove `leadMin` minutes before the target time and simulate up to the target time.
   * @param leadMin lead time in minutes, in [0, 9 h]; rounded to the step
   */
  run(leadMin: number): StoveRunResult {
    const { targetMin, targetTempC, powerKw, rampMinutes } = this.setup;
    const { hAirOut: hao, hAirMass: ham, hMassOut: hmo } = this.house;
    const dt = this.dtMin * 60;
    const k0 = Math.max(0, Math.min(this.steps, this.steps - Math.round(leadMin / this.dtMin)));
    let air = this.coolAir[k0]!;
    let mass = this.coolMass[k0]!;
    const airAtIgnition = air;
    let joules = 0;
    let holding = false;
    const massHoldEqW = hmo + ham;
    for (let k = k0; k < this.steps; k++) {
      const to = this.outdoor[k]!;
      const sinceMin = (k - k0 + 0.5) * this.dtMin;
      const pAvail = powerKw * 1000 * (rampMinutes > 0 ? Math.min(1, sinceMin / rampMinutes) : 1);
      if (holding) {
        const need = hao * (targetTempC - to) + ham * (targetTempC - mass);
        if (need <= pAvail) {
          joules += Math.max(0, need) * dt;
          const massEq = massHoldEqW > 0 ? (hmo * to + ham * targetTempC) / massHoldEqW : mass;
          mass = massEq + (mass - massEq) * this.holdDecay;
          air = targetTempC;
          continue;
        }
        holding = false;
      }
      const [a, m] = this.freeStep(air, mass, to, pAvail);
      if (a >= targetTempC) {
        // reached within this step: hold from here (the overshoot is cut, energy counted for the whole step)
        joules += pAvail * dt * Math.min(1, Math.max(0, (targetTempC - air) / (a - air)));
        air = targetTempC;
        mass = m;
        holding = true;
      } else {
        joules += pAvail * dt;
        air = a;
        mass = m;
      }
    }
    const ignitionMin = targetMin - (this.steps - k0) * this.dtMin;
    return {
      ignitionMin,
      leadMin: (this.steps - k0) * this.dtMin,
      airAtIgnitionC: airAtIgnition,
      airAtTargetC: air,
      outdoorAtIgnitionC: this.outdoor[Math.min(k0, this.steps - 1)] ?? to0Fallback(this.outdoor),
      energyKwh: joules / 3.6e6,
    };
  }

  /**
   * The ground truth: the smallest lead time on the grid (5 min, at most 9 h) that brings the air
   * within 0.1 K of the target at the target time, or infeasible.
   */
  truth(): TruthLead {
    const { leadGridMin, maxLeadMin, reachToleranceK } = thermalParams().night;
    const ok = (r: StoveRunResult) => r.airAtTargetC >= this.setup.targetTempC - reachToleranceK;
    const n = Math.floor(maxLeadMin / leadGridMin);
    const maxRun = this.run(n * leadGridMin);
    if (!ok(maxRun)) return { feasible: false, maxLeadRun: maxRun };
    // earlier ignition never ends colder (comparison principle): binary search on the grid
    let lo = -1; // known too short (or none)
    let hi = n; // known enough
    let hiRun = maxRun;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      const r = this.run(mid * leadGridMin);
      if (ok(r)) {
        hi = mid;
        hiRun = r;
      } else lo = mid;
    }
    return { feasible: true, leadMin: hi * leadGridMin, run: hiRun };
  }
}

function to0Fallback(outdoor: Float64Array): number {
  return outdoor.length ? outdoor[outdoor.length - 1]! : 0;
}

/**
 * The free cool-down of the air with the stove off and constant outdoors, starting from the evening
 * state (air at T_e, mass at its steady state): exactly two exponentials,
 * T_a(t) - T_o = (T_e - T_o)·(w_fast·e^(-t/τ_fast) + w_slow·e^(-t/τ_slow)), t in minutes.
 * Stored in the model so that `watt predict` can estimate the indoor air without the simulator.
 */
export function coolDownCurve(house: HouseParams): { w_fast: number; tau_fast_min: number; w_slow: number; tau_slow_min: number } {
  const { hAirOut: hao, hMassOut: hmo, hAirMass: ham, cAir: ca, cMass: cm } = house;
  const a = -(hao + ham) / ca;
  const b = ham / ca;
  const c = ham / cm;
  const d = -(hmo + ham) / cm;
  const s = (a + d) / 2;
  const q = Math.sqrt(Math.max(1e-30, ((a - d) / 2) ** 2 + b * c));
  const a0 = 1;
  const m0 = hmo + ham > 0 ? ham / (hmo + ham) : 1;
  const k = (a - s) * a0 + b * m0;
  return {
    w_fast: a0 / 2 - k / (2 * q),
    tau_fast_min: -1 / (s - q) / 60,
    w_slow: a0 / 2 + k / (2 * q),
    tau_slow_min: -1 / (s + q) / 60,
  };
}
