/**
 * Text helpers shared by the checks: accent- and case-insensitive comparison, Markdown headings
 * and placeholder detection.
 */

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

/** True when `phrase` occurs in `text` as whole words, both normalised. */
export function containsPhrase(text: string, phrase: string): boolean {
  const t = ` ${normalise(text)} `;
  const p = normalise(phrase);
  return p !== '' && t.includes(` ${p} `);
}

/** A Markdown ATX heading (`## Title`) and the body up to the next heading of the same or a higher level. */
export interface MarkdownSection {
  level: number;
  title: string;
  /** 1-based line of the heading. */
  line: number;
  /** Lines after the heading, sub-sections included. */
  body: string;
}

/** Parse the ATX headings of a Markdown document (headings inside fenced code blocks are ignored). */
export function markdownSections(markdown: string): MarkdownSection[] {
  const lines = markdown.replace(/^\uFEFF/, '').split(/\r?\n/);
  const heads: { level: number; title: string; index: number }[] = [];
  let fence: string | undefined;
  lines.forEach((line, index) => {
    const f = /^\s{0,3}(`{3,}|~{3,})/.exec(line);
    if (f) {
      if (fence === undefined) fence = f[1]![0];
      else if (f[1]![0] === fence) fence = undefined;
      return;
    }
    if (fence !== undefined) return;
    const m = /^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$/.exec(line);
    if (m) heads.push({ level: m[1]!.length, title: m[2]!, index });
  });
  return heads.map((h, i) => {
    let end = lines.length;
    for (let j = i + 1; j < heads.length; j++) {
      if (heads[j]!.level <= h.level) {
        end = heads[j]!.index;
        break;
      }
    }
    return { level: h.level, title: h.title, line: h.index + 1, body: lines.slice(h.index + 1, end).join('\n') };
  });
}

/** Lines that say "fill me in" rather than content (French and English). */
const PLACEHOLDER = /^(todo|tbd|fixme|xxx|a completer|a remplir|a definir|to be completed|to be defined|to do|lorem ipsum)\b/;

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
    const n = normalise(line);
    if (n === '') continue; // "...", "…", "---", "| --- |"
    if (PLACEHOLDER.test(n)) continue;
    return false;
  }
  return true;
}
