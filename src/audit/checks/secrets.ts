import { lstatSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import picomatch from 'picomatch';
import { parseGitleaksConfig } from '../secrets/gitleaks-config.js';
import { cacheKey, TreeCache } from '../cache.js';
import { commitsToScan, forEachAddedChunk } from '../secrets/history.js';
import { readHistoryCache, writeHistoryCache, type HistoryHit } from '../secrets/history-cache.js';
import { defaultSecretRules, scanText, secretFingerprint, type CompiledAllowlist, type SecretRule } from '../secrets/scanner.js';
import type { CheckFinding } from '../types.js';
import type { CheckContext } from './types.js';
import { defineCheck } from './types.js';

export interface SecretsOptions {
  /** Globs of files not scanned (lock files, minified bundles, source maps), in the tree and in history. */
  exclude?: string[];
  /** Files larger than this are skipped, in bytes (default 1 MiB); in history, added text of one file in one commit. */
  maxBytes?: number;
  /** gitleaks configuration whose allowlists and rules are honoured (default `.gitleaks.toml`); "" for none. */
  gitleaksConfig?: string;
  /** Scan the history too (default true; the CLI's `--no-history` turns it off for the whole audit). */
  history?: boolean;
  /** Keep a cache of scanned commits in `.watt/audit-history.json` so the next run scans only new commits (default true). */
  historyCache?: boolean;
  /** Keep the findings of each tracked file by blob id in `.watt/audit-tree-secrets.json` so the next run reads only changed files (default true). */
  treeCache?: boolean;
}

/**
 * `secrets`: scan every file tracked by git (every file when the folder is not a git work tree),
 * whatever its name or extension, with watt's secret rules (src/audit/rules/secrets.json: token
 * formats of Docker Hub, GitHub, GitLab, npm, PyPI, Slack, Stripe, SendGrid, Twilio, Hugging Face,
 * OpenAI, Anthropic, AWS, Azure, GCP, PEM private keys, JWTs, passwords in URLs, and a generic rule
 * for secret-named keys with high-entropy values) plus the custom rules of `.gitleaks.toml`; then,
 * in a git repository, the lines added by every commit reachable from HEAD. A secret found only in
 * history names the commit that added it: it is still leaked and must be rotated.
 * Skipped: binary files (a NUL byte in the first 8 KiB), files over `maxBytes`, `exclude` globs,
 * and whatever the `.gitleaks.toml` allowlists allow (paths, regexes, stopwords, commits).
 * Messages show the secret masked (at most its first 4 characters). Source: GDPR Art. 32(1).
 * Incremental: a tracked file whose path and git blob id are in `.watt/audit-tree-secrets.json`
 * (same rules, options and watt code, see src/audit/cache.ts) is not read again, and only the
 * commits not in `.watt/audit-history.json` are scanned.
 */
export default defineCheck<SecretsOptions>({
  type: 'secrets',
  description: 'no secret in the tracked files nor in the git history (gitleaks-style rules)',
  optionsSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      exclude: { type: 'array', items: { type: 'string', minLength: 1 } },
      maxBytes: { type: 'integer', minimum: 1 },
      gitleaksConfig: { type: 'string' },
      history: { type: 'boolean' },
      historyCache: { type: 'boolean' },
      treeCache: { type: 'boolean' },
    },
  },
  async run(options, ctx) {
    const tracked = await ctx.trackedFiles();
    const files = tracked ?? (await ctx.walkFiles());
    const excluded = options.exclude?.length ? picomatch(options.exclude, { dot: true }) : () => false;
    const { compiled } = defaultSecretRules();
    const user = await userConfig(ctx, options.gitleaksConfig ?? '.gitleaks.toml');
    const rules: SecretRule[] = [...compiled.rules, ...user.rules];
    const allow: CompiledAllowlist[] = [...compiled.allow, ...user.allow];
    // An allowlist of paths alone, for all rules, skips the file without reading it.
    const pathOnly = user.allow.filter((l) => l.paths.length > 0 && l.targetRules.length === 0 && l.condition === 'OR');
    const skipFile = (f: string) => excluded(f) || pathOnly.some((l) => l.paths.some((re) => re.test(f)));
    const maxBytes = options.maxBytes ?? 1024 * 1024;

    // The history pass (git log in parallel processes) runs while the tree is read and scanned.
    const history = tracked !== undefined && ctx.history && options.history !== false ? scanHistory(ctx, options, rules, allow, skipFile, maxBytes, user.text) : undefined;

    const findings: CheckFinding[] = [];
    // What of .gitleaks.toml cannot be honoured (Go-only regex syntax) is said, not silently dropped.
    for (const what of user.skipped) {
      findings.push({ file: options.gitleaksConfig ?? '.gitleaks.toml', severity: 'info', message: `${what}: not applied by watt (gitleaks still applies it)` });
    }
    // The tree: a file whose path and blob id are in the tree cache (same key: rules, options,
    // watt's code) is not read again; the others are read, scanned and cached.
    const blobs = await ctx.trackedBlobs();
    const cache = blobs && options.treeCache !== false ? await TreeCache.open(ctx.root, 'secrets', scanKey(options, maxBytes, user.text), tracked) : undefined;
    const inTree = new Set<string>();
    // Read synchronously (a sixth of the CPU of fs/promises' open/read/close on babel's 27,674
    // files), yielding every few milliseconds so the history's git output keeps flowing.
    let since = performance.now();
    for (const file of files) {
      if (skipFile(file)) continue;
      const blob = blobs?.get(file);
      let found = cache?.get(file, blob);
      if (!found) {
        const raw = readTextFile(path.join(ctx.root, file), maxBytes);
        found = [];
        for (const m of raw === undefined ? [] : scanText(withoutMinifiedLines(raw), rules, allow, { file })) {
          found.push({ file, line: m.line, column: m.column, fingerprint: secretFingerprint(m.ruleId, m.secret), message: `possible secret (${m.ruleId}: ${m.description}): ${mask(m.secret)}` });
        }
        cache?.set(file, blob, found);
      }
      for (const f of found) {
        inTree.add(f.fingerprint!); // a hash of rule and secret
        findings.push(f);
      }
      if (performance.now() - since > 5) {
        await new Promise((resolve) => setImmediate(resolve));
        since = performance.now();
      }
    }
    await cache?.save();

    const scanned = await history;
    if (scanned && (await ctx.git(['rev-parse', '--is-shallow-repository']))?.stdout.trim() === 'true') {
      findings.push({
        file: '.git',
        severity: 'warning',
        message:
          'shallow clone: only the fetched commits were scanned for secrets, a secret leaked in older history is not seen; fetch the whole history (actions/checkout with fetch-depth: 0, or git fetch --unshallow)',
      });
    }
    // Oldest commit first: a secret is reported once per file, at the commit that added it.
    const seen = new Set<string>();
    for (const h of scanned?.hits ?? []) {
      if (inTree.has(h.fingerprint) || seen.has(`${h.fingerprint}\0${h.file}`)) continue;
      seen.add(`${h.fingerprint}\0${h.file}`);
      findings.push({
        file: h.file,
        line: h.line,
        fingerprint: h.fingerprint,
        commit: h.commit,
        message: `secret (${h.ruleId}: ${h.description}) added by commit ${h.commit.slice(0, 12)} in ${h.file}, no longer in the tree but still in the git history: rotate it (removing it does not un-leak it): ${h.masked}`,
      });
    }
    return findings;
  },
});

