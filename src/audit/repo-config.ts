/**
 * The repository's own audit configuration: `watt-audit.toml` at the root of the audited
 * repository (TOML). It says where the team keeps each GDPR document, which rules it disables or
 * downgrades and why (the report shows the reason), which retention policy the documents must
 * state (the file `watt purge` applies, or categories written here), and which data files may hold
 * (fake) personal data. Without it, watt's defaults apply (documents under docs/).
 *
 * ```toml
 * [documents]                      # path or glob of each document, relative to the repository
 * register = "conformite/registre-des-traitements.md"
 * privacy_notice = "conformite/*confidentialite*.md"
 *
 * [rules."rgpd/register-legal-basis"]
 * severity = "info"                # error | warning | info
 * reason = "legal bases are in the DPA signed with each client"
 *
 * [rules."rgpd/access-matrix-exists"]
 * enabled = false
 * reason = "no access matrix: a single operator"
 *
 * [retention]
 * policy = "config/retention.json"  # the file WATT_RETENTION_POLICY points watt purge to
 * # or, instead of policy:
 * # categories = [{ id = "raw_data", label = "Données brutes", days = 30 }]
 *
 * [personal_data]
 * allow = ["tests/fixtures/**"]    # data files with fake people
 * ```
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import picomatch from 'picomatch';
import { parse as parseToml, TomlError } from 'smol-toml';
import { retentionPolicy, type RetentionCategory } from '../config.js';
import { UsageError } from '../errors.js';
import { SEVERITIES, type Rule, type Severity } from './types.js';

/** Name of the configuration file at the root of the audited repository. */
export const REPO_CONFIG_NAME = 'watt-audit.toml';

/** The documents a configuration may relocate, with watt's default path of each. */
export const DOCUMENTS: Readonly<Record<string, string>> = {
  register: 'docs/rgpd.md',
  privacy_notice: 'docs/privacy_notice.md',
  retention_policy: 'docs/retention_policy.md',
  incident_response: 'docs/incident_response.md',
  risk_register: 'docs/risk_register.md',
  security_runbook: 'docs/runbook_security.md',
  data_inventory: 'docs/data_inventory.csv',
  access_matrix: 'docs/access_matrix.csv',
  gitleaks_config: '.gitleaks.toml',
};

export interface RuleSetting {
  enabled?: boolean;
  severity?: Severity;
  /** Why: shown in the report next to the rule. Required. */
  reason: string;
}

export interface RepoConfig {
  file: string;
  /** Document key -> path or glob. */
  documents: Record<string, string>;
  rules: Record<string, RuleSetting>;
  /** The retention policy to compare with; undefined when the file sets none. */
  retention?: RetentionCategory[];
  personalDataAllow: string[];
}

const fail = (file: string, what: string): never => {
  throw new UsageError(`invalid ${file}: ${what}`, { hint: `see the watt audit-rgpd section of the README for ${REPO_CONFIG_NAME}` });
};

/**
 * Read `<root>/watt-audit.toml`; undefined when there is none.
 * @throws UsageError (exit 2) for invalid TOML or an unknown key, document, severity or missing reason.
 */
