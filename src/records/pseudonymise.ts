import { createHmac, randomBytes } from 'node:crypto';
import path from 'node:path';
import { mkdirSync, openSync, writeSync, closeSync, readFileSync, chmodSync } from 'node:fs';
import { UsageError } from '../errors.js';

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
 * A keyed pseudonymiser: HMAC-SHA256(key, value) as 64 lowercase hex characters. Stable for one
 * key, different under another key, not reversible without the key. Results are memoised (meter
 * readings repeat the same customers and meters), bounded to `cacheSize` entries.
 */
export class Pseudonymiser {
  private readonly key: Buffer;
  private cache = new Map<string, string>();
  private readonly cacheSize: number;

  constructor(key: Buffer, cacheSize = 100_000) {
    this.key = key;
    this.cacheSize = cacheSize;
  }

  /** The pseudonym of one identifier. */
  pseudonym(value: string): string {
    let out = this.cache.get(value);
    if (out === undefined) {
      out = createHmac('sha256', this.key).update(value, 'utf8').digest('hex');
      if (this.cache.size >= this.cacheSize) this.cache = new Map();
      this.cache.set(value, out);
    }
    return out;
  }
}