/**
 * Mask a secret: only its public type prefix (`dckr_pat_`, `xoxb-`, `ghp_`, `sk-proj-`: what the
 * provider prints for every token) when it has one and at least 16 characters, then asterisks and
 * its length. A password or key without such a prefix shows no character at all.
 */
export function mask(secret: string): string {
  const prefix = secret.length >= 16 ? (/^(?:[A-Za-z]{2,10}[_-]){1,3}/.exec(secret)?.[0] ?? '') : '';
  const shown = prefix.length <= 12 && prefix.length * 2 < secret.length ? prefix : '';
  return `${shown}${'*'.repeat(8)} (${secret.length} chars)`;
}

/** Lines longer than this are minified or generated code (bundles, data URIs): not scanned. */
export const MAX_LINE_CHARS = 4096;

/** The text with its lines over MAX_LINE_CHARS emptied (line numbers kept). */
export function withoutMinifiedLines(text: string): string {
  if (text.length <= MAX_LINE_CHARS) return text;
  let start = 0;
  let long = false;
  for (let nl = text.indexOf('\n'); start < text.length; nl = text.indexOf('\n', start)) {
    const end = nl < 0 ? text.length : nl;
    if (end - start > MAX_LINE_CHARS) {
      long = true;
      break;
    }
    start = end + 1;
  }
  return long ? text.replace(new RegExp(`^[^\n]{${MAX_LINE_CHARS + 1},}$`, 'gm'), '') : text;
}

