import { KeyLog, KeySet, KeyTracker, crossRangeDuplicates, hash128, logDuplicates, newKeySeed, type KeyTable } from '../../src/ingest/primary-key.js';
import type { CompiledSchema } from '../../src/records/schema.js';

const schemaOf = (primaryKey: string[], types: Record<string, 'string' | 'number' | 'integer' | 'boolean'>, dateTimes: string[] = []) =>
  ({ primaryKey, types: new Map(Object.entries(types)), dateTimes: new Set(dateTimes) }) as unknown as CompiledSchema;

describe('hash128', () => {
  it('depends on every code unit, the length and the seed', () => {
    const seed = [1, 2, 3, 4];
    const h = (s: string, sd: number[] = seed) => {
      const out = new Int32Array(4);
      hash128(s, sd, out);
      return [...out].join(',');
    };
    expect(h('REC-00000001')).toBe(h('REC-00000001'));
    const seen = new Set<string>();
    for (const s of ['', '\0', '\0\0', 'a', 'b', 'REC-00000001', 'REC-00000002', 'REC-0000001', 'REC-00000001\0', 'é', 'e\u0301', '12345678', '123456789']) seen.add(h(s));
    expect(seen.size).toBe(13);
    expect(h('REC-1', [1, 2, 3, 5])).not.toBe(h('REC-1'));
  });
});

describe('KeySet', () => {
  it('grows past its initial size, keeps every first line and finds repeats', () => {
    const set = new KeySet();
    const h = new Int32Array(4);
    const seed = newKeySeed();
    for (let i = 0; i < 50_000; i++) {
      hash128(`k${i}`, seed, h);
      expect(set.add(h, i + 2)).toBe(0);
    }
    expect(set.count).toBe(50_000);
    expect(set.bytes).toBe((1 << 17) /* slots */ * 20);
    for (const i of [0, 4095, 4096, 49_999]) {
      hash128(`k${i}`, seed, h);
      expect(set.add(h, 999_999)).toBe(i + 2);
      expect(set.find(h)).toBe(i + 2);
    }
    hash128('absent', seed, h);
    expect(set.find(h)).toBe(0);
  });

  it('reserves room for an estimate at once, keeping what it holds', () => {
    const set = new KeySet();
    const h = new Int32Array(4);
    hash128('a', [1, 2, 3, 4], h);
    set.add(h, 7);
    set.reserve(1000);
    expect(set.bytes).toBe(4096 * 20);
    set.reserve(1_000_000); // 3/4 full at most: 2^21 slots of 20 bytes = 40 MiB
    expect(set.bytes).toBe(40 * 1024 * 1024);
    expect(set.find(h)).toBe(7);
    expect(set.count).toBe(1);
  });
});

describe('KeyTracker', () => {
  it('reads the key from the output cells by header position; composite keys without ambiguity; empty cells', () => {
    const header = ['note', 'site', 'n', 'ts'];
    const t = new KeyTracker(schemaOf(['site', 'n', 'ts'], { site: 'string', n: 'number', ts: 'string' }, ['ts']), newKeySeed(), undefined, header);
    expect(t.check(['x', 'a', '100', '2025-01-01T08:00:00Z'], 2)).toBeUndefined();
    expect(t.check(['y', 'a', '100', '2025-01-01T08:00:00Z'], 3)).toEqual({ first: 2 }); // other columns do not count
    expect(t.check(['x', 'a1', '00', '2025-01-01T08:00:00Z'], 4)).toBeUndefined(); // not 'a' + '100'
    expect(t.check(['x', 'a', '10', '02025-01-01T08:00:00Z'], 5)).toBeUndefined();
    expect(t.check(['x', '', '10', '2025-01-01T08:00:00Z'], 6)).toEqual({ empty: 'site' });
    expect(t.label).toBe('site, n, ts');
  });

  it('a key column absent from the header makes every key empty', () => {
    const t = new KeyTracker(schemaOf(['id'], { id: 'string' }), newKeySeed(), undefined, ['other']);
    expect(t.check(['v'], 2)).toEqual({ empty: 'id' });
  });
});

