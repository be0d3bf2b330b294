import type { IgnitionRecord } from './history.js';
import type { WattModel } from './model-file.js';
import type { Prediction } from './predict.js';
import { predictLead } from './predict.js';
import { clockToMinutes, thermalParams } from './params.js';
import type { TestHouse } from './test-houses.js';
import { nightMinimumC } from './test-houses.js';
import type { WeatherNight } from './weather.js';
import { outdoorAt } from './weather.js';
import { NightSimulator } from './simulator.js';
import { mulberry32 } from './synthetic.js';

/**
 * Scoring a model the way a controller uses it (issue 19, `npm run bench:house`), beside the
 * one-question protocol:
 *
 * - **one question**: asked once at the recorded ignition, with the outdoor and indoor air then and
 *   the night's minimum until the target time (what the history records);
 * - **controller**: from the moment the stove goes off (22:00 the eve, or 9 h before the target),
 *   every 5 minutes it reads the indoor and outdoor air (thermometers with noise) and the forecast
 *   minimum until the target time, asks for the lead from that state, and lights the stove at the
 *   first check where the lead reaches the minutes left. A plain answer (`keep-on`, `cannot-reach`)
 *   at any check ends the night "answered plainly": the stove is kept on.
 *
 * The truth is the simulator's shortest lead on its 5-min grid. Late = the lead used more than
 * `toleranceMin` short of the truth, or a lead given on a night 9 h cannot win; MAE over the nights
 * answered with a lead that 9 h can win.
 */

/** Scores of one protocol on one house. */
export interface ProtocolScore {
  nights: number;
  /** Nights 9 h of stove cannot win (the truth). */
  infeasible: number;
  /** Nights answered with a lead (the stove lit at some check / the one answer a lead). */
  answered: number;
  /** Nights answered plainly (keep the stove on, out of reach). */
  plain: number;
  /** Of the plain answers, nights the truth says 9 h could win (a needless keep-on). */
  plainFeasible: number;
  mae: number;
  bias: number;
  /** Late share among the nights answered with a lead. */
  late: number;
  lateNights: number;
}

/** Minutes between the controller's checks. */
export const CONTROLLER_STEP_MIN = 5;

function summarise(errs: number[], late: number, answered: number, plain: number, plainFeasible: number, nights: number, infeasible: number): ProtocolScore {
  const n = errs.length;
  return {
    nights,
    infeasible,
    answered,
    plain,
    plainFeasible,
    mae: n ? errs.reduce((a, e) => a + Math.abs(e), 0) / n : Number.NaN,
    bias: n ? errs.reduce((a, e) => a + e, 0) / n : Number.NaN,
    late: answered ? late / answered : 0,
    lateNights: late,
  };
}

/**
 * Score a model on every night of `nights` (each simulated for `house`) with both protocols.
 * @param toleranceMin lateness tolerance (minutes), 5 as the training's hold-out.
 */
export function scoreProtocols(
  model: WattModel,
  t: TestHouse,
  nights: readonly WeatherNight[],
  options: { toleranceMin?: number; seed?: number; targetFor?: (w: WeatherNight, i: number) => number } = {},
): { oneQuestion: ProtocolScore; controller: ProtocolScore } {
  const tol = options.toleranceMin ?? 5;
  const noise = t.noiseK ?? 0.15;
  const rand = mulberry32(options.seed ?? t.seed + 1000);
  const normal = () => Math.sqrt(-2 * Math.log(Math.max(1e-12, rand()))) * Math.cos(2 * Math.PI * rand());
  const r1 = (x: number) => Math.round(x * 10) / 10;
  const targetMin = clockToMinutes(t.targetTime);
  const night = thermalParams().night;
  const offMin = Math.min(night.stoveOffMin - 1440, targetMin - night.maxLeadMin);
  const q = { errs: [] as number[], late: 0, answered: 0, plain: 0, plainFeasible: 0 };
  const c = { errs: [] as number[], late: 0, answered: 0, plain: 0, plainFeasible: 0 };
  let infeasible = 0;
  const ask = (outdoorC: number, indoorC: number, targetC: number, tempMinC: number): Prediction | undefined => {
    try {
      return predictLead(model, { outdoorC, indoorC: Math.min(indoorC, targetC), targetC, powerKw: t.powerKw, at: t.targetTime, tempMinC, dpeClass: t.label });
    } catch {
      return undefined; // outside the model's range: counted as a plain answer
    }
  };
  nights.forEach((w, i) => {
    const targetC = options.targetFor ? options.targetFor(w, i) : t.targetsC[Math.floor(rand() * t.targetsC.length)]!;
    const sim = new NightSimulator(t.house, (m) => outdoorAt(w, m), { targetMin, targetTempC: targetC, powerKw: t.powerKw });
    const truth = sim.truth();
    const truthLead = truth.feasible ? truth.leadMin : Number.POSITIVE_INFINITY;
    if (!truth.feasible) infeasible++;
    const score = (s: typeof q, lead: number | undefined) => {
      if (lead === undefined) {
        s.plain++;
        if (truth.feasible) s.plainFeasible++;
        return;
      }
      s.answered++;
      if (lead < truthLead - tol) s.late++;
      if (truth.feasible) s.errs.push(lead - truthLead);
    };
    // one question, at the true ignition (or at 9 h on a night 9 h cannot win)
    const ign = targetMin - Math.min(truthLead, night.maxLeadMin);
    const st = sim.cooledStateAt(ign);
    const p1 = ask(r1(sim.outdoorAtMin(ign) + normal() * noise), r1(st.airC + normal() * noise), targetC, r1(nightMinimumC(w, ign, targetMin)));
    score(q, p1?.feasible ? p1.lead_time_min : undefined);
    // the controller
    let used: number | undefined;
    let plain = false;
    for (let m = offMin; m <= targetMin; m += CONTROLLER_STEP_MIN) {
      const left = targetMin - m;
      const s = sim.cooledStateAt(m);
      const p = ask(r1(sim.outdoorAtMin(m) + normal() * noise), r1(s.airC + normal() * noise), targetC, r1(nightMinimumC(w, m, targetMin)));
      if (!p || !p.feasible) {
        plain = true;
        break;
      }
      if (p.lead_time_min >= left) {
        used = left;
        break;
      }
    }
    score(c, plain ? undefined : (used ?? 0));
  });
  return {
    oneQuestion: summarise(q.errs, q.late, q.answered, q.plain, q.plainFeasible, nights.length, infeasible),
    controller: summarise(c.errs, c.late, c.answered, c.plain, c.plainFeasible, nights.length, infeasible),
  };
}

/** The history rows of a test house's nights, in date order (re-exported for the bench). */
export type { IgnitionRecord };
