import path from 'node:path';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { readObject } from '../store/index.js';
import { InterruptedError, UsageError } from '../errors.js';
import type { Lake } from '../store/types.js';
import { listLake } from '../table/integrity.js';
import { DEFAULT_PSEUDONYM_SCHEME, keyIdOf, loadPseudonymisationKey, manifestScheme, MIN_KEY_LENGTH, pseudonymOf, type PseudonymScheme } from '../records/pseudonymise.js';

/**
 * The keys an erasure needs. Pseudonyms are HMAC-SHA256(key, identifier) spelled by a scheme
 * (v1: 64 hex characters; v2: 128 bits in 22 base64url characters, records/pseudonymise.ts): after
 * a rotation the lake holds a data subject under two pseudonyms, one per key and scheme, and an
 * erasure must compute both. Each manifest names the key id ({@link keyIdOf}) and the scheme
 * (`pseudonym_scheme`, v1 when absent) its pseudonyms were made with; the keys available to erase
 * with are:
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

/** Key ids (and pseudonym schemes) a lake's manifests carry. */
export interface LakeKeyIds {
  /** Manifests per key id, with one manifest key as an example, and per scheme under that key. */
  ids: Map<string, { manifests: number; example: string; schemes: Map<PseudonymScheme, number> }>;
  /** Manifests without a key id (written before key ids). */
  without: number;
  /** Manifests without a key id, per pseudonym scheme. */
  withoutSchemes: Map<PseudonymScheme, number>;
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
  const out: LakeKeyIds = { ids: new Map(), without: 0, withoutSchemes: new Map(), manifests: 0, columns: new Map(), withoutColumns: 0 };
  for (const o of listing.manifests.values()) {
    if (signal?.aborted) throw new InterruptedError('erasure interrupted while reading the manifests; nothing was changed');
    out.manifests++;
    let id: unknown;
    let columns: unknown;
    let recorded: unknown;
    try {
      const p = (JSON.parse((await readObject(lake, o.key)).toString('utf8')) as { pseudonymisation?: { key_id?: unknown; columns?: unknown; pseudonym_scheme?: unknown } }).pseudonymisation;
      id = p?.key_id;
      columns = p?.columns;
      recorded = p?.pseudonym_scheme;
    } catch {
      id = undefined; // an unreadable manifest: `watt verify` reports it; erasure still scans its objects
    }
    const named = Array.isArray(columns) ? columns.filter((c): c is string => typeof c === 'string' && c !== '') : [];
    for (const c of named) out.columns.set(c, (out.columns.get(c) ?? 0) + 1);
    if (!named.length) out.withoutColumns++;
    const scheme = manifestScheme(recorded);
    if (typeof id === 'string' && id !== '') {
      const e = out.ids.get(id) ?? { manifests: 0, example: o.key, schemes: new Map() };
      e.manifests++;
      e.schemes.set(scheme, (e.schemes.get(scheme) ?? 0) + 1);
      out.ids.set(id, e);
    } else {
      out.without++;
      out.withoutSchemes.set(scheme, (out.withoutSchemes.get(scheme) ?? 0) + 1);
    }
  }
  return out;
}

/** The pseudonyms of one subject an erasure searches for, with the key ids and schemes they come from. */
export interface SubjectPseudonyms {
  /** Pseudonym under the current key (or the first key used), for display as a prefix. */
  primary: string;
  /** Every pseudonym to erase, one per key id and scheme. */
  all: { key_id: string; scheme: PseudonymScheme; pseudonym: string; manifests: number }[];
  /** Manifests without a key id, erased under the current key. */
  without_key_id: number;
}

/**
 * Compute the subject's pseudonym under every key id present in the lake, each with the scheme(s)
 * its manifests record (v1 when they record none), and under the current key: with the schemes of
 * the manifests without a key id, and with the default scheme (v2) when it has no manifest at all
 * (objects of a first run not committed yet). A v1 and a v2 pseudonym never equal each other (64
 * and 22 characters), so searching for all of them erases nobody else.
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
  // (key, scheme) -> manifests pseudonymised so.
  const pairs = new Map<string, { key: ErasureKey; scheme: PseudonymScheme; manifests: number }>();
  const add = (key: ErasureKey, scheme: PseudonymScheme, manifests: number) => {
    const id = `${key.key_id} ${scheme}`;
    const had = pairs.get(id);
    if (had) had.manifests += manifests;
    else pairs.set(id, { key, scheme, manifests });
  };
  if (keys.current) {
    const own = lakeIds.ids.get(keys.current.key_id);
    for (const [scheme, n] of own?.schemes ?? []) add(keys.current, scheme, n);
    for (const [scheme, n] of lakeIds.withoutSchemes) add(keys.current, scheme, n);
    if (!own && lakeIds.without === 0) add(keys.current, DEFAULT_PSEUDONYM_SCHEME, 0);
  }
  for (const [id, e] of lakeIds.ids) for (const [scheme, n] of e.schemes) add(byId.get(id)!, scheme, n);
  const all = [...pairs.values()].map((p) => ({ key_id: p.key.key_id, scheme: p.scheme, pseudonym: pseudonymOf(p.key.key, p.scheme, canonicalSubject), manifests: p.manifests }));
  return { primary: all[0]!.pseudonym, all, without_key_id: lakeIds.without };
}
