/**
 * Small numeric helpers shared by the class-model fit (fit.ts) and the house calibration
 * (house-train.ts). Dependency-free on purpose: house-train must not load ml-regression.
 */

/** Round to `digits` significant digits (default 12): the JSON stays short and the same on every machine. */
export function sig(x: number, digits = 12): number {
  return Number(x.toPrecision(digits));
}

/** Nearest-rank quantile of a sorted array (q in (0, 1]); NaN for an empty array. */
export function quantileSorted(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/**
 * Smallest and largest value of `pick` over `items`, each rounded with {@link sig} to `digits`.
 * @returns `[lo, hi]`, or `[Infinity, -Infinity]` for no items.
 */
export function valueRange<T>(items: Iterable<T>, pick: (item: T) => number, digits = 12): [number, number] {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const item of items) {
    const v = pick(item);
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [sig(lo, digits), sig(hi, digits)];
}
