/**
 * The safety margin of a calibrated house, fitted to the night (`watt train --data`, issue 19):
 * not one factor for every night but one per band of the situation, learned from chronological
 * out-of-fold errors (each night advised by a calibration that never saw it nor any later night).
 *
 * Bands: the raw lead (minutes, the point estimate without margin) and the stove's headroom, how far
 * its steady ceiling T_o + P/H_eff at the night's coldest air (the forecast minimum when known) is
 * above the target (K). Long leads and a ceiling close to the target err more (issue 19: on a leaky
 * house 53 of the 54 training nights whose ratio exceeded 1.2 were nights of 300 min or more).
 *
 * In each band the factor f multiplies (lead + 15) as the class models do; a night is late under f
 * when (raw + 15)·f - 15 < recorded - tolerance, i.e. when f is below its need
 * (recorded - tolerance + 15) / (raw + 15). The factors minimise the minutes added over the
 * out-of-fold nights subject to a late budget (`late_target` of them), allotted greedily to the band
 * where one more late night saves the most minutes; then each factor is raised to the running
 * maximum along longer leads and smaller headroom, so a harder night never gets a shorter advice.
 * Light module (no fitting library): `watt predict` imports it.
 */

/** One out-of-fold night. */
export interface MarginSample {
  /** Raw lead of the calibration that did not see the night (minutes, no margin). */
  raw: number;
  /** Recorded lead (minutes). */
  truth: number;
  /** Ceiling minus target at the night's coldest air (K). */
  headroom: number;
}

/** The banded margin stored in `model.json` (`margin.bands`). */
export interface MarginBands {
  /** Lower edges of the lead bands (minutes, ascending, the first 0). */
  lead_from_min: number[];
  /** Upper edges of the headroom bands (K, descending, the first +∞ written as null). */
  headroom_below_k: (number | null)[];
  /** factor[h][l]: band of headroom h and lead l; non-decreasing along l and along h. */
  factor: number[][];
  /** Out-of-fold nights per band (same shape), for the model card. */
  nights: number[][];
  /** Share of the out-of-fold nights the factors leave late (the budget they were fitted to). */
  late_target: number;
  /** On the out-of-fold nights with these factors: late share and mean added minutes. */
  oof_late_rate: number;
  oof_added_min: number;
  oof_nights: number;
}

/** Lead bands (minutes): short, ~1 h, 2-3 h, 3-5 h, 5 h and more. */
export const LEAD_BANDS_MIN = [0, 60, 120, 180, 300] as const;
/** Headroom bands (K): ample, 8 K, 4 K, 2 K and below. */
export const HEADROOM_BANDS_K = [Number.POSITIVE_INFINITY, 8, 4, 2] as const;
/** Share of out-of-fold nights the factors may leave late: half the 1 % goal, room for what the folds did not see. */
export const MARGIN_LATE_TARGET = 0.005;
/** A band with fewer out-of-fold nights borrows its neighbours' factor (running maxima) rather than its own few needs. */
export const MIN_BAND_NIGHTS = 12;
/** Offset of the multiplicative margin (minutes): (lead + 15)·factor - 15. */
export const BAND_OFFSET_MIN = 15;
/** The largest factor a band may carry: beyond it the night is answered plainly (keep the stove on low). */
export const MAX_BAND_FACTOR = 3;

/** Index of the band of `value` among ascending lower edges. */
function leadBand(edges: readonly number[], raw: number): number {
  let b = 0;
  for (let i = 1; i < edges.length; i++) if (raw >= edges[i]!) b = i;
  return b;
}

/** Index of the band of `headroom` among descending upper edges (null = +∞). */
function headroomBand(edges: readonly (number | null)[], headroom: number): number {
  let b = 0;
  for (let i = 1; i < edges.length; i++) if (headroom < (edges[i] ?? Number.POSITIVE_INFINITY)) b = i;
  return b;
}

/** The factor of the band a night falls in. */
export function bandFactor(bands: MarginBands, rawLeadMin: number, headroomK: number): number {
  return bands.factor[headroomBand(bands.headroom_below_k, headroomK)]![leadBand(bands.lead_from_min, rawLeadMin)]!;
}

/**
 * Fit the banded margin on out-of-fold nights.
 * @param tolMin the lateness tolerance (minutes): a night is late when the advice is more than this short.
 */
