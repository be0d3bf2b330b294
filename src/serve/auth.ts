import { createHash, timingSafeEqual } from 'node:crypto';
import { UsageError } from '../errors.js';

/**
 * API keys of `watt serve`: `WATT_API_KEYS`, comma-separated, so that two keys can be valid at
 * once while clients move from the old one to the new one (rotation). Keys are kept only as
 * SHA-256 digests and compared in constant time (equal-length digests, `crypto.timingSafeEqual`,
 * every key compared whatever matched), so neither the time taken nor a log reveals a key.
 */

/** Shortest key accepted (characters): below this a key can be guessed. */
export const MIN_KEY_LENGTH = 16;

export interface ApiKeys {
  /** SHA-256 digests of the valid keys (32 bytes each). */
  readonly digests: readonly Buffer[];
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/**
 * Parse `WATT_API_KEYS` (comma-separated; spaces around keys ignored; empty entries skipped).
 * @throws UsageError if a key is shorter than {@link MIN_KEY_LENGTH} characters (the message gives
 *   its position, never the key).
 */
export function parseApiKeys(raw: string | undefined): ApiKeys {
  const keys = (raw ?? '').split(',').map((k) => k.trim()).filter((k) => k !== '');
  keys.forEach((k, i) => {
    if (k.length < MIN_KEY_LENGTH) {
      throw new UsageError(`WATT_API_KEYS: key #${i + 1} is ${k.length} characters long, at least ${MIN_KEY_LENGTH} are needed`, {
        hint: 'generate one with: openssl rand -hex 32',
      });
    }
  });
  return { digests: keys.map(digest) };
}

/** Whether `provided` (the `X-API-KEY` header) is one of the keys. Constant time in the key values. */
export function keyMatches(keys: ApiKeys, provided: string | string[] | undefined): boolean {
  if (typeof provided !== 'string' || provided === '') return false;
  const d = digest(provided);
  let ok = false;
  for (const k of keys.digests) ok = timingSafeEqual(k, d) || ok;
  return ok;
}

/** Whether a host name or address is the loopback interface (127.0.0.0/8, ::1, localhost). */
export function isLoopback(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || h === '::ffff:127.0.0.1';
}
