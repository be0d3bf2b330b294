/**
 * The secret scanner of `watt audit-rgpd` (check type `secrets`), in the manner of gitleaks: rules
 * are data (src/audit/rules/secrets.json), each a regular expression with a capture group for the
 * secret, keywords that must occur before the regex runs (a cheap prefilter), an optional minimum
 * Shannon entropy of the secret and an allowlist. Source of the formats: gitleaks'
 * config/gitleaks.toml and the providers' documentation of their token prefixes.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { assetPath } from '../../paths.js';

/** A rule as written in secrets.json. */
export interface SecretRuleSpec {
  id: string;
  description: string;
  /** JavaScript regular expression source; a leading `(?i)` means case-insensitive. */
  regex: string;
  /** Extra JavaScript flags (e.g. "i"). */
  flags?: string;
  /** Capture group holding the secret (default 1; 0 = the whole match). */
  secretGroup?: number;
  /** Lower-case substrings; at least one must occur in the text for the rule to run. Empty: always runs. */
  keywords: string[];
  /** Minimum Shannon entropy of the secret, in bits per character. */
  entropy?: number;
  allowlist?: AllowlistSpec;
  /** More allowlists (each with its own target), as gitleaks' `[[rules.allowlists]]`. */
  allowlists?: AllowlistSpec[];
  /** For rules keyed on a name (the generic rule): how the key name must read, word by word. */
  key?: KeyNameSpec;
  /**
   * `true` strings must be found by this rule, `false` strings by no rule. `gitleaks`: the true and
   * false examples of the gitleaks rule generators this rule covers (MIT; written by
   * scripts/gitleaks-examples.mjs), each true one found by this rule, no false one by it.
   */
  examples?: { true: string[]; false: string[]; gitleaks?: { from: string[]; true: string[]; false: string[] } };
}

/**
 * The key name of a key = value match, read as words: `COMMIT_AUTHOR_EMAIL` is `commit author
 * email` (no `auth`), `operatorToken` is `operator token`, `APIToken` is `api token`.
 */
export interface KeyNameSpec {
  /** Capture group holding the key name. */
  group: number;
  /** Lower-case words that make a key secret-named (`token`, `password`...). */
  words: string[];
  /** Endings of a lower-case run-together word that make it secret-named (`apitoken`, `dbpassword`). */
  suffixes?: string[];
  /** A key whose last word is one of these names a reference, not a secret (`token_type`, `secret_name`, `key_id`). */
  notLast?: string[];
  /** A key holding one of these words is not a secret (`public_key`, `csrf_token`, `primary_key`). */
  notWith?: string[];
  /**
   * Skip values that read as code identifiers (`_init_extra_computedKey2`, `BinaryOperatorToken`):
   * every word of the value (split as key names are) has 2+ letters and a vowel. A random token
   * (`Zf3D0LXCM3EIMbgJpUNnkRtOfOueHznB`) splits into words without vowels or of one letter.
   */
  skipIdentifierValues?: boolean;
}

/** True when `value` reads as a code identifier made of words (see `KeyNameSpec.skipIdentifierValues`). */
export function isIdentifierValue(value: string): boolean {
  if (!/^[A-Za-z_$][\w$]*$/.test(value)) return false;
  const words = keyWords(value);
  return words.length > 0 && words.every((w) => /^[a-z]{2,}$/.test(w) && /[aeiouy]/.test(w));
}