export function fitMarginBands(samples: readonly MarginSample[], tolMin: number, lateTarget = MARGIN_LATE_TARGET): MarginBands {
  const leads = [...LEAD_BANDS_MIN];
  const heads = HEADROOM_BANDS_K.map((h) => (Number.isFinite(h) ? h : null));
  const H = heads.length;
  const L = leads.length;
  const cells: { need: number[]; base: number[] }[] = Array.from({ length: H * L }, () => ({ need: [], base: [] }));
  const usable = samples.filter((s) => s.truth > 0 && Number.isFinite(s.raw) && s.raw >= 0);
  for (const s of usable) {
    const c = cells[headroomBand(heads, s.headroom) * L + leadBand(leads, s.raw)]!;
    c.need.push((s.truth - tolMin + BAND_OFFSET_MIN) / (s.raw + BAND_OFFSET_MIN));
    c.base.push(s.raw + BAND_OFFSET_MIN);
  }
  // needs sorted descending; allowed late nights per band
  for (const c of cells) {
    const order = c.need.map((_, i) => i).sort((a, b) => c.need[b]! - c.need[a]!);
    c.need = order.map((i) => c.need[i]!);
    c.base = order.map((i) => c.base[i]!);
  }
  const baseSum = cells.map((c) => c.base.reduce((a, b) => a + b, 0));
  const factorAt = (c: { need: number[] }, k: number) => (k >= c.need.length ? 1 : Math.min(MAX_BAND_FACTOR, Math.max(1, c.need[k]!)));
  const cost = (i: number, k: number) => baseSum[i]! * (factorAt(cells[i]!, k) - 1);
  const allowed = new Array<number>(H * L).fill(0);
  // sparse bands take no late night of their own: their factor comes from the running maxima
  const sparse = cells.map((c) => c.need.length < MIN_BAND_NIGHTS);
  let budget = Math.floor(lateTarget * usable.length);
  while (budget > 0) {
    let best = -1;
    let gain = 0;
    for (let i = 0; i < cells.length; i++) {
      if (sparse[i] || allowed[i]! >= cells[i]!.need.length) continue;
      const g = cost(i, allowed[i]!) - cost(i, allowed[i]! + 1);
      if (g > gain) {
        gain = g;
        best = i;
      }
    }
    if (best < 0) break;
    allowed[best]!++;
    budget--;
  }
  const factor: number[][] = [];
  const nights: number[][] = [];
  // a sparse band starts from the pooled factor of its headroom row (all leads), at the same budget share
  for (let h = 0; h < H; h++) {
    const rowNeeds = cells.slice(h * L, h * L + L).flatMap((c) => c.need).sort((a, b) => b - a);
    const pooled = factorAt({ need: rowNeeds }, Math.floor(lateTarget * rowNeeds.length));
    factor.push(leads.map((_, l) => (sparse[h * L + l] ? (cells[h * L + l]!.need.length ? pooled : 1) : factorAt(cells[h * L + l]!, allowed[h * L + l]!))));
    nights.push(leads.map((_, l) => cells[h * L + l]!.need.length));
  }
  // running maxima: longer lead, then smaller headroom
  for (let h = 0; h < H; h++) for (let l = 1; l < L; l++) factor[h]![l] = Math.max(factor[h]![l]!, factor[h]![l - 1]!);
  for (let h = 1; h < H; h++) for (let l = 0; l < L; l++) factor[h]![l] = Math.max(factor[h]![l]!, factor[h - 1]![l]!);
  const bands: MarginBands = {
    lead_from_min: leads,
    headroom_below_k: heads,
    // rounded up: a rounded-down factor would leave the night that set it late
    factor: factor.map((row) => row.map((f) => Math.ceil(f * 1e4 - 1e-9) / 1e4)),
    nights,
    late_target: lateTarget,
    oof_late_rate: 0,
    oof_added_min: 0,
    oof_nights: usable.length,
  };
  let late = 0;
  let added = 0;
  for (const s of usable) {
    const f = bandFactor(bands, s.raw, s.headroom);
    const advised = (s.raw + BAND_OFFSET_MIN) * f - BAND_OFFSET_MIN;
    added += advised - s.raw;
    if (advised < s.truth - tolMin) late++;
  }
  bands.oof_late_rate = usable.length ? Math.round((late / usable.length) * 1e4) / 1e4 : 0;
  bands.oof_added_min = usable.length ? Math.round((added / usable.length) * 100) / 100 : 0;
  return bands;
}
