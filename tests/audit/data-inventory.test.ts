import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { headerMeaning } from '../../src/audit/checks/data-inventory.js';
import { runAudit } from '../../src/audit/engine.js';
import { loadRules } from '../../src/audit/rules.js';
import { cleanup, materialise } from './helpers.js';

/**
 * The data inventory read by meaning: inventories written here in several shapes (French and
 * English header names, any order, `;` `,` or tab, BOM, windows-1252, a title row) pass when every
 * data set states its categories, purpose, a legal basis of Art. 6(1) and a retention period, and
 * fail at the line of the data set that does not.
 */
afterAll(cleanup);
const rules = (await loadRules()).filter((r) => r.id === 'rgpd/data-inventory-exists' || r.id === 'rgpd/data-inventory-content');

async function judge(content: string | Buffer): Promise<string[]> {
  const dir = materialise({ fixture: 'compliant' });
  writeFileSync(path.join(dir, 'docs', 'data_inventory.csv'), content);
  const r = await runAudit({ dir, rules, history: false });
  return r.findings.filter((f) => f.ruleId === 'rgpd/data-inventory-content').map((f) => `${f.line}: ${f.message}`);
}

describe('data inventory read by meaning', () => {
  it('French names, semicolons, a BOM, in windows-1252 bytes', async () => {
    const text = [
      'Catégorie de données;Finalité;Base légale;Durée de conservation;Destinataires',
      'Identité des sociétaires;Gestion des contrats;Exécution du contrat;Durée du contrat puis 5 ans;Service client',
      'Courbes de charge;Prévision de consommation;Consentement de l’abonné;24 mois;Équipe data',
    ].join('\r\n').replace('’', "'");
    expect(await judge(Buffer.concat([Buffer.from(text, 'latin1')]))).toEqual([]);
    expect(await judge(`\uFEFF${text}\n`)).toEqual([]);
  });

  it('English names in another order, commas, quoted cells', async () => {
    const text = [
      'Processing activity,Retention period,Recipients,Legal basis,Purpose,Data categories',
      'Accounts,5 years after the end of the contract,Billing provider,Performance of a contract,"Billing, support","identity, e-mail"',
      'Newsletter,until the person unsubscribes,None,Consent (Art. 6(1)(a)),Send the monthly letter,e-mail address',
      'Fraud checks,13 months,,Legitimate interests,Detect fraudulent meters,consumption',
    ].join('\n');
    expect(await judge(text)).toEqual([]);
  });

  it('mixed French and English names, tabs, a title row first', async () => {
    const text = ['Inventaire des données 2026\t\t\t', 'Dataset\tFinalité\tLegal basis\tCatégories\tRetention', 'releves\tprévision\t6(1)(f)\tconsommation\t30 jours', ''].join('\n');
    expect(await judge(text)).toEqual([]);
  });

  it('a missing column is one finding naming it, in both languages', async () => {
    const text = 'Catégorie de données;Finalité;Durée de conservation\nIdentité;Gestion des contrats;5 ans\n';
    expect(await judge(text)).toEqual(['1: no column for the legal basis ("Base légale" / "Legal basis")']);
  });

  it('partial rows: each data set that misses something is named at its line, with what it misses', async () => {
    const text = [
      'dataset,categories,purpose,legal basis,retention period',
      'accounts,identity,billing,contract,5 years', // complete
      'newsletter,e-mail,,consent,until unsubscription', // no purpose
      'analytics,usage,statistics,because it is useful,13 months', // not a legal basis
      'archive,identity,history,legitimate interests,indefinitely', // no limit
      'exports,identity,reporting,legal obligation,', // no retention
      'weather,temperature,model input,not applicable: no personal data,', // no personal data: nothing more needed
    ].join('\n');
    expect(await judge(text)).toEqual([
      '3: data set "newsletter" (line 3): no purpose',
      `4: data set "analytics" (line 4): legal basis "because it is useful" is not one of Art. 6(1)'s six (consent, contract, legal obligation, vital interests, public task, legitimate interests)`,
      '5: data set "archive" (line 5): retention "indefinitely" has no limit: state a period or the criteria that end it (Art. 5(1)(e))',
      '6: data set "exports" (line 6): no retention period',
    ]);
  });

  it('a header-only inventory lists no data set', async () => {
    expect(await judge('Data category,Purpose,Legal basis,Retention period\n')).toEqual(['1: docs/data_inventory.csv lists 0 data sets, it needs at least 1']);
  });

  it('reads header names by meaning', () => {
    const cases: [string, string | undefined][] = [
      ['Catégories de données', 'category'],
      ['Catégories de personnes concernées', 'subjects'],
      ['Data subjects', 'subjects'],
      ['Finalité du traitement', 'purpose'],
      ['Base légale (art. 6 RGPD)', 'legalBasis'],
      ['Lawful basis for processing', 'legalBasis'],
      ['Durée de conservation', 'retention'],
      ['Retention period', 'retention'],
      ['Destinataires', 'recipients'],
      ['champ_sensible', 'sensitive'],
      ['justification_minimisation', 'justification'],
      ['Dataset', 'name'],
      ['Source', 'source'],
      ['licence', undefined],
    ];
    expect(cases.map(([h]) => [h, headerMeaning(h)])).toEqual(cases);
  });
});
