import { randomFillSync } from 'node:crypto';
import type { CompiledSchema } from '../records/schema.js';

/**
 * Primary key of a run (issue 11, item 5): the schema's `"x-primary-key": ["record_id"]` names
 * the columns whose values together identify a row (as Frictionless Table Schema's
 * `primaryKey`). Within one run, a row whose key equals an earlier row's is a rejected row
 * ("line 12: record_id duplicates line 3"): strict mode fails the run, `--quarantine` lands the
 * first occurrence and sets the later ones aside with both line numbers. A key cell may not be
 * empty (a primary key is never null, as in SQL and Frictionless).
 *
 * Memory stays bounded whatever the row count: keys are never held as strings. Each key is
 * reduced to a 128-bit hash (MurmurHash3 x86_128's mixing over the UTF-16 code units of the
 * canonical key cells, with a random 128-bit seed per run: one 32-bit word per lane) and kept
 * with its line number in an open-addressing table (one Int32Array): 20 bytes a slot, at most 3/4
 * full, so 1M distinct keys take 2^21 slots = 40 MiB, and half a million (one of two worker
 * ranges) 20 MiB. The typed arrays live outside the V8 heap, so the workers' 64 MiB heap cap does
 * not bind them (`npm run bench:primary-key`, docs/benchmarks.md).
 *
 * Collision odds: two distinct keys among n share a 128-bit hash with probability about
 * n² / 2^129: 1.5e-27 for 1M rows, 1.5e-21 for 1 billion. A collision would reject a row as a
 * duplicate (loud: in the error or the quarantine file with both line numbers), never land a
 * duplicate. MurmurHash3 is not a cryptographic hash: a file crafted against its mixing (the
 * random seed makes this harder, not impossible) could at worst get rows rejected, never accepted.
 *
 * Cells compare as the row's output cells: personal columns by the pseudonym of their canonical
 * identifier (NFC, trimmed), numbers by their canonical decimal (`1e2` = `100` = `100.0`),
 * integers exactly (`0100` = `100`, also beyond 2^53), booleans `TRUE` = `true`, `date-time`
 * columns by instant (`2025-01-01T09:00:00+01:00` = `2025-01-01T08:00:00Z`): records/canonical.ts.
 * Other strings exactly.
 */

/** Line numbers (1-based, header is line 1) are >= 2, so 0 marks an empty slot. */
const EMPTY = 0;
/** Initial slots of a table (grows by doubling). */
const INITIAL_SLOTS = 1 << 12;

/** A run's hash seed: four random 32-bit words, the same for every range of the run. */
export function newKeySeed(): number[] {
  return [...randomFillSync(new Uint32Array(4))];
}

/**
 * The table of a range as it crosses threads: 5 words a slot, the 128-bit hash then the line
 * number of the first row with that key (0: empty slot), side by side so that a probe touches
 * one cache line. Plain data (transferable).
 */
export interface KeyTable {
  slots: Int32Array;
  count: number;
  /**
   * A {@link KeyLog} sorted by {@link KeyLog.sorted}: `slots` holds `count` entries of 5 words
   * (hash, line) in line order, `order` their indexes in order of the first hash word
   * (unsigned), ties in line order, and `words` those first words in that order (a duplicate
   * search reads them sequentially). Unset: an open-addressing {@link KeySet} table.
   */
  order?: Uint32Array;
  words?: Uint32Array;
}

/** Words per slot: 4 of hash, 1 of line. */
const SLOT = 5;

/** Open-addressing (linear probing) set of 128-bit hashes, each with a line number (< 2^31). */
export class KeySet {
  private slots: Int32Array;
  private mask: number;
  count = 0;

  constructor(table?: KeyTable) {
    this.slots = table?.slots ?? new Int32Array(INITIAL_SLOTS * SLOT);
    this.count = table?.count ?? 0;
    this.mask = this.slots.length / SLOT - 1;
  }

  /** Bytes held by the table (20 a slot). */
  get bytes(): number {
    return this.slots.byteLength;
  }

