import { createContext } from '../../src/audit/context.js';
import csvColumns from '../../src/audit/checks/csv-columns.js';
import markdownSectionsCheck from '../../src/audit/checks/markdown-sections.js';
import retentionDeclared, { parsePeriod, periodMatchesDays } from '../../src/audit/checks/retention-declared.js';
import { mask } from '../../src/audit/checks/secrets.js';
import tomlValid from '../../src/audit/checks/toml-valid.js';
import { containsPhrase, isPlaceholderBody, markdownSections, normalise, parseMarkdown } from '../../src/audit/text.js';
import { retentionPolicy } from '../../src/config.js';
import { cleanup, materialise } from './helpers.js';

afterAll(cleanup);

function repo(files: Record<string, string>) {
  const dir = materialise({ fixture: 'compliant', write: files });
  return createContext(dir, retentionPolicy({}));
}

describe('heading matching', () => {
  it('ignores case, accents and punctuation, and matches whole words', () => {
    expect(normalise('  Durées de CONSERVATION (art. 30-1-f) ')).toBe('durees de conservation art 30 1 f');
    expect(containsPhrase('3. Finalités du traitement', 'finalites')).toBe(true);
    expect(containsPhrase("Droit à l'effacement", "droit a l'effacement")).toBe(true);
    expect(containsPhrase('Transferts', 'transfert')).toBe(false);
  });

  it('ends a section at the next heading of the same or a higher level, and skips code blocks', () => {
    const doc = '# T\n## A\ntext\n### A.1\nmore\n## B\n```\n## not a heading\n```\n';
    const s = markdownSections(doc);
    expect(s.map((x) => [x.title, x.line])).toEqual([['T', 1], ['A', 2], ['A.1', 4], ['B', 6]]);
    expect(s[1]!.body).toContain('more');
    expect(s[3]!.body).toContain('## not a heading');
  });

  it.each(['', 'TODO', 'À compléter', '- à compléter : les finalités', '...', '…', '<!-- rien -->\nTBD', '| | |\n|---|---|', 'To be completed.'])(
    'treats %j as an empty body',
    (body) => expect(isPlaceholderBody(body)).toBe(true),
  );
  it.each(['Prévoir la consommation.', '- Aucun transfert.', '| Données brutes | 30 jours |'])('treats %j as content', (body) =>
    expect(isPlaceholderBody(body)).toBe(false),
  );

  it('reports an empty section at its heading line and a missing pattern', async () => {
    const ctx = repo({ 'x.md': '# Doc\n\n## Finalités\n\nÀ compléter\n\n## Notification\n\nSous 3 jours.\n' });
    const findings = await markdownSectionsCheck.run(
      {
        file: 'x.md',
        sections: [
          { title: 'Finalités', synonyms: ['purposes'] },
          { title: 'Notification', synonyms: ['cnil'], pattern: '\\b72\\s*h', patternHint: 'the 72-hour deadline' },
        ],
      },
      ctx,
    );
    expect(findings).toEqual([
      { file: 'x.md', line: 3, message: 'section "Finalités" is empty or only a placeholder' },
      { file: 'x.md', line: 7, message: 'section "Notification" does not state the 72-hour deadline' },
    ]);
  });
});

describe('retention periods', () => {
  it.each([
    ['| Données brutes | 30 jours |', 30, true],
    ['raw data: 30 days', 30, true],
    ['6 mois', 180, true],
    ['12 months', 365, true],
    ['1 an', 365, true],
    ['2 semaines', 14, true],
    ['90 jours', 30, false],
    ['6 mois', 90, false],
  ])('reads %j as %i days: %s', (line, days, expected) => {
    expect(periodMatchesDays(parsePeriod(line)!, days)).toBe(expected);
  });

  it('matches categories by synonym, in a table, a list or prose, and the most specific name first', async () => {
    const ctx = repo({
      'a.md': '| Donnée | Durée |\n|---|---|\n| Relevés bruts | 30 jours |\n| Données agrégées | 6 mois |\n| Journaux | 90 j |\n| Artefacts de modèles | 1 an |\n',
      'b.md': '- Raw readings: 30 days\n- Processed data: 6 months\n- Logs: 3 months\n- Trained models: 12 months\n',
      'c.md': "Les journaux d'accès du stockage sont gardés 1 an. Les données brutes sont conservées trente jours, les données transformées six mois, les journaux techniques quatre-vingt-dix jours et les modèles entraînés un an.\n",
    });
    for (const file of ['a.md', 'b.md', 'c.md']) expect([file, await retentionDeclared.run({ file }, ctx)]).toEqual([file, []]);
  });

  it('names the category, the declared and the configured periods', async () => {
    const ctx = repo({ 'r.md': '| Données brutes | 60 jours |\n| Données transformées | 6 mois |\n| Journaux techniques | 90 jours |\n' });
    const findings = await retentionDeclared.run({ file: 'r.md' }, ctx);
    expect(findings).toEqual([
      { file: 'r.md', line: 1, message: `"Données brutes" is kept 60 jours (60 days) here but 30 days in the configured retention policy (the one watt purge applies)` },
      {
        file: 'r.md',
        line: 1,
        message: 'no retention period stated for "Modèles entraînés" (models; also read as modèles entraînés, artefacts de modèles, artefacts des modèles...): watt keeps it 365 days',
      },
    ]);
  });
});

