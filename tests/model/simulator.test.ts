import { NightSimulator, coolDownCurve } from '../../src/model/simulator.js';
import { closedFormLeadMin } from '../../src/model/features.js';
import { thermalParams, effectiveH, type HouseParams } from '../../src/model/params.js';
import { cooledAirC } from '../../src/model/predict.js';
import { heatingSeasonNights, hourlyFromDaily, loadDailyWeather, outdoorAt, seasonOf } from '../../src/model/weather.js';

const params = thermalParams();
const constant = (t: number) => () => t;

/** Lead (minutes) the simulator finds for a house at a constant outdoor temperature, or undefined if infeasible. */
function truthLead(house: HouseParams, outdoorC: number, targetC = 19, powerKw = 8): number | undefined {
  const t = new NightSimulator(house, constant(outdoorC), { targetMin: 420, targetTempC: targetC, powerKw }).truth();
  return t.feasible ? t.leadMin : undefined;
}

describe('2R2C simulator', () => {
  it('matches the one-node closed form t = τ ln[(To + P/H - T0)/(To + P/H - Tset)] within a step', () => {
    // one node: air only (no mass coupling), no ramp; H = 170 W/K, C = 2 MJ/K (τ = 3.3 h). The
    // evening air equals the outdoor temperature, so the air is at T0 = To at any ignition time.
    const house: HouseParams = { h: 170, hAirOut: 170, hMassOut: 0, hAirMass: 0, cAir: 2e6, cMass: 1 };
    for (const [to, tset, p] of [
      [12, 19, 8],
      [5, 19, 4],
      [0, 20, 6],
    ] as const) {
      const expected = closedFormLeadMin(170, 2e6, p, to, to, tset);
      const sim = new NightSimulator(house, constant(to), { targetMin: 420, targetTempC: tset, powerKw: p, rampMinutes: 0, eveningAirTempC: to });
      const reached = Array.from({ length: 541 }, (_, m) => m).find((m) => sim.run(m).airAtTargetC >= tset - 1e-9);
      expect(expected).toBeGreaterThan(20);
      expect(Math.abs(reached! - expected)).toBeLessThanOrEqual(1);
    }
  });

  it('cools down exactly like the two-exponential curve stored in the model', () => {
    const house = params.classes.D;
    const curve = coolDownCurve(house);
    const sim = new NightSimulator(house, constant(2), { targetMin: 420, targetTempC: 19, powerKw: 8 });
    for (const minutesAfterOff of [0, 60, 240, 480]) {
      const air = sim.cooledStateAt(-120 + minutesAfterOff).airC;
      expect(cooledAirC(curve, 20, 2, minutesAfterOff)).toBeCloseTo(air, 6);
    }
  });

  it('needs a longer lead when it is colder, the class worse, or the target higher', () => {
    const c = params.classes.C;
    const byTemp = [12, 8, 4, 0, -4].map((t) => truthLead(c, t)!);
    expect(byTemp).toEqual([...byTemp].sort((a, b) => a - b));
    expect(byTemp[0]!).toBeLessThan(byTemp.at(-1)!);
    const byClass = (['A', 'B', 'C', 'D', 'E', 'F', 'G'] as const).map((k) => truthLead(params.classes[k], 4)!);
    expect(byClass).toEqual([...byClass].sort((a, b) => a - b));
    expect(byClass[0]!).toBeLessThan(byClass.at(-1)!);
    const byTarget = [18, 19, 20, 21].map((t) => truthLead(c, 4, t)!);
    expect(byTarget).toEqual([...byTarget].sort((a, b) => a - b));
  });

  it('says infeasible when even 9 h of stove cannot reach the target (class G at -10 °C, 8 kW)', () => {
    expect(truthLead(params.classes.G, -10)).toBeUndefined();
    const ceiling = -10 + 8000 / effectiveH(params.classes.G);
    expect(ceiling).toBeLessThan(19);
  });

  it('never heats the air above the target and counts the energy delivered', () => {
    const sim = new NightSimulator(params.classes.C, constant(4), { targetMin: 420, targetTempC: 19, powerKw: 8 });
    const long = sim.run(300);
    expect(long.airAtTargetC).toBeCloseTo(19, 6);
    expect(long.energyKwh).toBeGreaterThan(0);
    expect(long.energyKwh).toBeLessThan(8 * 5);
    expect(sim.run(0).energyKwh).toBe(0);
  });
});

describe('weather', () => {
  it('reads the NOAA file and builds heating-season nights for both cities', () => {
    const days = loadDailyWeather();
    expect(days).toHaveLength(2922);
    const nights = heatingSeasonNights(days);
    expect(new Set(nights.map((n) => n.location))).toEqual(new Set(['Seattle', 'New York']));
    expect(nights.every((n) => [10, 11, 12, 1, 2, 3, 4].includes(Number(n.date.slice(5, 7))))).toBe(true);
    expect(seasonOf('2014-11-02')).toBe('2014-15');
    expect(seasonOf('2015-03-02')).toBe('2014-15');
  });
  it('puts the daily minimum at 06:00 and the maximum at 15:00', () => {
    const day = { location: 'x', date: '2015-01-02', tMinC: -3, tMaxC: 7 };
    const h = hourlyFromDaily(day, day, day);
    expect(h[6]).toBeCloseTo(-3, 9);
    expect(h[15]).toBeCloseTo(7, 9);
    expect(Math.min(...h)).toBeCloseTo(-3, 9);
    expect(Math.max(...h)).toBeCloseTo(7, 9);
    const night = heatingSeasonNights(loadDailyWeather()).find((n) => n.location === 'New York' && n.date === '2015-01-08')!;
    expect(outdoorAt(night, 6 * 60)).toBeCloseTo(night.hourly[30]!, 9);
  });
});
