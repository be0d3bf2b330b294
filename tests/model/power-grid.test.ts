import { readModel, shippedModelFile } from '../../src/model/model-file.js';
import { predictLead } from '../../src/model/predict.js';
import { thermalParams, type DpeClass } from '../../src/model/params.js';
import { NightSimulator, type OutdoorFn } from '../../src/model/simulator.js';
import { heatingSeasonNights, loadDailyWeather, outdoorAt } from '../../src/model/weather.js';

/**
 * What a user following `watt predict` notices: over pellet stoves of 4 to 14 kW, every DPE class
 * and outdoor temperatures down to -15 °C, the advised lead is rarely more than 10 min shorter than
 * the lead the 2R2C simulator needs (a cold room at the target time). Before the history held
 * cold copies of its nights and 4 kW stoves, these grids were late this way on 34 of 505 answered
 * constant-temperature nights (6.7 %, up to 106 min) and 15 of 677 real nights (2.2 %); after, 3 of
 * 506 (0.6 %, at most 14 min) and 4 of 677 (0.6 %). Larger grids: docs/benchmarks.md.
 */
const shipped = readModel(shippedModelFile());
const params = thermalParams();
const CLASSES: DpeClass[] = ['A', 'B', 'C', 'D', 'E', 'F', 'G'];
const POWERS_KW = [4, 6, 8, 10, 12, 14];
/** Minutes short of the simulator's lead that count as late. */
const LATE_MIN = 10;

interface Tally {
  answered: number;
  late: number;
  worst: number;
  worstAt: string;
}

/** Follow predict on one night (feasible for the simulator) and tally the lateness; with `withMin`, also asked with --temp-min (the night's minimum from the ignition to the target time). */
function check(tally: Tally, dpeClass: DpeClass, outdoor: OutdoorFn, askOutdoorC: (truthLeadMin: number) => number, targetC: number, powerKw: number, label: string, withMin?: Tally) {
  const truth = new NightSimulator(params.classes[dpeClass], outdoor, { targetMin: 420, targetTempC: targetC, powerKw }).truth();
  if (!truth.feasible) return;
  const ask = { dpeClass, outdoorC: askOutdoorC(truth.leadMin), targetC, at: '07:00', powerKw };
  const follow = (t: Tally, p: ReturnType<typeof predictLead>) => {
    if (!p.feasible) return;
    t.answered++;
    const short = truth.leadMin - p.lead_time_min;
    if (short > LATE_MIN) t.late++;
    if (short > t.worst) Object.assign(t, { worst: short, worstAt: `${label}: simulator ${truth.leadMin} min, predict ${p.lead_time_min} min` });
  };
  follow(tally, predictLead(shipped, ask));
  if (withMin) {
    let min = Number.POSITIVE_INFINITY;
    for (let m = 420 - truth.leadMin; m <= 420; m += 10) min = Math.min(min, outdoor(m));
    follow(withMin, predictLead(shipped, { ...ask, tempMinC: Math.round(min * 10) / 10 }));
  }
}

describe('predict against the simulator over stove powers 4 to 14 kW', () => {
  it('is late by more than 10 min on at most 1.5 % of constant-temperature nights (-15 to 12 °C, targets 19 and 21 °C)', () => {
    const tally: Tally = { answered: 0, late: 0, worst: 0, worstAt: '' };
    for (const dpeClass of CLASSES)
      for (const powerKw of POWERS_KW)
        for (const targetC of [19, 21])
          for (const outdoorC of [-15, -12, -8, -4, 0, 4, 8, 12])
            check(tally, dpeClass, () => outdoorC, () => outdoorC, targetC, powerKw, `${dpeClass} ${powerKw} kW ${outdoorC} °C ${targetC} °C`);
    expect(tally.answered).toBeGreaterThan(400);
    if (process.env.WATT_GRID_LOG) console.log(tally);
    expect({ rate: tally.late / tally.answered <= 0.015, ...tally }).toMatchObject({ rate: true });
    // hard frost with a big stove (the reported case): never more than an hour short
    expect(tally.worst).toBeLessThanOrEqual(60);
  });

  it('is late by more than 10 min on at most 1.5 % of real nights (2014-15, outdoor air at ignition as --temp)', () => {
    const nights = heatingSeasonNights(loadDailyWeather()).filter((w) => w.season === '2014-15');
    const tally: Tally = { answered: 0, late: 0, worst: 0, worstAt: '' };
    for (let i = 0; i < nights.length; i += 24) {
      const w = nights[i]!;
      const outdoor = (m: number) => outdoorAt(w, m);
      for (const dpeClass of CLASSES)
        for (const powerKw of POWERS_KW)
          for (const targetC of [19])
            check(tally, dpeClass, outdoor, (lead) => Math.round(outdoorAt(w, 420 - lead) * 10) / 10, targetC, powerKw, `${dpeClass} ${powerKw} kW ${w.location} ${w.date} ${targetC} °C`);
    }
    expect(tally.answered).toBeGreaterThan(400);
    if (process.env.WATT_GRID_LOG) console.log(tally);
    expect({ rate: tally.late / tally.answered <= 0.015, ...tally }).toMatchObject({ rate: true });
  });

  it('small stoves (3-6 kW) in classes D to G on real nights: late on at most 9 % of answered nights, at most 2 % with --temp-min', () => {
    // the corner where the stove barely tops out above the target: the outdoor air falling until
    // 06:00 takes the ceiling below it and the true lead rises far faster than the regression; the
    // forecast minimum (--temp-min) tells predict how far it falls (measured: 8.1 % -> 0.0 % at 4-6 kW)
    const nights = heatingSeasonNights(loadDailyWeather()).filter((_, i) => i % 12 === 0);
    const tally: Tally = { answered: 0, late: 0, worst: 0, worstAt: '' };
    const withMin: Tally = { answered: 0, late: 0, worst: 0, worstAt: '' };
    for (const w of nights) {
      const outdoor = (m: number) => outdoorAt(w, m);
      for (const dpeClass of ['D', 'E', 'F', 'G'] as DpeClass[])
        for (const powerKw of [3, 4, 6])
          for (const targetC of [19, 21])
            check(tally, dpeClass, outdoor, (lead) => Math.round(outdoorAt(w, 420 - lead) * 10) / 10, targetC, powerKw, `${dpeClass} ${powerKw} kW ${w.location} ${w.date} ${targetC} °C`, withMin);
    }
    expect(tally.answered).toBeGreaterThan(300);
    if (process.env.WATT_GRID_LOG) console.log(tally, withMin);
    expect({ rate: tally.late / tally.answered <= 0.09, ...tally }).toMatchObject({ rate: true });
    expect(withMin.answered).toBe(tally.answered);
    expect({ rate: withMin.late / withMin.answered <= 0.02, ...withMin }).toMatchObject({ rate: true });
  });
});