describe('crossRangeDuplicates', () => {
  it('finds the rows of a later range whose key an earlier range holds', () => {
    const seed = newKeySeed();
    const schema = schemaOf(['id'], { id: 'string' });
    const range = (ids: [string, number][]) => {
      const t = new KeyTracker(schema, seed, undefined, ['id']);
      for (const [id, line] of ids) t.check([id], line);
      return t.set.table();
    };
    const dups = crossRangeDuplicates([
      range([['a', 2], ['b', 3]]),
      range([['c', 10], ['a', 11]]),
      range([['c', 20], ['b', 21], ['d', 22]]),
    ]);
    expect(dups).toEqual([[], [{ line: 11, first: 2 }], [{ line: 20, first: 10 }, { line: 21, first: 3 }]]);
  });
});

describe('KeyLog and logDuplicates (strict mode: keys logged, duplicates found after the ranges)', () => {
  const seed = newKeySeed();
  const schema = schemaOf(['id'], { id: 'string' });
  const logOf = (ids: [string, number][]) => {
    const t = new KeyTracker(schema, seed, undefined, ['id'], 'log');
    const answers = new Set(ids.map(([id, line]) => t.check([id], line)));
    expect([...answers]).toEqual([undefined]); // never a duplicate inline: found afterwards
    return t.keys();
  };

  it('finds duplicates within a range and across ranges, each with the first line of its key', () => {
    const dups = logDuplicates([
      logOf([['a', 2], ['b', 3], ['a', 4], ['a', 5]]),
      logOf([['c', 10], ['a', 11], ['c', 12]]),
      logOf([['c', 20], ['b', 21], ['d', 22]]),
    ]);
    expect(dups).toEqual([
      [{ line: 4, first: 2 }, { line: 5, first: 2 }],
      [{ line: 11, first: 2 }, { line: 12, first: 10 }],
      [{ line: 20, first: 10 }, { line: 21, first: 3 }],
    ]);
  });

  it('finds the same duplicates as the inline table on 200,000 keys with 1,000 planted repeats', () => {
    const n = 200_000;
    const ids: string[] = [];
    for (let i = 0; i < n; i++) ids.push(i % 200 === 199 ? `id-${(i * 7919) % i}` : `id-${i}`);
    const cut = n / 2;
    const inline = new KeyTracker(schema, seed, undefined, ['id']);
    const expected: { line: number; first: number }[] = [];
    ids.forEach((id, i) => {
      const r = inline.check([id], i + 2);
      if (r && 'first' in r) expected.push({ line: i + 2, first: r.first });
    });
    expect(expected.length).toBe(1000);
    const dups = logDuplicates([logOf(ids.slice(0, cut).map((id, i) => [id, i + 2])), logOf(ids.slice(cut).map((id, i) => [id, cut + i + 2]))]);
    expect(dups.flat()).toEqual(expected);
  });

  it('tells apart keys sharing the first hash word (compares all 128 bits), and sorts by that word unsigned', () => {
    const log = new KeyLog(1);
    const add = (h: number[], line: number) => log.add(Int32Array.from(h), line);
    add([-1, 1, 1, 1], 2);
    add([7, 1, 2, 3], 3);
    add([7, 1, 2, 4], 4); // same first word, another key
    add([0x7fffffff, 0, 0, 0], 5);
    add([7, 1, 2, 3], 6); // duplicate of line 3
    add([-1, 1, 1, 1], 7); // duplicate of line 2
    const sorted: KeyTable = log.sorted();
    const order = [...sorted.order!];
    const words = order.map((i) => sorted.slots[i * 5]! >>> 0);
    expect(words).toEqual([...words].sort((a, b) => a - b));
    expect(order.map((i) => sorted.slots[i * 5 + 4])).toEqual([3, 4, 6, 5, 2, 7]);
    expect(logDuplicates([sorted])).toEqual([[{ line: 6, first: 3 }, { line: 7, first: 2 }]]);
    expect(logDuplicates([new KeyLog().sorted()])).toEqual([[]]);
  });
});
