import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { fold, isPlaceholderText, normalise } from '../text.js';
import { termRegExp, vocabulary } from '../vocabulary.js';
import type { CheckFinding } from '../types.js';
import { defineCheck } from './types.js';

export interface DataInventoryOptions {
  /** The inventory (CSV), relative to the repository (default docs/data_inventory.csv; `[documents] data_inventory` of watt-audit.toml moves it). */
  file: string;
  /** Minimum number of data sets (rows) (default 1). */
  minRows?: number;
  /** What every row must state (default all four: category, purpose, legalBasis, retention). */
  require?: ('category' | 'purpose' | 'legalBasis' | 'retention')[];
}

/** What a column means, read from its header. */
export type ColumnMeaning = 'name' | 'source' | 'subjects' | 'sensitive' | 'justification' | 'legalBasis' | 'retention' | 'recipients' | 'purpose' | 'category';

/**
 * Header names (normalised: lower case, no accents, punctuation as spaces) by meaning, French and
 * English, tried in this order (whole-header names first): "Catégories de personnes" is the data subjects, not a data
 * category; "Données sensibles" is the sensitive-field flag.
 */
const HEADERS: [ColumnMeaning, RegExp][] = [
  ['name', /^(?:dataset|data set|jeux? de donnees|nom|name|traitements?|processing(?: activit(?:y|ies))?|activites?(?: de traitement)?|fichiers?|files?|systemes?|systems?|applications?)$/],
  ['source', /^(?:sources?|origines?|provenance|collected from|collectee aupres de)$/],
  ['subjects', /\b(?:personnes concernees|categories? de personnes|data subjects?|categor(?:y|ies) of (?:data )?subjects?|concerned persons?)\b/],
  ['legalBasis', /\b(?:bases? (?:legales?|juridiques?)|fondements? (?:juridiques?|legal|legaux)?|liceite|(?:legal|lawful) bas[ie]s|lawfulness|basis for processing|art(?:icle)? 6)\b/],
  ['retention', /\b(?:durees? (?:de )?conservation|conservation|durees?|delais? de conservation|retention(?: period)?|storage (?:period|limitation|duration)|duration|how long|kept for|retained for|keeping period)\b/],
  ['recipients', /\b(?:destinataires?|recipients?|sous traitants?|processors?|shared with|transmis(?:es)? a)\b/],
  ['sensitive', /\b(?:champs? sensibles?|donnees sensibles|sensibles?|sensitive(?: fields?| data)?|special categor(?:y|ies))\b/],
  ['justification', /\b(?:justifications?(?: minimisation)?|minimisation|minimization|necessite|necessity)\b/],
  ['purpose', /\b(?:finalites?|purposes?|objectifs?|buts?|usages?|why)\b/],
  ['category', /\b(?:categories?(?: de donnees| of (?:personal )?data)?|donnees(?: traitees| collectees| personnelles)?|(?:personal )?data (?:categor(?:y|ies)|types?|collected|processed)|types? de donnees|types? of (?:personal )?data|personal data|data items?|champs|fields)\b/],
];

/** The meaning of a header cell, or undefined. */
export function headerMeaning(header: string): ColumnMeaning | undefined {
  const n = normalise(header).replace(/_/g, ' ');
  if (n === '') return undefined;
  return HEADERS.find(([, re]) => re.test(n))?.[0];
}

/** The six legal bases of GDPR Art. 6(1), as written in French and English (normalised text), and as references to the article's points. */
export const LEGAL_BASES: { id: string; label: string; re: RegExp }[] = [
  { id: 'a', label: 'consent', re: /\b(?:consent\w*|consentement|6 1 a)\b/ },
  { id: 'b', label: 'contract', re: /\b(?:contra(?:t|ct)\w*|pre ?contractu\w*|6 1 b)\b/ },
  {
    id: 'c',
    label: 'legal obligation',
    re: /\b(?:obligations? (?:legales?|juridiques?|reglementaires?|comptables?|fiscales?)|legal (?:obligations?|requirements?|duty)|statutory (?:obligations?|duty|requirements?)|required by law|imposee? par la loi|prevue? par la loi|6 1 c)\b/,
  },
  { id: 'd', label: 'vital interests', re: /\b(?:interets? vitaux|vital interests?|6 1 d)\b/ },
  { id: 'e', label: 'public task', re: /\b(?:mission d interet public|interet public|autorite publique|public (?:task|interest|authority)|official authority|6 1 e)\b/ },
  { id: 'f', label: 'legitimate interests', re: /\b(?:interets? legitimes?|legitimate interests?|6 1 f)\b/ },
];

