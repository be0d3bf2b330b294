/**
 * The audit's caches under `<repository>/.watt/` (`audit-history.json`: commits scanned for
 * secrets; `audit-tree-<check>.json`: findings per tracked file and blob; `audit-removed-data.json`:
 * data files removed in history), so that a CI run that keeps `.watt/` (actions/cache) reads only
 * what changed. None holds a secret or a personal value: findings are stored as rule, file, line,
 * fingerprint (a hash) and the masked form the report prints anyway.
 *
 * A cache can never hide a finding:
 * - it is valid only for one key: the check's options and rules (secret rules, `.gitleaks.toml`),
 *   watt's version and a hash of the code that judges (every module under `audit/` and `records/`
 *   and the shipped rules), so a new watt, a changed rule or a local edit of the code starts afresh;
 * - a tree entry is used only for the same path and the same git blob id, and only when git says
 *   the working copy is the blob (`git diff-files` lists it not), otherwise the file is read;
 * - a file that does not parse, has another shape or another checksum is ignored (and rewritten);
 * - a cache file tracked by git (committed to the audited repository, so written by anyone who can
 *   push) is ignored.
 *
 * A folder that cannot be written (a read-only checkout) is not an error: nothing is cached.
 * When watt creates `.watt/` it writes a `.gitignore` of `*` in it, so the caches are not committed.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { assetPath, wattVersion } from '../paths.js';
import type { CheckFinding } from './types.js';

/** Format of the cache files; bumped when their shape changes. */
export const CACHE_FORMAT = 2;

/** Where the audit's cache file `name` of a repository lives. */
export function auditCachePath(root: string, name: string): string {
  return path.join(root, '.watt', name);
}

let fingerprint: string | undefined;
/**
 * SHA-256 of the code that produces findings: every `.js`/`.ts`/`.json` file (source maps aside)
 * under this module's `audit/` and `records/` folders (dist/ in a build, src/ under jest) and the
 * shipped rules (src/audit/rules). Computed once per process (about 60 files).
 */
export function codeFingerprint(): string {
  if (fingerprint === undefined) {
    const hash = createHash('sha256');
    const here = path.dirname(fileURLToPath(import.meta.url));
    const visit = (dir: string) => {
      let entries;
      try {
        entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      } catch {
        return;
      }
      for (const e of entries) {
        const full = path.join(dir, e.name);
        if (e.isDirectory()) visit(full);
        else if (/\.(?:js|ts|json)$/.test(e.name)) hash.update(`${path.relative(here, full)}\0`).update(readFileSync(full)).update('\0');
      }
    };
    visit(here);
    visit(path.join(here, '..', 'records'));
    visit(assetPath('src', 'audit', 'rules'));
    fingerprint = hash.digest('hex');
  }
  return fingerprint;
}

/** The key of a cache: its format, watt's version, the code's fingerprint and `parts` (options, rules...). */
export function cacheKey(...parts: unknown[]): string {
  return createHash('sha256')
    .update(JSON.stringify([CACHE_FORMAT, wattVersion(), codeFingerprint(), ...parts]))
    .digest('hex');
}

