/**
 * Text helpers shared by the checks: accent- and case-insensitive comparison, placeholder
 * detection, and Markdown parsed by a real CommonMark parser (mdast-util-from-markdown with the GFM
 * table and front-matter extensions): ATX and setext headings, tables, lists, block quotes, front
 * matter; code blocks and HTML comments are not prose.
 */
import type { Heading, Nodes, Root, RootContent, Table } from 'mdast';
import { fromMarkdown } from 'mdast-util-from-markdown';
import { frontmatterFromMarkdown } from 'mdast-util-frontmatter';
import { gfmTableFromMarkdown } from 'mdast-util-gfm-table';
import { toString } from 'mdast-util-to-string';
import { frontmatter } from 'micromark-extension-frontmatter';
import { gfmTable } from 'micromark-extension-gfm-table';

/**
 * Lower-case, strip accents (NFD, combining marks removed), turn punctuation into spaces and
 * collapse whitespace: "Durées de conservation (Art. 30-1-f)" -> "durees de conservation art 30 1 f".
 */
export function normalise(text: string): string {
  return text
    .normalize('NFD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase()
    .replace(/[’']/g, ' ')
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim();
}

/**
 * Fold text for fact patterns: lower-case, accents stripped, typographic apostrophes and dashes
 * made ASCII, non-breaking spaces and runs of whitespace made one space; punctuation is kept
 * ("L’autorité de contrôle, sous 72 h." -> "l'autorite de controle, sous 72 h.").
 */
export function fold(text: string): string {
  return text
    .normalize('NFD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase()
    .replace(/[’‘ʼ`]/g, "'")
    .replace(/[‐‑‒–—]/g, '-')
    .replace(/\s+/gu, ' ')
    .trim();
}

/** True when `phrase` occurs in `text` as whole words, both normalised. */
export function containsPhrase(text: string, phrase: string): boolean {
  const t = ` ${normalise(text)} `;
  const p = normalise(phrase);
  return p !== '' && t.includes(` ${p} `);
}

/** A Markdown heading (ATX `## Title` or setext, underlined) and the body up to the next heading of the same or a higher level. */
export interface MarkdownSection {
  level: number;
  /** Plain text of the heading (emphasis, code and links flattened). */
  title: string;
  /** 1-based line of the heading (of its text, for a setext heading). */
  line: number;
  /** Markdown source after the heading, sub-sections included. */
  body: string;
}

/** A unit of prose: a paragraph, a list item's paragraph, a table row or a heading, with where it stands. */
export interface TextBlock {
  kind: 'paragraph' | 'heading' | 'table-row';
  /** Plain text (table cells joined with " | "). */
  text: string;
  /** 1-based line where it starts. */
  line: number;
  /** Titles of the headings it stands under, outermost first (a heading's own title excluded). */
  headings: string[];
  /** For a table row: the text of the table's header row. */
  header?: string;
}

/** A parsed Markdown document. */
export interface MarkdownDocument {
  /** Front matter (YAML `---` or TOML `+++`), raw, if any. */
  frontmatter?: { lang: 'yaml' | 'toml'; value: string };
  sections: MarkdownSection[];
  blocks: TextBlock[];
}

const cache = new Map<string, MarkdownDocument>();

/** Parse a Markdown document (CommonMark + GFM tables + front matter). Memoised per text. */
export function parseMarkdown(markdown: string): MarkdownDocument {
  const hit = cache.get(markdown);
  if (hit) return hit;
  const source = markdown.replace(/^\uFEFF/, '');
  const tree: Root = fromMarkdown(source, {
    extensions: [gfmTable(), frontmatter(['yaml', 'toml'])],
    mdastExtensions: [gfmTableFromMarkdown(), frontmatterFromMarkdown(['yaml', 'toml'])],
  });
  const doc: MarkdownDocument = { sections: [], blocks: [] };
  const lines = source.split(/\r?\n/);

  // Sections: headings of the top level (a heading inside a list or quote does not cut sections).
  const heads = tree.children.flatMap((node, index) => (node.type === 'heading' ? [{ node, index }] : []));
  heads.forEach((h, i) => {
    const startLine = h.node.position!.start.line;
    const endHeadLine = h.node.position!.end.line;
    let endLine = lines.length;
    for (let j = i + 1; j < heads.length; j++) {
      if (heads[j]!.node.depth <= h.node.depth) {
        endLine = heads[j]!.node.position!.start.line - 1;
        break;
      }
    }
    doc.sections.push({ level: h.node.depth, title: toString(h.node).trim(), line: startLine, body: lines.slice(endHeadLine, endLine).join('\n') });
  });

  // Blocks, with the heading path they stand under.
  const path: { depth: number; title: string }[] = [];
  const visit = (node: RootContent | Nodes): void => {
    const type = node.type as string;
    if (type === 'yaml' || type === 'toml') {
      doc.frontmatter = { lang: type, value: (node as { value: string }).value };
      return;
    }
    switch (node.type) {
      case 'heading': {
        const h = node as Heading;
        while (path.length > 0 && path[path.length - 1]!.depth >= h.depth) path.pop();
        const title = toString(h).trim();
        doc.blocks.push({ kind: 'heading', text: title, line: h.position!.start.line, headings: path.map((p) => p.title) });
        path.push({ depth: h.depth, title });
        return;
      }
      case 'paragraph':
        doc.blocks.push({ kind: 'paragraph', text: toString(node), line: node.position!.start.line, headings: path.map((p) => p.title) });
        return;
      case 'table': {
        const t = node as Table;
        const rows = t.children.map((row) => row.children.map((cell) => toString(cell).trim()).join(' | '));
        t.children.forEach((row, i) => {
          if (i === 0) return;
          doc.blocks.push({ kind: 'table-row', text: rows[i]!, line: row.position!.start.line, headings: path.map((p) => p.title), header: rows[0] });
        });
        if (t.children.length === 1) doc.blocks.push({ kind: 'table-row', text: rows[0]!, line: t.position!.start.line, headings: path.map((p) => p.title) });
        return;
      }
      case 'code':
      case 'html':
      case 'thematicBreak':
      case 'definition':
        return;
      default:
        if ('children' in node) for (const child of node.children as RootContent[]) visit(child);
    }
  };
  for (const child of tree.children) visit(child);
  if (cache.size > 256) cache.clear();
  cache.set(markdown, doc);
  return doc;
}

/** The headings of a Markdown document (ATX and setext; headings in code blocks are not headings). */
export function markdownSections(markdown: string): MarkdownSection[] {
  return parseMarkdown(markdown).sections;
}

/** Lines that say "fill me in" rather than content (French and English). */
const PLACEHOLDER = /^(todo|tbd|fixme|xxx|a completer|a remplir|a definir|to be completed|to be defined|to do|lorem ipsum)\b/;

/** True when a line of text (one block) is only a placeholder or decoration. */
export function isPlaceholderText(text: string): boolean {
  const n = normalise(text);
  return n === '' || PLACEHOLDER.test(n);
}

/**
 * True when a section body has no real content: only blank lines, HTML comments, Markdown
 * decoration, ellipses, or placeholder lines ("TODO", "À compléter", "TBD", "...").
 */
export function isPlaceholderBody(body: string): boolean {
  const withoutComments = body.replace(/<!--[\s\S]*?-->/g, ' ');
  for (const raw of withoutComments.split(/\r?\n/)) {
    // Table separators, rules and list markers carry no content.
    const line = raw.replace(/^\s*(?:[-*+>|]|\d+[.)])\s*/, '').trim();
    if (line === '') continue;
    if (isPlaceholderText(line)) continue;
    return false;
  }
  return true;
}
