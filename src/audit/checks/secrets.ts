import { lstat, open } from 'node:fs/promises';
import path from 'node:path';
import picomatch from 'picomatch';
import { parse as parseToml } from 'smol-toml';
import type { CheckFinding } from '../types.js';
import type { CheckContext } from './types.js';
import { defineCheck } from './types.js';

export interface SecretsOptions {
  /** Globs of files not scanned (lock files, minified bundles, source maps). */
  exclude?: string[];
  /** Files larger than this are skipped, in bytes (default 1 MiB). */
  maxBytes?: number;
  /** gitleaks configuration whose allowlisted paths are honoured (default `.gitleaks.toml`); "" for none. */
  gitleaksConfig?: string;
}

type Linter = (content: string, filePath: string) => Promise<{ ruleId: string; range: readonly [number, number]; loc: { start: { line: number; column: number } } }[]>;

let linter: Promise<Linter> | undefined;
/** secretlint and its recommended preset (≈1 MB of rules), imported on first use only. */
function loadLinter(): Promise<Linter> {
  linter ??= (async () => {
    const [{ lintSource }, { creator }] = await Promise.all([import('@secretlint/core'), import('@secretlint/secretlint-rule-preset-recommend')]);
    const config = { rules: [{ id: '@secretlint/secretlint-rule-preset-recommend', rule: creator }] };
    return async (content: string, filePath: string) => {
      const result = await lintSource({ source: { content, filePath, contentType: 'text' }, options: { config, maskSecrets: true } });
      return result.messages;
    };
  })();
  return linter;
}

/**
 * `secrets`: scan the files tracked by git (every file when the folder is not a git work tree) with
 * secretlint's recommended preset (AWS, GCP, GitHub, Slack, npm, OpenAI, private keys, connection
 * strings with passwords...). Binary files (a NUL byte in the first 8 KiB), files over `maxBytes`,
 * `exclude` globs and paths allowlisted in `.gitleaks.toml` (`[allowlist] paths` and
 * `[[allowlists]] paths`) are skipped. Findings give file, line and column with the secret masked
 * (at most its first 4 characters shown). Source: GDPR Art. 32(1) (security of processing).
 */
export default defineCheck<SecretsOptions>({
  type: 'secrets',
  description: 'no secret in the tracked files (secretlint recommended preset)',
  optionsSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      exclude: { type: 'array', items: { type: 'string', minLength: 1 } },
      maxBytes: { type: 'integer', minimum: 1 },
      gitleaksConfig: { type: 'string' },
    },
  },
  async run(options, ctx) {
    const files = (await ctx.trackedFiles()) ?? (await ctx.walkFiles());
    const excluded = options.exclude?.length ? picomatch(options.exclude, { dot: true }) : () => false;
    const allowlist = await gitleaksAllowlist(ctx, options.gitleaksConfig ?? '.gitleaks.toml');
    const maxBytes = options.maxBytes ?? 1024 * 1024;
    const candidates = files.filter((f) => !excluded(f) && !allowlist.some((re) => re.test(f)));
    const findings: CheckFinding[] = [];
    const lint = candidates.length > 0 ? await loadLinter() : undefined;
    await forEachLimit(candidates, 16, async (file) => {
      const content = await readTextFile(path.join(ctx.root, file), maxBytes);
      if (content === undefined) return;
      for (const m of await lint!(content, path.join(ctx.root, file))) {
        const secret = content.slice(m.range[0], m.range[1]);
        const kind = m.ruleId.replace(/^@secretlint\/secretlint-rule-/, '');
        findings.push({ file, line: m.loc.start.line, column: m.loc.start.column + 1, message: `possible secret (${kind}): ${mask(secret)}` });
      }
    });
    return findings;
  },
});

/** Mask a secret: its first 4 characters when it has at least 16, then asterisks, then its length. */
export function mask(secret: string): string {
  const shown = secret.length >= 16 ? secret.slice(0, 4) : '';
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

/** Path regexes allowlisted by a gitleaks configuration (Go RE2 syntax; `(?i)` becomes the `i` flag). */
async function gitleaksAllowlist(ctx: CheckContext, file: string): Promise<RegExp[]> {
  if (file === '') return [];
  const text = await ctx.readText(file);
  if (text === undefined) return [];
  let toml: Record<string, unknown>;
  try {
    toml = parseToml(text) as Record<string, unknown>;
  } catch {
    return []; // reported by the toml-valid rule
  }
  const lists = [toml.allowlist, ...(Array.isArray(toml.allowlists) ? toml.allowlists : [])] as { paths?: unknown; targetRules?: unknown }[];
  const out: RegExp[] = [];
  for (const list of lists) {
    if (!list || !Array.isArray(list.paths) || (Array.isArray(list.targetRules) && list.targetRules.length > 0)) continue;
    for (const p of list.paths) {
      if (typeof p !== 'string') continue;
      const insensitive = p.startsWith('(?i)');
      try {
        out.push(new RegExp(insensitive ? p.slice(4) : p, insensitive ? 'i' : ''));
      } catch {
        // not a JavaScript-compatible regular expression: ignored
      }
    }
  }
  return out;
}

async function forEachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