/** Split an identifier into lower-case words at `_ - .`, spaces and camelCase boundaries (`APIToken` -> api, token). */
export function keyWords(name: string): string[] {
  return name
    .replace(/(\d)([A-Za-z])/g, '$1 $2')
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z])([A-Z][a-z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .map((w) => w.replace(/\d+$/, ''))
    .filter((w) => w !== '');
}

/** True when `name` reads as a secret's name under `spec`. */
export function isSecretKeyName(name: string, spec: KeyNameSpec): boolean {
  const words = keyWords(name);
  if (words.length === 0) return false;
  const secretWord = (w: string) => spec.words.includes(w) || (spec.suffixes ?? []).some((s) => w.length > s.length && w.endsWith(s));
  if (!words.some(secretWord)) return false;
  if (spec.notLast?.includes(words[words.length - 1]!)) return false;
  if (spec.notWith && words.some((w) => spec.notWith!.includes(w))) return false;
  return true;
}

export interface AllowlistSpec {
  description?: string;
  /** Regular expressions tested against the secret (or the whole match / line, see `regexTarget`). */
  regexes?: string[];
  regexTarget?: 'secret' | 'match' | 'line';
  /** A secret containing one of these (case-insensitive) is not reported. */
  stopwords?: string[];
}

export interface SecretRuleSet {
  version: 1;
  allowlist?: AllowlistSpec;
  rules: SecretRuleSpec[];
}

/** A compiled rule. */
export interface SecretRule {
  id: string;
  description: string;
  re: RegExp;
  group: number;
  keywords: string[];
  entropy?: number;
  allow: CompiledAllowlist[];
  key?: KeyNameSpec;
}

/** An allowlist ready to test: from secrets.json or from a .gitleaks.toml. */
export interface CompiledAllowlist {
  regexes: RegExp[];
  regexTarget: 'secret' | 'match' | 'line';
  stopwords: string[];
  /** Path regexes (gitleaks `paths`). */
  paths: RegExp[];
  /** Commit SHAs (or prefixes) whose findings are allowed. */
  commits: string[];
  /** Rules it applies to (empty: all). */
  targetRules: string[];
  /** gitleaks `condition`: OR (any criterion allows) or AND (all given criteria must hold). */
  condition: 'OR' | 'AND';
}

/** One secret found in a text. `secret` is the raw value: callers mask it before any output. */
export interface SecretMatch {
  ruleId: string;
  description: string;
  secret: string;
  /** 1-based line and column of the secret in the text. */
  line: number;
  column: number;
}

/** Path of watt's secret rules, shipped with the package. */
export const SECRET_RULES_FILE = assetPath('src', 'audit', 'rules', 'secrets.json');

/**
 * Turn a gitleaks (Go RE2) or JavaScript regex source into a RegExp: a leading `(?i)` becomes the
 * `i` flag; other inline groups unsupported by JavaScript make it throw.
 */
export function toRegExp(source: string, flags = ''): RegExp {
  let src = source;
  let f = flags;
  if (src.startsWith('(?i)')) {
    src = src.slice(4);
    if (!f.includes('i')) f += 'i';
  }
  return new RegExp(src, f);
}

/** Compile an allowlist (throws on an invalid regex). */
export function compileAllowlist(spec: AllowlistSpec & { paths?: string[]; commits?: string[]; targetRules?: string[]; condition?: string }): CompiledAllowlist {
  return {
    regexes: (spec.regexes ?? []).map((r) => toRegExp(r)),
    regexTarget: spec.regexTarget ?? 'secret',
    stopwords: (spec.stopwords ?? []).map((s) => s.toLowerCase()),
    paths: (spec.paths ?? []).map((p) => toRegExp(p)),
    commits: spec.commits ?? [],
    targetRules: spec.targetRules ?? [],
    condition: spec.condition?.toUpperCase() === 'AND' ? 'AND' : 'OR',
  };
}

/** Compile a rule set; throws an Error naming the rule on an invalid regex. */
export function compileRules(set: SecretRuleSet): { rules: SecretRule[]; allow: CompiledAllowlist[] } {
  const global = set.allowlist ? [compileAllowlist(set.allowlist)] : [];
  const rules = set.rules.map((spec) => {
    try {
      const re = toRegExp(spec.regex, spec.flags ?? '');
      return {
        id: spec.id,
        description: spec.description,
        re: new RegExp(re.source, `${re.flags.replace(/[gy]/g, '')}gd`),
        group: spec.secretGroup ?? 1,
        keywords: spec.keywords.map((k) => k.toLowerCase()),
        entropy: spec.entropy,
        allow: [...(spec.allowlist ? [spec.allowlist] : []), ...(spec.allowlists ?? [])].map((a) => compileAllowlist(a)),
        ...(spec.key ? { key: spec.key } : {}),
      };
    } catch (err) {
      throw new Error(`secret rule ${spec.id}: ${(err as Error).message}`);
    }
  });
  return { rules, allow: global };
}

let defaults: { set: SecretRuleSet; compiled: ReturnType<typeof compileRules> } | undefined;
/** watt's default secret rules (src/audit/rules/secrets.json), read and compiled once. */
export function defaultSecretRules(): { set: SecretRuleSet; compiled: ReturnType<typeof compileRules> } {
  if (!defaults) {
    const set = JSON.parse(readFileSync(SECRET_RULES_FILE, 'utf8')) as SecretRuleSet;
    defaults = { set, compiled: compileRules(set) };
  }
  return defaults;
}

/** Shannon entropy of a string in bits per character (log2 of the alphabet for uniform random text). */
export function shannonEntropy(text: string): number {
  if (text.length === 0) return 0;
  const counts = new Map<string, number>();
  for (const ch of text) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let h = 0;
  const n = [...text].length;
  for (const c of counts.values()) {
    const p = c / n;
    h -= p * Math.log2(p);
  }
  return h;
}

/** Stable fingerprint of a secret for a rule (SHA-256, 16 hex digits): baselines match on it, never on the secret. */
export function secretFingerprint(ruleId: string, secret: string): string {
  return createHash('sha256').update(`${ruleId}\0${secret}`).digest('hex').slice(0, 16);
}

/** Where an allowlist is tested: the candidate, and where it was found. */
export interface AllowContext {
  ruleId: string;
  secret: string;
  match: string;
  line: string;
  file?: string;
  commit?: string;
}

/** True when `list` allows the candidate (gitleaks semantics: OR by default, AND when `condition = "AND"`). */
export function allows(list: CompiledAllowlist, c: AllowContext): boolean {
  if (list.targetRules.length > 0 && !list.targetRules.includes(c.ruleId)) return false;
  const checks: boolean[] = [];
  if (list.commits.length > 0) checks.push(c.commit !== undefined && list.commits.some((sha) => sha.length >= 7 && c.commit!.startsWith(sha)));
  if (list.paths.length > 0) checks.push(c.file !== undefined && list.paths.some((re) => re.test(c.file!)));
  if (list.regexes.length > 0) {
    const target = list.regexTarget === 'match' ? c.match : list.regexTarget === 'line' ? c.line : c.secret;
    checks.push(list.regexes.some((re) => re.test(target)));
  }
  if (list.stopwords.length > 0) {
    const s = c.secret.toLowerCase();
    checks.push(list.stopwords.some((w) => s.includes(w)));
  }
  if (checks.length === 0) return false;
  return list.condition === 'AND' ? checks.every(Boolean) : checks.some(Boolean);
}

const anchors = new WeakMap<SecretRule, { keyword: RegExp; sticky: RegExp }>();
const IDENT = /[\w.-]/;
/**
 * Matches of a key-named rule, tried only where an identifier holding one of its keywords starts:
 * the regex is run sticky at that identifier rather than at every offset of the text (the generic
 * rule over a large history is otherwise most of the scan).
 */
function* anchoredMatches(text: string, rule: SecretRule): Generator<RegExpMatchArray> {
  let a = anchors.get(rule);
  if (!a) {
    const words = rule.keywords.map((k) => k.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
    a = { keyword: new RegExp(words.join('|'), 'gi'), sticky: new RegExp(rule.re.source, `${rule.re.flags.replace(/[gyd]/g, '')}yd`) };
    anchors.set(rule, a);
  }
  a.keyword.lastIndex = 0;
  let tried = -1;
  for (let k = a.keyword.exec(text); k; k = a.keyword.exec(text)) {
    let start = k.index;
    while (start > 0 && IDENT.test(text[start - 1]!)) start--;
    if (start <= tried) continue;
    tried = start;
    a.sticky.lastIndex = start;
    const m = a.sticky.exec(text);
    if (m) {
      yield m;
      a.keyword.lastIndex = Math.max(a.keyword.lastIndex, m.index + m[0].length);
      tried = m.index + m[0].length - 1;
    } else {
      // Skip the rest of this identifier.
      let end = k.index + k[0].length;
      while (end < text.length && IDENT.test(text[end]!)) end++;
      a.keyword.lastIndex = end;
    }
  }
}

const prefixCache = new WeakMap<readonly SecretRule[], string[]>();
/** Keywords of the specific rules that are token prefixes (`xoxp-`, `ghp_`, `glpat-`): at least 3 characters ending in `-`, `_` or `.`. */
function tokenPrefixes(rules: readonly SecretRule[]): string[] {
  let out = prefixCache.get(rules);
  if (!out) {
    out = rules.filter((r) => r.id !== 'generic-secret').flatMap((r) => r.keywords.filter((k) => k.length >= 3 && /[-_.]$/.test(k)));
    prefixCache.set(rules, out);
  }
  return out;
}

/** Offsets of line starts, for offset -> line/column. */
function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  return starts;
}

function locate(starts: number[], offset: number): { line: number; column: number } {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid]! <= offset) lo = mid;
    else hi = mid - 1;
  }
  return { line: lo + 1, column: offset - starts[lo]! + 1 };
}

