/**
 * Quote a CSV field when it holds a comma, a quote or a line break, doubling inner quotes
 * (RFC 4180 §2.6-2.7); any other value is written as is. Dependency-free: used by ingest's spool,
 * erasure's rewrite of CSV objects and `watt train`'s history files.
 */
export function csvField(value: string): string {
  return needsQuotes(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** True when a CSV field must be quoted: it holds a comma, a quote or a line break (RFC 4180 §2.6). */
export function needsQuotes(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 44 || c === 34 || c === 10 || c === 13) return true;
  }
  return false;
}
