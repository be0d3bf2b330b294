/**
 * The memo of repeated cell values (src/records/recent-values.ts) behind the date-time checks:
 * it must never change a result, stay bounded, and get out of the way of columns that do not
 * repeat.
 */
import { describe, expect, test } from '@jest/globals';
import { MAX_ENTRIES, PAUSE, RecentValues, WINDOW } from '../../src/records/recent-values.js';
import { canonicalDateTime } from '../../src/records/canonical.js';
import { isRfc3339DateTime } from '../../src/records/schema.js';

describe('RecentValues', () => {
  test('answers what was set, for a copy of a sliced key too, and holds at most MAX_ENTRIES values', () => {
    const memo = new RecentValues<number>();
    const text = 'x'.repeat(100) + '2025-01-01T00:00:00Z' + 'y'.repeat(100);
    const sliced = text.slice(100, 120);
    memo.set(sliced, 7);
    expect(memo.get('2025-01-01T00:00:00Z')).toBe(7);
    for (let i = 0; i < MAX_ENTRIES + 10; i++) memo.set(`k${i}`, i);
    // cleared when full: the early keys are gone, the last ones answer
    expect(memo.get('k0')).toBeUndefined();
    expect(memo.get(`k${MAX_ENTRIES + 9}`)).toBe(MAX_ENTRIES + 9);
  });

  test('pauses after a window with under a quarter of hits (every value new), then looks again', () => {
    const memo = new RecentValues<number>();
    memo.set('repeated', 1);
    for (let i = 0; i < WINDOW; i++) expect(memo.get(`new-${i}`)).toBeUndefined();
    // paused: even a known value is not looked up, and nothing is remembered
    memo.set('repeated', 1);
    expect(memo.get('repeated')).toBeUndefined();
    for (let i = 1; i < PAUSE; i++) memo.get('x');
    memo.set('repeated', 2);
    expect(memo.get('repeated')).toBe(2);
  });

  test('date-time checks give the same answers in any order, valid or not, repeated or not', () => {
    const instants = Array.from({ length: 300 }, (_, i) => new Date(Date.UTC(2025, 2, 30, 0, 0, 0) + i * 900_000).toISOString().replace('.000Z', i % 3 ? 'Z' : '+00:00'));
    const bad = ['2025-02-30T00:00:00Z', '2025-01-01T24:00:00Z', '2025-01-01', 'x'];
    let state = 5;
    const next = () => ((state = (Math.imul(state, 1103515245) + 12345) >>> 0), state);
    const fresh = (s: string) => Buffer.from(s).toString();
    const reference = new Map<string, string>();
    for (let k = 0; k < 20_000; k++) {
      const v = k % 11 === 0 ? bad[next() % bad.length]! : instants[next() % instants.length]!;
      const valid = isRfc3339DateTime(fresh(v));
      expect(valid).toBe(!bad.includes(v));
      if (!valid) continue;
      const c = canonicalDateTime(fresh(v));
      if (!reference.has(v)) reference.set(v, c as string);
      expect(c).toBe(reference.get(v));
      expect(c).toBe(new Date(v).toISOString().replace('.000Z', 'Z'));
    }
  });
});
