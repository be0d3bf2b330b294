/**
 * The vocabulary of the content rules (src/audit/rules/vocabulary.json): named terms (lists of
 * regular expressions over folded text) and the names and period units of watt's retention
 * categories. Data, not code: a user's rule may add terms in its options.
 */
import { readFileSync } from 'node:fs';
import { assetPath } from '../paths.js';

export interface Vocabulary {
  version: 1;
  terms: Record<string, { description: string; patterns: string[] }>;
  retention: {
    /** Names of each retention category by id (French and English). */
    categories: Record<string, string[]>;
    /** Period unit (folded) -> days. */
    units: Record<string, number>;
    /** Number words (folded) -> value. */
    numbers: Record<string, number>;
    /** Allowed difference in days, per unit amount, for months and years. */
    toleranceDays: { month: number; year: number };
  };
}

/** Path of the default vocabulary, shipped with the package. */
export const VOCABULARY_FILE = assetPath('src', 'audit', 'rules', 'vocabulary.json');

let loaded: Vocabulary | undefined;
/** The default vocabulary, read once. */
export function vocabulary(): Vocabulary {
  loaded ??= JSON.parse(readFileSync(VOCABULARY_FILE, 'utf8')) as Vocabulary;
  return loaded;
}

const compiled = new Map<string, RegExp>();
/** One regular expression for a list of patterns (alternation), compiled once. */
export function termRegExp(patterns: readonly string[]): RegExp {
  const key = patterns.join('\u0000');
  let re = compiled.get(key);
  if (!re) {
    re = new RegExp(patterns.map((p) => `(?:${p})`).join('|'), 'u');
    compiled.set(key, re);
  }
  return re;
}