/**
 * The keyword prefilter of a rule list: which keywords occur in a text (case-insensitively, as
 * `text.toLowerCase().includes(keyword)`), found in one pass over the text by an Aho-Corasick
 * automaton over ASCII (gitleaks prefilters the same way), instead of one `includes` per keyword:
 * on babel's history (320 MB of added lines, 69 keywords) 5.5 s of CPU became well under one.
 * Every UTF-16 code unit is mapped to the ASCII character its lower case starts with (`K` and the
 * Kelvin sign to `k`), any other to none, so the automaton never misses a keyword that `includes`
 * would find. Rules with a non-ASCII keyword (a custom .gitleaks.toml rule) use `includes`.
 */
export interface KeywordFilter {
  /** For each rule (same order as the list), true when it must run on `text`. */
  rulesToRun(text: string): boolean[];
}

let lowerClass: Uint8Array | undefined;
/** Code unit -> the ASCII code of the first character of its lower case, or 0 when that is not ASCII. */
function lowerClasses(): Uint8Array {
  if (!lowerClass) {
    lowerClass = new Uint8Array(65536);
    for (let c = 1; c < 65536; c++) {
      const l = String.fromCharCode(c).toLowerCase().charCodeAt(0);
      lowerClass[c] = l < 128 ? l : 0;
    }
  }
  return lowerClass;
}

