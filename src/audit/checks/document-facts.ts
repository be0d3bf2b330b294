import { UsageError } from '../../errors.js';
import { fold, isPlaceholderText, parseMarkdown, type TextBlock } from '../text.js';
import type { CheckFinding } from '../types.js';
import { termRegExp, vocabulary } from '../vocabulary.js';
import { defineCheck } from './types.js';

/** A fact a document must state. */
export interface RequiredFact {
  /** Stable id within the rule, e.g. `authority`. */
  id: string;
  /** What is missing, for the message, e.g. "the supervisory authority to notify (CNIL)". */
  title: string;
  /**
   * Terms (names in src/audit/rules/vocabulary.json or in the check's `terms`) that must all hold
   * in one block of text: a paragraph, list item or table row, read with the headings it stands
   * under (and, for a table row, the table's header row).
   */
  allOf: string[];
  /** Other ways to state the fact: each a list of terms that must all hold in one block. */
  anyOf?: string[][];
  /**
   * The terms must hold as content: in the block's own text or its section's heading, or, in a
   * table row, in a non-empty cell under a header cell the term matches; never by the table's
   * header row as a whole (a column "Existing controls" does not make every row a risk).
   */
  content?: boolean;
  /** Terms that disqualify a block (a purpose read as a security measure, a sentence about another right). */
  unless?: string[];
  /**
   * Items the article enumerates, each a term: every one must be stated (in any block once the fact
   * holds); a partial list names what is missing.
   */
  items?: { id: string; title: string; term: string }[];
  /**
   * Headings of the section that usually holds the fact (any language): a hint only, used to
   * locate the finding; the fact counts wherever it stands.
   */
  section?: string[];
}

export interface DocumentFactsOptions {
  /** The Markdown document, e.g. `docs/incident_response.md`. */
  file: string;
  facts: RequiredFact[];
  /** Extra or replaced terms: name -> regular expressions over folded text. */
  terms?: Record<string, string[]>;
}

/**
 * `document-facts`: a Markdown document states each required fact somewhere, in French or in
 * English, whatever its headings and their order: a fact holds when one block of prose (paragraph,
 * list item, table row), read together with the heading of its section (and a table's header row), matches every term of
 * the fact (or of one of its `anyOf` alternatives). Placeholder blocks ("À compléter", "TODO") state nothing. A missing fact is reported at
 * the heading of the section that should hold it (the `section` hint) if there is one, else at
 * line 1. Terms are data (src/audit/rules/vocabulary.json).
 */
export default defineCheck<DocumentFactsOptions>({
  type: 'document-facts',
  description: 'the document states each required fact (French or English), wherever it stands',
  optionsSchema: {
    type: 'object',
    required: ['file', 'facts'],
    additionalProperties: false,
    properties: {
      file: { type: 'string', minLength: 1 },
      facts: {
        type: 'array',
        minItems: 1,
        items: {
          type: 'object',
          required: ['id', 'title', 'allOf'],
          additionalProperties: false,
          properties: {
            id: { type: 'string', minLength: 1 },
            title: { type: 'string', minLength: 1 },
            allOf: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
            anyOf: { type: 'array', items: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } } },
            section: { type: 'array', items: { type: 'string', minLength: 1 } },
            content: { type: 'boolean' },
            unless: { type: 'array', items: { type: 'string', minLength: 1 } },
            items: {
              type: 'array',
              items: {
                type: 'object',
                required: ['id', 'title', 'term'],
                additionalProperties: false,
                properties: { id: { type: 'string', minLength: 1 }, title: { type: 'string', minLength: 1 }, term: { type: 'string', minLength: 1 } },
              },
            },
          },
        },
      },
      terms: { type: 'object', additionalProperties: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1, format: 'regex' } } },
    },
  },
  async run(options, ctx) {
    const { file } = options;
    const text = await ctx.readText(file);
    if (text === undefined) return [{ file, message: `${file} is missing` }];
    const doc = parseMarkdown(text);
    const vocab = vocabulary().terms;
    const regexFor = (name: string): RegExp => {
      const patterns = options.terms?.[name] ?? vocab[name]?.patterns;
      if (!patterns) throw new UsageError(`document-facts on ${file}: unknown term "${name}"`, { hint: 'use a term of src/audit/rules/vocabulary.json or define it in the check\'s "terms"' });
      return termRegExp(patterns);
    };
    // A heading alone states nothing: it is the context of the blocks under it.
    const blocks = doc.blocks
      .filter((b) => b.kind !== 'heading' && !isPlaceholderText(b.text))
      .map((b) => ({ block: b, context: contextOf(b), own: fold(b.text), heading: fold(b.headings[b.headings.length - 1] ?? '') }));
    type Judged = (typeof blocks)[number];
    /** The term holds in the block: as content only (own text, or a filled cell under a matching header cell), or with its context. */
    const holds = (j: Judged, re: RegExp, content: boolean): boolean => {
      if (re.test(j.own) || re.test(j.heading)) return true;
      if (content) {
        const { cells, headerCells } = j.block;
        return !!cells && !!headerCells && headerCells.some((h, i) => re.test(fold(h)) && !isPlaceholderText(cells[i] ?? ''));
      }
      return re.test(j.context);
    };
    const findings: CheckFinding[] = [];
    for (const fact of options.facts) {
      const ways = [fact.allOf, ...(fact.anyOf ?? [])].map((terms) => terms.map(regexFor));
      const unless = (fact.unless ?? []).map(regexFor);
      const proof = blocks.find((j) => !unless.some((re) => re.test(j.own)) && ways.some((res) => res.every((re) => holds(j, re, fact.content === true))));
      if (proof) {
        findings.push({ file, line: proof.block.line, evidence: fact.id, message: proof.block.text.slice(0, 240) });
        const missing = (fact.items ?? []).filter((item) => !blocks.some((j) => regexFor(item.term).test(j.context)));
        if (missing.length > 0) {
          findings.push({ file, line: proof.block.line, message: `states ${fact.title} only partly: ${missing.map((m) => m.title).join(', ')} missing` });
        }
        continue;
      }
      // The hint matches a heading that contains it, or that it contains ("Transferts" for "Transferts hors UE").
      const hint = fact.section?.length
        ? doc.sections.find((s) => {
            const title = fold(s.title);
            return fact.section!.some((h) => title.includes(fold(h)) || (title.length >= 6 && fold(h).includes(title)));
          })
        : undefined;
      findings.push({
        file,
        line: hint?.line ?? 1,
        message: `does not state ${fact.title}${fact.section?.length ? ` (usually under a heading such as "${fact.section[0]}")` : ''}`,
      });
    }
    return findings;
  },
});

/**
 * The folded text a block is judged on: the heading of its own section (not the document title
 * above it, which would lend its words to every block), the table header, then the block.
 */
function contextOf(b: TextBlock): string {
  return fold([b.headings[b.headings.length - 1] ?? '', b.header ?? '', b.text].join(' \n '));
}
