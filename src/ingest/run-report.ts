import type { FaultGroup } from './transform.js';

/**
 * Lines of a validator's summary of rejected rows, one per column and reason, most rows first:
 * `conso_kwh: 200,000 rows, "0,110" is not a number (lines 2, 3, 4, 5, 6, …) (decimal comma? set "x-decimalChar": "," on the column)`,
 * or for a reason met once `line 7, column reading_ts: "2025-13-01" is not a valid date-time`.
 * The value shown is the first one's, never of a personal column.
 * @param max at most this many lines, then `and N more reasons`
 * @param hints append each group's hint (the error's own hint may carry it instead)
 */
export function describeFaults(faults: readonly FaultGroup[], max = 20, hints = true): string[] {
  const lines = faults.slice(0, max).map((g) => {
    const value = g.example !== undefined ? `${JSON.stringify(g.example)} ` : '';
    const hint = hints && g.hint ? ` (${g.hint})` : '';
    if (g.rows === 1) return `line ${g.lines[0]}${g.column ? `, column ${g.column}` : ''}: ${value}${g.reason}${hint}`;
    const lineList = `lines ${g.lines.join(', ')}${g.rows > g.lines.length ? ', …' : ''}`;
    return `${g.column ?? 'rows'}: ${g.rows.toLocaleString('en')} rows, ${value}${g.reason} (${lineList})${hint}`;
  });
  if (faults.length > max) lines.push(`and ${faults.length - max} more reasons`);
  return lines;
}

const DAY_MS = 86_400_000;

/**
 * The first partition day the raw-data retention keeps at `now`: `watt purge` deletes partitions
 * dated before it (retention/age.ts `cutoffs`: the UTC day of `now - days`).
 */
export function cutoffDay(now: Date, days: number): string {
  return new Date(now.getTime() - days * DAY_MS).toISOString().slice(0, 10);
}

/** Rows of the objects whose partition day is before `cutoff` (`YYYY-MM-DD`). */
export function expiredRows(objects: readonly { partition_date: string; rows: number }[], cutoff: string): number {
  return objects.reduce((n, o) => n + (o.partition_date < cutoff ? o.rows : 0), 0);
}
