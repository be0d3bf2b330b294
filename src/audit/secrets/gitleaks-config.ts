/**
 * Read a gitleaks configuration (`.gitleaks.toml`, https://github.com/gitleaks/gitleaks#configuration)
 * for what `watt audit-rgpd` honours of it: the global `[allowlist]` and `[[allowlists]]` tables
 * (paths, regexes, regexTarget, stopwords, commits, targetRules, condition) and custom `[[rules]]`
 * (id, description, regex, secretGroup, keywords, entropy, their `[[rules.allowlists]]`).
 * Regexes are Go RE2; those JavaScript cannot compile (an inline `(?i)` in mid-pattern...) are
 * skipped and listed in `skipped`.
 */
import { parse as parseToml } from 'smol-toml';
import { compileAllowlist, toRegExp, type CompiledAllowlist, type SecretRule } from './scanner.js';

export interface GitleaksConfig {
  allow: CompiledAllowlist[];
  rules: SecretRule[];
  /** What could not be used, one line each (e.g. `rule my-rule: Invalid regular expression`). */
  skipped: string[];
}

type Table = Record<string, unknown>;

const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

function allowlist(t: Table, skipped: string[], where: string): CompiledAllowlist | undefined {
  const regexes: string[] = [];
  for (const r of strings(t.regexes)) {
    try {
      toRegExp(r);
      regexes.push(r);
    } catch {
      skipped.push(`${where}: regex ${JSON.stringify(r.slice(0, 40))} is not valid in JavaScript`);
    }
  }
  const paths: string[] = [];
  for (const p of strings(t.paths)) {
    try {
      toRegExp(p);
      paths.push(p);
    } catch {
      skipped.push(`${where}: path ${JSON.stringify(p.slice(0, 40))} is not valid in JavaScript`);
    }
  }
  const target = t.regexTarget === 'match' || t.regexTarget === 'line' ? t.regexTarget : 'secret';
  return compileAllowlist({
    regexes,
    regexTarget: target,
    stopwords: strings(t.stopwords),
    paths,
    commits: strings(t.commits),
    targetRules: strings(t.targetRules),
    condition: typeof t.condition === 'string' ? t.condition : undefined,
  });
}

/**
 * Parse the text of a `.gitleaks.toml`.
 * @throws the TOML parser's error for invalid TOML (the `toml-valid` rule reports it).
 */
export function parseGitleaksConfig(text: string): GitleaksConfig {
  const toml = parseToml(text) as Table;
  const skipped: string[] = [];
  const allow: CompiledAllowlist[] = [];
  const lists = [toml.allowlist, ...(Array.isArray(toml.allowlists) ? toml.allowlists : [])];
  lists.forEach((t, i) => {
    if (t && typeof t === 'object') {
      const list = allowlist(t as Table, skipped, i === 0 ? '[allowlist]' : `[[allowlists]] #${i}`);
      if (list) allow.push(list);
    }
  });
  const rules: SecretRule[] = [];
  for (const r of Array.isArray(toml.rules) ? (toml.rules as Table[]) : []) {
    if (typeof r.id !== 'string' || typeof r.regex !== 'string') continue; // path-only rules are not supported
    let re: RegExp;
    try {
      re = toRegExp(r.regex);
    } catch {
      skipped.push(`rule ${r.id}: regex is not valid in JavaScript`);
      continue;
    }
    const ruleAllow = [r.allowlist, ...(Array.isArray(r.allowlists) ? r.allowlists : [])]
      .filter((t): t is Table => !!t && typeof t === 'object')
      .map((t) => allowlist(t, skipped, `rule ${r.id as string}`)!)
      .filter(Boolean);
    rules.push({
      id: r.id,
      description: typeof r.description === 'string' ? r.description : r.id,
      re: new RegExp(re.source, `${re.flags.replace(/[gy]/g, '')}gd`),
      group: typeof r.secretGroup === 'number' ? r.secretGroup : re.source.includes('(') ? 1 : 0,
      keywords: strings(r.keywords).map((k) => k.toLowerCase()),
      entropy: typeof r.entropy === 'number' ? r.entropy : undefined,
      allow: ruleAllow,
    });
  }
  return { allow, rules, skipped };
}