  /** The line of an earlier key with hash `h`, or 0. */
  find(h: Int32Array): number {
    const { slots, mask } = this;
    const h0 = h[0]!;
    for (let i = h0 & mask; ; i = (i + 1) & mask) {
      const o = i * SLOT;
      const line = slots[o + 4]!;
      if (line === EMPTY) return 0;
      if (slots[o] === h0 && slots[o + 1] === h[1] && slots[o + 2] === h[2] && slots[o + 3] === h[3]) return line;
    }
  }

  /** Add hash `h` at `line` unless present; returns the line it was first seen at, or 0 when added. */
  add(h: Int32Array, line: number): number {
    if ((this.count + 1) * 4 > (this.mask + 1) * 3) this.grow();
    const { slots, mask } = this;
    const h0 = h[0]!;
    for (let i = h0 & mask; ; i = (i + 1) & mask) {
      const o = i * SLOT;
      const at = slots[o + 4]!;
      if (at === EMPTY) {
        slots[o] = h0;
        slots[o + 1] = h[1]!;
        slots[o + 2] = h[2]!;
        slots[o + 3] = h[3]!;
        slots[o + 4] = line;
        this.count++;
        return 0;
      }
      if (slots[o] === h0 && slots[o + 1] === h[1] && slots[o + 2] === h[2] && slots[o + 3] === h[3]) return at;
    }
  }

  /** Every (hash, line) held, in slot order (`hash` is reused between entries). */
  *entries(): Generator<{ hash: Int32Array; line: number }> {
    const h = new Int32Array(4);
    const slots = this.slots;
    for (let o = 0; o < slots.length; o += SLOT) {
      const line = slots[o + 4]!;
      if (line === EMPTY) continue;
      h.set(slots.subarray(o, o + 4));
      yield { hash: h, line };
    }
  }

  /** The table as plain data, to transfer to another thread. */
  table(): KeyTable {
    return { slots: this.slots, count: this.count };
  }

  /**
   * Make room for `n` entries at once (one rehash instead of several doublings, and no old and
   * new table of every size side by side). Never shrinks.
   */
  reserve(n: number): void {
    let slots = this.mask + 1;
    while (n * 4 > slots * 3) slots *= 2;
    if (slots > this.mask + 1) this.grow(slots);
  }

  private grow(slotCount = (this.mask + 1) * 2): void {
    const old = this.slots;
    this.slots = new Int32Array(slotCount * SLOT);
    this.mask = this.slots.length / SLOT - 1;
    this.count = 0;
    const h = new Int32Array(4);
    for (let o = 0; o < old.length; o += SLOT) {
      if (old[o + 4] === EMPTY) continue;
      h.set(old.subarray(o, o + 4));
      this.add(h, old[o + 4]!);
    }
  }
}

/**
 * The keys of a range in strict mode: each valid row's 128-bit key hash and line appended in
 * line order (5 words an entry, one typed array, written sequentially), sorted once at the end
 * and searched for duplicates by {@link logDuplicates}. A probe of a {@link KeySet} misses the
 * cache on every row once the table outgrows it (20 MiB for half a million keys); appending and
 * one radix sort do not, and the log takes half the table's memory (no empty slots).
 * Strict mode can find duplicates after the fact because a duplicate fails the whole run anyway;
 * `--quarantine` must leave them out of the output as it goes, so it keeps the {@link KeySet}.
 */
export class KeyLog {
  private words: Int32Array;
  count = 0;

  constructor(capacity = 4096) {
    this.words = new Int32Array(capacity * SLOT);
  }

  /** Bytes held. */
  get bytes(): number {
    return this.words.byteLength;
  }

  /** Make room for `n` entries at once (never shrinks). */
  reserve(n: number): void {
    if (n * SLOT > this.words.length) this.resize(n);
  }

  /** Append the hash `h` of the row at `line` (lines in increasing order). */
  add(h: Int32Array, line: number): void {
    const o = this.count * SLOT;
    if (o + SLOT > this.words.length) this.resize(this.count * 2);
    const w = this.words;
    w[o] = h[0]!;
    w[o + 1] = h[1]!;
    w[o + 2] = h[2]!;
    w[o + 3] = h[3]!;
    w[o + 4] = line;
    this.count++;
  }

  private resize(entries: number): void {
    const words = new Int32Array(Math.max(entries, 16) * SLOT);
    words.set(this.words.subarray(0, this.count * SLOT));
    this.words = words;
  }

