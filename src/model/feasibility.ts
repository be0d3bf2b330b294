import type { DpeClass } from './params.js';
import { clockToMinutes, thermalParams } from './params.js';
import type { FeasibilityBoundary } from './model-file.js';
import type { IgnitionRecord } from './history.js';
import type { WeatherNight } from './weather.js';
import { outdoorAt } from './weather.js';

/**
 * The feasibility boundary learned at train time (`watt predict` only reads the number).
 *
 * The bare steady-state ceiling T_o + P/H_eff (features.ts) refuses only nights that no lead can
 * win at a constant outdoor temperature. Real nights get colder by morning (the hourly profile falls
 * to its minimum at 06:00, 3 to 10 K below the evening), so many nights whose ceiling, at the
 * evening temperature, is a few kelvins above the target are out of reach in 9 h for the 2R2C
 * simulator. watt learns one margin θ (K) on the synthetic nights, each asked as a user would at
 * stove-off (22:00, the outdoor temperature then): refuse when T_o + P/H_eff - T_set < θ.
 *
 * Why one margin for every class rather than one per class or a logistic: on the season and city
 * hold-outs of samples/weather.csv, per-class thresholds (D, E, F, G have 8 to 250 infeasible nights
 * each) moved by up to 4 K between the two training sets and recalled fewer test nights for as many
 * false refusals; the fall of the outdoor air that the margin stands for does not depend on the
 * class, and for classes A to C the ceiling is tens of kelvins above any target.
 */

/** One calibration night: the stove-off query and what the simulator found. */
export interface FeasibilitySample {
  dpeClass: DpeClass;
  /** Outdoor temperature at stove-off (°C). */
  outdoorC: number;
  targetC: number;
  powerKw: number;
  /** Reachable within 9 h (simulator). */
  feasible: boolean;
}

/** Largest share of feasible calibration nights the margin may refuse (1 %). */
export const MAX_FALSE_REFUSAL_SHARE = 0.01;
/** Cost of refusing a feasible night relative to answering an infeasible one (the room is left cold): equal. */
export const FALSE_REFUSAL_COST = 1;

/**
 * Learn the margin θ (K, >= 0): among the midpoints between consecutive sorted ceiling margins
 * m = T_o + P/H_eff - T_set, the one that maximises (infeasible nights refused) - 1 × (feasible
 * nights refused) with at most 1 % of the feasible nights refused; 0 when the samples hold no
 * infeasible night (a user's history) or no margin does better than the bare ceiling.
 * Deterministic: same samples in the same order give the same margin.
 * @param hEff effective loss coefficient of each class (W/K)
 */
export function learnFeasibilityBoundary(samples: readonly FeasibilitySample[], hEff: Partial<Record<DpeClass, number>>): FeasibilityBoundary {
  const scored = samples
    .filter((s) => hEff[s.dpeClass] !== undefined)
    .map((s) => ({ m: ceilingMargin(s, hEff[s.dpeClass]!), feasible: s.feasible }))
    .sort((a, b) => a.m - b.m || Number(a.feasible) - Number(b.feasible));
  const nFeasible = scored.filter((s) => s.feasible).length;
  const nInfeasible = scored.length - nFeasible;
  const refusedAt = (theta: number) => {
    let inf = 0;
    let fea = 0;
    for (const s of scored) {
      if (s.m >= theta) break;
      if (s.feasible) fea++;
      else inf++;
    }
    return { inf, fea };
  };
  let best = 0;
  let bestScore = Number.NEGATIVE_INFINITY;
  if (nInfeasible > 0) {
    const base = refusedAt(0);
    bestScore = base.inf - FALSE_REFUSAL_COST * base.fea;
    let inf = 0;
    let fea = 0;
    for (let i = 0; i < scored.length - 1; i++) {
      if (scored[i]!.feasible) fea++;
      else inf++;
      if (fea > MAX_FALSE_REFUSAL_SHARE * nFeasible) break;
      const theta = (scored[i]!.m + scored[i + 1]!.m) / 2;
      const score = inf - FALSE_REFUSAL_COST * fea;
      if (theta > 0 && scored[i + 1]!.m > scored[i]!.m && score > bestScore) {
        bestScore = score;
        best = theta;
      }
    }
  }
  const theta = Number(best.toPrecision(4));
  const at = refusedAt(theta);
  return {
    min_margin_k: theta,
    method:
      nInfeasible > 0
        ? `refuse when T_o + P/H_eff - T_set < min_margin_k, T_o at stove-off; the margin maximises infeasible refused - feasible refused over the training nights, at most ${MAX_FALSE_REFUSAL_SHARE * 100} % of feasible nights refused (src/model/feasibility.ts)`
        : 'no infeasible night to learn from: the bare ceiling T_o + P/H_eff > T_set',
    feasible_nights: nFeasible,
    infeasible_nights: nInfeasible,
    infeasible_refused: at.inf,
    feasible_refused: at.fea,
  };
}

/** m = T_o + P/H_eff - T_set (K): how far the stove's steady-state ceiling is above the target. */
export function ceilingMargin(s: Pick<FeasibilitySample, 'outdoorC' | 'targetC' | 'powerKw'>, hEffWPerK: number): number {
  return s.outdoorC + (s.powerKw * 1000) / hEffWPerK - s.targetC;
}

/** Outdoor temperature (°C) at stove-off for a night whose target is at `targetMin` (minutes after midnight): what a user asking in the evening reads. */
export function stoveOffOutdoorC(weather: WeatherNight, targetMin: number): number {
  const night = thermalParams().night;
  return outdoorAt(weather, Math.min(night.stoveOffMin - 1440, targetMin - night.maxLeadMin));
}

/** Calibration samples of synthetic nights: the feasible ones (with their weather) and the infeasible ones; real nights only (cold copies are skipped). */
export function feasibilitySamples(
  feasible: readonly { record: IgnitionRecord; weather?: WeatherNight; augmented?: boolean }[],
  infeasible: readonly { dpeClass: DpeClass; weather: WeatherNight; targetC: number; powerKw: number; augmented?: boolean }[],
  targetMin: number,
): FeasibilitySample[] {
  const out: FeasibilitySample[] = [];
  for (const n of feasible) {
    if (!n.weather || n.augmented) continue;
    const r = n.record;
    out.push({ dpeClass: r.dpe_class, outdoorC: stoveOffOutdoorC(n.weather, clockToMinutes(r.target_time)), targetC: r.target_temp_c, powerKw: r.stove_power_kw, feasible: true });
  }
  for (const n of infeasible) if (!n.augmented) out.push({ dpeClass: n.dpeClass, outdoorC: stoveOffOutdoorC(n.weather, targetMin), targetC: n.targetC, powerKw: n.powerKw, feasible: false });
  return out;
}
