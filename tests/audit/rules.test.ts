import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { runAudit } from '../../src/audit/engine.js';
import { DEFAULT_RULES_FILE, RULES_SCHEMA_FILE, loadRules, readRuleSet } from '../../src/audit/rules.js';
import { CHECKS } from '../../src/audit/checks/index.js';
import { UsageError } from '../../src/errors.js';
import { cleanup, materialise } from './helpers.js';

afterAll(cleanup);

const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv) => Ajv;

function configFile(content: unknown): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'watt-audit-config-'));
  const file = path.join(dir, 'watt-audit.json');
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

describe('the default rule set', () => {
  const set = JSON.parse(readFileSync(DEFAULT_RULES_FILE, 'utf8'));

  it('validates against schemas/audit-rules.schema.json', () => {
    const ajv = new Ajv({ strict: false });
    addFormats(ajv);
    const validate = ajv.compile(JSON.parse(readFileSync(RULES_SCHEMA_FILE, 'utf8')));
    const ok = validate(set);
    expect(validate.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
  });

  it("passes the validation of each check's options (the audit itself trusts the shipped defaults)", async () => {
    await expect(readRuleSet(DEFAULT_RULES_FILE)).resolves.toMatchObject({ version: 1 });
  });

  it('gives every rule a stable rgpd/ id, an article, a help line and an absolute helpUri', () => {
    for (const rule of set.rules) {
      expect(rule.id).toMatch(/^rgpd\/[a-z0-9-]+$/);
      expect(rule.article).toMatch(/^GDPR Art\. \d/);
      expect(rule.help.length).toBeGreaterThan(20);
      expect(rule.helpUri).toMatch(/^https:\/\//);
    }
  });

  it('covers the files and duties of the issue', () => {
    const files = set.rules.filter((r: { check: { type: string } }) => r.check.type === 'file-exists').flatMap((r: { check: { paths: string[] } }) => r.check.paths);
    expect(files.sort()).toEqual(
      [
        'docs/rgpd.md',
        'docs/data_inventory.csv',
        'docs/access_matrix.csv',
        'docs/risk_register.md',
        'docs/privacy_notice.md',
        'docs/retention_policy.md',
        'docs/incident_response.md',
        'docs/runbook_security.md',
        '.gitleaks.toml',
      ].sort(),
    );
    const types = new Set(set.rules.map((r: { check: { type: string } }) => r.check.type));
    // markdown-sections (exact headings) stays for users' own rules; the defaults judge facts (document-facts).
    expect([...CHECKS.keys()].filter((t) => !types.has(t))).toEqual(['markdown-sections']);
  });
});

describe('a user configuration', () => {
  it('changes severities, disables rules and adds rules of built-in check types', async () => {
    const file = configFile({
      overrides: { 'rgpd/register-transfers': { severity: 'warning' }, 'rgpd/no-secrets': { enabled: false } },
      rules: [
        {
          id: 'acme/model-card',
          title: 'Model card exists',
          severity: 'info',
          article: 'GDPR Art. 22',
          help: 'Describe the model in docs/model_card.md.',
          check: { type: 'file-exists', paths: ['docs/model_card.md'] },
        },
      ],
    });
    const rules = await loadRules(file);
    expect(rules.find((r) => r.id === 'rgpd/register-transfers')?.severity).toBe('warning');
    const dir = materialise({ fixture: 'compliant', edit: { 'docs/rgpd.md': { "## Transferts hors UE\n\nAucun transfert hors de l'Union européenne.\n": '' } } });
    const report = await runAudit({ dir, configFile: file });
    expect(report.rules.find((r) => r.id === 'rgpd/no-secrets')?.status).toBe('disabled');
    expect(report.findings.map((f) => [f.ruleId, f.severity])).toEqual([
      ['acme/model-card', 'info'],
      ['rgpd/register-transfers', 'warning'],
    ]);
  });

  it('is picked up from <dir>/watt-audit.json when --config is not given', async () => {
    const dir = materialise({ fixture: 'compliant', remove: ['docs/rgpd.md'], write: { 'watt-audit.json': JSON.stringify({ overrides: { 'rgpd/register-exists': { enabled: false } } }) } });
    const report = await runAudit({ dir });
    expect(report.rules.find((r) => r.id === 'rgpd/register-exists')?.status).toBe('disabled');
  });

  it('can start from no default rule', async () => {
    const file = configFile({ extendDefaults: false, rules: [{ id: 'acme/readme', title: 'README', severity: 'error', article: 'GDPR Art. 12', help: 'Write a README.', check: { type: 'file-exists', paths: ['README.md'] } }] });
    expect((await loadRules(file)).map((r) => r.id)).toEqual(['acme/readme']);
  });

  it.each([
    ['not JSON', '{ nope', /cannot read audit configuration .*watt-audit\.json/],
    ['an unknown check type', { rules: [{ id: 'a/b', title: 't', severity: 'error', article: 'a', help: 'h', check: { type: 'dpia' } }] }, /unknown check type "dpia"/],
    ['bad check options', { rules: [{ id: 'a/b', title: 't', severity: 'error', article: 'a', help: 'h', check: { type: 'file-exists' } }] }, /rule "a\/b" \(file-exists\): options must have required property 'paths'/],
    ['a bad severity', { overrides: { 'rgpd/no-secrets': { severity: 'fatal' } } }, /invalid audit configuration/],
    ['an override of an unknown rule', { overrides: { 'rgpd/nope': { enabled: false } } }, /override of unknown rule "rgpd\/nope"/],
  ])('is refused with a usage error for %s', async (_what, content, message) => {
    const file = configFile(content);
    await expect(loadRules(file)).rejects.toThrow(UsageError);
    await expect(loadRules(file)).rejects.toThrow(message);
  });

  it('is refused when missing', async () => {
    await expect(loadRules('/nonexistent/watt-audit.json')).rejects.toThrow(/no such file/);
  });
});
