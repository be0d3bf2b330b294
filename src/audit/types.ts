/**
 * Types of `watt audit-rgpd`: rules (data, from `src/audit/rules/default.json` and a user's
 * `watt-audit.json`), findings and the report every reporter renders.
 *
 * The JSON report (`--format json`) is `AuditReport` serialised as is; its shape is versioned by
 * `AuditReport.version` and only grows by new optional fields within a version.
 */

/** How serious a finding is. `--fail-on` compares against it: error > warning > info. */
export type Severity = 'error' | 'warning' | 'info';
export const SEVERITIES: readonly Severity[] = ['error', 'warning', 'info'];

/** Rank of a severity (higher is more serious). */
export function severityRank(severity: Severity): number {
  return severity === 'error' ? 3 : severity === 'warning' ? 2 : 1;
}

/** A check spec as written in a rule: `{ "type": "file-exists", ...options }`. */
export interface CheckSpec {
  type: string;
  [option: string]: unknown;
}

/**
 * A rule example: a fixture repository (folder under `tests/fixtures/audit/`), optionally
 * changed: `overlay` (a folder copied on top), `remove` (paths deleted), `edit` (text replaced),
 * `write` (files written, path -> content) and `track` (paths force-added to git even if ignored). Run by
 * tests/audit/rule-examples.test.ts: a `pass` example passes the rule, a `fail` example fails
 * exactly that rule.
 */
export interface RuleExample {
  fixture: string;
  overlay?: string;
  remove?: string[];
  /** Text replacements per file: `{ "docs/rgpd.md": { "## Finalités": "## Divers" } }` (each search must occur). */
  edit?: Record<string, Record<string, string>>;
  write?: Record<string, string>;
  track?: string[];
}

/** One audit rule (see schemas/audit-rules.schema.json). */
export interface Rule {
  /** Stable id, e.g. `rgpd/register-purposes`; used as the SARIF ruleId and JUnit test name. */
  id: string;
  title: string;
  severity: Severity;
  /** The legal source, e.g. "GDPR Art. 30(1)(b)". */
  article: string;
  /** What to write or do, in one or two sentences. */
  help: string;
  /** Absolute URL of the article or guidance (SARIF `helpUri`). */
  helpUri?: string;
  /** Ids of rules this one needs: when one of them fails, this rule is reported `skipped`. */
  dependsOn?: string[];
  /** false disables the rule (its result is `disabled`). Default true. */
  enabled?: boolean;
  check: CheckSpec;
  examples?: { pass: RuleExample[]; fail: RuleExample[] };
}

/** A rule set file: the defaults, or a user's `watt-audit.json`. */
export interface RuleSetFile {
  $schema?: string;
  version?: 1;
  /** User config only: start from watt's default rules (default true). */
  extendDefaults?: boolean;
  /** Rules added (or, with the id of a default rule, replaced). */
  rules?: Rule[];
  /** Changes to existing rules by id: severity, enabled, help, article, helpUri. */
  overrides?: Record<string, Partial<Pick<Rule, 'severity' | 'enabled' | 'help' | 'article' | 'helpUri' | 'title'>>>;
}

/** What a check reports: where (repository-relative POSIX path, 1-based line/column) and what. */
export interface CheckFinding {
  /** Repository-relative path; for a missing file, the expected path (or glob). */
  file: string;
  line?: number;
  column?: number;
  /** One line; never a secret (secrets are masked) nor a personal identifier. */
  message: string;
  /**
   * Stable identity of the finding for baselines (`--baseline`): for a secret, a hash of the rule
   * and the secret (never the secret); otherwise the engine derives one from rule, file and message.
   * Line numbers are not part of it, so a finding that moves stays known.
   */
  fingerprint?: string;
  /** For a secret found only in the git history: the commit that added it (full SHA). */
  commit?: string;
  /**
   * Not a finding: what satisfied the fact with this id (`message` holds the sentence). Kept in
   * `RuleResult.evidence` with `--explain`, never reported as a finding.
   */
  evidence?: string;
  /** `info`: a note about the check itself; reported, never fails the rule. `warning`: fails the rule at warning level (a shallow clone). */
  severity?: 'info' | 'warning';
}

/** A finding in the report: the check's finding plus its rule's metadata. */
export interface Finding extends Omit<CheckFinding, 'severity'> {
  ruleId: string;
  /** The rule's severity; `info` for a finding known to the baseline (`baselined: true`). */
  severity: Severity;
  fingerprint: string;
  /** True when `--baseline` lists the finding: reported as a note, never fails the run. */
  baselined?: boolean;
  article: string;
  help: string;
}

/** Outcome of one rule. */
export type RuleStatus = 'pass' | 'fail' | 'skipped' | 'disabled';

/** Outcome of one rule: the rule's metadata, its check type, and what happened. */
export interface RuleResult extends Pick<Rule, 'id' | 'title' | 'severity' | 'article' | 'help' | 'helpUri'> {
  checkType: string;
  status: RuleStatus;
  /** For `skipped`: the failing rules it depends on. */
  skippedBecause?: string[];
  /** Why the repository's watt-audit.toml disabled or changed the severity of this rule. */
  reason?: string;
  /** With `--explain`: for each fact that holds, the sentence that satisfied it and where. */
  evidence?: { fact: string; file: string; line: number; text: string }[];
  findings: number;
}

/**
 * The audit report (`--format json`), version 1:
 * `{ version, tool: {name, version}, summary: {rules, passed, failed, skipped, disabled, errors,
 * warnings, infos, durationMs}, rules: RuleResult[], findings: Finding[] }`.
 * Findings are sorted by file, line, rule id, message; rules keep the rule-set order.
 */
export interface AuditReport {
  version: 1;
  tool: { name: 'watt'; version: string };
  summary: AuditSummary;
  rules: RuleResult[];
  findings: Finding[];
}

export interface AuditSummary {
  rules: number;
  passed: number;
  failed: number;
  skipped: number;
  disabled: number;
  errors: number;
  warnings: number;
  infos: number;
  /** Wall time of the audit in milliseconds (volatile). */
  durationMs: number;
}

/** `--fail-on`: the lowest severity that fails the run, or never. */
export type FailOn = Severity | 'never';

/** True when the report has a finding at or above `failOn`. */
export function failsAt(report: AuditReport, failOn: FailOn): boolean {
  if (failOn === 'never') return false;
  const min = severityRank(failOn);
  return report.findings.some((f) => severityRank(f.severity) >= min);
}
