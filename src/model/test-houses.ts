import type { DpeClass, HouseParams } from './params.js';
import { clockToMinutes, thermalParams } from './params.js';
import type { IgnitionRecord } from './history.js';
import type { WeatherNight } from './weather.js';
import { outdoorAt } from './weather.js';
import { NightSimulator } from './simulator.js';
import { mulberry32, round } from './synthetic.js';

/**
 * Independent test houses for `npm run bench:house` and the tests: one real house (its own 2R2C
 * parameters, not a DPE class's), one place, real NOAA nights of samples/weather.csv, simulated by
 * the 2R2C model, and the history its owner would record: the outdoor and indoor air at ignition
 * read by household thermometers (0.1 °C resolution, ±0.15 K noise), the shortest lead that reached
 * the target (5-min grid). The class label the owner writes differs from the true house on purpose.
 */

export interface TestHouse {
  /** What the owner writes in the history (the DPE label of the house, not its physics). */
  label: DpeClass;
  house: HouseParams;
  powerKw: number;
  /** One target, or one drawn per night from this list. */
  targetsC: readonly number[];
  targetTime: string;
  location: string;
  seed: number;
  /** Thermometer noise (K, standard deviation of each reading); default 0.15. */
  noiseK?: number;
  /** Share of nights missing from the history (not recorded; skipped at random); default 0. */
  missingShare?: number;
  /**
   * Share of the nights 9 h of stove cannot win that the household recorded anyway, having kept the
   * stove on overnight: indoor air at ignition at or above the target, a 540-min lead. Default 0.
   */
  keptOnShare?: number;
}

/** A generated night: the history row and what re-simulation needs. */
export interface TestNight {
  record: IgnitionRecord;
  weather: WeatherNight;
}

export interface TestHistory {
  nights: TestNight[];
  /** Nights 9 h of stove cannot win (not in the history, unless kept on: see `keptOn`). */
  infeasible: number;
  /** Infeasible nights recorded as kept on (in `nights`, indoor at or above the target). */
  keptOn: number;
  /** Nights skipped as missing (`missingShare`). */
  missing: number;
  /** Every night of the place in date order, feasible or not, missing or not: what a controller meets (bench:house). */
  all: WeatherNight[];
}

/**
 * A 2R2C house from physical quantities: total loss H (W/K), share on the air node, air and mass
 * capacities (J/K), air-mass coupling (W/K).
 */
export function makeHouse(h: number, cAir: number, cMass: number, airShare = 0.35, hAirMass = 920): HouseParams {
  return { h, hAirOut: h * airShare, hMassOut: h * (1 - airShare), hAirMass, cAir, cMass };
}

/**
 * House 1 of the issue: labelled D, but better insulated and lighter than the class table's D
 * house (H 175 W/K instead of 235), one 9 kW stove, 19.5 °C at 07:00, New York.
 */
export const HOUSE_ONE: TestHouse = {
  label: 'D',
  house: makeHouse(175, 3.2e6, 14e6, 0.3, 850),
  powerKw: 9,
  targetsC: [19.5],
  targetTime: '07:00',
  location: 'New York',
  seed: 7,
};

/**
 * House 2: labelled C, but leakier and heavier than the class table (H 240 W/K instead of 170, more
 * mass, more losses on the air node), a 12 kW stove, a target drawn per night between 18 and 21 °C,
 * 06:30, Seattle.
 */
export const HOUSE_TWO: TestHouse = {
  label: 'C',
  house: makeHouse(240, 5e6, 21e6, 0.4, 1100),
  powerKw: 12,
  targetsC: [18, 18.5, 19, 19.5, 20, 20.5, 21],
  targetTime: '06:30',
  location: 'Seattle',
  seed: 11,
};

/** Box-Muller normal draw from a uniform PRNG. */
function normal(rand: () => number): number {
  const u = Math.max(1e-12, rand());
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
}

/**
 * Simulate the house on every night of `weather` at its place (in date order).
 */
