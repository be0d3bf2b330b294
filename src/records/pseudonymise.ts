import { createHmac, randomBytes } from 'node:crypto';
import path from 'node:path';
import { mkdirSync, openSync, writeSync, closeSync, readFileSync, chmodSync } from 'node:fs';
import { UsageError } from '../errors.js';
import { detached } from './recent-values.js';

/** Minimum key length, in characters (bytes of UTF-8): 32, i.e. 256 bits as hex would be 64. */
export const MIN_KEY_LENGTH = 32;

/** Where a pseudonymisation key came from (never the key itself). */
export interface PseudonymisationKey {
  key: Buffer;
  source: 'env' | 'file' | 'generated';
  /** Key file path when source is file or generated. */
  file?: string;
}

/**
 * The secret key of pseudonymisation (GDPR Art. 4(5): "additional information kept separately").
 * Order: WATT_PSEUDONYMISATION_KEY, else `<home>/pseudonymisation.key`, else a new random 256-bit
 * key written there once with mode 0600 (source `generated`: the caller warns).
 * @throws UsageError if the configured key is shorter than {@link MIN_KEY_LENGTH} characters.
 */
export function loadPseudonymisationKey(home: string, env: Record<string, string | undefined> = process.env): PseudonymisationKey {
  return findPseudonymisationKey(home, env) ?? generatePseudonymisationKey(home);
}

/**
 * The configured key, without ever creating one: WATT_PSEUDONYMISATION_KEY, else
 * `<home>/pseudonymisation.key` if it exists, else undefined.
 * @throws UsageError if the configured key is shorter than {@link MIN_KEY_LENGTH} characters.
 */
