import { runAudit } from '../../src/audit/engine.js';
import type { RuleExample } from '../../src/audit/types.js';
import { cleanup, materialise } from './helpers.js';

/**
 * Document sets written the way other teams write them (tests/fixtures/audit/thirdparty-*):
 * French with underlined (setext) headings, tables and front matter; English; French prose with
 * few headings and numbers in words. Complete sets pass with 0 errors; each planted gap fails
 * with an error naming the file (and the line where the fact belongs).
 */
afterAll(cleanup);

const SETS = ['compliant', 'thirdparty-fr', 'thirdparty-en', 'thirdparty-fr-prose'];

describe('complete document sets in other words', () => {
  it.each(SETS)('%s: 0 errors', async (fixture) => {
    const report = await runAudit({ dir: materialise({ fixture }), history: false });
    expect(report.findings.filter((f) => f.severity === 'error').map((f) => `${f.ruleId} ${f.file}:${f.line} ${f.message}`)).toEqual([]);
  });

  it('a set without the register good practice (legal basis, minimisation, rights procedure) only warns', async () => {
    const report = await runAudit({ dir: materialise({ fixture: 'thirdparty-fr-prose' }), history: false });
    expect(report.findings.map((f) => [f.ruleId, f.severity])).toEqual([
      ['rgpd/register-legal-basis', 'warning'],
      ['rgpd/register-minimisation', 'warning'],
      ['rgpd/register-rights', 'warning'],
    ]);
  });

  it('reads the facts of the issue where other people put them', async () => {
    // thirdparty-fr: "## Notification" holds both the CNIL/72 h and the data subjects; "Relevés bruts | 30 jours";
    // "Risques principaux" / "Atténuation"; "Aucun transfert ... en dehors de l'UE" under "Sous-traitants"; setext headings.
    const report = await runAudit({ dir: materialise({ fixture: 'thirdparty-fr' }), history: false });
    const status = Object.fromEntries(report.rules.map((r) => [r.id, r.status]));
    expect(status).toMatchObject({
      'rgpd/incident-authority-72h': 'pass',
      'rgpd/incident-data-subjects': 'pass',
      'rgpd/retention-periods': 'pass',
      'rgpd/risk-register-content': 'pass',
      'rgpd/register-transfers': 'pass',
      'rgpd/register-purposes': 'pass',
    });
    expect(report.findings).toEqual([]);
  });
});

describe('other phrasings of the same facts', () => {
  it.each([
    [
      'docs/incident_response.md',
      "# Breach plan\n\nWe tell the Information Commissioner's Office within seventy-two (72) hours. Impacted users get an email from us when the risk to them is high.\n",
    ],
    ['docs/incident_response.md', '# Fuite\n\nLa Commission nationale de l’informatique et des libertés est saisie sous 72h ; les abonnés touchés sont prévenus.\n'],
    [
      'docs/privacy_notice.md',
      '# How we use your data\n\nWe use your readings so that we can advise you (legitimate interest). Only our support staff can see them. They are removed after 30 days. You can ask us for a copy, or to correct or delete it: privacy@example.invalid.\n',
    ],
    [
      'docs/privacy_notice.md',
      "Vos données\n===========\n\nNous utilisons vos relevés pour vous conseiller, sur la base de votre consentement. Nous ne partageons vos données avec personne. Elles sont supprimées au bout d'un an. Vous pouvez demander leur rectification ou leur suppression en nous écrivant à dpo@example.invalid.\n",
    ],
  ])('%s: %j states every required fact', async (file, text) => {
    const report = await runAudit({ dir: materialise({ fixture: 'thirdparty-en', write: { [file]: text } }), history: false });
    expect(report.findings.filter((f) => f.severity === 'error').map((f) => `${f.ruleId}: ${f.message}`)).toEqual([]);
  });
});

const GAPS: [string, RuleExample, string, string, number][] = [
  ['72 hours removed (FR, setext)', { fixture: 'thirdparty-fr', edit: { 'docs/incident_response.md': { 'dans un délai de 72 heures': 'rapidement' } } }, 'rgpd/incident-authority-72h', 'docs/incident_response.md', 10],
  [
    'data subjects no longer informed (EN)',
    { fixture: 'thirdparty-en', edit: { 'docs/incident_response.md': { '\nWhere the risk is high, affected customers are told without undue delay.': '' } } },
    'rgpd/incident-data-subjects',
    'docs/incident_response.md',
    1,
  ],
  ['logs kept 1 year instead of 90 days (EN list)', { fixture: 'thirdparty-en', edit: { 'docs/retention_policy.md': { 'Application logs: 90 days.': 'Application logs: 1 year.' } } }, 'rgpd/retention-periods', 'docs/retention_policy.md', 7],
  [
    'raw readings kept six months (FR prose)',
    { fixture: 'thirdparty-fr-prose', edit: { 'docs/retention_policy.md': { 'compteurs sont conservées trente jours': 'compteurs sont conservées six mois' } } },
    'rgpd/retention-periods',
    'docs/retention_policy.md',
    3,
  ],
  [
    'no contact in the privacy notice (FR prose)',
    { fixture: 'thirdparty-fr-prose', edit: { 'docs/privacy_notice.md': { ' en écrivant à dpd@cc-saint-aubin.example,': ',' } } },
    'rgpd/privacy-notice-content',
    'docs/privacy_notice.md',
    1,
  ],
  [
    'transfers section removed (EN)',
    { fixture: 'thirdparty-en', edit: { 'docs/rgpd.md': { '## 5. International transfers\n\nNone: all data are stored in the EU (Frankfurt region).\n': '' } } },
    'rgpd/register-transfers',
    'docs/rgpd.md',
    1,
  ],
  [
    'transfers section emptied, heading kept (FR setext)',
    { fixture: 'thirdparty-fr', edit: { 'docs/rgpd.md': { "(art. 28). Aucun transfert de données en dehors de l'UE n'est effectué.": '(art. 28).\n\nTransferts\n----------\n\nÀ compléter' } } },
    'rgpd/register-transfers',
    'docs/rgpd.md',
    40,
  ],
  ['a Docker Hub token in a file named `secrets`', { fixture: 'thirdparty-fr', write: { secrets: `DOCKERHUB_TOKEN=${['dckr', 'pat', 'Q7vX2mN9pL4kR8sT1wY6zB3cD5f'].join('_')}\n` } }, 'rgpd/no-secrets', 'secrets', 1],
];

describe('planted gaps', () => {
  it.each(GAPS.map(([name, example, ruleId, file, line]) => [name, ruleId, file, line, example] as const))('%s: an error of %s at %s:%i', async (_name, ruleId, file, line, example) => {
    const report = await runAudit({ dir: materialise(example), history: false });
    const errors = report.findings.filter((f) => f.severity === 'error');
    expect(errors.map((f) => [f.ruleId, f.file, f.line])).toEqual([[ruleId, file, line]]);
  });
});