  /**
   * The entries and their order by first hash word (unsigned), ties in line order: a stable LSD
   * radix sort of indexes in two passes of 16 bits, O(n); the entries are not moved. The log is
   * emptied.
   */
  sorted(): KeyTable {
    const n = this.count;
    const w = this.words;
    // The first words, read once from the entries into a contiguous array (the sort's keys).
    const words = new Uint32Array(n);
    for (let i = 0; i < n; i++) words[i] = w[i * SLOT]!;
    const low = new Uint32Array(1 << 16);
    const high = new Uint32Array(1 << 16);
    for (let i = 0; i < n; i++) {
      const k = words[i]!;
      low[k & 0xffff]!++;
      high[k >>> 16]!++;
    }
    prefixSums(low);
    prefixSums(high);
    // Pass 1: by the low 16 bits, entries in line order.
    const keys = new Uint32Array(n);
    const index = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      const k = words[i]!;
      const at = low[k & 0xffff]!++;
      keys[at] = k;
      index[at] = i;
    }
    // Pass 2: by the high 16 bits, stable: ties keep line order.
    const order = new Uint32Array(n);
    for (let j = 0; j < n; j++) {
      const k = keys[j]!;
      const at = high[k >>> 16]!++;
      words[at] = k;
      order[at] = index[j]!;
    }
    this.words = new Int32Array(0);
    this.count = 0;
    return { slots: w, count: n, order, words };
  }
}

/** Exclusive prefix sums in place. */
function prefixSums(counts: Uint32Array): void {
  let sum = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i]!;
    counts[i] = sum;
    sum += c;
  }
}

/**
 * Every duplicate key of a run from its ranges' sorted logs (range order = line order): within a
 * range and across ranges. The first occurrence of a key is its lowest line; every later row with
 * the same 128-bit hash is a duplicate of it. A merge of the sorted logs on the first hash word,
 * then the full hash compared inside the (rare) groups sharing that word: O(total rows).
 * @param logs per range, a {@link KeyLog.sorted} table
 * @returns per range, its duplicate rows sorted by line
 */
export function logDuplicates(logs: KeyTable[]): Duplicate[][] {
  const out: Duplicate[][] = logs.map(() => []);
  // Every range's first words merged in order (ties: earlier range first), with a reference to
  // each entry: range r's j-th sorted entry is `starts[r] + j`.
  const starts: number[] = [];
  let total = 0;
  for (const l of logs) {
    starts.push(total);
    total += l.count;
  }
  let words = logs[0]?.words ?? new Uint32Array(0);
  let refs = new Uint32Array(words.length);
  for (let j = 0; j < refs.length; j++) refs[j] = j;
  for (let r = 1; r < logs.length; r++) {
    const other = logs[r]!.words!;
    const mergedWords = new Uint32Array(words.length + other.length);
    const mergedRefs = new Uint32Array(mergedWords.length);
    let a = 0;
    let b = 0;
    let k = 0;
    while (a < words.length && b < other.length) {
      if (words[a]! <= other[b]!) {
        mergedWords[k] = words[a]!;
        mergedRefs[k++] = refs[a++]!;
      } else {
        mergedWords[k] = other[b]!;
        mergedRefs[k++] = starts[r]! + b++;
      }
    }
    for (; a < words.length; a++, k++) {
      mergedWords[k] = words[a]!;
      mergedRefs[k] = refs[a]!;
    }
    for (; b < other.length; b++, k++) {
      mergedWords[k] = other[b]!;
      mergedRefs[k] = starts[r]! + b;
    }
    words = mergedWords;
    refs = mergedRefs;
  }
  /** Range and word offset of a merged entry. */
  const entry = (ref: number) => {
    let r = logs.length - 1;
    while (starts[r]! > ref) r--;
    return { r, o: logs[r]!.order![ref - starts[r]!]! * SLOT };
  };
  for (let i = 0; i + 1 < total; i++) {
    if (words[i] !== words[i + 1]) continue;
    // A (rare) group of entries sharing the first word: ranges in order, lines increasing within
    // each, so the group is in line order; compare the full 128 bits.
    let end = i + 1;
    while (end + 1 < total && words[end + 1] === words[i]) end++;
    const group: { r: number; o: number }[] = [];
    for (let g = i; g <= end; g++) group.push(entry(refs[g]!));
    for (let x = 1; x < group.length; x++) {
      const gi = group[x]!;
      const si = logs[gi.r]!.slots;
      for (let y = 0; y < x; y++) {
        const gj = group[y]!;
        const sj = logs[gj.r]!.slots;
        if (si[gi.o + 1] === sj[gj.o + 1] && si[gi.o + 2] === sj[gj.o + 2] && si[gi.o + 3] === sj[gj.o + 3]) {
          out[gi.r]!.push({ line: si[gi.o + 4]!, first: sj[gj.o + 4]! });
          break;
        }
      }
    }
    i = end;
  }
  for (const dups of out) dups.sort((x, y) => x.line - y.line);
  return out;
}

