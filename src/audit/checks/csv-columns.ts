import { parse } from 'csv-parse/sync';
import { normalise } from '../text.js';
import type { CheckFinding } from '../types.js';
import { defineCheck } from './types.js';

/** A cell required only on rows where another column is set (not empty, not one of `unless`). */
export interface ConditionalCell {
  column: string;
  ifColumn: string;
  /** Values of `ifColumn` meaning "not set" (compared case- and accent-insensitively); "" always is. */
  unless?: string[];
}

export interface CsvColumnsOptions {
  file: string;
  /** Columns the header must hold (any order; extra columns allowed). */
  columns: string[];
  /** Minimum number of data rows (default 1). */
  minRows?: number;
  /** Columns whose cells must be non-empty on every row. */
  requiredCells?: string[];
  requiredWhen?: ConditionalCell[];
}

/**
 * `csv-columns`: a CSV file (`,` or `;` separated, UTF-8 with or without BOM) has the required
 * header columns, at least `minRows` data rows, and non-empty required cells. Findings carry the
 * 1-based line of the offending row.
 */
export default defineCheck<CsvColumnsOptions>({
  type: 'csv-columns',
  description: 'required columns, at least N data rows, required cells non-empty',
  optionsSchema: {
    type: 'object',
    required: ['file', 'columns'],
    additionalProperties: false,
    properties: {
      file: { type: 'string', minLength: 1 },
      columns: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
      minRows: { type: 'integer', minimum: 0 },
      requiredCells: { type: 'array', items: { type: 'string', minLength: 1 } },
      requiredWhen: {
        type: 'array',
        items: {
          type: 'object',
          required: ['column', 'ifColumn'],
          additionalProperties: false,
          properties: {
            column: { type: 'string', minLength: 1 },
            ifColumn: { type: 'string', minLength: 1 },
            unless: { type: 'array', items: { type: 'string' } },
          },
        },
      },
    },
  },
  async run(options, ctx) {
    const { file } = options;
    const text = await ctx.readText(file);
    if (text === undefined) return [{ file, message: `${file} is missing` }];
    const firstLine = text.replace(/^\uFEFF/, '').split(/\r?\n/, 1)[0] ?? '';
    const delimiter = firstLine.includes(';') && !firstLine.includes(',') ? ';' : ',';
    let records: { record: string[]; info: { lines: number } }[];
    try {
      records = parse(text, { bom: true, delimiter, relax_column_count: true, skip_empty_lines: true, info: true }) as unknown as typeof records;
    } catch (err) {
      const line = (err as { lines?: number }).lines;
      return [{ file, line, message: `${file} is not valid CSV: ${(err as Error).message.split('\n')[0]}` }];
    }
    if (records.length === 0) return [{ file, message: `${file} is empty: it needs the header ${options.columns.join(',')}` }];
    const header = records[0]!.record.map((h) => h.trim().toLowerCase());
    const missing = options.columns.filter((c) => !header.includes(c.toLowerCase()));
    if (missing.length > 0) {
      return [{ file, line: 1, message: `missing column${missing.length > 1 ? 's' : ''} ${missing.map((c) => `"${c}"`).join(', ')} (header must hold ${options.columns.join(',')})` }];
    }
    const findings: CheckFinding[] = [];
    const rows = records.slice(1);
    const minRows = options.minRows ?? 1;
    if (rows.length < minRows) {
      findings.push({ file, line: 1, message: `${file} has ${rows.length} data row${rows.length === 1 ? '' : 's'}, it needs at least ${minRows}` });
    }
    const cell = (row: string[], column: string) => (row[header.indexOf(column.toLowerCase())] ?? '').trim();
    for (const { record, info } of rows) {
      for (const column of options.requiredCells ?? []) {
        if (cell(record, column) === '') findings.push({ file, line: info.lines, message: `"${column}" is empty on line ${info.lines}` });
      }
      for (const cond of options.requiredWhen ?? []) {
        const flag = normalise(cell(record, cond.ifColumn));
        const unset = flag === '' || (cond.unless ?? []).some((u) => normalise(u) === flag);
        if (!unset && cell(record, cond.column) === '') {
          findings.push({ file, line: info.lines, message: `"${cond.column}" is empty on line ${info.lines} although "${cond.ifColumn}" is set` });
        }
      }
    }
    return findings;
  },
});
