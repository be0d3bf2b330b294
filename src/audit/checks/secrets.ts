import { lstat, open } from 'node:fs/promises';
import path from 'node:path';
import picomatch from 'picomatch';
import { parseGitleaksConfig } from '../secrets/gitleaks-config.js';
import { forEachAddedChunk } from '../secrets/history.js';
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

    // The history pass (git log in its own process) runs while the tree is read and scanned.
    type HistoryHit = { file: string; line: number | undefined; commit: string; ruleId: string; description: string; secret: string };
    const historyHits: HistoryHit[] = [];
    const history =
      tracked !== undefined && ctx.history && options.history !== false
        ? forEachAddedChunk(ctx.root, options.exclude ?? [], (chunk) => {
            if (skipFile(chunk.file) || chunk.text.length > maxBytes) return;
            for (const m of scanText(chunk.text, rules, allow, { file: chunk.file, commit: chunk.commit })) {
              historyHits.push({ file: chunk.file, line: chunk.lines[m.line - 1], commit: chunk.commit, ruleId: m.ruleId, description: m.description, secret: m.secret });
            }
          })
        : Promise.resolve(false);

    const findings: CheckFinding[] = [];
    // What of .gitleaks.toml cannot be honoured (Go-only regex syntax) is said, not silently dropped.
    for (const what of user.skipped) {
      findings.push({ file: options.gitleaksConfig ?? '.gitleaks.toml', severity: 'info', message: `${what}: not applied by watt (gitleaks still applies it)` });
    }
    const inTree = new Set<string>();
    await forEachLimit(
      files.filter((f) => !skipFile(f)),
      16,
      async (file) => {
        const content = await readTextFile(path.join(ctx.root, file), maxBytes);
        if (content === undefined) return;
        for (const m of scanText(content, rules, allow, { file })) {
          const fingerprint = secretFingerprint(m.ruleId, m.secret);
          inTree.add(`${m.ruleId}\0${fingerprint}`);
          findings.push({ file, line: m.line, column: m.column, fingerprint, message: `possible secret (${m.ruleId}: ${m.description}): ${mask(m.secret)}` });
        }
      },
    );

    if ((await history) && (await ctx.git(['rev-parse', '--is-shallow-repository']))?.stdout.trim() === 'true') {
      findings.push({
        file: '.git',
        severity: 'info',
        message: 'shallow clone: only the fetched commits were scanned for secrets; fetch the whole history (git fetch --unshallow, or actions/checkout with fetch-depth: 0) to scan every commit',
      });
    }
    // Oldest commit first: a secret is reported once per file, at the commit that added it.
    const seen = new Set<string>();
    for (const h of historyHits) {
      const fingerprint = secretFingerprint(h.ruleId, h.secret);
      const key = `${h.ruleId}\0${fingerprint}`;
      if (inTree.has(key) || seen.has(`${key}\0${h.file}`)) continue;
      seen.add(`${key}\0${h.file}`);
      findings.push({
        file: h.file,
        line: h.line,
        fingerprint,
        commit: h.commit,
        message: `secret (${h.ruleId}: ${h.description}) added by commit ${h.commit.slice(0, 12)} in ${h.file}, no longer in the tree but still in the git history: rotate it (removing it does not un-leak it): ${mask(h.secret)}`,
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

/** Read a file as UTF-8 text, or undefined if it is missing, a binary (NUL byte in the first 8 KiB) or over maxBytes; symlinks are not followed. */
async function readTextFile(file: string, maxBytes: number): Promise<string | undefined> {
  const info = await lstat(file).catch(() => undefined); // a tracked symlink is not followed
  if (!info?.isFile() || info.size > maxBytes || info.size === 0) return undefined;
  const handle = await open(file, 'r');
  try {
    const buffer = await handle.readFile();
    if (buffer.subarray(0, 8192).includes(0)) return undefined;
    return buffer.toString('utf8');
  } finally {
    await handle.close();
  }
}

/** Allowlists and rules of the repository's gitleaks configuration (none if absent or invalid TOML: toml-valid reports it). */
async function userConfig(ctx: CheckContext, file: string): Promise<{ allow: CompiledAllowlist[]; rules: SecretRule[]; skipped: string[] }> {
  if (file === '') return { allow: [], rules: [], skipped: [] };
  const text = await ctx.readText(file);
  if (text === undefined) return { allow: [], rules: [], skipped: [] };
  try {
    return parseGitleaksConfig(text);
  } catch {
    return { allow: [], rules: [], skipped: [] };
  }
}

async function forEachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
