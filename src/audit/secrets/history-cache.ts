/**
 * The cache of the history scan (`<repository>/.watt/audit-history.json`): the tips whose
 * commits have all been scanned, and what was found in them, so that a CI run scans only the
 * commits added since (keep `.watt/` between runs, e.g. with actions/cache). It never holds a
 * secret: findings are stored as rule, file, line, commit, fingerprint (a hash of rule and secret)
 * and the masked form. It is valid only for the same rules: a change of watt's rules, of the
 * `.gitleaks.toml`, of the check's options or of watt's version (`key`) starts from scratch.
 *
 * Shape (JSON): `{ "version": 1, "key": "<sha256>", "tips": ["<sha>"], "hits": [HistoryHit] }`.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';

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
  version: 1;
  key: string;
  tips: string[];
  hits: HistoryHit[];
}

/** Where the cache of a repository lives. */
export function historyCachePath(root: string): string {
  return path.join(root, '.watt', 'audit-history.json');
}

/** The cache for `key`, or undefined when absent, unreadable, or made with other rules. */
export async function readHistoryCache(file: string, key: string): Promise<HistoryCache | undefined> {
  try {
    const parsed = JSON.parse(await readFile(file, 'utf8')) as Partial<HistoryCache>;
    if (parsed.version !== 1 || parsed.key !== key || !Array.isArray(parsed.tips) || !Array.isArray(parsed.hits)) return undefined;
    return parsed as HistoryCache;
  } catch {
    return undefined;
  }
}

/**
 * Write the cache atomically (temp file + rename). A folder that cannot be written (read-only
 * checkout) is not an error: the next run scans the whole history again.
 */
export async function writeHistoryCache(file: string, cache: HistoryCache): Promise<boolean> {
  try {
    await mkdir(path.dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, `${JSON.stringify(cache)}\n`);
    await rename(tmp, file);
    return true;
  } catch {
    return false;
  }
}