const C1 = 0x239b961b;
const C2 = 0xab0e9789 | 0;
const C3 = 0x38b34ae5;
const C4 = 0xa1e38b93 | 0;

function rotl(x: number, r: number): number {
  return (x << r) | (x >>> (32 - r));
}

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/**
 * 128-bit hash of a string into `out` (4 words): MurmurHash3 x86_128's block mixing and
 * finalisation (Austin Appleby, public domain) over UTF-16 code units, two per 32-bit word,
 * each lane seeded with its own word of `seed`. About 50 ns for a 12-character key.
 */
export function hash128(s: string, seed: ArrayLike<number>, out: Int32Array): void {
  let h1 = seed[0]! | 0;
  let h2 = seed[1]! | 0;
  let h3 = seed[2]! | 0;
  let h4 = seed[3]! | 0;
  const n = s.length;
  const blocks = n - (n % 8);
  let i = 0;
  for (; i < blocks; i += 8) {
    let k1 = s.charCodeAt(i) | (s.charCodeAt(i + 1) << 16);
    let k2 = s.charCodeAt(i + 2) | (s.charCodeAt(i + 3) << 16);
    let k3 = s.charCodeAt(i + 4) | (s.charCodeAt(i + 5) << 16);
    let k4 = s.charCodeAt(i + 6) | (s.charCodeAt(i + 7) << 16);
    k1 = Math.imul(rotl(Math.imul(k1, C1), 15), C2);
    h1 ^= k1;
    h1 = (Math.imul((rotl(h1, 19) + h2) | 0, 5) + 0x561ccd1b) | 0;
    k2 = Math.imul(rotl(Math.imul(k2, C2), 16), C3);
    h2 ^= k2;
    h2 = (Math.imul((rotl(h2, 17) + h3) | 0, 5) + 0x0bcaa747) | 0;
    k3 = Math.imul(rotl(Math.imul(k3, C3), 17), C4);
    h3 ^= k3;
    h3 = (Math.imul((rotl(h3, 15) + h4) | 0, 5) + 0x96cd1c35) | 0;
    k4 = Math.imul(rotl(Math.imul(k4, C4), 18), C1);
    h4 ^= k4;
    h4 = (Math.imul((rotl(h4, 13) + h1) | 0, 5) + 0x32ac3b17) | 0;
  }
  if (i < n) {
    // The last 1-7 code units, zero-padded (charCodeAt past the end is NaN, and NaN | 0 is 0).
    h4 ^= Math.imul(rotl(Math.imul((s.charCodeAt(i + 6) | 0) | ((s.charCodeAt(i + 7) | 0) << 16), C4), 18), C1);
    h3 ^= Math.imul(rotl(Math.imul((s.charCodeAt(i + 4) | 0) | ((s.charCodeAt(i + 5) | 0) << 16), C3), 17), C4);
    h2 ^= Math.imul(rotl(Math.imul((s.charCodeAt(i + 2) | 0) | ((s.charCodeAt(i + 3) | 0) << 16), C2), 16), C3);
    h1 ^= Math.imul(rotl(Math.imul((s.charCodeAt(i) | 0) | ((s.charCodeAt(i + 1) | 0) << 16), C1), 15), C2);
  }
  const len = n * 2;
  h1 ^= len;
  h2 ^= len;
  h3 ^= len;
  h4 ^= len;
  h1 = (h1 + h2 + h3 + h4) | 0;
  h2 = (h2 + h1) | 0;
  h3 = (h3 + h1) | 0;
  h4 = (h4 + h1) | 0;
  h1 = fmix(h1);
  h2 = fmix(h2);
  h3 = fmix(h3);
  h4 = fmix(h4);
  h1 = (h1 + h2 + h3 + h4) | 0;
  out[0] = h1;
  out[1] = (h2 + h1) | 0;
  out[2] = (h3 + h1) | 0;
  out[3] = (h4 + h1) | 0;
}