export function findPseudonymisationKey(home: string, env: Record<string, string | undefined> = process.env): PseudonymisationKey | undefined {
  const fromEnv = env.WATT_PSEUDONYMISATION_KEY;
  if (fromEnv !== undefined && fromEnv !== '') {
    if (fromEnv.length < MIN_KEY_LENGTH) {
      throw new UsageError(`WATT_PSEUDONYMISATION_KEY is too short (${fromEnv.length} characters, needs >= ${MIN_KEY_LENGTH})`, {
        hint: 'generate one with: openssl rand -hex 32',
      });
    }
    return { key: Buffer.from(fromEnv, 'utf8'), source: 'env' };
  }
  const file = path.join(home, 'pseudonymisation.key');
  let text: string;
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new UsageError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code}`);
  }
  if (text.length < MIN_KEY_LENGTH) throw new UsageError(`${file} holds a key shorter than ${MIN_KEY_LENGTH} characters`);
  return { key: Buffer.from(text, 'utf8'), source: 'file', file };
}

/**
 * Create `<home>/pseudonymisation.key`: a random 256-bit key as 64 hex characters, mode 0600, with
 * O_EXCL (if another process created it first, that key is read and returned with source `file`).
 * Only for a first run into an empty lake: a lake that holds data keeps the key it was made with.
 * @throws UsageError if the file cannot be created or read.
 */
export function generatePseudonymisationKey(home: string): PseudonymisationKey {
  const file = path.join(home, 'pseudonymisation.key');
  mkdirSync(home, { recursive: true, mode: 0o700 });
  try {
    const fd = openSync(file, 'wx', 0o600);
    const hex = randomBytes(32).toString('hex');
    writeSync(fd, hex + '\n');
    closeSync(fd);
    chmodSync(file, 0o600);
    return { key: Buffer.from(hex, 'utf8'), source: 'generated', file };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new UsageError(`cannot create ${file}: ${(err as NodeJS.ErrnoException).code}`);
  }
  const found = findPseudonymisationKey(home, {});
  if (!found) throw new UsageError(`cannot read ${file}`);
  return found;
}

/** Length of a key id, in hex characters (64 bits: enough to tell keys apart, useless to guess one). */
export const KEY_ID_LENGTH = 16;

/**
 * The key id: a short, non-reversible fingerprint of a pseudonymisation key,
 * HMAC-SHA256(key, "watt key id") truncated to {@link KEY_ID_LENGTH} hex characters. Recorded in
 * every manifest and catalog run so that a lake knows which key its pseudonyms were made with
 * (one lake, one key; rotation is explicit). Safe to print and log.
 */
export function keyIdOf(key: Buffer): string {
  return createHmac('sha256', key).update('watt key id', 'utf8').digest('hex').slice(0, KEY_ID_LENGTH);
}

/**
 * How a pseudonym is spelled, recorded in every manifest (`pseudonymisation.pseudonym_scheme`):
 *
 * - `hmac-sha256` (v1): HMAC-SHA256(key, identifier) as 64 lowercase hex characters (256 bits).
 *   Manifests written before schemes were recorded used it.
 * - `hmac-sha256-128-b64url` (v2): the first 128 bits (16 bytes) of the same HMAC, in base64url
 *   without padding (RFC 4648 §5): 22 characters of `A-Z a-z 0-9 - _`. Truncating an HMAC keeps
 *   it a PRF (RFC 2104 §5 allows truncation to at least half the output, NIST SP 800-107r1 §5.3.3);
 *   by the birthday bound two of n subjects share a pseudonym with probability about
 *   n² / 2¹²⁹ (10⁹ subjects: 1.5e-21).
 *
 * New lake prefixes use {@link DEFAULT_PSEUDONYM_SCHEME}; a prefix keeps the scheme of its runs
 * until an explicit rotation (`watt ingest --new-key`).
 */
export type PseudonymScheme = 'hmac-sha256' | 'hmac-sha256-128-b64url';
export const PSEUDONYM_SCHEMES: readonly PseudonymScheme[] = ['hmac-sha256', 'hmac-sha256-128-b64url'];
/** The scheme of a new lake prefix (v2). */
export const DEFAULT_PSEUDONYM_SCHEME: PseudonymScheme = 'hmac-sha256-128-b64url';
/** The scheme of manifests that record none: every pseudonym watt wrote before v2 was 64 hex characters. */
export const LEGACY_PSEUDONYM_SCHEME: PseudonymScheme = 'hmac-sha256';
/** Short names accepted on the command line: `v1`, `v2`. */
const SCHEME_ALIASES: Record<string, PseudonymScheme> = { v1: 'hmac-sha256', v2: 'hmac-sha256-128-b64url' };

/**
 * A scheme from its name or short name (`v1`, `v2`), case-insensitive.
 * @throws UsageError for any other name, listing the schemes.
 */
export function parsePseudonymScheme(name: string): PseudonymScheme {
  const lower = name.trim().toLowerCase();
  const scheme = SCHEME_ALIASES[lower] ?? PSEUDONYM_SCHEMES.find((s) => s === lower);
  if (!scheme) throw new UsageError(`unknown pseudonym scheme ${JSON.stringify(name.slice(0, 40))}`, { hint: `use v1 (hmac-sha256, 64 hex characters) or v2 (hmac-sha256-128-b64url, 22 characters)` });
  return scheme;
}

/** The scheme a manifest records (`pseudonymisation.pseudonym_scheme`), {@link LEGACY_PSEUDONYM_SCHEME} when it records none or one watt does not know. */
export function manifestScheme(recorded: unknown): PseudonymScheme {
  return PSEUDONYM_SCHEMES.find((s) => s === recorded) ?? LEGACY_PSEUDONYM_SCHEME;
}

/** Short name of a scheme for messages: `v1 (hmac-sha256)`. */
export function schemeLabel(scheme: PseudonymScheme): string {
  return `${scheme === 'hmac-sha256' ? 'v1' : 'v2'} (${scheme})`;
}

/** The pseudonym of one identifier under `key` and `scheme` (see {@link PseudonymScheme}). */
export function pseudonymOf(key: Buffer, scheme: PseudonymScheme, value: string): string {
  const mac = createHmac('sha256', key).update(value, 'utf8').digest();
  return scheme === 'hmac-sha256' ? mac.toString('hex') : mac.subarray(0, 16).toString('base64url');
}

/**
 * A keyed pseudonymiser: HMAC-SHA256(key, value) spelled by `scheme` ({@link PseudonymScheme}:
 * 64 hex characters in v1, 22 base64url characters in v2). Stable for one key and scheme,
 * different under another key, not reversible without the key. Results are memoised (meter
 * readings repeat the same customers and meters), bounded to `cacheSize` entries.
 *
 * The memo is an open-addressing hash table (linear probing) over typed arrays: each slot holds a
 * 32-bit hash of the identifier (FNV-1a over its UTF-16 code units) and the entry's index, so a
 * probe reads one cache line of slots and then only the identifier whose hash matches, where a
 * `Map` of strings reads the string of every entry of its bucket chain. An export in no order
 * probes it at random for every personal cell of every row: memory reads, not the hashing, are
 * the cost (docs/benchmarks.md, issue 23 item 6).
 */
export class Pseudonymiser {
  private readonly key: Buffer;
  private readonly cacheSize: number;
  /** Per slot: [hash | 1 (0 = empty), entry index]. */
  private slots = new Int32Array(2 << INITIAL_BITS);
  private mask = (1 << INITIAL_BITS) - 1;
  private hashes = new Int32Array(1 << INITIAL_BITS);
  /** Entry i's identifier at 2i and its pseudonym at 2i + 1 (one cache line for both pointers). */
  private entries: string[] = [];
  private count = 0;
  /**
   * The memo entry of the last pseudonym returned: the same number for the same pseudonym until
   * the memo is reset (a hint for the Parquet dictionary, which checks it: formats/parquet-columns.ts).
   */
  lastEntry = -1;

  constructor(
    key: Buffer,
    readonly scheme: PseudonymScheme,
    cacheSize = 100_000,
  ) {
    this.key = key;
    this.cacheSize = cacheSize;
  }

  /** The pseudonym of one identifier. */
  pseudonym(value: string): string {
    let h = 0x811c9dc5;
    for (let i = 0; i < value.length; i++) h = Math.imul(h ^ value.charCodeAt(i), 0x01000193);
    h |= 1;
    const slots = this.slots;
    const mask = this.mask;
    let i = h & mask;
    for (;;) {
      const sh = slots[2 * i]!;
      if (sh === 0) break;
      if (sh === h) {
        const idx = slots[2 * i + 1]!;
        if (this.entries[2 * idx] === value) {
          this.lastEntry = idx;
          return this.entries[2 * idx + 1]!;
        }
      }
      i = (i + 1) & mask;
    }
    const out = pseudonymOf(this.key, this.scheme, value);
    if (this.count >= this.cacheSize) {
      this.clear();
      i = h & this.mask;
    } else if (10 * (this.count + 1) > 7 * (mask + 1)) {
      this.grow();
      i = h & this.mask;
      while (this.slots[2 * i] !== 0) i = (i + 1) & this.mask;
    }
    const idx = this.count++;
    // The key is copied: a cell sliced from a chunk of the source would keep the chunk alive.
    this.entries.push(detached(value), out);
    if (idx >= this.hashes.length) {
      const hashes = new Int32Array(this.hashes.length * 2);
      hashes.set(this.hashes);
      this.hashes = hashes;
    }
    this.hashes[idx] = h;
    this.slots[2 * i] = h;
    this.slots[2 * i + 1] = idx;
    this.lastEntry = idx;
    return out;
  }

  /** Entries memoised. */
  get size(): number {
    return this.count;
  }

  private clear(): void {
    this.slots = new Int32Array(2 << INITIAL_BITS);
    this.mask = (1 << INITIAL_BITS) - 1;
    this.hashes = new Int32Array(1 << INITIAL_BITS);
    this.entries = [];
    this.count = 0;
  }

  /** Double the slots (load factor stays <= 0.7) and re-place every entry from its stored hash. */
  private grow(): void {
    const mask = this.mask * 2 + 1;
    const slots = new Int32Array(2 * (mask + 1));
    for (let idx = 0; idx < this.count; idx++) {
      const h = this.hashes[idx]!;
      let i = h & mask;
      while (slots[2 * i] !== 0) i = (i + 1) & mask;
      slots[2 * i] = h;
      slots[2 * i + 1] = idx;
    }
    this.slots = slots;
    this.mask = mask;
  }
}

/** The memo starts with 2^12 slots and doubles. */
const INITIAL_BITS = 12;