/** Read a file as UTF-8 text, or undefined if it is missing, a binary (NUL byte in the first 8 KiB) or over maxBytes; symlinks are not followed. */
function readTextFile(file: string, maxBytes: number): string | undefined {
  try {
    const info = lstatSync(file); // a tracked symlink is not followed
    if (!info.isFile() || info.size > maxBytes || info.size === 0) return undefined;
    const buffer = readFileSync(file);
    if (buffer.subarray(0, 8192).includes(0)) return undefined;
    return buffer.toString('utf8');
  } catch {
    return undefined;
  }
}

/** Allowlists and rules of the repository's gitleaks configuration (none if absent or invalid TOML: toml-valid reports it). */
async function userConfig(ctx: CheckContext, file: string): Promise<{ allow: CompiledAllowlist[]; rules: SecretRule[]; skipped: string[]; text: string }> {
  if (file === '') return { allow: [], rules: [], skipped: [], text: '' };
  const text = await ctx.readText(file);
  if (text === undefined) return { allow: [], rules: [], skipped: [], text: '' };
  try {
    return { ...parseGitleaksConfig(text), text };
  } catch {
    return { allow: [], rules: [], skipped: [], text };
  }
}

/**
 * Scan the commits not yet scanned (all of them without a cache), on as many git processes as
 * there are cores, and merge with the cached hits. Hits come back oldest commit first.
 * Resolves undefined when the folder has no commit.
 */
async function scanHistory(
  ctx: CheckContext,
  options: SecretsOptions,
  rules: readonly SecretRule[],
  allow: readonly CompiledAllowlist[],
  skipFile: (file: string) => boolean,
  maxBytes: number,
  gitleaksText: string,
): Promise<{ hits: HistoryHit[] } | undefined> {
  const useCache = options.historyCache !== false;
  const key = scanKey(options, maxBytes, gitleaksText);
  const cache = useCache ? await readHistoryCache(ctx.root, key, await ctx.trackedFiles()) : undefined;
  const head = (await ctx.git(['rev-parse', '--verify', '-q', 'HEAD^{commit}']))?.stdout.trim();
  if (!head) return undefined;
  const commits = await commitsToScan(ctx.root, cache?.tips ?? []);
  if (commits === undefined) return undefined;
  const order = new Map(commits.map((c, i) => [c, i]));
  const fresh: (HistoryHit & { at: number })[] = [];
  const skipped = new Map<string, boolean>();
  const ok = await forEachAddedChunk(
    ctx.root,
    options.exclude ?? [],
    (chunk) => {
      let skip = skipped.get(chunk.file);
      if (skip === undefined) skipped.set(chunk.file, (skip = skipFile(chunk.file))); // the same paths come back in many commits
      if (skip || chunk.text.length > maxBytes) return;
      for (const m of scanText(withoutMinifiedLines(chunk.text), rules, allow, { file: chunk.file, commit: chunk.commit })) {
        fresh.push({
          file: chunk.file,
          line: chunk.lines[m.line - 1],
          commit: chunk.commit,
          ruleId: m.ruleId,
          description: m.description,
          fingerprint: secretFingerprint(m.ruleId, m.secret),
          masked: mask(m.secret),
          at: order.get(chunk.commit) ?? 0,
        });
      }
    },
    commits,
    typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length,
  );
  fresh.sort((a, b) => a.at - b.at);
  const hits: HistoryHit[] = [...(cache?.hits ?? []), ...fresh.map(({ at: _at, ...h }) => h)];
  // The cache only records a complete scan.
  if (useCache && ok) await writeHistoryCache(ctx.root, key, { tips: [head, ...(cache?.tips ?? []).filter((t) => t !== head)].slice(0, 32), hits });
  return { hits };
}

/** The key of this check's caches: the rules (watt's and .gitleaks.toml's) and the options that change what is found. */
function scanKey(options: SecretsOptions, maxBytes: number, gitleaksText: string): string {
  return cacheKey('secrets', defaultSecretRules().set, gitleaksText, options.exclude ?? [], maxBytes);
}
