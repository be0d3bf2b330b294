import { open, stat } from 'node:fs/promises';
import { isUtf8 } from 'node:buffer';
import { TextDecoder } from 'node:util';
import { parse as parseSync } from 'csv-parse/sync';
import { DataError, UsageError } from '../errors.js';
import { AmbiguousTime, compileDateTimeFormat, convertDateTime, ISO_LOCAL, DATETIME_FORMAT_KEYWORD, DECIMAL_CHAR_KEYWORD, DIALECT_KEYWORD, GROUP_CHAR_KEYWORD, TIMEZONE_KEYWORD, type CsvDialect, type Encoding } from '../records/dialect.js';
import { detectPersonalData, PERSONAL_DATA_DETECTORS } from '../records/personal-data.js';
import { isTimeZone } from '../records/local-time.js';
import { PERSONAL_KEYWORD, PRIMARY_KEY_KEYWORD, isRfc3339DateTime } from '../records/schema.js';
import { DECIMAL_KEYWORD } from '../records/decimal.js';

/**
 * `watt schema infer`: a JSON Schema (draft 2020-12) that `watt ingest --schema` accepts as it is
 * for one CSV file, from a bounded sample (as Frictionless `describe` and dlt's inference): the
 * CSV dialect (delimiter, quote, encoding), per column its type, decimal and thousands separators,
 * date-time spelling and time zone, `required`, primary-key candidates, and personal-data guesses
 * (records/personal-data.ts) marked `x-personal-data` with the reason in `description`.
 *
 * The sample: the first rows of the file, then rows read at evenly spaced offsets through it (a
 * load curve sorted by delivery point shows several points). No value of the file is ever put in
 * the schema or in a note.
 */

/** Rows read by default (`--rows`). */
export const DEFAULT_INFER_ROWS = 5000;
/** Places through the file where rows are also read. */
const PROBES = 8;

/** What {@link inferSchema} returns: the schema, and notes for the user (no value in them). */
export interface InferredSchema {
  schema: Record<string, unknown>;
  /** One line each: what to check or set (`naive date-times in horodatage: pass --timezone`). */
  notes: string[];
  /** Rows sampled. */
  rows: number;
  dialect: CsvDialect & { bom: boolean };
  /** Primary-key candidates unique in the sample, best first. */
  keyCandidates: string[][];
  /** Columns guessed personal, with the reasons. */
  personal: { column: string; reason: string }[];
}

export interface InferOptions {
  /** IANA zone of naive date-times. */
  timezone?: string;
  /** Rows to sample (default 5,000). */
  rows?: number;
}

/**
 * Infer the schema of one CSV file.
 * @throws UsageError (2) a missing or unreadable file, an unknown zone; DataError (1) an empty file or no header.
 */