describe('csv-columns', () => {
  it('accepts ; as a separator and a BOM, and gives the line of a bad row', async () => {
    const ctx = repo({ 'a.csv': '\uFEFFressource;action;role_autorise;preuve\nlac;lecture;analyste;IAM\n\nlac;suppression;;journal\n' });
    const findings = await csvColumns.run({ file: 'a.csv', columns: ['ressource', 'action', 'role_autorise', 'preuve'], requiredCells: ['role_autorise'] }, ctx);
    expect(findings).toEqual([{ file: 'a.csv', line: 4, message: '"role_autorise" is empty on line 4' }]);
  });

  it('names the missing columns', async () => {
    const ctx = repo({ 'a.csv': 'ressource,action\nlac,lecture\n' });
    const findings = await csvColumns.run({ file: 'a.csv', columns: ['ressource', 'action', 'preuve'] }, ctx);
    expect(findings).toEqual([{ file: 'a.csv', line: 1, message: 'missing column "preuve" (header must hold ressource,action,preuve)' }]);
  });
});

describe('toml-valid', () => {
  it('reports a syntax error with its line', async () => {
    const ctx = repo({ 'g.toml': 'title = "x"\n[extend\n' });
    const [finding] = await tomlValid.run({ file: 'g.toml' }, ctx);
    expect(finding).toMatchObject({ file: 'g.toml', line: 2 });
    expect(finding!.message).toMatch(/^g\.toml is not valid TOML/);
  });
});

describe('markdown parser', () => {
  const doc = [
    '---', // 1
    'title: Registre', // 2
    '---', // 3
    'Registre des traitements', // 4
    '========================', // 5
    '', // 6
    'Intro **en gras** et [un lien](https://example.invalid).', // 7
    '', // 8
    'Finalités', // 9
    '---------', // 10
    '', // 11
    '- prévoir la consommation', // 12
    '- conseiller les foyers', // 13
    '', // 14
    '## Durées ##', // 15
    '', // 16
    '| Catégorie | Durée |', // 17
    '|---|---|', // 18
    '| Relevés bruts | 30 j |', // 19
    '', // 20
    '```', // 21
    '# pas un titre', // 22
    '```', // 23
    '<!-- ## pas un titre non plus -->', // 24
  ].join('\n');

  it('reads setext and ATX headings at their lines, and front matter', () => {
    const parsed = parseMarkdown(doc);
    expect(parsed.sections.map((s) => [s.level, s.title, s.line])).toEqual([
      [1, 'Registre des traitements', 4],
      [2, 'Finalités', 9],
      [2, 'Durées', 15],
    ]);
    expect(parsed.frontmatter).toEqual({ lang: 'yaml', value: 'title: Registre' });
  });

  it('gives list items, table rows (with their header) and paragraphs as plain-text blocks under their headings', () => {
    const blocks = parseMarkdown(doc).blocks.filter((b) => b.kind !== 'heading');
    expect(blocks.map((b) => [b.kind, b.line, b.text, b.headings.at(-1), b.header])).toEqual([
      ['paragraph', 7, 'Intro en gras et un lien.', 'Registre des traitements', undefined],
      ['paragraph', 12, 'prévoir la consommation', 'Finalités', undefined],
      ['paragraph', 13, 'conseiller les foyers', 'Finalités', undefined],
      ['table-row', 19, 'Relevés bruts | 30 j', 'Durées', 'Catégorie | Durée'],
    ]);
  });

  it('reads TOML front matter and keeps line numbers', () => {
    const parsed = parseMarkdown('+++\ntitle = "x"\n+++\n# Titre\n');
    expect(parsed.frontmatter).toEqual({ lang: 'toml', value: 'title = "x"' });
    expect(parsed.sections[0]).toMatchObject({ title: 'Titre', line: 4 });
  });
});

describe('retention periods as written', () => {
  it.each([
    ['30 jours', 30],
    ['30 j', 30],
    ['90 days', 90],
    ['6 mois', 180],
    ['3 months', 90],
    ['12 months', 365],
    ['1 an', 365],
    ['un an', 365],
    ['trente jours', 30],
    ['quatre-vingt-dix jours', 90],
  ])('reads %j as %i days', (text, days) => {
    const p = parsePeriod(text)!;
    expect(periodMatchesDays(p, days)).toBe(true);
    expect(periodMatchesDays(p, days * 2)).toBe(false);
  });
});

describe('secret masking', () => {
  it('shows only a public type prefix, and the length', () => {
    expect(mask('abcdefghijklmnopqrstuvwxyz0123456789AB')).toBe('******** (38 chars)');
    expect(mask(['dckr', 'pat', 'abcdefghijklmnopqrstuvwxyz0'].join('_'))).toBe('dckr_pat_******** (36 chars)');
    expect(mask('short-secret')).toBe('******** (12 chars)');
    expect(mask('S3cr3tPassw0rdXyz')).toBe('******** (17 chars)');
  });
});

describe('outside a git work tree', () => {
  it('scans every file for secrets but cannot tell what is tracked', async () => {
    const { mkdtempSync, cpSync } = await import('node:fs');
    const os = await import('node:os');
    const path = await import('node:path');
    const { FIXTURES } = await import('./helpers.js');
    const { runAudit } = await import('../../src/audit/engine.js');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'watt-audit-nogit-'));
    cpSync(path.join(FIXTURES, 'compliant'), dir, { recursive: true });
    cpSync(path.join(FIXTURES, 'overlays/leaked-token'), dir, { recursive: true });
    const report = await runAudit({ dir });
    expect(report.findings.map((f) => [f.ruleId, f.file])).toEqual([
      ['rgpd/env-not-tracked', '.git'],
      ['rgpd/no-secrets', 'src/settings.js'],
      ['rgpd/no-secrets', 'src/settings.js'],
    ]);
  });
});
