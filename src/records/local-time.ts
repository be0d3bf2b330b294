/**
 * Local (naive) wall-clock times to UTC instants in an IANA time zone, with the platform's time
 * zone database (ICU through `Intl.DateTimeFormat`, full in Node 20): no hand-written offsets.
 *
 * A local time is resolved to every instant whose wall clock in the zone reads that time:
 * - one instant: the usual case;
 * - none: the time falls in a gap (spring forward: `2025-03-30 02:30` does not exist in
 *   Europe/Paris);
 * - two: the time is repeated (fall back: `2025-10-26 02:30` is both +02:00 and +01:00).
 */

/** How one local time resolves in a zone. `utcMs`: milliseconds since the epoch. */
export type LocalResolution = { kind: 'one'; utcMs: number } | { kind: 'gap' } | { kind: 'ambiguous'; earlierMs: number; laterMs: number };

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric', era: 'short' });
    formatters.set(zone, f);
  }
  return f;
}

/**
 * Whether `zone` is an IANA time zone the platform knows (`Europe/Paris`, `UTC`); names are
 * matched as ICU matches them (case-insensitively).
 */
export function isTimeZone(zone: string): boolean {
  if (typeof zone !== 'string' || zone === '') return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** Offset of `zone` from UTC at the instant `utcMs`, in minutes (Paris in winter: 60). */
export function offsetMinutes(zone: string, utcMs: number): number {
  const parts = formatter(zone).formatToParts(new Date(utcMs));
  let y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0, bc = false;
  for (const p of parts) {
    switch (p.type) {
      case 'year': y = +p.value; break;
      case 'month': mo = +p.value; break;
      case 'day': d = +p.value; break;
      case 'hour': h = +p.value; break;
      case 'minute': mi = +p.value; break;
      case 'second': s = +p.value; break;
      case 'era': bc = p.value === 'BC' || p.value === 'B'; break;
    }
  }
  const wall = utcOf(bc ? 1 - y : y, mo, d, h, mi, s);
  return Math.round((wall - Math.floor(utcMs / 1000) * 1000) / 60_000);
}

/** Date.UTC without its 0-99 -> 1900s mapping. */
function utcOf(y: number, mo: number, d: number, h: number, mi: number, s: number): number {
  const t = new Date(0);
  t.setUTCFullYear(y, mo - 1, d);
  t.setUTCHours(h, mi, s, 0);
  return t.getTime();
}

const DAY_MS = 86_400_000;
const cache = new Map<string, LocalResolution>();
const CACHE_MAX = 200_000;

/**
 * Every UTC instant whose wall clock in `zone` reads the local time given (whole seconds; add
 * fractions to the result). Assumes at most one offset change within a day either side, true of
 * every zone in the IANA database. Results are cached per zone and local minute.
 * @param zone an IANA zone (checked with {@link isTimeZone} beforehand)
 */
export function resolveLocalTime(zone: string, year: number, month: number, day: number, hour: number, minute: number, second: number): LocalResolution {
  const key = `${zone}|${year}-${month}-${day} ${hour}:${minute}`;
  let r = cache.get(key);
  if (!r) {
    r = resolveMinute(zone, utcOf(year, month, day, hour, minute, 0));
    if (cache.size >= CACHE_MAX) cache.clear();
    cache.set(key, r);
  }
  if (second === 0) return r;
  const ms = second * 1000;
  return r.kind === 'one' ? { kind: 'one', utcMs: r.utcMs + ms } : r.kind === 'gap' ? r : { kind: 'ambiguous', earlierMs: r.earlierMs + ms, laterMs: r.laterMs + ms };
}

function resolveMinute(zone: string, wall: number): LocalResolution {
  const offsets = new Set([offsetMinutes(zone, wall - DAY_MS), offsetMinutes(zone, wall + DAY_MS), offsetMinutes(zone, wall)]);
  const instants: number[] = [];
  for (const o of offsets) {
    const t = wall - o * 60_000;
    if (offsetMinutes(zone, t) === o && !instants.includes(t)) instants.push(t);
  }
  instants.sort((a, b) => a - b);
  if (instants.length === 0) return { kind: 'gap' };
  if (instants.length === 1) return { kind: 'one', utcMs: instants[0]! };
  return { kind: 'ambiguous', earlierMs: instants[0]!, laterMs: instants.at(-1)! };
}
