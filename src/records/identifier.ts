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
  if (PLAIN_ASCII.test(value)) return value;
  return value.normalize('NFC').trim();
}

/** Printable ASCII, first and last character not a space: NFC and trim leave it unchanged. */
const PLAIN_ASCII = /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/;
