import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { runAudit } from '../../src/audit/engine.js';
import { REPORTERS, REPORT_FORMATS, type ReportFormat } from '../../src/audit/reporters/index.js';
import type { AuditReport } from '../../src/audit/types.js';
import { FIXTURES, cleanup, materialise } from './helpers.js';

/**
 * Golden outputs for every format, on a repository that breaks several rules (errors, a warning,
 * skipped rules, a masked secret). Volatile fields (duration, watt's version, the absolute root)
 * are normalised. Set UPDATE_GOLDEN=1 to rewrite the goldens after an intended change.
 */
const GOLDEN = path.join(FIXTURES, 'golden');
const EXT: Record<ReportFormat, string> = { text: 'txt', json: 'json', sarif: 'sarif', junit: 'junit.xml', markdown: 'md' };
const ROOT = '/repo';

let report: AuditReport;
beforeAll(async () => {
  const dir = materialise({
    fixture: 'compliant',
    overlay: 'overlays/leaked-token',
    remove: ['docs/privacy_notice.md'],
    edit: {
      'docs/rgpd.md': { 'Prévoir la consommation des foyers pour planifier la production.': 'À compléter' },
      'docs/retention_policy.md': { '| Données brutes | 30 jours |': '| Données brutes | 60 jours |' },
      'docs/risk_register.md': { '## Mesures': '## Notes' },
      'docs/data_inventory.csv': { ',customer_id,identifiant pseudonymisé nécessaire pour agréger par foyer': ',customer_id,' },
    },
  });
  const raw = await runAudit({ dir });
  report = { ...raw, tool: { ...raw.tool, version: '0.0.0-test' }, summary: { ...raw.summary, durationMs: 42 } };
});
afterAll(cleanup);

describe('reporters', () => {
  it.each(REPORT_FORMATS)('never prints a secret of the leaked-token fixture in %s', (format) => {
    const out = REPORTERS[format](report, { root: ROOT });
    const leaked = readFileSync(path.join(FIXTURES, 'overlays/leaked-token/src/settings.js'), 'utf8');
    const slack = /xoxb-[\w-]+/.exec(leaked)![0];
    expect(out).toContain('rgpd/no-secrets');
    for (const secret of [slack, slack.slice(5), 'S3cr3tPassw0rdXyz', 'S3cr']) expect(out).not.toContain(secret);
  });

  it.each(REPORT_FORMATS)('renders %s as its golden output', (format) => {
    const out = REPORTERS[format](report, { root: ROOT });
    const golden = path.join(GOLDEN, `report.${EXT[format]}`);
    if (process.env.UPDATE_GOLDEN || !existsSync(golden)) {
      mkdirSync(GOLDEN, { recursive: true });
      writeFileSync(golden, out);
    }
    expect(out).toBe(readFileSync(golden, 'utf8'));
  });

  it('never prints the secret itself, only a masked prefix', () => {
    const leaked = readFileSync(path.join(FIXTURES, 'overlays/leaked-token/src/settings.js'), 'utf8');
    const secrets = [...leaked.matchAll(/"([^"]{20,})"/g)].map((m) => m[1]!);
    expect(secrets.length).toBe(2);
    for (const format of REPORT_FORMATS) {
      const out = REPORTERS[format](report, { root: ROOT });
      for (const secret of secrets) expect(out.includes(secret.slice(4, 16))).toBe(false);
    }
    expect(report.findings.filter((f) => f.ruleId === 'rgpd/no-secrets').map((f) => [f.file, f.line])).toEqual([
      ['src/settings.js', 1],
      ['src/settings.js', 2],
    ]);
  });

  it('gives the json report its documented shape', () => {
    const parsed = JSON.parse(REPORTERS.json(report));
    expect(Object.keys(parsed)).toEqual(['version', 'tool', 'summary', 'rules', 'findings']);
    expect(parsed.summary).toMatchObject({ errors: 6, warnings: 1, infos: 0, skipped: 1 });
    expect(Object.keys(parsed.findings[0]).sort()).toEqual(expect.arrayContaining(['article', 'file', 'help', 'message', 'ruleId', 'severity']));
  });

  it('gives every SARIF result a location, a known ruleId and a fingerprint', () => {
    const log = JSON.parse(REPORTERS.sarif(report, { root: ROOT }));
    const run = log.runs[0];
    const ids = run.tool.driver.rules.map((r: { id: string }) => r.id);
    expect(run.results.length).toBe(report.findings.length);
    for (const result of run.results) {
      expect(ids[result.ruleIndex]).toBe(result.ruleId);
      expect(result.locations[0].physicalLocation.artifactLocation.uri).not.toMatch(/^\//);
      expect(result.locations[0].physicalLocation.region.startLine).toBeGreaterThan(0);
      expect(Object.values(result.partialFingerprints)[0]).toMatch(/^[0-9a-f]{32}$/);
    }
    const missing = run.results.find((r: { ruleId: string }) => r.ruleId === 'rgpd/privacy-notice-exists');
    expect(missing.locations[0].physicalLocation.artifactLocation.uri).toBe('docs/privacy_notice.md');
  });
});

const MULTITOOL = path.resolve(FIXTURES, '../../../node_modules/@microsoft/sarif-multitool-linux/Sarif.Multitool');

describe('SARIF output', () => {
  const run = process.platform === 'linux' && existsSync(MULTITOOL) ? it : it.skip;
  run("passes Microsoft's SARIF multitool validation with GitHub's ingestion rules", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'watt-sarif-'));
    const file = path.join(dir, 'audit.sarif');
    writeFileSync(file, REPORTERS.sarif(report, { root: dir }));
    const output = path.join(dir, 'validation.sarif');
    const { stdout } = await promisify(execFile)(MULTITOOL, ['validate', '--rule-kind', 'Gh;Sarif', '--output', output, file], {
      env: { ...process.env, DOTNET_CLI_TELEMETRY_OPTOUT: '1' },
    }).catch((err: { stdout?: string; stderr?: string }) => ({ stdout: `${err.stdout ?? ''}${err.stderr ?? ''}` }));
    const errors = stdout.split('\n').filter((line) => /\berror\b/i.test(line) && !/^\s*Done|0 error/i.test(line));
    expect(errors).toEqual([]);
    const validation = JSON.parse(readFileSync(output, 'utf8'));
    const levels = validation.runs[0].results.map((r: { level?: string; ruleId: string }) => `${r.level ?? 'warning'} ${r.ruleId}`);
    expect(levels.filter((l: string) => l.startsWith('error'))).toEqual([]);
  });
});
