import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { runAudit } from '../../src/audit/engine.js';
import type { AuditReport, RuleExample } from '../../src/audit/types.js';
import { cleanup, materialise } from './helpers.js';

/**
 * Issue 18: facts judged in context, the repository's own layout and policy (watt-audit.toml),
 * HTML tables, personal data committed to the repository. Document sets are written here, in
 * French and English, where a fact is present, present out of context, or partial.
 */
afterAll(cleanup);

const audit = (example: RuleExample, explain = false) => runAudit({ dir: materialise(example), history: false, explain });
const failing = (r: AuditReport) => r.rules.filter((x) => x.status === 'fail').map((x) => x.id);
const messages = (r: AuditReport, id: string) => r.findings.filter((f) => f.ruleId === id).map((f) => f.message);

describe('facts out of context do not count', () => {
  it('a 72-hour reply time and a 72 h service restoration are not the breach notification limit', async () => {
    const text = '# Support\n\nWe get back to you within 72 hours.\n\n## Availability\n\nService restoration time: 72 h.\n\n## Breaches\n\nThe CNIL is notified of any personal data breach.\n';
    const r = await audit({ fixture: 'thirdparty-en', write: { 'docs/incident_response.md': text } });
    expect(messages(r, 'rgpd/incident-authority-72h')).toEqual([expect.stringMatching(/72-hour limit/)]);
  });

  it('"peuvent consulter la CNIL" is not the categories of data subjects; a purpose is not a security measure', async () => {
    const register = [
      '# Registre',
      '',
      '## Personnes concernées',
      '',
      'Les personnes concernées peuvent consulter la CNIL.',
      '',
      '## Sécurité',
      '',
      "Besoin d'authentification des sociétaires sur l'espace client.",
      '',
    ].join('\n');
    const r = await audit({ fixture: 'thirdparty-fr', write: { 'docs/rgpd.md': register } });
    expect(messages(r, 'rgpd/register-categories').sort()).toEqual([expect.stringMatching(/categories of data subjects/), expect.stringMatching(/categories of personal data/)]);
    expect(messages(r, 'rgpd/register-security')).toEqual([expect.stringMatching(/security measures/)]);
    // Stated as content, both hold.
    const fixed = register.replace('Les personnes concernées peuvent consulter la CNIL.', 'Les sociétaires particuliers de la coopérative.').replace("Besoin d'authentification", 'Authentification forte');
    const ok = await audit({ fixture: 'thirdparty-fr', write: { 'docs/rgpd.md': fixed } });
    expect(messages(ok, 'rgpd/register-security')).toEqual([]);
    expect(messages(ok, 'rgpd/register-categories')).toEqual([expect.stringMatching(/categories of personal data/)]);
  });

  it('a column header ("Existing controls") is not a listed risk; a filled cell under "Risk" is', async () => {
    const header = '# Register\n\n| Asset | Existing controls |\n|---|---|\n| Meter readings | encryption at rest |\n\n## Mitigations\n\nPseudonymisation.\n';
    const bad = await audit({ fixture: 'thirdparty-en', write: { 'docs/risk_register.md': header } });
    expect(messages(bad, 'rgpd/risk-register-content')).toEqual([expect.stringMatching(/risks to data subjects/)]);
    const good = await audit({ fixture: 'thirdparty-en', write: { 'docs/risk_register.md': header.replace('| Asset |', '| Risk |').replace('Meter readings', 'Re-identification of a household') } });
    expect(messages(good, 'rgpd/risk-register-content')).toEqual([]);
  });

  it('a rights list giving only erasure and withdrawal names what is missing', async () => {
    const r = await audit({
      fixture: 'thirdparty-en',
      edit: {
        'docs/privacy_notice.md': {
          'You have the right to access, rectify or erase your data, to restrict or object to the processing,\nto data portability, and, where we asked for your agreement, to withdraw it at any time.':
            'You may have your data erased, or withdraw your agreement.',
        },
      },
    });
    expect(messages(r, 'rgpd/privacy-notice-content')).toEqual([
      "states the data subject's rights (GDPR Art. 13(2)(b)-(d)) only partly: access, rectification, restriction, objection, portability missing",
    ]);
  });

  it('--explain gives, for each fact, the sentence and line that satisfied it', async () => {
    const r = await audit({ fixture: 'thirdparty-fr' }, true);
    const ev = r.rules.find((x) => x.id === 'rgpd/incident-authority-72h')!.evidence!;
    expect(ev.map((e) => [e.fact, e.file, e.line])).toEqual([
      ['authority', 'docs/incident_response.md', 13],
      ['72-hours', 'docs/incident_response.md', 13],
    ]);
    expect(ev[1]!.text).toMatch(/72 heures/);
    // Without --explain the report does not carry them (the JSON stays as it was).
    expect((await audit({ fixture: 'thirdparty-fr' })).rules.some((x) => x.evidence)).toBe(false);
  });
});

