import { DataError } from '../errors.js';
import type { CompiledSchema } from '../records/schema.js';
import { detectPersonalData, type PersonalDataFinding } from '../records/personal-data.js';

/** One column the guard stopped: its name and the detectors that fired (reasons hold no value). */
export interface UnmarkedPersonalColumn {
  column: string;
  findings: PersonalDataFinding[];
}

/**
 * The unmarked columns that look personal: every column of `columns` that the schema neither
 * pseudonymises (`"x-personal-data": "pseudonymise"`) nor declares not personal
 * (`"x-personal-data": false`), on which a detector of records/personal-data.ts fires, by the
 * column's name or by the values of `rows` (records in header order, the first rows of the file).
 */
export function unmarkedPersonalColumns(columns: readonly string[], header: readonly string[], rows: readonly string[][], schema: CompiledSchema): UnmarkedPersonalColumn[] {
  const out: UnmarkedPersonalColumn[] = [];
  for (const column of columns) {
    if (schema.personal.has(column) || schema.notPersonal.has(column)) continue;
    const i = header.indexOf(column);
    const findings = detectPersonalData(column, i < 0 ? [] : rows.map((r) => r[i] ?? ''));
    if (findings.length) out.push({ column, findings });
  }
  return out;
}

/**
 * The personal-data guard of `watt ingest` (GDPR Art. 25, data protection by default): before
 * anything is written, a column that looks personal and that the schema does not mark fails the
 * run, naming the column and the detector, never a value.
 * @param columns the columns that would land (header order, dropped ones left out)
 * @param header the source's header (the order of `rows`' cells)
 * @param rows the first data rows of the source, parsed (header width)
 * @throws DataError (exit 1) naming each such column
 */
export function checkPersonalColumns(columns: readonly string[], header: readonly string[], rows: readonly string[][], schema: CompiledSchema, sourceLabel: string): void {
  const found = unmarkedPersonalColumns(columns, header, rows, schema);
  if (!found.length) return;
  const what = found.map((f) => `${f.column} (${f.findings.map((x) => `${x.label}: ${x.reason}`).join('; ')})`).join(', ');
  throw new DataError(
    `${found.length === 1 ? 'column' : 'columns'} ${what.slice(0, 600)} of ${sourceLabel} ${found.length === 1 ? 'looks' : 'look'} personal but the schema does not mark ${found.length === 1 ? 'it' : 'them'} "x-personal-data": nothing was written`,
    { hint: 'mark each such column "x-personal-data": "pseudonymise" in the schema (watt schema infer does), or declare it not personal with "x-personal-data": false and an "x-reason"' },
  );
}
