/**
 * The cache of the history scan (`<repository>/.watt/audit-history.json`, see src/audit/cache.ts
 * for what makes a cache valid): the tips whose commits have all been scanned, and what was found
 * in them, so that a CI run scans only the commits added since (keep `.watt/` between runs, e.g.
 * with actions/cache). It never holds a secret: findings are stored as rule, file, line, commit,
 * fingerprint (a hash of rule and secret) and the masked form.
 *
 * Shape of the body: `{ "tips": ["<sha>"], "hits": [HistoryHit] }`.
 */
import { readAuditCache, writeAuditCache } from '../cache.js';

/** A secret found in history, without the secret. */
export interface HistoryHit {
  file: string;
  line?: number;
  commit: string;
  ruleId: string;
  description: string;
  fingerprint: string;
  /** The secret masked (see `mask` in checks/secrets.ts). */
  masked: string;
}

export interface HistoryCache {
  tips: string[];
  hits: HistoryHit[];
}

/** Name of the cache file under `.watt/`. */
export const HISTORY_CACHE = 'audit-history.json';

const SHA = /^[0-9a-f]{40}(?:[0-9a-f]{24})?$/;
function isHit(h: unknown): h is HistoryHit {
  if (!h || typeof h !== 'object') return false;
  const o = h as Record<string, unknown>;
  return (
    typeof o.file === 'string' &&
    (o.line === undefined || typeof o.line === 'number') &&
    typeof o.commit === 'string' &&
    SHA.test(o.commit) &&
    typeof o.ruleId === 'string' &&
    typeof o.description === 'string' &&
    typeof o.fingerprint === 'string' &&
    typeof o.masked === 'string'
  );
}

/** The cache of `root` for `key`, or undefined when absent, tracked by git, corrupt, or made with other rules. */
export async function readHistoryCache(root: string, key: string, tracked: readonly string[] | undefined): Promise<HistoryCache | undefined> {
  const body = (await readAuditCache(root, HISTORY_CACHE, key, tracked)) as Partial<HistoryCache> | undefined;
  if (!body || !Array.isArray(body.tips) || !Array.isArray(body.hits)) return undefined;
  if (!body.tips.every((t) => typeof t === 'string' && SHA.test(t)) || !body.hits.every(isHit)) return undefined;
  return body as HistoryCache;
}

/** Write the cache (atomically; a folder that cannot be written is not an error: the next run scans again). */
export async function writeHistoryCache(root: string, key: string, cache: HistoryCache): Promise<boolean> {
  return writeAuditCache(root, HISTORY_CACHE, key, cache);
}
