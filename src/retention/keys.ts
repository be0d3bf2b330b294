import path from 'node:path';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { readObject } from '../store/index.js';
import { InterruptedError, UsageError } from '../errors.js';
import type { Lake } from '../store/types.js';
import { listLake } from '../table/integrity.js';
import { keyIdOf, loadPseudonymisationKey, MIN_KEY_LENGTH, Pseudonymiser } from '../records/pseudonymise.js';

/**
 * The keys an erasure needs. Pseudonyms are HMAC-SHA256(key, identifier): after a key rotation the
 * lake holds a data subject under two pseudonyms, one per key, and an erasure must compute both.
 * Each manifest names the key id ({@link keyIdOf}) its pseudonyms were made with; the keys
 * available to erase with are:
 *
 * - the current key (WATT_PSEUDONYMISATION_KEY, else `<WATT_HOME>/pseudonymisation.key`);
 * - previous keys, comma-separated, in `WATT_PSEUDONYMISATION_PREVIOUS_KEYS`;
 * - previous keys in files `<WATT_HOME>/keys/*.key` (one key per file, mode 0600 advised).
 *
 * Manifests written before key ids existed carry none: they are erased under the current key.
 */
export interface ErasureKey {
  /** 16 hex characters, safe to print. */
  key_id: string;
  /** Where it came from (never the key): `current`, `WATT_PSEUDONYMISATION_PREVIOUS_KEYS[i]`, `keys/<file>`. */
  source: string;
  key: Buffer;
}

/** Key ids a lake's manifests carry. */
export interface LakeKeyIds {
  /** Manifests per key id, with one manifest key as an example. */
  ids: Map<string, { manifests: number; example: string }>;
  /** Manifests without a key id (written before key ids). */
  without: number;
  manifests: number;
  /** Pseudonymised columns the manifests record (`pseudonymisation.columns`), with how many manifests record each. */
  columns: Map<string, number>;
  /** Manifests recording no pseudonymised column. */
  withoutColumns: number;
}

/** Where previous keys are looked for: `<home>/keys/*.key`. */
export function keyringDir(home: string): string {
  return path.join(home, 'keys');
}

/**
 * The current key (never generated here: a new key would match nothing) and the previous keys.
 * @throws UsageError for a previous key shorter than {@link MIN_KEY_LENGTH} (named by position or file, never shown).
 */
export function availableKeys(home: string, env: Record<string, string | undefined>): { current?: ErasureKey; all: ErasureKey[] } {
  const all: ErasureKey[] = [];
  let current: ErasureKey | undefined;
  if (env.WATT_PSEUDONYMISATION_KEY || existsSync(path.join(home, 'pseudonymisation.key'))) {
    const k = loadPseudonymisationKey(home, env).key;
    current = { key_id: keyIdOf(k), source: 'current', key: k };
    all.push(current);
  }
  const add = (text: string, source: string) => {
    const value = text.trim();
    if (value === '') return;
    if (value.length < MIN_KEY_LENGTH) throw new UsageError(`previous key ${source} is shorter than ${MIN_KEY_LENGTH} characters`);
    const key = Buffer.from(value, 'utf8');
    const id = keyIdOf(key);
    if (!all.some((k) => k.key_id === id)) all.push({ key_id: id, source, key });
  };
  (env.WATT_PSEUDONYMISATION_PREVIOUS_KEYS ?? '').split(',').forEach((text, i) => add(text, `WATT_PSEUDONYMISATION_PREVIOUS_KEYS[${i}]`));
  const dir = keyringDir(home);
  let files: string[] = [];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.key')).sort();
  } catch {
    /* no keyring */
  }
  for (const f of files) add(readFileSync(path.join(dir, f), 'utf8'), `keys/${f}`);
  return { current, all };
}

/**
 * Read every manifest under `<prefix>/_manifests/` and collect the key ids they carry.
 * @throws StorageError when the lake cannot be read.
 */