export function testHistory(t: TestHouse, weather: readonly WeatherNight[]): TestHistory {
  const rand = mulberry32(t.seed);
  const extra = mulberry32(t.seed * 7919 + 1); // missing / kept-on draws: the older houses' draws stay as they were
  const targetMin = clockToMinutes(t.targetTime);
  const noise = t.noiseK ?? 0.15;
  const nights = weather.filter((w) => w.location === t.location).sort((a, b) => (a.date < b.date ? -1 : a.date > b.date ? 1 : 0));
  const out: TestHistory = { nights: [], infeasible: 0, keptOn: 0, missing: 0, all: nights };
  for (const w of nights) {
    const targetC = t.targetsC[Math.floor(rand() * t.targetsC.length)]!;
    const noiseOut = normal(rand) * noise;
    const noiseIn = normal(rand) * noise;
    const missing = (t.missingShare ?? 0) > 0 && extra() < t.missingShare!;
    const sim = new NightSimulator(t.house, (m) => outdoorAt(w, m), { targetMin, targetTempC: targetC, powerKw: t.powerKw });
    const truth = sim.truth();
    if (!truth.feasible) {
      out.infeasible++;
      if ((t.keptOnShare ?? 0) > 0 && extra() < t.keptOnShare! && !missing) {
        // kept on overnight: the room never cooled, the lead is the whole night
        out.keptOn++;
        const ign = targetMin - 540;
        out.nights.push({
          weather: w,
          record: {
            date: w.date,
            dpe_class: t.label,
            outdoor_temp_c: round(outdoorAt(w, ign) + noiseOut, 1),
            indoor_start_temp_c: round(Math.max(targetC, thermalNightEvening()) + Math.abs(noiseIn), 1),
            target_temp_c: targetC,
            lead_time_min: 540,
            stove_power_kw: t.powerKw,
            target_time: t.targetTime,
            location: t.location,
            temp_min_c: round(nightMinimumC(w, ign, targetMin) + normal(rand) * noise, 1),
          },
        });
      }
      continue;
    }
    if (missing) {
      out.missing++;
      continue;
    }
    const ign = targetMin - truth.leadMin;
    out.nights.push({
      weather: w,
      record: {
        date: w.date,
        dpe_class: t.label,
        outdoor_temp_c: round(truth.run.outdoorAtIgnitionC + noiseOut, 1),
        indoor_start_temp_c: round(truth.run.airAtIgnitionC + noiseIn, 1),
        target_temp_c: targetC,
        lead_time_min: truth.leadMin,
        stove_power_kw: t.powerKw,
        target_time: t.targetTime,
        location: t.location,
        temp_min_c: round(nightMinimumC(w, ign, targetMin), 1),
      },
    });
  }
  return out;
}

/** The evening air the simulator starts the night from (°C, dpe-classes.json). */
function thermalNightEvening(): number {
  return thermalParams().night.eveningAirTempC;
}

/**
 * The lowest outdoor air (°C) between `fromMin` and `toMin` (minutes relative to midnight of the
 * target date), on a 10-min grid: what a forecast minimum (`--temp-min`, `temp_min_c`) gives.
 */
export function nightMinimumC(w: WeatherNight, fromMin: number, toMin: number): number {
  let min = Number.POSITIVE_INFINITY;
  for (let m = fromMin; m <= toMin; m += 10) min = Math.min(min, outdoorAt(w, m));
  return Math.min(min, outdoorAt(w, toMin));
}

/**
 * House 3, the hard corner (reported apart, no target): labelled E, H 290 W/K, a 7 kW stove whose
 * ceiling T_o + P/H_eff is only 4 to 8 K above targets of 18 to 21 °C on cold nights, so the
 * outdoor air falling after ignition (which the history does not record) decides the lead.
 */
export const HOUSE_THREE: TestHouse = {
  label: 'E',
  house: makeHouse(290, 5e6, 21e6, 0.4, 1100),
  powerKw: 7,
  targetsC: [18, 18.5, 19, 19.5, 20, 20.5, 21],
  targetTime: '06:30',
  location: 'Seattle',
  seed: 13,
};

/**
 * The kinds of house `npm run bench:house` scores with both protocols (one question at ignition, and
 * a controller re-checking every 5 min from stove-off). None is tuned to: they span a well-sized
 * stove, one near its limit on cold nights and an undersized one with noisy thermometers, missing
 * nights and nights kept on.
 */
export const CONTROLLER_HOUSES: readonly { kind: string; house: TestHouse }[] = [
  { kind: 'well sized (label D, H 175 W/K, 9 kW, 19.5 °C, New York)', house: HOUSE_ONE },
  {
    kind: 'near its limit on cold nights (label E, leaky H 330 W/K, 8 kW, 19-21 °C per night, New York)',
    house: { label: 'E', house: makeHouse(330, 4.5e6, 20e6, 0.4, 1000), powerKw: 8, targetsC: [19, 19.5, 20, 20.5, 21], targetTime: '07:00', location: 'New York', seed: 17 },
  },
  {
    kind: 'undersized (label D, H 230 W/K, 6 kW, 19-20 °C, noise ±0.2 K, 12 % nights missing, nights kept on), New York',
    house: { label: 'D', house: makeHouse(230, 3.5e6, 18e6, 0.35, 900), powerKw: 6, targetsC: [19, 19.5, 20], targetTime: '06:30', location: 'New York', seed: 23, noiseK: 0.2, missingShare: 0.12, keptOnShare: 0.5 },
  },
  { kind: 'well sized, variable target (label C, H 240 W/K, 12 kW, 18-21 °C, Seattle)', house: HOUSE_TWO },
];