export async function readRepoConfig(root: string): Promise<RepoConfig | undefined> {
  const file = REPO_CONFIG_NAME;
  let text: string;
  try {
    text = await readFile(path.join(root, file), 'utf8');
  } catch {
    return undefined;
  }
  let toml: Record<string, unknown>;
  try {
    toml = parseToml(text) as Record<string, unknown>;
  } catch (err) {
    const where = err instanceof TomlError ? ` (line ${err.line})` : '';
    return fail(file, `not valid TOML${where}: ${(err as Error).message.split('\n')[0]}`);
  }
  for (const key of Object.keys(toml)) if (!['documents', 'rules', 'retention', 'personal_data'].includes(key)) fail(file, `unknown table [${key}]`);
  const table = (v: unknown, name: string): Record<string, unknown> => {
    if (v === undefined) return {};
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return fail(file, `${name} must be a table`);
    return v as Record<string, unknown>;
  };
  const documents: Record<string, string> = {};
  for (const [k, v] of Object.entries(table(toml.documents, '[documents]'))) {
    if (!(k in DOCUMENTS)) fail(file, `[documents] ${k} is not a document watt knows (${Object.keys(DOCUMENTS).join(', ')})`);
    if (typeof v !== 'string' || v === '') fail(file, `[documents] ${k} must be a path or glob`);
    documents[k] = v as string;
  }
  const rules: Record<string, RuleSetting> = {};
  for (const [id, raw] of Object.entries(table(toml.rules, '[rules]'))) {
    const r = table(raw, `[rules."${id}"]`);
    for (const k of Object.keys(r)) if (!['enabled', 'severity', 'reason'].includes(k)) fail(file, `[rules."${id}"] has unknown key ${k}`);
    if (typeof r.reason !== 'string' || r.reason.trim() === '') fail(file, `[rules."${id}"] needs a reason (shown in the report)`);
    if (r.severity !== undefined && !SEVERITIES.includes(r.severity as Severity)) fail(file, `[rules."${id}"] severity must be one of ${SEVERITIES.join(', ')}`);
    if (r.enabled !== undefined && typeof r.enabled !== 'boolean') fail(file, `[rules."${id}"] enabled must be true or false`);
    rules[id] = { reason: r.reason as string, ...(r.severity ? { severity: r.severity as Severity } : {}), ...(r.enabled !== undefined ? { enabled: r.enabled as boolean } : {}) };
  }
  const ret = table(toml.retention, '[retention]');
  let retention: RetentionCategory[] | undefined;
  if (ret.policy !== undefined && ret.categories !== undefined) fail(file, '[retention] sets policy or categories, not both');
  if (typeof ret.policy === 'string') {
    retention = retentionPolicy({ WATT_RETENTION_POLICY: path.resolve(root, ret.policy) });
  } else if (ret.policy !== undefined) {
    fail(file, '[retention] policy must be a path');
  } else if (ret.categories !== undefined) {
    if (!Array.isArray(ret.categories) || ret.categories.length === 0) fail(file, '[retention] categories must be a non-empty array of { id, label, days }');
    retention = (ret.categories as unknown[]).map((c, i) => {
      const t = table(c, `[retention] categories[${i}]`);
      if (typeof t.id !== 'string' || typeof t.days !== 'number' || !(t.days > 0)) fail(file, `[retention] categories[${i}] needs id (string) and days (> 0)`);
      return { id: t.id as string, label: typeof t.label === 'string' ? t.label : (t.id as string), days: t.days as number };
    });
  }
  const pd = table(toml.personal_data, '[personal_data]');
  const allow = pd.allow ?? [];
  if (!Array.isArray(allow) || allow.some((g) => typeof g !== 'string')) fail(file, '[personal_data] allow must be an array of globs');
  return { file, documents, rules, ...(retention ? { retention } : {}), personalDataAllow: allow as string[] };
}

/**
 * The rules with the configuration applied: each option naming a default document path (`file`,
 * `paths`) now names the configured one (a glob resolved against `files`, the repository's files:
 * its first match, sorted; no match leaves the glob, which the check reports missing); rule
 * settings applied (`reason` kept for the report).
 * @throws UsageError for a setting naming an unknown rule.
 */
export function applyRepoConfig(rules: readonly Rule[], config: RepoConfig, files: readonly string[]): (Rule & { reason?: string })[] {
  const moved = new Map<string, string>();
  for (const [key, target] of Object.entries(config.documents)) {
    let resolved = target;
    if (picomatch.scan(target).isGlob) {
      const isMatch = picomatch(target, { dot: true });
      resolved = [...files].sort().find((f) => isMatch(f)) ?? target;
    }
    moved.set(DOCUMENTS[key]!, resolved);
  }
  const ids = new Set(rules.map((r) => r.id));
  for (const id of Object.keys(config.rules)) if (!ids.has(id)) fail(config.file, `[rules."${id}"] is not a rule of this audit`);
  return rules.map((rule) => {
    const check = { ...rule.check };
    if (typeof check.file === 'string' && moved.has(check.file)) check.file = moved.get(check.file);
    if (Array.isArray(check.paths)) check.paths = (check.paths as string[]).map((p) => moved.get(p) ?? p);
    if (typeof check.gitleaksConfig === 'string' && moved.has(check.gitleaksConfig)) check.gitleaksConfig = moved.get(check.gitleaksConfig);
    const setting = config.rules[rule.id];
    return { ...rule, check, ...(setting ? { reason: setting.reason, ...(setting.severity ? { severity: setting.severity } : {}), ...(setting.enabled !== undefined ? { enabled: setting.enabled } : {}) } : {}) };
  });
}
