import type { DpeClass } from './params.js';
import { DPE_CLASSES, thermalParams, clockToMinutes } from './params.js';
import type { WeatherNight } from './weather.js';
import { outdoorAt } from './weather.js';
import { NightSimulator } from './simulator.js';
import type { IgnitionRecord } from './history.js';

/**
 * The synthetic ignition history: every heating-season night of the weather file, for every DPE
 * class, simulated by the 2R2C model ({@link NightSimulator}). Deterministic for a given seed.
 */

/** Target temperatures drawn per night (°C). */
export const SYNTHETIC_TARGETS_C = [18, 18.5, 19, 19.5, 20, 20.5, 21] as const;
/** Stove powers drawn per real night (kW): the common pellet stove sizes (the held-out test nights). */
export const SYNTHETIC_POWERS_KW = [6, 8, 10, 12, 14] as const;
/** Stove powers drawn per cold copy (kW): pellet stoves from 4 to 14 kW, so small stoves are learnt too. */
export const COLD_POWERS_KW = [4, 6, 8, 10, 12, 14] as const;
/**
 * Cold copies (training only): the winters of samples/weather.csv are mild (the ignition-time
 * outdoor air is below -8 °C on ~2 % of nights), so the regressions clipped their features and
 * advised leads up to 90 min short in hard frost (classes D to F at -8 to -15 °C). Each night is
 * also simulated shifted colder by a whole number of kelvins drawn in this range (the night's
 * shape, hence the fall of the outdoor air until 06:00, is kept). The hold-out evaluation trains on
 * them but tests only on the real nights.
 */
export const COLD_SHIFT_K = [3, 18] as const;
/**
 * Edge-power copies (training only): pellet stoves on the market start near 2.5-3 kW and the largest
 * domestic ones reach 15 kW, outside the 4-14 kW of the other draws. Each real night is also
 * simulated once per class with one of these powers, drawn from a PRNG of its own (so the other
 * draws, hence the hold-out test nights, are unchanged).
 */
export const EDGE_POWERS_KW = [3, 15] as const;
/** Target time of every synthetic night. */
export const SYNTHETIC_TARGET_TIME = '07:00';

export interface SyntheticOptions {
  /** PRNG seed for the target temperature and stove power of each night (default 42). */
  seed?: number;
  /** Draws (target, power) per night and class (default 1). */
  variants?: number;
  /** Classes to simulate (default A..G). */
  classes?: readonly DpeClass[];
  /** Cold copies of each night, shifted by {@link COLD_SHIFT_K} (default 1; 0: real nights only). */
  coldVariants?: number;
  /** Edge-power copies of each real night ({@link EDGE_POWERS_KW}, default true). */
  edgePowers?: boolean;
}

/** A synthetic night: its history row plus what the evaluation needs to re-simulate it. */
export interface SyntheticNight {
  record: IgnitionRecord;
  weather: WeatherNight;
  /** A cold copy (weather shifted colder): trained on, never tested on, not used for the feasibility boundary. */
  augmented?: boolean;
}

export interface SyntheticHistory {
  /** Feasible nights, in weather-file order, then class, then variant. */
  nights: SyntheticNight[];
  /** Nights that even 9 h of stove cannot bring to the target (no row in the history). */
  infeasible: { dpeClass: DpeClass; weather: WeatherNight; targetC: number; powerKw: number; augmented?: boolean }[];
}

/** mulberry32: a tiny deterministic PRNG (public domain, T. Ettinger), uniform in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Round to `d` decimals (history values are written with 0.01 °C resolution). */
export function round(x: number, d = 2): number {
  const f = 10 ** d;
  return Math.round(x * f) / f;
}

/**
 * Simulate every night × class (× variants). Each row records the ground-truth lead (5-min grid)
 * and the outdoor and indoor air temperatures at that ignition time.
 */
export function syntheticHistory(weatherNights: readonly WeatherNight[], options: SyntheticOptions = {}): SyntheticHistory {
  const params = thermalParams();
  const rand = mulberry32(options.seed ?? 42);
  const variants = options.variants ?? 1;
  const classes = options.classes ?? DPE_CLASSES;
  const targetMin = clockToMinutes(SYNTHETIC_TARGET_TIME);
  const out: SyntheticHistory = { nights: [], infeasible: [] };
  const edgeRand = mulberry32((options.seed ?? 42) ^ 0x5eed);
  const simulate = (weather: WeatherNight, augmented: boolean, edge = false) => {
    const outdoor = (m: number) => outdoorAt(weather, m);
    const flag = augmented ? { augmented: true } : {};
    const draw = edge ? edgeRand : rand;
    for (const dpeClass of classes) {
      for (let v = 0; v < (edge ? 1 : variants); v++) {
        const targetC = SYNTHETIC_TARGETS_C[Math.floor(draw() * SYNTHETIC_TARGETS_C.length)]!;
        const powers = edge ? EDGE_POWERS_KW : augmented ? COLD_POWERS_KW : SYNTHETIC_POWERS_KW;
        const powerKw = powers[Math.floor(draw() * powers.length)]!;
        const sim = new NightSimulator(params.classes[dpeClass], outdoor, { targetMin, targetTempC: targetC, powerKw });
        const truth = sim.truth();
        if (!truth.feasible) {
          out.infeasible.push({ dpeClass, weather, targetC, powerKw, ...flag });
          continue;
        }
        out.nights.push({
          weather,
          record: {
            date: weather.date,
            dpe_class: dpeClass,
            outdoor_temp_c: round(truth.run.outdoorAtIgnitionC),
            indoor_start_temp_c: round(truth.run.airAtIgnitionC),
            target_temp_c: targetC,
            lead_time_min: truth.leadMin,
            stove_power_kw: powerKw,
            target_time: SYNTHETIC_TARGET_TIME,
            location: weather.location,
          },
          ...flag,
        });
      }
    }
  };
  for (const weather of weatherNights) simulate(weather, false);
  const [lo, hi] = COLD_SHIFT_K;
  for (let c = 0; c < (options.coldVariants ?? 1); c++) {
    for (const weather of weatherNights) {
      const shift = lo + Math.floor(rand() * (hi - lo + 1));
      simulate({ ...weather, hourly: weather.hourly.map((t) => t - shift) }, true);
    }
  }
  if (options.edgePowers ?? true) for (const weather of weatherNights) simulate(weather, true, true);
  return out;
}
