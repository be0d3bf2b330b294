import { containsPhrase, normalise } from '../text.js';
import type { CheckFinding } from '../types.js';
import { defineCheck } from './types.js';

export interface RetentionDeclaredOptions {
  /** The retention policy document, e.g. `docs/retention_policy.md`. */
  file: string;
  /** Extra names of a category by id, e.g. `{ "run_logs": ["logs"] }`; its label and id are always accepted. */
  aliases?: Record<string, string[]>;
}

/** A period read in a document, e.g. "6 mois" -> { amount: 6, unit: 'month' }. */
export interface DeclaredPeriod {
  amount: number;
  unit: 'day' | 'week' | 'month' | 'year';
  text: string;
}

const PERIOD = /\b(\d{1,4})\s+(jours?|days?|semaines?|weeks?|mois|months?|ans?|annees?|years?)\b/;

/** The first period stated in a line ("30 jours", "30 days", "6 mois", "12 months", "1 an"), or undefined. */
export function parsePeriod(line: string): DeclaredPeriod | undefined {
  const m = PERIOD.exec(normalise(line));
  if (!m) return undefined;
  const amount = Number(m[1]);
  const word = m[2]!;
  const unit = /^(jour|day)/.test(word) ? 'day' : /^(semaine|week)/.test(word) ? 'week' : /^(mois|month)/.test(word) ? 'month' : 'year';
  return { amount, unit, text: m[0] };
}

/**
 * True when a declared period equals a number of days: days and weeks exactly; a month is 30 to
 * 30.44 days (365/12) so "6 mois" = 180 and "12 mois" = 365; a year is 365 or 366 days.
 */
export function periodMatchesDays(period: DeclaredPeriod, days: number): boolean {
  const n = period.amount;
  switch (period.unit) {
    case 'day':
      return n === days;
    case 'week':
      return n * 7 === days;
    case 'month':
      return days >= n * 30 && days <= Math.ceil((n * 365) / 12) + 1;
    case 'year':
      return days >= n * 365 && days <= n * 366;
  }
}

/**
 * `retention-declared`: for each of watt's retention categories (GDPR Art. 5(1)(e); the ones
 * `watt purge` applies), the policy document has a line naming the category (its French label,
 * its id with spaces, or an alias) and stating a period, and the first such period equals the
 * configured number of days.
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
    const lines = text.split(/\r?\n/);
    const findings: CheckFinding[] = [];
    for (const category of ctx.retention) {
      const names = [category.label, category.id.replace(/_/g, ' '), ...(options.aliases?.[category.id] ?? [])].filter((n) => n && normalise(n) !== '');
      let found: { line: number; period: DeclaredPeriod } | undefined;
      lines.some((line, i) => {
        if (!names.some((n) => containsPhrase(line, n))) return false;
        const period = parsePeriod(line);
        if (period) found = { line: i + 1, period };
        return period !== undefined;
      });
      const label = category.label || category.id;
      if (!found) {
        findings.push({ file, message: `no retention period stated for "${label}" (${category.id}): watt keeps it ${category.days} days` });
      } else if (!periodMatchesDays(found.period, category.days)) {
        findings.push({
          file,
          line: found.line,
          message: `"${label}" is kept ${found.period.text} here but ${category.days} days in watt's retention configuration (watt purge)`,
        });
      }
    }
    return findings;
  },
});