describe('HTML tables in Markdown', () => {
  it('reads a retention matrix written as an HTML table', async () => {
    const html = [
      '# Conservation',
      '',
      '<table>',
      '  <tr><th>Catégorie</th><th>Durée</th></tr>',
      '  <tr><td>Données brutes</td><td>30 jours</td></tr>',
      '  <tr><td>Données transformées</td><td>6 mois</td></tr>',
      '  <tr><td>Journaux techniques</td><td>90 jours</td></tr>',
      '  <tr><td>Modèles entraînés</td><td>12 mois</td></tr>',
      '</table>',
      '',
      "Les données sont effacées par la purge mensuelle, et sur demande d'effacement.",
      '',
    ].join('\n');
    const ok = await audit({ fixture: 'compliant', write: { 'docs/retention_policy.md': html } });
    expect(failing(ok)).toEqual([]);
    const bad = await audit({ fixture: 'compliant', write: { 'docs/retention_policy.md': html.replace('<td>30 jours</td>', '<td>60 jours</td>') } });
    expect(bad.findings.map((f) => [f.ruleId, f.line])).toEqual([['rgpd/retention-periods', 5]]);
  });
});

describe('watt-audit.toml: the repository\'s layout and policy', () => {
  it('finds documents where the team keeps them, shows why a rule is disabled or downgraded', async () => {
    const dir = materialise({ fixture: 'thirdparty-en' });
    execFileSync('mkdir', ['-p', path.join(dir, 'compliance')]);
    execFileSync('git', ['mv', 'docs/rgpd.md', 'compliance/record-of-processing.md'], { cwd: dir });
    execFileSync('git', ['mv', 'docs/privacy_notice.md', 'compliance/privacy-policy.md'], { cwd: dir });
    const before = await runAudit({ dir, history: false });
    expect(before.findings.filter((f) => /is missing/.test(f.message)).map((f) => f.file).sort()).toEqual(['docs/privacy_notice.md', 'docs/rgpd.md']);
    writeFileSync(
      path.join(dir, 'watt-audit.toml'),
      [
        '[documents]',
        'register = "compliance/record-of-processing.md"',
        'privacy_notice = "compliance/privacy-*.md"',
        '',
        '[rules."rgpd/access-matrix-content"]',
        'enabled = false',
        'reason = "a single operator: no access matrix"',
        '',
        '[rules."rgpd/risk-register-content"]',
        'severity = "info"',
        'reason = "risks are tracked in the DPIA"',
        '',
      ].join('\n'),
    );
    execFileSync('git', ['add', 'watt-audit.toml'], { cwd: dir });
    const after = await runAudit({ dir, history: false });
    expect(after.findings.filter((f) => f.severity === 'error')).toEqual([]);
    const rule = (id: string) => after.rules.find((r) => r.id === id)!;
    expect([rule('rgpd/access-matrix-content').status, rule('rgpd/access-matrix-content').reason]).toEqual(['disabled', 'a single operator: no access matrix']);
    expect([rule('rgpd/risk-register-content').severity, rule('rgpd/risk-register-content').reason]).toEqual(['info', 'risks are tracked in the DPIA']);
  });

  it('without a configured policy the retention rule checks that periods are stated, not watt\'s categories', async () => {
    const own = '# Retention\n\nCustomer tickets are kept 2 years; invoices 10 years.\n\nData are deleted by a nightly job.\n';
    const example: RuleExample = { fixture: 'thirdparty-en', remove: ['watt-audit.toml'], write: { 'docs/retention_policy.md': own } };
    expect(failing(await audit(example))).toEqual([]);
    const none: RuleExample = { ...example, write: { 'docs/retention_policy.md': '# Retention\n\nData are deleted when no longer needed by a nightly job.\n' } };
    expect(messages(await audit(none), 'rgpd/retention-periods')).toEqual([expect.stringMatching(/states no retention period/)]);
  });

  it('rejects a rule change without a reason (exit 2)', async () => {
    await expect(audit({ fixture: 'compliant', write: { 'watt-audit.toml': '[rules."rgpd/no-secrets"]\nenabled = false\n' } })).rejects.toThrow(/needs a reason/);
  });
});

describe('personal data committed to the repository', () => {
  const customers = 'nom,prenom,email,adresse,code_postal,ville,pdl\nDupont,Marie,marie.dupont@example.fr,12 rue des Lilas,75011,Paris,12345678901234\nMartin,Jean,jean.martin@example.org,3 avenue Foch,69006,Lyon,98765432109876\n';

  it('names the file, the column and the detector, never a value', async () => {
    const r = await audit({ fixture: 'compliant', write: { 'data/export_clients.csv': customers } });
    const found = r.findings.filter((f) => f.ruleId === 'rgpd/no-personal-data');
    expect(found.map((f) => f.message.match(/column "(\w+)".*detector ([\w-]+)/)?.slice(1) ?? f.message.slice(0, 40))).toEqual(
      expect.arrayContaining([
        ['email', 'email'],
        ['pdl', 'pdl'],
      ]),
    );
    expect(found.every((f) => f.file === 'data/export_clients.csv')).toBe(true);
    expect(JSON.stringify(r)).not.toMatch(/marie|dupont|12345678901234|rue des Lilas/i);
  });

  it('allows fixtures listed in watt-audit.toml', async () => {
    const r = await audit({ fixture: 'compliant', write: { 'data/export_clients.csv': customers, 'watt-audit.toml': '[personal_data]\nallow = ["data/**"]\n' } });
    expect(failing(r)).toEqual([]);
  });
});