/** One rejected duplicate: the later line, and the line of the first occurrence. */
export interface Duplicate {
  line: number;
  first: number;
}

/**
 * Lines of a range known beforehand to duplicate a key of an earlier range (found when the
 * ranges' tables were merged): sorted by `lines`, `firsts` aligned. Plain data (transferable).
 */
export interface KnownDuplicates {
  lines: Uint32Array;
  firsts: Uint32Array;
}

/**
 * Checks the primary key of each valid row of one range, in line order. Holds the range's
 * {@link KeySet} and, when re-run after a merge, the lines to reject as duplicates of earlier ranges.
 */
export class KeyTracker {
  /** Inline duplicate search (`--quarantine` and re-runs): duplicates are rejected as they come. */
  readonly set = new KeySet();
  /** Strict mode: keys logged, duplicates found after the range by {@link logDuplicates}. */
  readonly log: KeyLog | undefined;
  /** Key columns: name and index in the records checked. */
  private readonly cols: { name: string; index: number }[];
  private readonly hash = new Int32Array(4);
  private next = 0;

  /**
   * @param header the columns of the records passed to {@link check}, in order (every key column
   * is in it: the header check requires the schema's required columns, and a key column missing
   * from a file makes every row's key empty)
   */
  constructor(
    schema: CompiledSchema,
    private readonly seed: ArrayLike<number>,
    private readonly known: KnownDuplicates | undefined,
    header: string[],
    mode: 'table' | 'log' = 'table',
  ) {
    this.cols = schema.primaryKey.map((name) => ({ name, index: header.indexOf(name) }));
    if (mode === 'log' && !known) this.log = new KeyLog();
  }

  /**
   * Size the table for the whole range once `rows` rows have been read from `bytesRead` of its
   * `totalBytes` bytes: the estimate plus a quarter (bytes read run ahead of rows parsed, so the
   * estimate is low rather than high). Call once, early (e.g. after 10,000 rows).
   */
  reserveFor(rows: number, bytesRead: number, totalBytes: number): void {
    if (bytesRead <= 0) return;
    const estimate = Math.ceil((rows * totalBytes * 1.25) / bytesRead);
    if (this.log) this.log.reserve(estimate);
    else this.set.reserve(estimate);
  }

  /** The range's keys for the caller: the sorted log (strict mode) or the table. */
  keys(): KeyTable {
    return this.log ? this.log.sorted() : this.set.table();
  }

  /** Columns of the key, for messages (column names, never values). */
  get label(): string {
    return this.cols.map((c) => c.name).join(', ');
  }

  /**
   * Check the key of a valid row found at `line`, read from its output cells: canonical values
   * (records/canonical.ts: one spelling per instant, exact integers beyond 2^53, plain decimals)
   * and pseudonyms of canonical identifiers, so that equal keys are equal strings and raw personal
   * identifiers never enter the table.
   * @returns undefined when its key is new (or, in log mode, always unless empty: duplicates are
   * found after the range); the first line holding the same key; or 'empty' with the column when
   * a key cell is empty.
   */
  check(record: readonly string[], line: number): { first: number } | { empty: string } | undefined {
    let key = '';
    const single = this.cols.length === 1;
    for (const c of this.cols) {
      const cell = c.index >= 0 ? record[c.index]! : '';
      if (cell === '') return { empty: c.name };
      key = single ? cell : key + cell.length + ':' + cell;
    }
    hash128(key, this.seed, this.hash);
    if (this.log) {
      this.log.add(this.hash, line);
      return undefined;
    }
    const known = this.known;
    if (known) {
      while (this.next < known.lines.length && known.lines[this.next]! < line) this.next++;
      if (this.next < known.lines.length && known.lines[this.next] === line) {
        // Still recorded: a later row of this range with the same key duplicates this one.
        this.set.add(this.hash, line);
        return { first: known.firsts[this.next]! };
      }
    }
    const first = this.set.add(this.hash, line);
    return first ? { first } : undefined;
  }
}

