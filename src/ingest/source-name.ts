import path from 'node:path';
import type { RegExpLike } from '../records/schema.js';

/**
 * The name a source is recorded under (object key stem, manifest `source.name`, catalog, logs).
 *
 * A file name can carry a raw identifier (`export_CUST-000777.csv`). Erasure must then find it
 * nowhere, and rewriting history (keys, manifests, trail) is not an option, so the name is
 * redacted before anything records it: every substring that is a whole match of a personal
 * column's schema `pattern`, and every canonical personal cell of the file (at least 3
 * characters: `MIN_NAME_HIT_CHARS`, transform.ts) found in the name, becomes {@link REDACTED}. Until the
 * cells are known (end of the transform), messages call the source by its sha256 prefix.
 */

/** What replaces a personal identifier in a source file name. */
export const REDACTED = 'redacted';

/** The file name of a source path, Unicode NFC (as cells are compared in their canonical form). */
export function sourceFileName(sourcePath: string): string {
  return path.basename(sourcePath).normalize('NFC');
}

/**
 * Replace, left to right, the longest substring starting at each position that `pattern` matches
 * whole (each pattern is compiled anchored: `^(?:p)$`). Linear engines (RE2) keep this at
 * O(n^3) character steps for a name of n characters (n <= 255: a few milliseconds).
 */
export function redactPatterns(name: string, patterns: Iterable<RegExpLike>): string {
  let out = name;
  for (const pattern of patterns) {
    let result = '';
    let i = 0;
    while (i < out.length) {
      let end = -1;
      for (let j = out.length; j > i; j--) {
        if (pattern.test(out.slice(i, j))) {
          end = j;
          break;
        }
      }
      if (end > i) {
        result += REDACTED;
        i = end;
      } else {
        result += out[i];
        i++;
      }
    }
    out = result;
  }
  return out;
}

/** Replace every occurrence of each value (longest first) by {@link REDACTED}. */
export function redactValues(name: string, values: Iterable<string>): string {
  const sorted = [...new Set(values)].filter((v) => v !== '').sort((a, b) => b.length - a.length);
  let out = name;
  for (const v of sorted) out = out.split(v).join(REDACTED);
  return out;
}

/** How messages call a source before its name is redacted: `source sha256:<first 12 hex>`. */
export function sourceLabel(sha256: string): string {
  return `source sha256:${sha256.slice(0, 12)}`;
}
