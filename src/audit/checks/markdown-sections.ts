import { containsPhrase, isPlaceholderBody, markdownSections } from '../text.js';
import type { CheckFinding } from '../types.js';
import { defineCheck } from './types.js';

/** A required section: its display title and the headings accepted for it (French and English). */
export interface RequiredSection {
  title: string;
  /** Accepted heading phrases; a heading matches when it contains one as whole words (case and accents ignored). */
  synonyms: string[];
  /** Optional regular expression (case-insensitive) the section body must match, e.g. "72\\s*h". */
  pattern?: string;
  /** What the pattern stands for, in the finding's message, e.g. "the 72-hour deadline". */
  patternHint?: string;
}

export interface MarkdownSectionsOptions {
  file: string;
  sections: RequiredSection[];
}

/**
 * `markdown-sections`: each required section appears as a heading (any level) whose body (up to
 * the next heading of the same or a higher level) has real content, not only a placeholder
 * ("TODO", "À compléter", "..."), and matches the section's pattern if it has one.
 */
export default defineCheck<MarkdownSectionsOptions>({
  type: 'markdown-sections',
  description: 'required headings with synonyms, each with a non-empty body',
  optionsSchema: {
    type: 'object',
    required: ['file', 'sections'],
    additionalProperties: false,
    properties: {
      file: { type: 'string', minLength: 1 },
      sections: {
        type: 'array',
        minItems: 1,
        items: {
          type: 'object',
          required: ['title', 'synonyms'],
          additionalProperties: false,
          properties: {
            title: { type: 'string', minLength: 1 },
            synonyms: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
            pattern: { type: 'string', minLength: 1, format: 'regex' },
            patternHint: { type: 'string', minLength: 1 },
          },
        },
      },
    },
  },
  async run(options, ctx) {
    const text = await ctx.readText(options.file);
    if (text === undefined) return [{ file: options.file, message: `${options.file} is missing` }];
    const sections = markdownSections(text);
    const findings: CheckFinding[] = [];
    for (const required of options.sections) {
      const matches = sections.filter((s) => [required.title, ...required.synonyms].some((syn) => containsPhrase(s.title, syn)));
      if (matches.length === 0) {
        findings.push({
          file: options.file,
          message: `missing section "${required.title}" (accepted headings: ${unique([required.title, ...required.synonyms]).join(', ')})`,
        });
        continue;
      }
      const filled = matches.filter((s) => !isPlaceholderBody(s.body));
      if (filled.length === 0) {
        findings.push({ file: options.file, line: matches[0]!.line, message: `section "${required.title}" is empty or only a placeholder` });
        continue;
      }
      if (required.pattern) {
        const re = new RegExp(required.pattern, 'iu');
        if (!filled.some((s) => re.test(s.body))) {
          findings.push({
            file: options.file,
            line: filled[0]!.line,
            message: `section "${required.title}" does not state ${required.patternHint ?? `/${required.pattern}/`}`,
          });
        }
      }
    }
    return findings;
  },
});

function unique(values: string[]): string[] {
  return [...new Set(values)];
}
