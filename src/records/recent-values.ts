/**
 * A memo of the results of a pure function of a cell, for the values a column repeats: meter
 * readings share their timestamps across every meter (N meters, N rows per instant), so an
 * export in no order still meets the same few instants again and again, where a memo of the last
 * value only helps rows in time order. Bounded and self-disabling: at most {@link MAX_ENTRIES}
 * values (cleared when full), and when fewer than a quarter of the last {@link WINDOW} lookups
 * hit (every value new: event logs, unique ids) it stops looking for the next
 * {@link PAUSE} lookups, so a column that does not repeat pays one counter increment a cell.
 */
export class RecentValues<V> {
  private map = new Map<string, V>();
  private lookups = 0;
  private hits = 0;
  private paused = 0;

  /** The memoised result for `key`, or undefined (not memoised, or memo paused). */
  get(key: string): V | undefined {
    if (this.paused > 0) {
      this.paused--;
      return undefined;
    }
    const v = this.map.get(key);
    if (v !== undefined) this.hits++;
    if (++this.lookups === WINDOW) {
      if (this.hits * 4 < WINDOW) {
        this.paused = PAUSE;
        this.map.clear();
      }
      this.lookups = 0;
      this.hits = 0;
    }
    return v;
  }

  /**
   * Remember `value` for `key` (ignored while paused). The key is copied: a cell sliced from a
   * chunk of the source would keep the whole chunk alive as long as the memo holds it.
   */
  set(key: string, value: V): void {
    if (this.paused > 0) return;
    if (this.map.size >= MAX_ENTRIES) this.map.clear();
    this.map.set(detached(key), value);
  }

  /** Remember `key` as its own result (a copy of it, as in {@link set}). */
  setSelf(key: string & V): void {
    if (this.paused > 0) return;
    if (this.map.size >= MAX_ENTRIES) this.map.clear();
    const copy = detached(key);
    this.map.set(copy, copy as string & V);
  }
}

/**
 * A copy of `s` that shares no memory with the string it may have been sliced from (V8 slices
 * strings of 13 characters or more; shorter ones are copies already): for values a memo keeps
 * while the source chunk they were cut from should be freed.
 */
export function detached(s: string): string {
  return s.length < 13 ? s : Buffer.from(s, 'utf8').toString('utf8');
}

/** Most values held. */
export const MAX_ENTRIES = 4096;
/** Lookups between two checks of the hit rate. */
export const WINDOW = 4096;
/** Lookups skipped after a window with too few hits. */
export const PAUSE = 65_536;
