import path from 'node:path';
import { readFileSync, statSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import { csvField } from '../records/csv.js';
import { DataError, UsageError } from '../errors.js';
import { assetPath } from '../paths.js';
import { CellError, convertCell, describeAjvError, loadSchema } from '../records/schema.js';
import type { DpeClass } from './params.js';

/**
 * The ignition history: one row per morning (see `schemas/ignition_history.schema.json`), either a
 * user's own (`watt train --data`) or simulated (`watt train --synthetic`).
 */

/** One morning. Temperatures °C, lead time minutes, power kW. */
export interface IgnitionRecord {
  /** The morning of the target, YYYY-MM-DD. */
  date: string;
  dpe_class: DpeClass;
  /** Outdoors when the stove was lit (°C). */
  outdoor_temp_c: number;
  /** Indoor air when the stove was lit (°C). */
  indoor_start_temp_c: number;
  target_temp_c: number;
  /** Minutes from ignition to the target time, the shortest that reached the target. */
  lead_time_min: number;
  /** Nominal stove power (kW), 8 when the file has none. */
  stove_power_kw: number;
  /** HH:MM, 07:00 when the file has none. */
  target_time: string;
  /** Optional label of the place (a city), used by the by-place hold-out. */
  location?: string;
  /**
   * The forecast (or recorded) minimum outdoor air between ignition and the target time (°C),
   * when known: what `--temp-min` / `temp_min_c` gives at predict time.
   */
  temp_min_c?: number;
}

/** The columns written by {@link historyToCsv}, in order. */
export const HISTORY_COLUMNS = [
  'date',
  'dpe_class',
  'outdoor_temp_c',
  'indoor_start_temp_c',
  'target_temp_c',
  'lead_time_min',
  'stove_power_kw',
  'target_time',
  'location',
] as const;

/** One invalid row, as `watt ingest` reports them. */
export interface HistoryRowError {
  /** 1-based line in the file (the header is line 1). */
  line: number;
  column: string | null;
  reason: string;
  value?: string;
}

export interface LoadedHistory {
  records: IgnitionRecord[];
  /** The file line of each record (1-based, the header is line 1). */
  lines: number[];
  /** Columns of the file that the schema does not know (ignored). */
  ignoredColumns: string[];
  /** File name (no folders), for messages and the model card. */
  name: string;
}

/** Path of the ignition-history schema shipped with watt. */
export function historySchemaFile(): string {
  return assetPath('schemas', 'ignition_history.schema.json');
}

/**
 * Read and validate a user's ignition history (CSV with a header row). Cells are converted by the
 * schema's types and validated row by row with ajv, with the same row-level messages as
 * `watt ingest` (`line 4, column lead_time_min: "600" must be <= 540`).
 * @throws UsageError (exit 2) if the file is missing or unreadable;
 *   DataError (exit 1) on a missing required column, an empty file, or any invalid row (nothing is trained).
 */
export function loadHistoryCsv(file: string, defaults: { powerKw: number; targetTime: string }): LoadedHistory {
  const name = path.basename(file);
  let bytes: Buffer;
  try {
    if (statSync(file).isDirectory()) throw new UsageError(`history ${file} is a directory`, { hint: 'pass a CSV file to --data' });
    bytes = readFileSync(file);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(code === 'ENOENT' ? `history file not found: ${file}` : `cannot read history ${file}: ${code ?? (err as Error).message}`, {
      hint: 'check the --data path',
    });
  }
  const schema = loadSchema(historySchemaFile());
  let rows: string[][];
  try {
    rows = parse(bytes, { skip_empty_lines: true, relax_column_count: true, bom: true }) as string[][];
  } catch (err) {
    throw new DataError(`${name} is not a readable CSV file: ${(err as Error).message.split('\n')[0]}`);
  }
  const header = rows[0]?.map((h) => h.trim());
  if (!header) throw new DataError(`${name} is empty: no header row`, { hint: 'a CSV file with a header line is expected' });
  const missing = schema.required.filter((c) => !header.includes(c));
  if (missing.length) {
    throw new DataError(`${name} is missing required column${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`, {
      hint: `the columns are ${schema.required.join(', ')} (optional: stove_power_kw, target_time, location)`,
    });
  }
  const ignoredColumns = header.filter((h) => !schema.types.has(h));
  const errors: HistoryRowError[] = [];
  const records: IgnitionRecord[] = [];
  const lines: number[] = [];
  for (let r = 1; r < rows.length; r++) {
    const line = r + 1;
    const cells = rows[r]!;
    if (cells.length !== header.length) {
      errors.push({ line, column: null, reason: `has ${cells.length} fields, the header has ${header.length}` });
      continue;
    }
    const row: Record<string, unknown> = {};
    let bad: HistoryRowError | undefined;
    header.forEach((col, i) => {
      if (bad || !schema.types.has(col)) return;
      const raw = cells[i]!.trim();
      const converted = convertCell(raw, schema.types.get(col));
      if (converted instanceof CellError) bad = { line, column: col, reason: converted.reason, value: raw.slice(0, 40) };
      else if (converted !== undefined) row[col] = converted;
    });
    if (!bad && !schema.validate(row)) {
      const { column, reason } = describeAjvError(schema.validate.errors![0]!);
      const idx = header.indexOf(column);
      bad = { line, column: column || null, reason, value: idx >= 0 ? cells[idx]!.trim().slice(0, 40) : undefined };
    }
    if (bad) {
      errors.push(withLikelyCause(bad));
      continue;
    }
    lines.push(line);
    records.push({
      date: row.date as string,
      dpe_class: row.dpe_class as DpeClass,
      outdoor_temp_c: row.outdoor_temp_c as number,
      indoor_start_temp_c: row.indoor_start_temp_c as number,
      target_temp_c: row.target_temp_c as number,
      lead_time_min: row.lead_time_min as number,
      stove_power_kw: (row.stove_power_kw as number | undefined) ?? defaults.powerKw,
      target_time: (row.target_time as string | undefined) ?? defaults.targetTime,
      ...(typeof row.location === 'string' && row.location !== '' ? { location: row.location } : {}),
      ...(typeof row.temp_min_c === 'number' ? { temp_min_c: row.temp_min_c } : {}),
    });
  }
  if (errors.length) {
    const first = errors[0]!;
    throw new DataError(
      `${errors.length} invalid row${errors.length > 1 ? 's' : ''} in ${name}, nothing was trained (first: ${formatRowError(first)})`,
      { hint: 'fix the rows and rerun watt train --data' },
    );
  }
  if (records.length === 0) throw new DataError(`${name} has a header but no data rows`);
  return { records, lines, ignoredColumns, name };
}

/** Columns whose out-of-range values are likely a unit mistake, with the cause to name. */
function withLikelyCause(e: HistoryRowError): HistoryRowError {
  const v = Number(e.value);
  if (e.value === undefined || !Number.isFinite(v) || !/must be [<>]=?/.test(e.reason)) return e;
  const temp = ['outdoor_temp_c', 'indoor_start_temp_c', 'target_temp_c'].includes(e.column ?? '');
  if (temp && v > 30 && v <= 120) return { ...e, reason: `${e.reason} (likely °F: ${v} °F is ${Math.round(((v - 32) * 5) / 9 * 10) / 10} °C)` };
  if (e.column === 'stove_power_kw' && v >= 500) return { ...e, reason: `${e.reason} (likely W instead of kW: ${v} W is ${v / 1000} kW)` };
  if (e.column === 'lead_time_min' && v > 540) return { ...e, reason: `${e.reason} (9 h at most; seconds instead of minutes?)` };
  return e;
}

/** `line 4, column lead_time_min: "600" must be <= 540`, as ingest prints it. */
export function formatRowError(e: HistoryRowError): string {
  return `line ${e.line}${e.column ? `, column ${e.column}` : ''}: ${e.value === undefined ? '' : `${JSON.stringify(e.value)} `}${e.reason}`;
}

/** The history as CSV text (header + one line per record, `\n` line ends). */
export function historyToCsv(records: readonly IgnitionRecord[]): string {
  // temp_min_c only when some night has it: the synthetic history's bytes (and the shipped model's
  // training sha256) stay as they were
  const withMin = records.some((r) => r.temp_min_c !== undefined);
  const lines = [[...HISTORY_COLUMNS, ...(withMin ? ['temp_min_c'] : [])].join(',')];
  for (const r of records) {
    const cells: (string | number)[] = [r.date, r.dpe_class, r.outdoor_temp_c, r.indoor_start_temp_c, r.target_temp_c, r.lead_time_min, r.stove_power_kw, r.target_time, csvField(r.location ?? '')];
    if (withMin) cells.push(r.temp_min_c ?? '');
    lines.push(cells.join(','));
  }
  return lines.join('\n') + '\n';
}