export async function lakeKeyIds(lake: Lake, prefix: string, signal?: AbortSignal): Promise<LakeKeyIds> {
  const listing = await listLake(lake, prefix, signal);
  const out: LakeKeyIds = { ids: new Map(), without: 0, manifests: 0, columns: new Map(), withoutColumns: 0 };
  for (const o of listing.manifests.values()) {
    if (signal?.aborted) throw new InterruptedError('erasure interrupted while reading the manifests; nothing was changed');
    out.manifests++;
    let id: unknown;
    let columns: unknown;
    try {
      const p = (JSON.parse((await readObject(lake, o.key)).toString('utf8')) as { pseudonymisation?: { key_id?: unknown; columns?: unknown } }).pseudonymisation;
      id = p?.key_id;
      columns = p?.columns;
    } catch {
      id = undefined; // an unreadable manifest: `watt verify` reports it; erasure still scans its objects
    }
    const named = Array.isArray(columns) ? columns.filter((c): c is string => typeof c === 'string' && c !== '') : [];
    for (const c of named) out.columns.set(c, (out.columns.get(c) ?? 0) + 1);
    if (!named.length) out.withoutColumns++;
    if (typeof id === 'string' && id !== '') {
      const e = out.ids.get(id) ?? { manifests: 0, example: o.key };
      e.manifests++;
      out.ids.set(id, e);
    } else out.without++;
  }
  return out;
}

/** The pseudonyms of one subject an erasure searches for, with the key ids they come from. */
export interface SubjectPseudonyms {
  /** Pseudonym under the current key (or the first key used), for display as a prefix. */
  primary: string;
  /** Every pseudonym to erase, one per key id. */
  all: { key_id: string; pseudonym: string; manifests: number }[];
  /** Manifests without a key id, erased under the current key. */
  without_key_id: number;
}

/**
 * Compute the subject's pseudonym under every key id present in the lake (and the current key).
 * @throws UsageError (exit 2, nothing changed) when a key id of the lake has no key available,
 * naming the id(s) and a manifest; or when no key at all is available.
 */
export function subjectPseudonyms(canonicalSubject: string, keys: { current?: ErasureKey; all: ErasureKey[] }, lakeIds: LakeKeyIds, home: string): SubjectPseudonyms {
  const byId = new Map(keys.all.map((k) => [k.key_id, k]));
  const missing = [...lakeIds.ids.entries()].filter(([id]) => !byId.has(id));
  if (missing.length) {
    const names = missing.map(([id, e]) => `${id} (${e.manifests} manifest${e.manifests > 1 ? 's' : ''}, e.g. ${e.example})`).join(', ');
    throw new UsageError(`no key available for key id${missing.length > 1 ? 's' : ''} ${names}: the erasure would miss rows, nothing was changed`, {
      hint: `supply the previous key(s) in WATT_PSEUDONYMISATION_PREVIOUS_KEYS (comma-separated) or as a file in ${keyringDir(home)}/<name>.key`,
    });
  }
  if (!keys.current && (lakeIds.without > 0 || lakeIds.ids.size === 0)) {
    throw new UsageError(`no pseudonymisation key: WATT_PSEUDONYMISATION_KEY is unset and ${path.join(home, 'pseudonymisation.key')} does not exist`, {
      hint: 'run the erasure with the key ingest used (same WATT_HOME or WATT_PSEUDONYMISATION_KEY)',
    });
  }
  const used = new Map<string, ErasureKey>();
  if (keys.current) used.set(keys.current.key_id, keys.current);
  for (const id of lakeIds.ids.keys()) used.set(id, byId.get(id)!);
  const all = [...used.values()].map((k) => ({
    key_id: k.key_id,
    pseudonym: new Pseudonymiser(k.key, 1).pseudonym(canonicalSubject),
    manifests: (lakeIds.ids.get(k.key_id)?.manifests ?? 0) + (k === keys.current ? lakeIds.without : 0),
  }));
  return { primary: all[0]!.pseudonym, all, without_key_id: lakeIds.without };
}