function checksum(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/**
 * The body of cache file `name` written with `key`, or undefined when it is absent, tracked by git
 * (`tracked`: the audited repository's tracked paths), unreadable, not JSON, of another format or
 * key, or its checksum does not match its body. The caller still validates the body's shape.
 * File layout: a header line `{"format":2,"scope":"<key: sha256>","sum":"<sha256 of the body line>"}`,
 * then the body as one line of JSON.
 */
export async function readAuditCache(root: string, name: string, key: string, tracked: readonly string[] | undefined): Promise<unknown> {
  const rel = path.posix.join('.watt', name);
  if (tracked?.includes(rel)) return undefined;
  try {
    const text = await readFile(auditCachePath(root, name), 'utf8');
    const nl = text.indexOf('\n');
    const header = JSON.parse(text.slice(0, nl)) as { format?: unknown; scope?: unknown; sum?: unknown };
    const body = text.slice(nl + 1).replace(/\n$/, '');
    if (nl < 0 || header.format !== CACHE_FORMAT || header.scope !== key || header.sum !== checksum(body)) return undefined;
    return JSON.parse(body) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * Write cache file `name` atomically (temp file + rename) with its key and checksum. Creating
 * `.watt/` also writes `.watt/.gitignore` (`*`). Resolves false when the folder cannot be written.
 */
export async function writeAuditCache(root: string, name: string, key: string, body: unknown): Promise<boolean> {
  const file = auditCachePath(root, name);
  try {
    const dir = path.dirname(file);
    const existed = (await stat(dir).catch(() => undefined))?.isDirectory() ?? false;
    await mkdir(dir, { recursive: true });
    if (!existed) await writeFile(path.join(dir, '.gitignore'), '# written by watt: its state and caches are not committed\n*\n', { flag: 'wx' }).catch(() => undefined);
    const text = JSON.stringify(body);
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, `${JSON.stringify({ format: CACHE_FORMAT, scope: key, sum: checksum(text) })}\n${text}\n`);
    await rename(tmp, file);
    return true;
  } catch {
    return false;
  }
}

const SHA = /^[0-9a-f]{40}(?:[0-9a-f]{24})?$/;

/** True when `f` has the shape of a finding a check returns (what a tree cache stores). */
function isFinding(f: unknown): f is CheckFinding {
  if (!f || typeof f !== 'object') return false;
  const o = f as Record<string, unknown>;
  return (
    typeof o.file === 'string' &&
    typeof o.message === 'string' &&
    (o.line === undefined || typeof o.line === 'number') &&
    (o.column === undefined || typeof o.column === 'number') &&
    (o.fingerprint === undefined || typeof o.fingerprint === 'string') &&
    (o.severity === undefined || o.severity === 'error' || o.severity === 'warning' || o.severity === 'info')
  );
}

/**
 * Findings of one check per tracked file, keyed by path and git blob id
 * (`.watt/audit-tree-<check>.json`). Use: `get` for each file (a hit needs the same blob), `set`
 * for each file read, then `save` (keeps only the entries of this run: removed files leave the
 * cache). Files without a blob id (modified in the working copy, outside git) are never cached.
 *
 * Shape of the body: `{ "<path>": ["<blob id>", [CheckFinding...]] }`.
 */
export class TreeCache {
  private readonly next = new Map<string, [string, CheckFinding[]]>();
  private constructor(
    private readonly root: string,
    private readonly name: string,
    private readonly key: string,
    private readonly old: Record<string, unknown>,
  ) {}

  /** Open the tree cache of check `check` for `key` (empty when absent, invalid or made with another key). */
  static async open(root: string, check: string, key: string, tracked: readonly string[] | undefined): Promise<TreeCache> {
    const name = `audit-tree-${check}.json`;
    const body = await readAuditCache(root, name, key, tracked);
    const old = body && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
    return new TreeCache(root, name, key, old);
  }

  /** The findings cached for `file` at `blob`, or undefined (not cached, another blob, no blob, or a malformed entry). */
  get(file: string, blob: string | undefined): CheckFinding[] | undefined {
    if (blob === undefined || !Object.hasOwn(this.old, file)) return undefined;
    const entry = this.old[file];
    if (!Array.isArray(entry) || entry.length !== 2 || entry[0] !== blob || !Array.isArray(entry[1])) return undefined;
    const findings = entry[1] as unknown[];
    if (!findings.every((f) => isFinding(f) && f.file === file)) return undefined;
    this.next.set(file, [blob, findings as CheckFinding[]]);
    return findings as CheckFinding[];
  }

  /** Record what a file at `blob` gave (no-op without a blob id). */
  set(file: string, blob: string | undefined, findings: CheckFinding[]): void {
    if (blob !== undefined && SHA.test(blob)) this.next.set(file, [blob, findings]);
  }

  /** Write the entries of this run. */
  async save(): Promise<boolean> {
    return writeAuditCache(this.root, this.name, this.key, Object.fromEntries(this.next));
  }
}
