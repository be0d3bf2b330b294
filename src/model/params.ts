import { readFileSync } from 'node:fs';
import { assetPath } from '../paths.js';
import { UsageError } from '../errors.js';

/**
 * Thermal parameters per DPE class, read from the data file `src/model/dpe-classes.json` shipped
 * with watt (sources inside it: the 2021 DPE arrêté, EN ISO 13790, Bacher & Madsen 2011).
 * Light on purpose: `watt predict` imports this module, never the simulator.
 */

/** DPE classes of the 2021 arrêté, best to worst. */
export const DPE_CLASSES = ['A', 'B', 'C', 'D', 'E', 'F', 'G'] as const;
export type DpeClass = (typeof DPE_CLASSES)[number];

/** Whether a string is a DPE class letter (upper case). */
export function isDpeClass(value: string): value is DpeClass {
  return (DPE_CLASSES as readonly string[]).includes(value);
}

/** The 2R2C parameters of one house. SI units: W/K, J/K. */
export interface HouseParams {
  /** Total heat-loss coefficient H to outdoors (W/K). */
  h: number;
  /** Air node to outdoors (windows, ventilation) (W/K). */
  hAirOut: number;
  /** Mass node to outdoors (opaque envelope) (W/K). */
  hMassOut: number;
  /** Air node to mass node (W/K). */
  hAirMass: number;
  /** Air node heat capacity (J/K). */
  cAir: number;
  /** Mass node heat capacity (J/K). */
  cMass: number;
}

/** The scenario of one night (see `night` in the data file). */
export interface NightParams {
  /** Stove switched off in the evening, minutes after midnight of the eve (e.g. 22:00 -> 1320). */
  stoveOffMin: number;
  /** Air temperature held until the stove goes off (°C). */
  eveningAirTempC: number;
  /** Longest lead time considered (minutes), 540 = 9 h. */
  maxLeadMin: number;
  /** Grid of the ground-truth lead time (minutes). */
  leadGridMin: number;
  /** The target is reached when the air is within this of it (K). */
  reachToleranceK: number;
  /** A night is late when the air is more than this short of the target (K). */
  lateToleranceK: number;
  /** Simulation step (s). */
  stepSeconds: number;
}

export interface ThermalParams {
  classes: Record<DpeClass, HouseParams>;
  stove: { defaultPowerKw: number; rampMinutes: number };
  night: NightParams;
  weather: { minHour: number; maxHour: number; heatingSeasonMonths: number[] };
}

interface RawFile {
  classes: Record<string, { h_w_per_k: number }>;
  building: {
    mass_capacity_j_per_k: number;
    air_capacity_j_per_k: number;
    air_mass_coupling_w_per_k: number;
    air_share_of_h: number;
  };
  stove: { default_power_kw: number; ramp_minutes: number };
  night: {
    stove_off: string;
    evening_air_temp_c: number;
    max_lead_min: number;
    lead_grid_min: number;
    reach_tolerance_k: number;
    late_tolerance_k: number;
    step_seconds: number;
  };
  weather: { min_hour: number; max_hour: number; heating_season_months: number[] };
}

let cached: ThermalParams | undefined;

/**
 * Load (once) the thermal parameters shipped with watt.
 * @throws UsageError if the data file is missing or malformed (a broken installation).
 */
export function thermalParams(): ThermalParams {
  if (cached) return cached;
  const file = assetPath('src', 'model', 'dpe-classes.json');
  let raw: RawFile;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8')) as RawFile;
  } catch (err) {
    throw new UsageError(`cannot read the DPE class parameters ${file}: ${(err as Error).message.split('\n')[0]}`, {
      hint: 'reinstall watt',
    });
  }
  const b = raw.building;
  const classes = {} as Record<DpeClass, HouseParams>;
  for (const k of DPE_CLASSES) {
    const h = raw.classes[k]?.h_w_per_k;
    if (typeof h !== 'number' || !(h > 0)) throw new UsageError(`${file}: class ${k} has no positive h_w_per_k`);
    classes[k] = {
      h,
      hAirOut: h * b.air_share_of_h,
      hMassOut: h * (1 - b.air_share_of_h),
      hAirMass: b.air_mass_coupling_w_per_k,
      cAir: b.air_capacity_j_per_k,
      cMass: b.mass_capacity_j_per_k,
    };
  }
  cached = {
    classes,
    stove: { defaultPowerKw: raw.stove.default_power_kw, rampMinutes: raw.stove.ramp_minutes },
    night: {
      stoveOffMin: clockToMinutes(raw.night.stove_off),
      eveningAirTempC: raw.night.evening_air_temp_c,
      maxLeadMin: raw.night.max_lead_min,
      leadGridMin: raw.night.lead_grid_min,
      reachToleranceK: raw.night.reach_tolerance_k,
      lateToleranceK: raw.night.late_tolerance_k,
      stepSeconds: raw.night.step_seconds,
    },
    weather: { minHour: raw.weather.min_hour, maxHour: raw.weather.max_hour, heatingSeasonMonths: raw.weather.heating_season_months },
  };
  return cached;
}

/**
 * Steady-state "effective" loss coefficient seen by a heater in the air node (W/K): the air's own
 * losses plus the mass path in series, H_eff = H_ao + H_am·H_mo / (H_am + H_mo) (< H).
 * With power P (W) the air can never exceed To + P / H_eff.
 */
export function effectiveH(p: HouseParams): number {
  const series = p.hAirMass + p.hMassOut > 0 ? (p.hAirMass * p.hMassOut) / (p.hAirMass + p.hMassOut) : 0;
  return p.hAirOut + series;
}

/**
 * `HH:MM` (00:00-23:59) to minutes after midnight.
 * @throws UsageError for anything else (e.g. `25:00`, `7h`).
 */
export function clockToMinutes(text: string): number {
  const m = /^([01]?\d|2[0-3]):([0-5]\d)$/.exec(text.trim());
  if (!m) throw new UsageError(`time must be HH:MM between 00:00 and 23:59, got "${text.slice(0, 20)}"`);
  return Number(m[1]) * 60 + Number(m[2]);
}

/** Minutes after midnight (may be negative or >= 1440) to a wall-clock `HH:MM`. */
export function minutesToClock(minutes: number): string {
  const m = ((Math.round(minutes) % 1440) + 1440) % 1440;
  return `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
}