export async function inferSchema(file: string, options: InferOptions = {}): Promise<InferredSchema> {
  if (options.timezone !== undefined && !isTimeZone(options.timezone)) throw new UsageError(`unknown --timezone "${options.timezone.slice(0, 40)}": use an IANA time zone such as Europe/Paris`);
  const maxRows = options.rows ?? DEFAULT_INFER_ROWS;
  let size: number;
  try {
    const s = await stat(file);
    if (!s.isFile()) throw new UsageError(`${file} is not a regular file`, { hint: 'pass a CSV file' });
    size = s.size;
  } catch (err) {
    if (err instanceof UsageError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(code === 'ENOENT' ? `source file not found: ${file}` : `cannot read ${file}: ${code}`);
  }
  if (size === 0) throw new DataError(`${file} is empty: no header row`);
  const handle = await open(file, 'r');
  let head: Buffer;
  const probes: Buffer[] = [];
  try {
    // The head: enough bytes for about half the rows (lines of a few hundred bytes at most).
    const headBytes = Math.min(size, Math.max(64 * 1024, Math.ceil(maxRows / 2) * 200));
    head = await readAt(handle, 0, headBytes);
    if (size > headBytes) {
      const per = Math.ceil(maxRows / 2 / PROBES) * 200;
      for (let k = 1; k <= PROBES; k++) {
        const at = Math.floor(headBytes + ((size - headBytes) * k) / (PROBES + 1));
        probes.push(await readAt(handle, at, Math.min(per, size - at)));
      }
    }
  } finally {
    await handle.close();
  }
  const bom = head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf;
  const cut = (b: Buffer) => b.subarray(0, b.lastIndexOf(10) + 1 || b.length);
  const utf8 = bom || ([head, ...probes].every((b) => isUtf8(trimPartial(cut(b)))));
  const encoding: Encoding = utf8 ? 'utf-8' : 'windows-1252';
  const decode = (b: Buffer) => (utf8 ? b.toString('utf8') : new TextDecoder('windows-1252').decode(b));
  let headText = decode(cut(head));
  if (bom) headText = headText.slice(1);
  const firstLineEnd = headText.search(/\r?\n/);
  const headerLine = firstLineEnd < 0 ? headText : headText.slice(0, firstLineEnd);
  if (headerLine.trim() === '') throw new DataError(`${file} has no header line`);
  const delimiter = guessDelimiter(headText.split(/\r?\n/).slice(0, 50));
  const quoteChar = '"';
  const parseText = (text: string): string[][] => {
    try {
      return parseSync(text, { delimiter, quote: quoteChar, relax_column_count: true, relax_quotes: true, skip_empty_lines: true }) as string[][];
    } catch {
      return [];
    }
  };
  const headRecords = parseText(headText);
  const header = (headRecords[0] ?? []).map((h) => h.trim());
  if (!header.length) throw new DataError(`${file} has no header line`);
  const width = header.length;
  const rows: string[][] = headRecords.slice(1, 1 + Math.ceil(maxRows / 2)).filter((r) => r.length === width);
  const fromHead = rows.length;
  for (const p of probes) {
    // Drop the partial first line, then the rest of this slice.
    const text = decode(cut(p));
    const nl = text.indexOf('\n');
    if (nl < 0) continue;
    for (const r of parseText(text.slice(nl + 1))) if (r.length === width && rows.length < maxRows) rows.push(r);
  }
  if (rows.length === 0) throw new DataError(`${file} has a header but no data rows the sample could read`, { hint: delimiter === ',' ? 'is the delimiter something other than , ; tab or |?' : undefined });

  const notes: string[] = [];
  const properties: Record<string, Record<string, unknown>> = {};
  const required: string[] = [];
  const personal: { column: string; reason: string }[] = [];
  const dateTimeCols: string[] = [];
  let naive = false;
  header.forEach((name, i) => {
    const values = rows.map((r) => r[i] ?? '');
    const nonEmpty = values.filter((v) => v.trim() !== '');
    if (nonEmpty.length === values.length && values.length > 0) required.push(name);
    const findings = detectPersonalData(name, nonEmpty);
    if (findings.length) {
      const reason = findings.map((f) => f.reason).join('; ');
      personal.push({ column: name, reason });
      properties[name] = { type: 'string', [PERSONAL_KEYWORD]: 'pseudonymise', description: `Personal data (guessed by watt schema infer: ${reason}); pseudonymised with HMAC-SHA256 before anything is written. Check this guess.` };
      return;
    }
    const t = inferColumn(nonEmpty);
    const prop: Record<string, unknown> = { type: t.type };
    if (t.format) prop.format = t.format;
    if (t.decimalChar) prop[DECIMAL_CHAR_KEYWORD] = t.decimalChar;
    if (t.groupChar) prop[GROUP_CHAR_KEYWORD] = t.groupChar;
    if (t.dateTimeFormat) prop[DATETIME_FORMAT_KEYWORD] = t.dateTimeFormat;
    const decimal = t.type === 'number' ? proposedDecimal(name, nonEmpty, t) : undefined;
    if (decimal) {
      prop[DECIMAL_KEYWORD] = decimal;
      prop.description = `An amount (energy or money, by its name): exact, DECIMAL(${decimal.precision},${decimal.scale}) (guessed by watt schema infer from the rows read; a cell with more than ${decimal.scale} decimals would be rejected, never rounded). Check this guess.`;
    }
    if (t.format === 'date-time') {
      dateTimeCols.push(name);
      if (t.naive) {
        naive = true;
        prop.description = options.timezone
          ? `Local time without a UTC offset, read in ${options.timezone} (x-timezone) and landed in UTC.`
          : 'Local time without a UTC offset: name its zone with "x-timezone" (or --timezone) before ingesting.';
      }
    }
    if (nonEmpty.length === 0) prop.description = 'Always empty in the rows read: type unknown, kept as text.';
    properties[name] = prop;
  });
  if (naive && !options.timezone) notes.push(`date-times without a UTC offset in ${dateTimeCols.join(', ')}: name their zone with --timezone (e.g. --timezone Europe/Paris), or add "${TIMEZONE_KEYWORD}" to the schema; ingest refuses them otherwise`);
  const keyCandidates = primaryKeyCandidates(header, rows, properties, options.timezone);
  const schema: Record<string, unknown> = {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $comment: `Inferred by watt schema infer from ${rows.length} rows (${fromHead} from the start of the file, the rest from ${PROBES} places through it). Check the guesses before ingesting, above all the personal-data ones.`,
    type: 'object',
    [DIALECT_KEYWORD]: { delimiter, quoteChar, header: true, encoding },
    ...(naive && options.timezone ? { [TIMEZONE_KEYWORD]: options.timezone } : {}),
    ...(keyCandidates.length ? { [PRIMARY_KEY_KEYWORD]: keyCandidates[0] } : {}),
    description: keyCandidates.length
      ? `Primary-key candidates, unique in the ${rows.length} rows read: ${keyCandidates.map((k) => k.join(' + ')).join('; ')}.`
      : `No column or pair of columns is unique in the ${rows.length} rows read: no primary key.`,
    required,
    properties,
  };
  if (!keyCandidates.length) notes.push('no primary key: no column or pair of columns is unique in the rows read');
  if (personal.length) notes.push(`personal data guessed in ${personal.map((p) => p.column).join(', ')}: check each guess ("x-personal-data"); mark a column not personal with "x-personal-data": false and an "x-reason"`);
  return { schema, notes, rows: rows.length, dialect: { delimiter, quoteChar, encoding, bom }, keyCandidates, personal };
}

async function readAt(handle: Awaited<ReturnType<typeof open>>, at: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  const { bytesRead } = await handle.read(buf, 0, length, at);
  return buf.subarray(0, bytesRead);
}

/** Bytes without a truncated UTF-8 character at either end (a probe starts anywhere). */
function trimPartial(b: Buffer): Buffer {
  let s = 0;
  while (s < b.length && s < 3 && (b[s]! & 0xc0) === 0x80) s++;
  return b.subarray(s);
}

/** The delimiter among `,` `;` tab `|` that splits the header and the first lines into the same number of fields (most fields wins). */
export function guessDelimiter(lines: string[]): string {
  const candidates = [',', ';', '\t', '|'];
  let best = ',';
  let bestScore = -1;
  const sample = lines.filter((l) => l.trim() !== '').slice(0, 50);
  for (const d of candidates) {
    const counts = sample.map((l) => countOutsideQuotes(l, d));
    const head = counts[0] ?? 0;
    if (head === 0) continue;
    const consistent = counts.filter((c) => c === head).length / counts.length;
    const score = consistent * 1000 + head;
    if (score > bestScore) {
      bestScore = score;
      best = d;
    }
  }
  return best;
}

function countOutsideQuotes(line: string, d: string): number {
  let n = 0;
  let quoted = false;
  for (const c of line) {
    if (c === '"') quoted = !quoted;
    else if (c === d && !quoted) n++;
  }
  return n;
}

interface ColumnGuess {
  type: 'string' | 'integer' | 'number' | 'boolean';
  format?: 'date-time' | 'date';
  decimalChar?: string;
  groupChar?: string;
  dateTimeFormat?: string;
  naive?: boolean;
}

const INTEGER = /^[+-]?\d+$/;
const NUMBER_DOT = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const NUMBER_COMMA = /^[+-]?(?:\d+(?:,\d*)?|,\d+)$/;
const GROUPED = [
  { re: /^[+-]?\d{1,3}(?:[ \u00a0\u202f]\d{3})*(?:,\d+)?$/, groupChar: ' ', decimalChar: ',' },
  { re: /^[+-]?\d{1,3}(?:\.\d{3})*(?:,\d+)?$/, groupChar: '.', decimalChar: ',' },
  { re: /^[+-]?\d{1,3}(?:,\d{3})*(?:\.\d+)?$/, groupChar: ',', decimalChar: '.' },
];
/** Naive and offset spellings tried, most specific first. */
const DATE_TIME_FORMATS = ['YYYY-MM-DD HH:mm:ss', 'YYYY-MM-DDTHH:mm:ss', 'YYYY-MM-DD HH:mm', 'YYYY-MM-DDTHH:mm', 'YYYY-MM-DD HH:mm:ss.SSS', 'DD/MM/YYYY HH:mm:ss', 'DD/MM/YYYY HH:mm', 'DD-MM-YYYY HH:mm:ss', 'DD-MM-YYYY HH:mm', 'YYYY/MM/DD HH:mm:ss', 'YYYY/MM/DD HH:mm', 'DD.MM.YYYY HH:mm', 'YYYY-MM-DD HH:mm:ssZ', 'YYYY-MM-DDTHH:mm:ssZ'];
const PARSERS = DATE_TIME_FORMATS.map((f) => compileDateTimeFormat(f));

/** Words (of a column name split at anything but letters) naming amounts of energy or money, French and English: such `number` columns are proposed as exact decimals. */
const AMOUNT_WORDS = new Set(['kwh', 'mwh', 'wh', 'eur', 'euro', 'euros', '€', 'prix', 'price', 'tarif', 'tariff', 'montant', 'amount', 'cout', 'coût', 'cost', 'conso', 'consommation', 'consumption', 'energie', 'énergie', 'energy']);
/** The scale proposed for amounts: 6 decimals (the mWh, a millionth of a euro), with 12 integer digits (precision 18, INT64 in Parquet). */
const PROPOSED_DECIMAL = { precision: 18, scale: 6 };

/**
 * `x-decimal` for a `number` column whose name reads as an amount and whose sampled values all
 * fit {@link PROPOSED_DECIMAL} (plain decimals, no exponent, at most 6 decimals and 12 integer
 * digits); undefined otherwise (the column stays a double).
 */
function proposedDecimal(name: string, values: string[], guess: ColumnGuess): { precision: number; scale: number } | undefined {
  if (!name.toLowerCase().split(/[^a-zà-ÿ€]+/).some((w) => AMOUNT_WORDS.has(w)) || values.length === 0) return undefined;
  const point = guess.decimalChar ?? '.';
  for (const raw of values) {
    let v = raw.trim().replace(/^[+-]/, '');
    if (guess.groupChar) v = v.split(guess.groupChar === ' ' ? /[ \u00a0\u202f]/ : guess.groupChar).join('');
    if (!/^\d*(?:[.,]\d*)?$/.test(v)) return undefined;
    const [int = '', frac = ''] = v.split(point);
    if (frac.length > PROPOSED_DECIMAL.scale || int.replace(/^0+/, '').length > PROPOSED_DECIMAL.precision - PROPOSED_DECIMAL.scale) return undefined;
  }
  return { ...PROPOSED_DECIMAL };
}

/** Type and spelling of a column from its non-empty values (all must fit). */
function inferColumn(values: string[]): ColumnGuess {
  if (values.length === 0) return { type: 'string' };
  const all = (re: RegExp) => values.every((v) => re.test(v));
  if (values.every((v) => /^(true|false)$/i.test(v))) return { type: 'boolean' };
  // Leading zeros (codes such as postcodes, phone numbers) stay text.
  const leadingZero = values.some((v) => /^[+-]?0\d/.test(v));
  if (all(INTEGER) && !leadingZero) return { type: 'integer' };
  if (all(NUMBER_DOT) && !leadingZero) return { type: 'number' };
  if (all(NUMBER_COMMA) && values.some((v) => v.includes(',')) && !values.some((v) => /^[+-]?0\d/.test(v))) return { type: 'number', decimalChar: ',' };
  for (const g of GROUPED) {
    if (all(g.re) && values.some((v) => v.includes(g.groupChar === ' ' ? ' ' : g.groupChar) || /[\u00a0\u202f]/.test(v))) {
      const hasDecimal = values.some((v) => v.includes(g.decimalChar));
      return hasDecimal ? { type: 'number', decimalChar: g.decimalChar, groupChar: g.groupChar } : { type: 'integer', groupChar: g.groupChar };
    }
  }
  if (values.every((v) => isRfc3339DateTime(v))) return { type: 'string', format: 'date-time' };
  for (const p of PARSERS) {
    if (values.every((v) => p.regex.test(v) && calendarOk(p, v))) {
      return { type: 'string', format: 'date-time', dateTimeFormat: p.format, naive: !p.groups.offset };
    }
  }
  if (values.every((v) => /^\d{4}-\d{2}-\d{2}$/.test(v))) return { type: 'string', format: 'date' };
  return { type: 'string' };
}

function calendarOk(p: ReturnType<typeof compileDateTimeFormat>, v: string): boolean {
  const m = p.regex.exec(v)!;
  const month = +m[p.groups.month]!;
  const day = +m[p.groups.day]!;
  const hour = +m[p.groups.hour]!;
  const minute = +m[p.groups.minute]!;
  return month >= 1 && month <= 12 && day >= 1 && day <= 31 && hour <= 23 && minute <= 59;
}

/** Columns that look like a series identifier (a delivery point, a customer, a meter...). */
const SERIES_DETECTORS = new Set(PERSONAL_DATA_DETECTORS.filter((d) => ['pdl', 'customer-identifier', 'meter-identifier', 'contract-identifier'].includes(d.id)).map((d) => d.id));

/**
 * Primary-key candidates unique in the sample, best first: a single non-date column (a record
 * id); then a series identifier with a date-time (`PDL` + `horodatage`): a date-time alone is
 * unique in a sample that holds one series but not in the file when several series share times,
 * so it is ranked after the pair whenever the series column repeats; then any pair; then a
 * date-time alone. Columns with empty cells never count.
 */
function primaryKeyCandidates(header: string[], rows: string[][], properties: Record<string, Record<string, unknown>>, zone: string | undefined): string[][] {
  const full = header.map((_, i) => rows.every((r) => (r[i] ?? '') !== ''));
  // Naive date-times are compared as instants in the zone, as ingest lands them: the repeated
  // autumn hour is told apart by its order in the series (the key's other columns), as at ingest.
  const parsers = header.map((h) => {
    const p = properties[h];
    if (p?.format !== 'date-time' || (!zone && typeof p[DATETIME_FORMAT_KEYWORD] !== 'string')) return undefined;
    return typeof p[DATETIME_FORMAT_KEYWORD] === 'string' ? compileDateTimeFormat(p[DATETIME_FORMAT_KEYWORD] as string) : ISO_LOCAL;
  });
  const cell = (r: string[], c: number, cols: number[], seen: Map<string, number>): string => {
    const raw = r[c] ?? '';
    const parser = parsers[c];
    if (!parser) return raw;
    // Without a zone, a naive time between 00:00 and 03:59 (when clocks fall back in the zones
    // of the IANA database) seen again in its series counts as the repeated hour, once.
    const t = zone ? convertDateTime(raw, parser, zone) : /[ T]0[0-3]:/.test(raw) ? new AmbiguousTime(raw + '#1', raw + '#2') : raw;
    if (!(t instanceof AmbiguousTime)) return typeof t === 'string' ? t : raw;
    const series = cols.filter((x) => x !== c).map((x) => r[x]).join('\u0001') + '\u0000' + raw;
    const n = seen.get(series) ?? 0;
    seen.set(series, n + 1);
    return n === 0 ? t.earlier : t.later;
  };
  const unique = (cols: number[]) => {
    const seen = new Set<string>();
    const occurrences = new Map<string, number>();
    for (const r of rows) {
      const k = cols.map((c) => cell(r, c, cols, occurrences)).join('\u0000');
      if (seen.has(k)) return false;
      seen.add(k);
    }
    return true;
  };
  const isDateTime = (i: number) => properties[header[i]!]?.format === 'date-time';
  const isSeries = (i: number) => detectPersonalData(header[i]!, []).some((f) => SERIES_DETECTORS.has(f.detector)) || (properties[header[i]!]?.[PERSONAL_KEYWORD] !== undefined && detectPersonalData(header[i]!, rows.slice(0, 200).map((r) => r[i] ?? '')).some((f) => SERIES_DETECTORS.has(f.detector)));
  const singles: number[] = [];
  for (let i = 0; i < header.length; i++) if (full[i] && unique([i])) singles.push(i);
  const out: string[][] = [];
  for (const i of singles) if (!isDateTime(i) && properties[header[i]!]?.type !== 'number' && !properties[header[i]!]?.[PERSONAL_KEYWORD]) out.push([header[i]!]);
  const pairs: number[][] = [];
  for (let i = 0; i < header.length; i++) {
    for (let j = i + 1; j < header.length; j++) {
      // Measurements (numbers) are not keys, even when unique in a sample.
      if (!full[i] || !full[j] || singles.includes(i) || singles.includes(j) || properties[header[i]!]?.type === 'number' || properties[header[j]!]?.type === 'number') continue;
      if (unique([i, j])) pairs.push([i, j]);
    }
  }
  // Series + date-time pairs: also when the date-time alone is unique in the sample.
  for (let s = 0; s < header.length; s++) {
    if (!full[s] || !isSeries(s) || singles.includes(s)) continue;
    for (let t = 0; t < header.length; t++) if (full[t] && isDateTime(t) && unique([s, t])) out.push([header[s]!, header[t]!]);
  }
  for (const p of pairs) {
    const names = p.map((i) => header[i]!);
    if (!out.some((o) => o.join('\u0000') === names.join('\u0000') || o.join('\u0000') === [...names].reverse().join('\u0000'))) out.push(names);
  }
  for (const i of singles) if (isDateTime(i)) out.push([header[i]!]);
  return out.slice(0, 5);
}
