/**
 * The one canonical form of a personal identifier, applied before pseudonymisation at ingest and
 * to `watt purge --subject`, so that `" CUST-10"`, `"CUST-10  "` and `"CUST-10"` are one data
 * subject (GDPR Art. 4(1): the identifier designates a person, not a spelling).
 *
 * Rules, in order: Unicode NFC normalisation (Unicode Standard Annex #15), then removal of
 * surrounding white space as `String.prototype.trim` defines it (Unicode White_Space and line
 * terminators). Case and inner spaces are kept: `cust-10` and `CUST-10` stay distinct.
 *
 * @param value the identifier as written in the source (string, any length).
 * @returns the canonical identifier (possibly empty when `value` is only white space).
 */
export function canonicalIdentifier(value: string): string {
  // Fast path (most identifiers): printable ASCII without surrounding spaces is already canonical.
  if (isPlainAscii(value)) return value;
  return value.normalize('NFC').trim();
}

/**
 * Printable ASCII, first and last character not a space (`^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$`,
 * read character by character: it runs on every personal cell): NFC and trim leave it unchanged.
 */
export function isPlainAscii(value: string): boolean {
  const n = value.length;
  if (n === 0 || value.charCodeAt(0) === 32 || value.charCodeAt(n - 1) === 32) return false;
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i);
    if (c < 32 || c > 126) return false;
  }
  return true;
}
