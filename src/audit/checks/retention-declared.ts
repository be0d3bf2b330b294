import { fold, isPlaceholderText, normalise, parseMarkdown } from '../text.js';
import type { CheckFinding } from '../types.js';
import { vocabulary } from '../vocabulary.js';
import { defineCheck } from './types.js';

export interface RetentionDeclaredOptions {
  /** The retention policy document, e.g. `docs/retention_policy.md`. */
  file: string;
  /**
   * Extra names of a category by id, e.g. `{ "run_logs": ["traces"] }`, added to those of
   * src/audit/rules/vocabulary.json; its label and id are always accepted.
   */
  aliases?: Record<string, string[]>;
}

/** A period read in a document, e.g. "6 mois" -> { amount: 6, unit: 'mois', days: 182.6 }. */
export interface DeclaredPeriod {
  amount: number;
  /** The unit as written, folded ("jours", "j", "months"...). */
  unit: string;
  /** The period in days (a month is 30.44 days, a year 365.25). */
  days: number;
  text: string;
}

let periodRe: RegExp | undefined;
function periodRegExp(): RegExp {
  if (!periodRe) {
    const { units, numbers } = vocabulary().retention;
    const alt = (words: string[]) => words.sort((a, b) => b.length - a.length).map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/ /g, '[ -]')).join('|');
    periodRe = new RegExp(`(?<![\\p{L}\\p{N}])(\\d{1,4}(?:[.,]\\d+)?|${alt(Object.keys(numbers))})[ \\u00a0-]?(${alt(Object.keys(units))})(?![\\p{L}\\p{N}])`, 'gu');
  }
  return periodRe;
}

/**
 * Every period stated in a text, in order: "30 jours", "30 j", "6 mois", "1 an", "12 months",
 * "90 days", "3 months", "trente jours", "two years". Units and number words are data
 * (src/audit/rules/vocabulary.json, `retention.units` and `retention.numbers`).
 */
export function parsePeriods(text: string): (DeclaredPeriod & { index: number })[] {
  return periodsIn(fold(text));
}

/** Periods in already folded or normalised text; `index` is the offset in that text. */
function periodsIn(folded: string): (DeclaredPeriod & { index: number })[] {
  const { units, numbers } = vocabulary().retention;
  const out: (DeclaredPeriod & { index: number })[] = [];
  for (const m of folded.matchAll(periodRegExp())) {
    const raw = m[1]!;
    const amount = /^\d/.test(raw) ? Number(raw.replace(',', '.')) : numbers[raw.replace(/-/g, ' ')] ?? numbers[raw] ?? NaN;
    const unit = m[2]!;
    const perUnit = units[unit];
    if (!Number.isFinite(amount) || perUnit === undefined) continue;
    out.push({ amount, unit, days: amount * perUnit, text: m[0], index: m.index });
  }
  return out;
}

/** The first period stated in a line, or undefined. */
export function parsePeriod(line: string): DeclaredPeriod | undefined {
  const p = parsePeriods(line)[0];
  if (!p) return undefined;
  const { index: _index, ...period } = p;
  return period;
}

/**
 * True when a declared period equals a number of days: days and weeks exactly; months and years
 * within the tolerance of vocabulary.json per unit (6 mois = 180 to 183 days; 12 months and 1 an =
 * 360 to 366 days).
 */
export function periodMatchesDays(period: DeclaredPeriod, days: number): boolean {
  const perUnit = vocabulary().retention.units[period.unit] ?? 1;
  const { month, year } = vocabulary().retention.toleranceDays;
  if (perUnit < 28) return Math.abs(period.days - days) < 0.5;
  const tolerance = period.amount * (perUnit < 360 ? month : year) + (perUnit < 360 ? 0 : 0.5);
  // "12 mois" = 365.25 days in theory; 360 (12 x 30) and 365 are both meant.
  return Math.abs(period.days - days) <= tolerance || (perUnit < 360 && Math.abs(period.amount * 30 - days) < 0.5);
}

