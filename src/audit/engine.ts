import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { RetentionCategory } from '../config.js';
import { UsageError } from '../errors.js';
import { wattVersion } from '../paths.js';
import { applyBaseline, readBaseline } from './baseline.js';
import { CHECKS } from './checks/index.js';
import { createContext } from './context.js';
import { applyRepoConfig, readRepoConfig } from './repo-config.js';
import { loadRules } from './rules.js';
import type { AuditReport, CheckFinding, Finding, Rule, RuleResult, RuleStatus } from './types.js';

/** Name of the configuration file looked up in the audited folder when `--config` is not given. */
export const DEFAULT_CONFIG_NAME = 'watt-audit.json';

export interface AuditOptions {
  /** Folder to audit (a git work tree for the `not-tracked` and `secrets` checks to be exact). */
  dir: string;
  /** A user's rule configuration; `undefined` uses `<dir>/watt-audit.json` if it exists, else the defaults. */
  configFile?: string;
  /**
   * The retention policy the documents must state (e.g. `WATT_RETENTION_POLICY`'s); the
   * repository's `watt-audit.toml` `[retention]` wins. None: the retention rule checks only that
   * periods are stated.
   */
  retention?: readonly RetentionCategory[];
  /** Preloaded rules (tests); overrides `configFile`. */
  rules?: readonly Rule[];
  /** Scan the git history for secrets (default true; `--no-history`). */
  history?: boolean;
  /** A baseline file (`--baseline`): the findings it lists become notes. */
  baseline?: string;
  /** `--explain`: keep, per rule, the sentence (and line) that satisfied each fact (`RuleResult.evidence`). */
  explain?: boolean;
}

/**
 * Audit a repository against the GDPR rule set: run every enabled rule's check (concurrently, over
 * shared file caches), mark rules whose `dependsOn` failed as `skipped`, and return the report.
 * Never sets an exit code: the caller compares the report with `--fail-on` (see `failsAt`).
 * @throws UsageError (exit 2) when `dir` is not a folder or the rule configuration is invalid.
 */
export async function runAudit(options: AuditOptions): Promise<AuditReport> {
  const started = performance.now();
  const root = path.resolve(options.dir);
  const info = await stat(root).catch(() => undefined);
  if (!info?.isDirectory()) throw new UsageError(`cannot audit ${options.dir}: not a folder`, { hint: 'pass --dir with the repository to audit' });

  let configFile = options.configFile;
  if (configFile === undefined && !options.rules) {
    const candidate = path.join(root, DEFAULT_CONFIG_NAME);
    if ((await stat(candidate).catch(() => undefined))?.isFile()) configFile = candidate;
  }
  const repoConfig = await readRepoConfig(root);
  const ctx = createContext(root, repoConfig?.retention ?? options.retention, options.history ?? true, { personalDataAllow: repoConfig?.personalDataAllow ?? [] });
  let rules: (Rule & { reason?: string })[] = options.rules ? [...options.rules] : await loadRules(configFile);
  if (repoConfig) rules = applyRepoConfig(rules, repoConfig, (await ctx.trackedFiles()) ?? (await ctx.walkFiles()));
  const known = options.baseline !== undefined ? await readBaseline(options.baseline) : undefined;

  const raw = new Map<string, CheckFinding[]>();
  const evidence = new Map<string, NonNullable<RuleResult['evidence']>>();
  await Promise.all(
    rules.map(async (rule) => {
      if (rule.enabled === false) return;
      const check = CHECKS.get(rule.check.type);
      if (!check) throw new UsageError(`rule "${rule.id}" uses unknown check type "${rule.check.type}"`);
      const { type: _type, ...checkOptions } = rule.check;
      const out: CheckFinding[] = await check.run(checkOptions, ctx);
      const proofs = out.filter((f) => f.evidence !== undefined);
      if (proofs.length > 0) evidence.set(rule.id, proofs.map((f) => ({ fact: f.evidence!, file: f.file, line: f.line ?? 1, text: f.message })));
      raw.set(rule.id, out.filter((f) => f.evidence === undefined));
    }),
  );

  const byId = new Map(rules.map((r) => [r.id, r]));
  const status = new Map<string, { status: RuleStatus; because?: string[] }>();
  const resolve = (rule: Rule, stack: Set<string>): RuleStatus => {
    const known = status.get(rule.id);
    if (known) return known.status;
    if (rule.enabled === false) {
      status.set(rule.id, { status: 'disabled' });
      return 'disabled';
    }
    stack.add(rule.id);
    const failedDeps = (rule.dependsOn ?? []).filter((dep) => {
      if (stack.has(dep)) throw new UsageError(`rule "${rule.id}" has a dependsOn cycle through "${dep}"`);
      const s = resolve(byId.get(dep)!, stack);
      return s === 'fail' || s === 'skipped';
    });
    stack.delete(rule.id);
    const result: { status: RuleStatus; because?: string[] } =
      failedDeps.length > 0 ? { status: 'skipped', because: failedDeps } : { status: (raw.get(rule.id) ?? []).some((f) => f.severity !== 'info') ? 'fail' : 'pass' };
    status.set(rule.id, result);
    return result.status;
  };

  const findings: Finding[] = [];
  const results: RuleResult[] = rules.map((rule) => {
    const s = resolve(rule, new Set());
    const own = s === 'fail' || s === 'pass' ? (raw.get(rule.id) ?? []) : [];
    for (const f of own) {
      const fingerprint = f.fingerprint ?? createHash('sha256').update(`${rule.id}\0${f.file}\0${f.message}`).digest('hex').slice(0, 16);
      findings.push({ ...f, fingerprint, ruleId: rule.id, severity: f.severity ?? rule.severity, article: rule.article, help: rule.help });
    }
    const result: RuleResult = {
      id: rule.id,
      title: rule.title,
      severity: rule.severity,
      article: rule.article,
      help: rule.help,
      helpUri: rule.helpUri,
      checkType: rule.check.type,
      status: s,
      findings: own.length,
    };
    if (rule.reason) result.reason = rule.reason;
    if (options.explain && evidence.has(rule.id)) result.evidence = evidence.get(rule.id);
    const because = status.get(rule.id)?.because;
    if (because) result.skippedBecause = because;
    return result;
  });
  findings.sort(compareFindings);
  if (known) applyBaseline(findings, known);

  const count = (st: RuleStatus) => results.filter((r) => r.status === st).length;
  return {
    version: 1,
    tool: { name: 'watt', version: wattVersion() },
    summary: {
      rules: results.length,
      passed: count('pass'),
      failed: count('fail'),
      skipped: count('skipped'),
      disabled: count('disabled'),
      errors: findings.filter((f) => f.severity === 'error').length,
      warnings: findings.filter((f) => f.severity === 'warning').length,
      infos: findings.filter((f) => f.severity === 'info').length,
      durationMs: Math.round(performance.now() - started),
    },
    rules: results,
    findings,
  };
}

function compareFindings(a: Finding, b: Finding): number {
  return (
    cmp(a.file, b.file) || (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0) || cmp(a.ruleId, b.ruleId) || cmp(a.message, b.message)
  );
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