/**
 * Duplicates across ranges: for each range after the first, the rows whose key some earlier
 * range already holds (`tables[i]` is range i's table, first occurrences of its own rows only).
 * Builds on range 0's table in place (no copy) and adds the later ones to it, except the last.
 * @returns per range, the duplicates sorted by line (empty for range 0).
 */
export function crossRangeDuplicates(tables: KeyTable[]): Duplicate[][] {
  const out: Duplicate[][] = tables.map(() => []);
  if (tables.length < 2) return out;
  const union = new KeySet(tables[0]);
  for (let r = 1; r < tables.length; r++) {
    const last = r === tables.length - 1;
    for (const { hash, line } of new KeySet(tables[r]).entries()) {
      const first = last ? union.find(hash) : union.add(hash, line);
      if (first) out[r]!.push({ line, first });
    }
    out[r]!.sort((a, b) => a.line - b.line);
  }
  return out;
}

/** Duplicates as the typed arrays a re-run range takes. */
export function knownDuplicates(dups: Duplicate[]): KnownDuplicates {
  return { lines: Uint32Array.from(dups, (d) => d.line), firsts: Uint32Array.from(dups, (d) => d.first) };
}

/** The rejection reason of a duplicate row: names the key columns and the first line, never a value. */
export function duplicateReason(label: string, first: number): string {
  return `${label} duplicates line ${first}`;
}

/** What {@link settleDuplicates} needs of a range's outcome (transform.ts RangeOutcome). */
interface RangeCounts {
  rows: number;
  rejected: number;
  errors: { line: number; column: string | null; reason: string; duplicate_of?: number }[];
  keys?: KeyTable;
}

/**
 * After the ranges of a run are transformed in parallel, find the rows whose key an earlier row
 * holds. Strict (no quarantine): the ranges' sorted {@link KeyLog}s give every duplicate, within
 * and across ranges, counted as rejected rows with both line numbers (the run then fails, nothing
 * written); ranges checked inline (tables) give the cross-range ones. Quarantine: each range holding
 * such rows is transformed again by `rerun` with those lines known, which sets them aside in its
 * rejects file and leaves them out of its output (paid only when a cross-range duplicate exists).
 * @returns the outcomes, with the re-run ranges' replaced; the key tables are dropped.
 */
export async function settleDuplicates<T extends RangeCounts>(
  outcomes: T[],
  label: string,
  quarantine: boolean,
  errorsKept: number,
  rerun: (range: number, known: KnownDuplicates) => Promise<T>,
): Promise<T[]> {
  const tables = outcomes.map((o) => o.keys);
  for (const o of outcomes) delete o.keys;
  if (tables.some((t) => !t)) return outcomes;
  const out = [...outcomes];
  const reject = (o: T, found: Duplicate[]) => {
    o.rows -= found.length;
    o.rejected += found.length;
    const added = found.slice(0, errorsKept).map((d) => ({ line: d.line, column: null, reason: duplicateReason(label, d.first), duplicate_of: d.first }));
    o.errors = [...o.errors, ...added].sort((a, b) => a.line - b.line).slice(0, errorsKept);
  };
  if (tables[0]!.order) {
    // Strict mode's logs: every duplicate, within a range and across ranges (the run fails).
    if (quarantine) throw new Error('key logs are for strict mode: --quarantine checks keys inline');
    const dups = logDuplicates(tables as KeyTable[]);
    for (let r = 0; r < out.length; r++) if (dups[r]!.length) reject(out[r]!, dups[r]!);
    return out;
  }
  if (outcomes.length < 2) return outcomes;
  const dups = crossRangeDuplicates(tables as KeyTable[]);
  for (let r = 1; r < out.length; r++) {
    const found = dups[r]!;
    if (!found.length) continue;
    if (quarantine) {
      out[r] = await rerun(r, knownDuplicates(found));
      delete out[r]!.keys;
      continue;
    }
    reject(out[r]!, found);
  }
  return out;
}