const escape = (w: string) => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * `retention-declared`: without a configured policy, the document states at least one period.
 * With one (watt-audit.toml `[retention]`, or `WATT_RETENTION_POLICY`): for each of its categories (GDPR Art. 5(1)(e); the ones
 * `watt purge` applies, src/retention/policy.json), the policy document names the category (its
 * label, its id, or a synonym: "relevés bruts" for "données brutes", "logs" for "journaux",
 * "artefacts de modèles" for "modèles entraînés"...) in a block of text (table row, list item,
 * paragraph; the words of a name in order, up to two other words between them) that states a
 * period, and that period, in days, is the one configured. The most
 * specific name wins ("journaux techniques" before "journaux"); in a block naming several
 * categories, the period nearest after the name counts. A mismatch is reported at its line.
 */
export default defineCheck<RetentionDeclaredOptions>({
  type: 'retention-declared',
  description: 'the retention policy states the configured period of each data category',
  optionsSchema: {
    type: 'object',
    required: ['file'],
    additionalProperties: false,
    properties: {
      file: { type: 'string', minLength: 1 },
      aliases: { type: 'object', additionalProperties: { type: 'array', items: { type: 'string', minLength: 1 } } },
    },
  },
  async run(options, ctx) {
    const { file } = options;
    const text = await ctx.readText(file);
    if (text === undefined) return [{ file, message: `${file} is missing` }];
    const blocks = parseMarkdown(text)
      .blocks.filter((b) => b.kind !== 'heading' && !isPlaceholderText(b.text))
      .map((b) => {
        const text = ` ${normalise(b.text)} `;
        return { line: b.line, text, periods: periodsIn(text) };
      })
      .filter((b) => b.periods.length > 0);
    const synonyms = vocabulary().retention.categories;
    const findings: CheckFinding[] = [];
    // No policy configured (watt-audit.toml [retention], WATT_RETENTION_POLICY): the document must
    // state periods, whatever its categories.
    if (!ctx.retention || ctx.retention.length === 0) {
      if (blocks.length === 0) findings.push({ file, line: 1, message: `states no retention period (e.g. "30 jours", "6 months") for the data it describes` });
      return findings;
    }
    for (const category of ctx.retention) {
      const names = [category.label, category.id.replace(/_/g, ' '), category.id, ...(synonyms[category.id] ?? []), ...(options.aliases?.[category.id] ?? [])]
        .map((n) => normalise(n ?? ''))
        .filter((n) => n !== '');
      const ordered = [...new Set(names)].sort((a, b) => b.split(' ').length - a.split(' ').length || b.length - a.length);
      let found: { line: number; period: DeclaredPeriod } | undefined;
      for (const name of ordered) {
        // The words of the name in order, with up to two words between ("données de consommation brutes").
        const re = new RegExp(` ${name.split(' ').map(escape).join('(?: [\\p{L}\\p{N}]+){0,2} ')} `, 'u');
        for (const b of blocks) {
          const m = re.exec(b.text);
          if (!m) continue;
          const at = m.index;
          const after = b.periods.find((p) => p.index >= at + m[0].length - 1);
          const period = after ?? b.periods[b.periods.length - 1]!;
          found = { line: b.line, period };
          break;
        }
        if (found) break;
      }
      const label = category.label || category.id;
      if (!found) {
        findings.push({ file, line: 1, message: `no retention period stated for "${label}" (${category.id}; also read as ${(synonyms[category.id] ?? []).slice(0, 3).join(', ')}...): watt keeps it ${category.days} days` });
      } else if (!periodMatchesDays(found.period, category.days)) {
        findings.push({
          file,
          line: found.line,
          message: `"${label}" is kept ${found.period.text} (${Math.round(found.period.days)} days) here but ${category.days} days in the configured retention policy (the one watt purge applies)`,
        });
      }
    }
    return findings;
  },
});