/** A row (or cell) saying the data set holds no personal data: a legal basis and a retention period are then not required. */
const NOT_PERSONAL = /\b(?:aucune donnees? (?:a caractere )?personnelles?|pas de donnees? (?:a caractere )?personnelles?|sans donnees? personnelles?|donnees? non personnelles?|non personnelles?|no personal data|not personal data|non personal(?: data)?|anonymous data|donnees anonymes)\b/;
const NOT_APPLICABLE = /^(?:n ?a|na|sans objet|non applicable|not applicable|none|aucune?|-)\b/;
const UNLIMITED = /\b(?:illimitee?s?|indefiniment|sans limite|a vie|indefinitely|forever|unlimited|permanent(?:ly)?|no limit)\b/;
/** Words of a retention criterion ("jusqu'à la résiliation", "until the account is closed", "3 ans après le dernier contact"). */
const CRITERIA = /\b(?:jusqu a|until|tant que|as long as|aussi longtemps que|while|pendant|during|for the (?:duration|life)|fin (?:du|de la|de l)|end of|apres|after|suppression|deletion|closure|cloture|resiliation|termination|desinscription|unsubscri\w*)\b/;
const TIME_UNIT = /\b(?:jours?|j|days?|semaines?|weeks?|mois|months?|ans?|annees?|years?)\b/;

/**
 * Decode an inventory's bytes: UTF-8 (a BOM is dropped), or windows-1252 when the bytes are not
 * valid UTF-8 (a spreadsheet's "CSV" export on Windows).
 */
export function decodeCsv(bytes: Buffer): { text: string; encoding: 'utf-8' | 'windows-1252' } {
  try {
    return { text: new TextDecoder('utf-8', { fatal: true }).decode(bytes).replace(/^\uFEFF/, ''), encoding: 'utf-8' };
  } catch {
    return { text: new TextDecoder('windows-1252').decode(bytes), encoding: 'windows-1252' };
  }
}

/** The delimiter of a CSV text: `;`, `,`, tab or `|`, whichever splits its first non-empty line into the most fields (outside quotes). */
export function csvDelimiter(text: string): string {
  const first = text.split(/\r?\n/).find((l) => l.trim() !== '') ?? '';
  const unquoted = first.replace(/"[^"]*"/g, '');
  let best = ',';
  let most = 0;
  for (const d of [';', ',', '\t', '|']) {
    const n = unquoted.split(d).length - 1;
    if (n > most) [best, most] = [d, n];
  }
  return best;
}

const LABELS: Record<'category' | 'purpose' | 'legalBasis' | 'retention', string> = {
  category: 'the categories of data ("Catégories de données" / "Data categories")',
  purpose: 'the purpose ("Finalité" / "Purpose")',
  legalBasis: 'the legal basis ("Base légale" / "Legal basis")',
  retention: 'the retention period ("Durée de conservation" / "Retention period")',
};

/**
 * `data-inventory`: the data inventory (GDPR Art. 30(1)) read by meaning, not by watt's column
 * names: a CSV (`;`, `,`, tab or `|`; UTF-8 with or without BOM, or windows-1252) whose header
 * names, in French or English and in any order, are recognised (catégorie de données / data
 * category, finalité / purpose, base légale / legal basis, durée de conservation / retention
 * period, destinataires / recipients, source, dataset / traitement...). Each data set (row) must
 * state its categories of data and purpose, a legal basis among the six of Art. 6(1) (consent,
 * contract, legal obligation, vital interests, public task, legitimate interests; or a reference
 * such as "6(1)(f)"), and a retention period or the criteria that set it (Art. 5(1)(e); "unlimited"
 * is a finding). A row saying it holds no personal data needs no legal basis nor retention.
 * When the file has a sensitive-field column and a justification column, a row with a sensitive
 * field set needs its justification (data minimisation, Art. 5(1)(c)).
 * Findings name the line and the data set; a missing column is one finding at line 1.
 */
