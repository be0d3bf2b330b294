import { readFileSync } from 'node:fs';
import path from 'node:path';
import { runAudit } from '../../src/audit/engine.js';
import { parseMarkdown } from '../../src/audit/text.js';
import type { RuleExample } from '../../src/audit/types.js';
import { FIXTURES, cleanup, materialise } from './helpers.js';

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
      '# How we use your data\n\nWe use your readings so that we can advise you (legitimate interest). Only our support staff can see them. They are removed after 30 days. You can ask us for a copy, or to correct, delete or restrict it, take it elsewhere (portability), object, withdraw your agreement or complain to the ICO: privacy@example.invalid.\n',
    ],
    [
      'docs/privacy_notice.md',
      "Vos données\n===========\n\nNous utilisons vos relevés pour vous conseiller, sur la base de votre consentement. Nous ne partageons vos données avec personne. Elles sont supprimées au bout d'un an. Vous pouvez en demander copie, rectification, suppression, limitation ou portabilité, vous y opposer, retirer votre consentement ou saisir la CNIL, en nous écrivant à dpo@example.invalid.\n",
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

/** The fixture file without the section headed `title` (heading and body, setext or ATX). */
function withoutSection(fixture: string, file: string, title: string): RuleExample {
  const text = readFileSync(path.join(FIXTURES, fixture, file), 'utf8');
  const section = parseMarkdown(text).sections.find((s) => s.title === title);
  if (!section) throw new Error(`no section "${title}" in ${fixture}/${file}`);
  const lines = text.split('\n');
  const start = section.line - 1;
  const end = start + 1 + section.body.split('\n').length;
  return { fixture, write: { [file]: [...lines.slice(0, start), ...lines.slice(end)].join('\n') } };
}

describe('a required section removed from a document shaped unlike the templates', () => {
  it.each([
    ['thirdparty-fr', 'docs/rgpd.md', 'Identification', 'rgpd/register-controller'],
    ['thirdparty-fr', 'docs/rgpd.md', 'Pourquoi traitons-nous ces données ?', 'rgpd/register-purposes'],
    ['thirdparty-fr', 'docs/rgpd.md', 'Qui est concerné et quelles données ?', 'rgpd/register-categories'],
    ['thirdparty-fr', 'docs/rgpd.md', 'Combien de temps ?', 'rgpd/register-retention'],
    ['thirdparty-fr', 'docs/rgpd.md', 'Protection des données', 'rgpd/register-security'],
    ['thirdparty-en', 'docs/rgpd.md', '4. Who receives the data', 'rgpd/register-recipients'],
    ['thirdparty-en', 'docs/rgpd.md', '5. International transfers', 'rgpd/register-transfers'],
    ['thirdparty-fr', 'docs/privacy_notice.md', 'Durée', 'rgpd/privacy-notice-content'],
    ['thirdparty-en', 'docs/privacy_notice.md', 'Sharing', 'rgpd/privacy-notice-content'],
    ['thirdparty-en', 'docs/privacy_notice.md', 'Contact us', 'rgpd/privacy-notice-content'],
    ['thirdparty-en', 'docs/incident_response.md', 'Notifying', 'rgpd/incident-authority-72h'],
    ['compliant', 'docs/retention_policy.md', "Procédure d'effacement", 'rgpd/erasure-procedure'],
  ])('%s %s without "%s": %s fails', async (fixture, file, title, ruleId) => {
    const report = await runAudit({ dir: materialise(withoutSection(fixture, file, title)), history: false });
    const errors = report.findings.filter((f) => f.severity === 'error');
    expect(errors.map((f) => f.file)).toContain(file);
    expect(errors.map((f) => f.ruleId)).toContain(ruleId);
  });
});
