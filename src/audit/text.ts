/**
 * Text helpers shared by the checks: accent- and case-insensitive comparison, placeholder
 * detection, and Markdown parsed by a real CommonMark parser (markdown-it, with GFM tables): ATX
 * and setext headings, tables, lists, block quotes, front matter (YAML `---` or TOML `+++`); code
 * blocks and HTML are not prose. markdown-it rather than micromark/mdast: 10 to 30 times faster on
 * watt's documents (bench: 3-18 ms against 74-273 ms for the six docs/*.md), and the audit must
 * stay well under 2 s with the whole git history.
 */
import MarkdownIt from 'markdown-it';

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
  /** For a table row: its cells, and the header's cells (same order). */
  cells?: string[];
  headerCells?: string[];
}

/** A parsed Markdown document. */
export interface MarkdownDocument {
  /** Front matter (YAML `---` or TOML `+++`), raw, if any. */
  frontmatter?: { lang: 'yaml' | 'toml'; value: string };
  sections: MarkdownSection[];
  blocks: TextBlock[];
}

const cache = new Map<string, MarkdownDocument>();
let parser: MarkdownIt | undefined;

type Token = ReturnType<MarkdownIt['parse']>[number];

/** Plain text of an inline token: text and code spans, breaks as spaces, link and emphasis markup dropped. */
function plain(inline: Token | undefined): string {
  if (!inline) return '';
  if (!inline.children) return inline.content;
  let out = '';
  for (const c of inline.children) {
    if (c.type === 'text' || c.type === 'code_inline' || c.type === 'html_inline') out += c.type === 'html_inline' ? '' : c.content;
    else if (c.type === 'softbreak' || c.type === 'hardbreak') out += ' ';
    else if (c.type === 'image') out += plain(c);
  }
  return out;
}

/** Front matter at the very start: YAML between `---` lines or TOML between `+++` lines. */
const FRONT_MATTER = /^(---|\+\+\+)[ \t]*\r?\n([\s\S]*?)\r?\n\1[ \t]*(?:\r?\n|$)/;

/** Parse a Markdown document (CommonMark + GFM tables + front matter). Memoised per text. */
export function parseMarkdown(markdown: string): MarkdownDocument {
  const hit = cache.get(markdown);
  if (hit) return hit;
  let source = markdown.replace(/^\uFEFF/, '');
  const doc: MarkdownDocument = { sections: [], blocks: [] };
  const fm = FRONT_MATTER.exec(source);
  if (fm) {
    doc.frontmatter = { lang: fm[1] === '---' ? 'yaml' : 'toml', value: fm[2]! };
    // Blank lines in its place keep the line numbers of the rest.
    source = fm[0].replace(/[^\n]/g, '') + source.slice(fm[0].length);
  }
  parser ??= new MarkdownIt({ html: true, linkify: false, typographer: false });
  const tokens = parser.parse(source, {});
  const lines = source.split(/\r?\n/);

  // Sections: headings of the top level (a heading inside a list or quote does not cut sections).
  const heads: { depth: number; title: string; line: number; endLine: number }[] = [];
  const path: { depth: number; title: string }[] = [];
  let row: { cells: string[]; line: number; head: boolean } | undefined;
  let header: string | undefined;
  let headerCells: string[] | undefined;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    switch (t.type) {
      case 'heading_open': {
        const depth = Number(t.tag.slice(1));
        const title = plain(tokens[i + 1]).trim();
        const line = t.map![0] + 1;
        while (path.length > 0 && path[path.length - 1]!.depth >= depth) path.pop();
        doc.blocks.push({ kind: 'heading', text: title, line, headings: path.map((p) => p.title) });
        path.push({ depth, title });
        if (t.level === 0) heads.push({ depth, title, line, endLine: t.map![1] });
        break;
      }
      case 'paragraph_open':
        doc.blocks.push({ kind: 'paragraph', text: plain(tokens[i + 1]), line: t.map![0] + 1, headings: path.map((p) => p.title) });
        break;
      case 'table_open':
        header = undefined;
        headerCells = undefined;
        break;
      case 'html_block':
        if (/<table[\s>]/i.test(t.content)) doc.blocks.push(...htmlTableRows(t.content, t.map![0] + 1, path.map((p) => p.title)));
        break;
      case 'tr_open':
        row = { cells: [], line: t.map![0] + 1, head: false };
        break;
      case 'th_open':
      case 'td_open':
        if (row) {
          row.head ||= t.type === 'th_open';
          row.cells.push(plain(tokens[i + 1]).trim());
        }
        break;
      case 'tr_close':
        if (row) {
          const text = row.cells.join(' | ');
          if (row.head) {
            header = text;
            headerCells = row.cells;
          } else
            doc.blocks.push({
              kind: 'table-row',
              text,
              line: row.line,
              headings: path.map((p) => p.title),
              cells: row.cells,
              ...(header !== undefined ? { header, headerCells } : {}),
            });
        }
        row = undefined;
        break;
    }
  }
  heads.forEach((h, i) => {
    let endLine = lines.length;
    for (let j = i + 1; j < heads.length; j++) {
      if (heads[j]!.depth <= h.depth) {
        endLine = heads[j]!.line - 1;
        break;
      }
    }
    doc.sections.push({ level: h.depth, title: h.title, line: h.line, body: lines.slice(h.endLine, endLine).join('\n') });
  });
  if (cache.size > 256) cache.clear();
  cache.set(markdown, doc);
  return doc;
}

/** Text of an HTML fragment: tags dropped, common entities decoded, whitespace collapsed. */
function htmlText(html: string): string {
  return html
    .replace(/<br\s*\/?>/gi, ' ')
    .replace(/<[^>]*>/g, '')
    .replace(/&nbsp;/g, ' ')
    .replace(/&amp;/g, '&')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;|&apos;/g, "'")
    .replace(/\s+/g, ' ')
    .trim();
}

/**
 * The rows of HTML tables written in Markdown (`<table>` blocks): each `<tr>` a table row, its
 * `<th>`/`<td>` cells; the first row of `<th>` cells (or of `<thead>`) is the header.
 */
function htmlTableRows(html: string, firstLine: number, headings: string[]): TextBlock[] {
  const out: TextBlock[] = [];
  for (const table of html.matchAll(/<table[\s>][\s\S]*?<\/table>/gi)) {
    let header: string[] | undefined;
    for (const tr of table[0].matchAll(/<tr[\s>][\s\S]*?<\/tr>/gi)) {
      const cells = [...tr[0].matchAll(/<(th|td)[^>]*>([\s\S]*?)<\/\1>/gi)];
      if (cells.length === 0) continue;
      const texts = cells.map((c) => htmlText(c[2]!));
      const offset = (table.index ?? 0) + (tr.index ?? 0);
      const line = firstLine + (html.slice(0, offset).match(/\n/g)?.length ?? 0);
      if (!header && cells.every((c) => c[1]!.toLowerCase() === 'th')) {
        header = texts;
        continue;
      }
      out.push({ kind: 'table-row', text: texts.join(' | '), line, headings, cells: texts, ...(header ? { header: header.join(' | '), headerCells: header } : {}) });
    }
  }
  return out;
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