const filters = new WeakMap<readonly SecretRule[], KeywordFilter>();
/** The keyword prefilter of `rules` (built once per rule list). */
export function keywordFilter(rules: readonly SecretRule[]): KeywordFilter {
  let filter = filters.get(rules);
  if (filter) return filter;
  const ascii = (k: string) => /^[\x01-\x7f]+$/.test(k);
  const words = [...new Set(rules.flatMap((r) => r.keywords.filter(ascii)))];
  const index = new Map(words.map((w, i) => [w, i]));
  // Trie, then breadth-first failure links folded into a full transition table (a DFA).
  const next: number[][] = [[]];
  const outputs: number[][] = [[]];
  words.forEach((w, k) => {
    let s = 0;
    for (let i = 0; i < w.length; i++) {
      const c = w.charCodeAt(i);
      let t = next[s]![c];
      if (t === undefined) {
        t = next.length;
        next[s]![c] = t;
        next.push([]);
        outputs.push([]);
      }
      s = t;
    }
    outputs[s]!.push(k);
  });
  const states = next.length;
  const delta = new Int32Array(states * 128);
  const fail = new Int32Array(states);
  const queue: number[] = [];
  for (let c = 0; c < 128; c++) {
    const t = next[0]![c];
    if (t !== undefined) {
      delta[c] = t;
      queue.push(t);
    }
  }
  for (let q = 0; q < queue.length; q++) {
    const s = queue[q]!;
    outputs[s]!.push(...outputs[fail[s]!]!);
    for (let c = 0; c < 128; c++) {
      const t = next[s]![c];
      if (t === undefined) delta[s * 128 + c] = delta[fail[s]! * 128 + c]!;
      else {
        fail[t] = delta[fail[s]! * 128 + c]!;
        delta[s * 128 + c] = t;
        queue.push(t);
      }
    }
  }
  const hasOutput = new Uint8Array(states);
  for (let s = 0; s < states; s++) hasOutput[s] = outputs[s]!.length > 0 ? 1 : 0;
  const classes = lowerClasses();
  const ruleWords = rules.map((r) => r.keywords.map((k) => (ascii(k) ? index.get(k)! : -1)));
  const needsIncludes = ruleWords.some((ws) => ws.includes(-1));
  filter = {
    rulesToRun(text: string): boolean[] {
      const found = new Uint8Array(words.length);
      let s = 0;
      for (let i = 0, n = text.length; i < n; i++) {
        s = delta[(s << 7) | classes[text.charCodeAt(i)]!]!;
        if (hasOutput[s] === 1) for (const k of outputs[s]!) found[k] = 1;
      }
      const lower = needsIncludes ? text.toLowerCase() : '';
      return rules.map((r, i) => r.keywords.length === 0 || ruleWords[i]!.some((k, j) => (k >= 0 ? found[k] === 1 : lower.includes(r.keywords[j]!))));
    },
  };
  filters.set(rules, filter);
  return filter;
}

