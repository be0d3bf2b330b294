import { isDeepStrictEqual } from 'node:util';
import { readModel, shippedModelFile } from '../../src/model/model-file.js';
import type { LeadModel } from '../../src/model/model-file.js';
import { DPE_CLASSES } from '../../src/model/params.js';
import { predictLead, predictLeadReference, type PredictInput } from '../../src/model/predict.js';
import { mulberry32 } from '../../src/model/synthetic.js';

// The fast default path of the class model (no --indoor) must give exactly the answers of the
// straightforward scan (predictLeadReference: every 5-min lead from 9 h down, every target of the
// 0.5 K grid, every better class): same object, same refusal sentence, same error.

const shipped = readModel(shippedModelFile()) as LeadModel;

type Outcome = { ok: true; value: unknown } | { ok: false; error: string };
const run = (fn: () => unknown): Outcome => {
  try {
    return { ok: true, value: fn() };
  } catch (e) {
    return { ok: false, error: `${(e as Error).name}: ${(e as Error).message}` };
  }
};

function variedInputs(n: number, seed: number): PredictInput[] {
  const rnd = mulberry32(seed);
  const out: PredictInput[] = [];
  for (let i = 0; i < n; i++) {
    const outdoorC = Math.round((-30 + 50 * rnd()) * 10) / 10;
    // half on the 0.5 K grid, half anywhere (the target grid then starts off the half-degree)
    const targetC = rnd() < 0.5 ? 16 + Math.round(12 * rnd()) / 2 : Math.round((16 + 6 * rnd()) * 100) / 100;
    const hh = Math.floor(24 * rnd());
    const mm = Math.floor(60 * rnd());
    const input: PredictInput = {
      dpeClass: DPE_CLASSES[i % DPE_CLASSES.length]!,
      outdoorC,
      targetC,
      at: `${String(hh).padStart(2, '0')}:${String(mm).padStart(2, '0')}`,
      powerKw: Math.round((2.5 + 12.5 * rnd()) * 10) / 10,
    };
    if (i % 3 === 0) input.tempMinC = Math.round((outdoorC - 12 * rnd()) * 10) / 10;
    out.push(input);
  }
  return out;
}

describe('predictLead without --indoor on a class model (fast path)', () => {
  it('is deep-equal to the reference scan on 1,200 varied nights (all classes, -30..20 °C, 16..22 °C, 2.5..15 kW, any time, with and without --temp-min)', () => {
    const inputs = variedInputs(1200, 20261125);
    const mismatches: string[] = [];
    const seen = { feasible: 0, refused: 0, tempMin: 0, classes: new Set<string>() };
    for (const input of inputs) {
      const fast = run(() => predictLead(shipped, input));
      const reference = run(() => predictLeadReference(shipped, input));
      if (!isDeepStrictEqual(fast, reference)) mismatches.push(`${JSON.stringify(input)}: fast ${JSON.stringify(fast)} vs reference ${JSON.stringify(reference)}`);
      if (reference.ok && (reference.value as { feasible: boolean }).feasible) {
        seen.feasible++;
        seen.classes.add(input.dpeClass!);
        if (input.tempMinC !== undefined) seen.tempMin++;
      } else if (reference.ok) seen.refused++;
    }
    expect(mismatches.slice(0, 5)).toEqual([]);
    // the sample covers what it claims: answers in every class, with --temp-min, and refusals
    expect(seen.feasible).toBeGreaterThan(600);
    expect(seen.classes.size).toBe(7);
    expect(seen.tempMin).toBeGreaterThan(160);
    expect(seen.refused).toBeGreaterThan(40);
  }, 600_000); // synchronous, the reference scan dominates: ~30 s under jest (3,000 nights took 75 s; 5 x 3,000 more and 58,800 edge nights were compared outside jest, 0 differences)

  it('is deep-equal on a grid of the bench nights (class D, 07:00, every 0.5 K target)', () => {
    const mismatches: string[] = [];
    let leads = new Set<number>();
    for (const dpeClass of ['D'] as const)
      for (let outdoorC = -8; outdoorC <= 14; outdoorC += 2)
        for (let targetC = 16; targetC <= 22; targetC += 0.5)
          for (const powerKw of [8, 11]) {
            const input: PredictInput = { dpeClass, outdoorC, targetC, powerKw, at: '07:00' };
            const fast = run(() => predictLead(shipped, input));
            const reference = run(() => predictLeadReference(shipped, input));
            if (!isDeepStrictEqual(fast, reference)) mismatches.push(JSON.stringify(input));
            if (reference.ok && (reference.value as { feasible: boolean }).feasible) leads = leads.add((reference.value as { lead_time_min: number }).lead_time_min);
          }
    expect(mismatches.slice(0, 5)).toEqual([]);
    expect(leads.size).toBeGreaterThan(60);
  });

  it('falls back to the reference where its bounds do not hold (a cool-down curve with a negative weight)', () => {
    const odd: LeadModel = JSON.parse(JSON.stringify(shipped));
    odd.cooldown.classes.C = { ...odd.cooldown.classes.C!, w_fast: -0.05, w_slow: 1.05 };
    for (const input of variedInputs(60, 7)) {
      expect(run(() => predictLead(odd, input))).toEqual(run(() => predictLeadReference(odd, input)));
    }
  });
});