export default defineCheck<DataInventoryOptions>({
  type: 'data-inventory',
  description: 'each data set of the inventory states its categories, purpose, legal basis (Art. 6(1)) and retention, whatever the column names',
  optionsSchema: {
    type: 'object',
    required: ['file'],
    additionalProperties: false,
    properties: {
      file: { type: 'string', minLength: 1 },
      minRows: { type: 'integer', minimum: 0 },
      require: { type: 'array', items: { enum: ['category', 'purpose', 'legalBasis', 'retention'] }, uniqueItems: true },
    },
  },
  async run(options, ctx) {
    const { file } = options;
    let bytes: Buffer;
    try {
      bytes = await readFile(path.join(ctx.root, file));
    } catch {
      return [{ file, message: `${file} is missing` }];
    }
    const { text } = decodeCsv(bytes);
    let records: { record: string[]; info: { lines: number } }[];
    try {
      records = parse(text, { delimiter: csvDelimiter(text), relax_column_count: true, relax_quotes: true, skip_empty_lines: true, info: true }) as unknown as typeof records;
    } catch (err) {
      return [{ file, line: (err as { lines?: number }).lines, message: `${file} is not valid CSV: ${(err as Error).message.split('\n')[0]}` }];
    }
    records = records.filter((r) => r.record.some((c) => c.trim() !== ''));
    // The header: the first of the first five rows where two cells or more have a meaning (a title row may come first).
    const at = records.slice(0, 5).findIndex((r) => r.record.filter((c) => headerMeaning(c) !== undefined).length >= 2);
    const required = options.require ?? ['category', 'purpose', 'legalBasis', 'retention'];
    if (at < 0) {
      return [{ file, line: 1, message: `no header naming ${required.map((m) => LABELS[m]).join(', ')} (French or English names, any order)` }];
    }
    const header = records[at]!.record;
    const columns = new Map<ColumnMeaning, number[]>();
    header.forEach((h, i) => {
      const m = headerMeaning(h);
      if (m) columns.set(m, [...(columns.get(m) ?? []), i]);
    });
    const headerLine = records[at]!.info.lines;
    const findings: CheckFinding[] = [];
    const missing = required.filter((m) => !columns.has(m));
    if (missing.length > 0) findings.push({ file, line: headerLine, message: `no column for ${missing.map((m) => LABELS[m]).join(', ')}` });
    const rows = records.slice(at + 1);
    const minRows = options.minRows ?? 1;
    if (rows.length < minRows) findings.push({ file, line: headerLine, message: `${file} lists ${rows.length} data set${rows.length === 1 ? '' : 's'}, it needs at least ${minRows}` });

    const vocab = vocabulary().terms;
    const period = termRegExp(vocab.period!.patterns);
    const criteria = termRegExp(vocab.retentionCriteria!.patterns);
    const retentionHeader = (columns.get('retention') ?? []).map((i) => normalise(header[i] ?? '')).join(' ');
    const headerUnit = TIME_UNIT.test(retentionHeader);
    for (const { record, info } of rows) {
      const cells = (m: ColumnMeaning) => (columns.get(m) ?? []).map((i) => (record[i] ?? '').trim()).filter((c) => c !== '' && !isPlaceholderText(c));
      const joined = (m: ColumnMeaning) => cells(m).join(' ; ');
      const notPersonal = record.some((c) => NOT_PERSONAL.test(normalise(c)));
      const problems: string[] = [];
      if (required.includes('category') && columns.has('category') && cells('category').length === 0) problems.push('no categories of data');
      if (required.includes('purpose') && columns.has('purpose') && cells('purpose').length === 0) problems.push('no purpose');
      if (required.includes('legalBasis') && columns.has('legalBasis') && !notPersonal) {
        const basis = normalise(joined('legalBasis'));
        if (basis === '') problems.push('no legal basis');
        else if (!LEGAL_BASES.some((b) => b.re.test(basis))) {
          problems.push(`legal basis "${clip(joined('legalBasis'))}" is not one of Art. 6(1)'s six (consent, contract, legal obligation, vital interests, public task, legitimate interests)`);
        }
      }
      if (required.includes('retention') && columns.has('retention') && !notPersonal) {
        const raw = joined('retention');
        const n = normalise(raw);
        const folded = fold(raw);
        if (n === '' || NOT_APPLICABLE.test(n)) problems.push('no retention period');
        else if (UNLIMITED.test(n)) problems.push(`retention "${clip(raw)}" has no limit: state a period or the criteria that end it (Art. 5(1)(e))`);
        else if (!period.test(folded) && !criteria.test(folded) && !CRITERIA.test(n) && !(headerUnit && /^\d+(?:[.,]\d+)?$/.test(n.replace(/ /g, '')))) {
          problems.push(`retention "${clip(raw)}" states no period (30 jours, 6 months, 5 ans...) nor criteria (jusqu'à la fin du contrat, as long as the account exists...)`);
        }
      }
      const sensitive = cells('sensitive').map(normalise).join(' ');
      if (columns.has('sensitive') && columns.has('justification') && sensitive !== '' && !NOT_APPLICABLE.test(sensitive) && !/^(?:non|no|false|0|faux)$/.test(sensitive) && cells('justification').length === 0) {
        problems.push('a sensitive field without its justification (data minimisation, Art. 5(1)(c))');
      }
      if (problems.length > 0) {
        const name = cells('name')[0] ?? cells('category')[0];
        findings.push({ file, line: info.lines, message: `data set ${name ? `"${clip(name)}" ` : ''}(line ${info.lines}): ${problems.join('; ')}` });
      }
    }
    return findings;
  },
});

function clip(s: string): string {
  const one = s.replace(/\s+/g, ' ');
  return one.length > 60 ? `${one.slice(0, 57)}...` : one;
}