/**
 * Scan a text with the rules: for each rule whose keyword occurs (case-insensitively), every
 * regex match whose secret passes the entropy minimum and no allowlist (the rule's, the rule set's,
 * and `extra`, e.g. from .gitleaks.toml) is returned. Lines holding `gitleaks:allow` are skipped
 * (gitleaks' inline ignore).
 */
export function scanText(
  text: string,
  rules: readonly SecretRule[],
  allow: readonly CompiledAllowlist[],
  where: { file?: string; commit?: string } = {},
): SecretMatch[] {
  const run = keywordFilter(rules).rulesToRun(text);
  type Candidate = { rule: SecretRule; secret: string; start: number; match: string };
  const candidates: Candidate[] = [];
  for (let r = 0; r < rules.length; r++) {
    if (!run[r]) continue;
    const rule = rules[r]!;
    rule.re.lastIndex = 0;
    for (const m of rule.key ? anchoredMatches(text, rule) : text.matchAll(rule.re)) {
      const secret = m[rule.group];
      const span = m.indices?.[rule.group];
      if (!secret || !span) continue;
      if (rule.key && !isSecretKeyName(m[rule.key.group] ?? '', rule.key)) continue;
      if (rule.key?.skipIdentifierValues && isIdentifierValue(secret)) continue;
      if (rule.entropy !== undefined && shannonEntropy(secret) < rule.entropy) continue;
      candidates.push({ rule, secret, start: span[0], match: m[0] });
    }
  }
  // A token matched by a specific rule is not reported again as "generic-secret" (even when an
  // allowlist allows the specific finding: the allowlist meant that token); nor is a value that
  // carries a provider's token prefix (`xoxp-`, `ghp_`) which that provider's rule rejected.
  const specific = candidates.filter((c) => c.rule.id !== 'generic-secret');
  const prefixes = tokenPrefixes(rules);
  const overlaps = (a: Candidate, b: Candidate) => a.start < b.start + b.secret.length && b.start < a.start + a.secret.length;
  const out: SecretMatch[] = [];
  let starts: number[] | undefined;
  for (const c of candidates) {
    if (c.rule.id === 'generic-secret') {
      if (specific.some((s) => overlaps(s, c))) continue;
      const lowerSecret = c.secret.toLowerCase();
      if (prefixes.some((p) => lowerSecret.startsWith(p))) continue;
    }
    starts ??= lineStarts(text);
    const pos = locate(starts, c.start);
    const lineText = text.slice(starts[pos.line - 1]!, starts[pos.line] ?? text.length);
    if (lineText.includes('gitleaks:allow')) continue;
    const ctx: AllowContext = { ruleId: c.rule.id, secret: c.secret, match: c.match, line: lineText, ...where };
    if (c.rule.allow.some((l) => allows(l, ctx)) || allow.some((l) => allows(l, ctx))) continue;
    out.push({ ruleId: c.rule.id, description: c.rule.description, secret: c.secret, line: pos.line, column: pos.column });
  }
  return out;
}
