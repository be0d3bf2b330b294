import { UsageError } from '../errors.js';
import { CellError } from './cell-error.js';
import { isTimeZone, resolveLocalTime } from './local-time.js';

/**
 * How a CSV file is written and how its cells are spelled, as a schema declares them. The names
 * follow Frictionless CSV Dialect and Table Schema (`delimiter`, `quoteChar`, `header`,
 * `encoding`, `decimalChar`, `groupChar`, a date-time `format`), as `x-` keywords so that the file
 * stays a plain JSON Schema (draft 2020-12):
 *
 * ```json
 * { "x-dialect": { "delimiter": ";", "quoteChar": "\"", "header": true, "encoding": "windows-1252" },
 *   "x-timezone": "Europe/Paris",
 *   "properties": {
 *     "conso_kwh":  { "type": "number", "x-decimalChar": ",", "x-groupChar": " " },
 *     "horodatage": { "type": "string", "format": "date-time", "x-datetimeFormat": "YYYY-MM-DD HH:mm:ss" } } }
 * ```
 *
 * Cells are converted to watt's canonical lake values before validation (records/canonical.ts):
 * numbers to plain decimals with a `.`, date-times to RFC 3339 UTC. Nothing here runs for a
 * schema without these keywords (the plain path is unchanged).
 */

/** Root keyword: the CSV dialect. */
export const DIALECT_KEYWORD = 'x-dialect';
/** Root or column keyword: IANA time zone of naive (offset-less) date-times. */
export const TIMEZONE_KEYWORD = 'x-timezone';
/** Column keyword: the decimal separator of a number column (Table Schema `decimalChar`). */
export const DECIMAL_CHAR_KEYWORD = 'x-decimalChar';
/** Column keyword: the thousands separator of a number or integer column (Table Schema `groupChar`). */
export const GROUP_CHAR_KEYWORD = 'x-groupChar';
/** Column keyword: the spelling of a date-time column, e.g. `DD/MM/YYYY HH:mm`. */
export const DATETIME_FORMAT_KEYWORD = 'x-datetimeFormat';
/** Column keyword: why a column that looks personal is not (with `"x-personal-data": false`). */
export const REASON_KEYWORD = 'x-reason';

/** Encodings watt reads (WHATWG Encoding names). `latin-1` is read as windows-1252, its superset, as browsers do. */
export const ENCODINGS = ['utf-8', 'windows-1252', 'latin-1'] as const;
export type Encoding = (typeof ENCODINGS)[number];
/** Delimiters a dialect may name. */
export const DELIMITERS = [',', ';', '\t', '|'] as const;

/** A CSV dialect, resolved (defaults: RFC 4180 with UTF-8). */
export interface CsvDialect {
  delimiter: string;
  quoteChar: string;
  encoding: Encoding;
}

export const DEFAULT_DIALECT: CsvDialect = { delimiter: ',', quoteChar: '"', encoding: 'utf-8' };

/** The spelling of one column's cells, as its schema property declares it. */
export interface ColumnFormat {
  decimalChar?: string;
  groupChar?: string;
  /** `x-datetimeFormat` as written. */
  dateTimeFormat?: string;
  /** `x-timezone` of the column (else the schema's). */
  timezone?: string;
}

/** Normalise an encoding label (`UTF8`, `cp1252`, `ISO-8859-1`...) or undefined when not supported. */
export function encodingOf(label: string): Encoding | undefined {
  const l = label.trim().toLowerCase().replace(/_/g, '-');
  if (l === 'utf-8' || l === 'utf8' || l === 'utf-8-sig' || l === 'utf-8-bom') return 'utf-8';
  if (l === 'windows-1252' || l === 'cp1252' || l === 'win-1252') return 'windows-1252';
  if (l === 'latin-1' || l === 'latin1' || l === 'iso-8859-1' || l === 'iso8859-1' || l === 'l1') return 'latin-1';
  return undefined;
}

/** A delimiter as given on the command line or in a schema: `;`, `tab`, `\t`, `|`, `,`. */
export function delimiterOf(text: string): string | undefined {
  const t = text === 'tab' || text === '\\t' ? '\t' : text;
  return (DELIMITERS as readonly string[]).includes(t) ? t : undefined;
}

/**
 * The schema's `x-dialect`, checked, with defaults.
 * @throws UsageError naming the keyword for an unknown delimiter, encoding or quote character, or `header: false`.
 */
export function readDialect(schema: Record<string, unknown>, file: string): CsvDialect {
  const d = schema[DIALECT_KEYWORD];
  if (d === undefined) return DEFAULT_DIALECT;
  if (typeof d !== 'object' || d === null || Array.isArray(d)) throw new UsageError(`schema ${file}: ${DIALECT_KEYWORD} must be an object such as {"delimiter": ";", "encoding": "windows-1252"}`);
  const o = d as Record<string, unknown>;
  const known = ['delimiter', 'quoteChar', 'header', 'encoding', 'lineTerminator', 'doubleQuote'];
  const unknown = Object.keys(o).filter((k) => !known.includes(k));
  if (unknown.length) throw new UsageError(`schema ${file}: ${DIALECT_KEYWORD} has unknown key${unknown.length > 1 ? 's' : ''} ${unknown.join(', ').slice(0, 80)}`, { hint: `known keys: ${known.join(', ')}` });
  const delimiter = o.delimiter === undefined ? ',' : typeof o.delimiter === 'string' ? delimiterOf(o.delimiter) : undefined;
  if (delimiter === undefined) throw new UsageError(`schema ${file}: ${DIALECT_KEYWORD}.delimiter must be one of , ; tab |`);
  const quoteChar = o.quoteChar === undefined ? '"' : o.quoteChar;
  if (quoteChar !== '"' && quoteChar !== "'") throw new UsageError(`schema ${file}: ${DIALECT_KEYWORD}.quoteChar must be " or '`);
  if (o.header !== undefined && o.header !== true) throw new UsageError(`schema ${file}: ${DIALECT_KEYWORD}.header must be true: watt reads files with a header line`);
  if (o.doubleQuote !== undefined && o.doubleQuote !== true) throw new UsageError(`schema ${file}: ${DIALECT_KEYWORD}.doubleQuote must be true (RFC 4180)`);
  if (o.lineTerminator !== undefined && !['\n', '\r\n', '\r'].includes(o.lineTerminator as string)) throw new UsageError(`schema ${file}: ${DIALECT_KEYWORD}.lineTerminator must be "\\n", "\\r\\n" or "\\r" (line ends are detected anyway)`);
  const encoding = o.encoding === undefined ? 'utf-8' : typeof o.encoding === 'string' ? encodingOf(o.encoding) : undefined;
  if (encoding === undefined) throw new UsageError(`schema ${file}: ${DIALECT_KEYWORD}.encoding must be one of ${ENCODINGS.join(', ')}`);
  return { delimiter, quoteChar, encoding };
}

/**
 * Each column's declared spelling (`x-decimalChar`, `x-groupChar`, `x-datetimeFormat`,
 * `x-timezone`), checked.
 * @throws UsageError for a bad separator, an unknown zone, an unreadable format, or a keyword on a column of the wrong type.
 */
export function readColumnFormats(schema: Record<string, unknown>, file: string, types: Map<string, string>, dateTimes: Set<string>): { formats: Map<string, ColumnFormat>; timezone?: string } {
  const root = schema[TIMEZONE_KEYWORD];
  if (root !== undefined && (typeof root !== 'string' || !isTimeZone(root))) throw new UsageError(`schema ${file}: ${TIMEZONE_KEYWORD} ${JSON.stringify(String(root).slice(0, 40))} is not an IANA time zone`, { hint: 'e.g. "Europe/Paris"' });
  const formats = new Map<string, ColumnFormat>();
  const properties = schema.properties as Record<string, Record<string, unknown>>;
  for (const [name, prop] of Object.entries(properties)) {
    if (typeof prop !== 'object' || prop === null) continue;
    const f: ColumnFormat = {};
    const type = types.get(name);
    for (const [kw, field] of [[DECIMAL_CHAR_KEYWORD, 'decimalChar'], [GROUP_CHAR_KEYWORD, 'groupChar']] as const) {
      const v = prop[kw];
      if (v === undefined) continue;
      if (typeof v !== 'string' || v.length !== 1 || /[0-9+\-eE]/.test(v)) throw new UsageError(`schema ${file}: column ${name}: ${kw} must be one character, not a digit, sign or exponent`);
      if (type !== 'number' && !(type === 'integer' && field === 'groupChar')) throw new UsageError(`schema ${file}: column ${name}: ${kw} applies to ${field === 'groupChar' ? 'number and integer' : 'number'} columns`);
      f[field] = v;
    }
    if (f.decimalChar !== undefined && f.decimalChar === f.groupChar) throw new UsageError(`schema ${file}: column ${name}: ${DECIMAL_CHAR_KEYWORD} and ${GROUP_CHAR_KEYWORD} must differ`);
    const fmt = prop[DATETIME_FORMAT_KEYWORD];
    if (fmt !== undefined) {
      if (!dateTimes.has(name)) throw new UsageError(`schema ${file}: column ${name}: ${DATETIME_FORMAT_KEYWORD} applies to "format": "date-time" columns`);
      if (typeof fmt !== 'string') throw new UsageError(`schema ${file}: column ${name}: ${DATETIME_FORMAT_KEYWORD} must be a string such as "DD/MM/YYYY HH:mm"`);
      compileDateTimeFormat(fmt, `schema ${file}: column ${name}`);
      f.dateTimeFormat = fmt;
    }
    const tz = prop[TIMEZONE_KEYWORD];
    if (tz !== undefined) {
      if (!dateTimes.has(name)) throw new UsageError(`schema ${file}: column ${name}: ${TIMEZONE_KEYWORD} applies to "format": "date-time" columns`);
      if (typeof tz !== 'string' || !isTimeZone(tz)) throw new UsageError(`schema ${file}: column ${name}: ${TIMEZONE_KEYWORD} ${JSON.stringify(String(tz).slice(0, 40))} is not an IANA time zone`, { hint: 'e.g. "Europe/Paris"' });
      f.timezone = tz;
    }
    if (Object.keys(f).length) formats.set(name, f);
  }
  return { formats, ...(typeof root === 'string' ? { timezone: root } : {}) };
}

// ---------------------------------------------------------------------------------------------
// Numbers
// ---------------------------------------------------------------------------------------------

/**
 * A number or integer cell rewritten with `.` as decimal separator and no thousands separator:
 * `1 234,5` with decimalChar `,` and groupChar ` ` -> `1234.5`. A space group separator also
 * matches no-break spaces (U+00A0, U+202F), as spreadsheets write them. Returns the cell unchanged
 * when it holds neither.
 */
export function normaliseNumber(raw: string, decimalChar: string | undefined, groupChar: string | undefined): string {
  let v = raw;
  if (groupChar !== undefined) {
    if (groupChar === ' ') v = v.replace(/[ \u00a0\u202f]/g, '');
    else if (v.includes(groupChar)) v = v.split(groupChar).join('');
  }
  if (decimalChar !== undefined && decimalChar !== '.') {
    if (v.includes('.')) return raw; // a '.' where ',' is the decimal mark: left to fail as not a number
    v = v.replace(decimalChar, '.');
  }
  return v;
}

// ---------------------------------------------------------------------------------------------
// Date-times
// ---------------------------------------------------------------------------------------------

/** A compiled date-time spelling: a regex and where each field is. */
export interface DateTimeParser {
  format: string;
  regex: RegExp;
  /** Capture group of each field (0: absent). */
  groups: { year: number; month: number; day: number; hour: number; minute: number; second: number; fraction: number; offset: number };
}

const TOKENS: [string, string, keyof DateTimeParser['groups']][] = [
  ['YYYY', '(\\d{4})', 'year'],
  ['MM', '(\\d{2})', 'month'],
  ['DD', '(\\d{2})', 'day'],
  ['HH', '(\\d{2})', 'hour'],
  ['mm', '(\\d{2})', 'minute'],
  ['ss', '(\\d{2})', 'second'],
  ['.SSS', '(?:\\.(\\d{1,9}))?', 'fraction'],
  ['Z', '([Zz]|[+-]\\d{2}:?\\d{2})', 'offset'],
];

/**
 * Compile a date-time spelling: tokens `YYYY` `MM` `DD` `HH` `mm` `ss`, `.SSS` (optional
 * fraction of a second, 1-9 digits), `Z` (UTC offset `Z`, `+01:00` or `+0100`); any other
 * character is literal (`T`, `-`, `/`, ` `, `:`). Year, month, day, hour and minute are required.
 * @throws UsageError (prefixed by `where`) otherwise.
 */
export function compileDateTimeFormat(format: string, where = 'date-time format'): DateTimeParser {
  const groups: DateTimeParser['groups'] = { year: 0, month: 0, day: 0, hour: 0, minute: 0, second: 0, fraction: 0, offset: 0 };
  let pattern = '^';
  let n = 0;
  for (let i = 0; i < format.length; ) {
    const t = TOKENS.find(([tok]) => format.startsWith(tok, i));
    if (t) {
      if (groups[t[2]]) throw new UsageError(`${where}: ${JSON.stringify(format)} names ${t[0]} twice`);
      groups[t[2]] = ++n;
      pattern += t[1];
      i += t[0].length;
    } else {
      const c = format[i]!;
      if (/[A-Za-z]/.test(c) && c !== 'T') throw new UsageError(`${where}: ${JSON.stringify(format.slice(0, 40))} has an unknown token at "${format.slice(i, i + 4)}"`, { hint: 'tokens: YYYY MM DD HH mm ss .SSS Z; e.g. "DD/MM/YYYY HH:mm"' });
      pattern += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
      i++;
    }
  }
  for (const need of ['year', 'month', 'day', 'hour', 'minute'] as const) if (!groups[need]) throw new UsageError(`${where}: ${JSON.stringify(format.slice(0, 40))} lacks the ${need}`, { hint: 'tokens: YYYY MM DD HH mm ss .SSS Z' });
  return { format, regex: new RegExp(pattern + '$'), groups };
}

/** The default spelling of a date-time column with a time zone: ISO 8601 with `T` or a space, seconds, fraction and offset optional. */
export const ISO_LOCAL: DateTimeParser = {
  format: 'YYYY-MM-DD[T ]HH:mm[:ss[.SSS]][Z]',
  regex: /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?([Zz]|[+-]\d{2}:?\d{2})?$/,
  groups: { year: 1, month: 2, day: 3, hour: 4, minute: 5, second: 6, fraction: 7, offset: 8 },
};

/** The repeated hour of a fall-back day: both instants, in order. */
export class AmbiguousTime {
  constructor(
    readonly earlier: string,
    readonly later: string,
  ) {}
}

const DAYS_IN_MONTH = [0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * Convert one date-time cell to canonical RFC 3339 UTC (`2025-01-01T07:30:00Z`).
 * A cell with an offset is converted with it; a naive cell with the zone (IANA database through
 * Intl). Returns an {@link AmbiguousTime} for a repeated local time (the caller resolves it) and a
 * CellError for a cell that does not match the spelling, an impossible date, a missing zone, or a
 * time that does not exist in the zone.
 */
export function convertDateTime(raw: string, parser: DateTimeParser, zone: string | undefined): string | CellError | AmbiguousTime {
  const m = parser.regex.exec(raw);
  if (!m) return new CellError(`does not match the date-time format ${parser.format}`);
  const g = parser.groups;
  const year = +m[g.year]!;
  const month = +m[g.month]!;
  const day = +m[g.day]!;
  const hour = +m[g.hour]!;
  const minute = +m[g.minute]!;
  const second = g.second && m[g.second] !== undefined ? +m[g.second]! : 0;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (month < 1 || month > 12 || day < 1 || day > (month === 2 && !leap ? 28 : DAYS_IN_MONTH[month]!) || hour > 23 || minute > 59 || second > 59) return NOT_CALENDAR;
  const fractionDigits = g.fraction && m[g.fraction] ? m[g.fraction]!.replace(/0+$/, '') : '';
  if (fractionDigits.length > 6) return new CellError('has more than 6 fractional-second digits: watt keeps microseconds and never rounds a time');
  const fraction = fractionDigits ? '.' + fractionDigits : '';
  const offsetText = g.offset ? m[g.offset] : undefined;
  if (offsetText !== undefined) {
    let offset = 0;
    if (offsetText !== 'Z' && offsetText !== 'z') {
      const digits = offsetText.replace(':', '');
      const oh = +digits.slice(1, 3);
      const om = +digits.slice(3, 5);
      if (oh > 23 || om > 59) return NOT_CALENDAR;
      offset = (digits[0] === '-' ? -1 : 1) * (oh * 60 + om);
    }
    const t = new Date(0);
    t.setUTCFullYear(year, month - 1, day);
    t.setUTCHours(hour, minute, second, 0);
    return iso(t.getTime() - offset * 60_000, fraction);
  }
  if (zone === undefined) return NO_ZONE;
  const r = resolveLocalTime(zone, year, month, day, hour, minute, second);
  if (r.kind === 'one') return iso(r.utcMs, fraction);
  if (r.kind === 'gap') return new CellError(`does not exist in ${zone} (clocks skip that hour: daylight saving starts)`);
  return new AmbiguousTime(iso(r.earlierMs, fraction), iso(r.laterMs, fraction));
}

const NOT_CALENDAR = new CellError('is not a valid date-time (no such day or time)');
/** Reason given for a naive date-time without a zone; hints key on it. */
export const NO_ZONE_REASON = 'has no UTC offset and no time zone is set';
const NO_ZONE = new CellError(NO_ZONE_REASON);

function iso(ms: number, fraction: string): string {
  return new Date(ms).toISOString().slice(0, 19) + fraction + 'Z';
}

/**
 * The hint for a rejected cell, naming the keyword or flag that fixes it: a decimal comma, a
 * thousands separator, a missing offset. Undefined when none applies. `raw` is read, never returned.
 */
export function cellHint(reason: string, raw: string | undefined, type: string | undefined, dateTime: boolean): string | undefined {
  if (raw === undefined) return undefined;
  if ((type === 'number' || type === 'integer') && /not (a number|an integer)/.test(reason)) {
    if (/^[+-]?\d{1,3}(?:[ \u00a0\u202f.,']\d{3})+(?:[.,]\d+)?$/.test(raw) && /[ \u00a0\u202f']/.test(raw)) return `thousands separator? set "${GROUP_CHAR_KEYWORD}" on the column`;
    if (/^[+-]?\d*,\d+$/.test(raw)) return `decimal comma? set "${DECIMAL_CHAR_KEYWORD}": "," on the column`;
    if (/^[+-]?\d{1,3}(?:[.,]\d{3})+(?:[.,]\d+)?$/.test(raw)) return `thousands separator? set "${GROUP_CHAR_KEYWORD}" (and "${DECIMAL_CHAR_KEYWORD}") on the column`;
  }
  if (dateTime && (reason === NO_ZONE_REASON || /not a valid date-time/.test(reason))) {
    if (/^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?$/.test(raw)) return `no UTC offset: name the zone with "${TIMEZONE_KEYWORD}" in the schema or --timezone (e.g. Europe/Paris)`;
    if (/^\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}/.test(raw)) return `set the spelling with "${DATETIME_FORMAT_KEYWORD}" (e.g. "DD/MM/YYYY HH:mm") and the zone with "${TIMEZONE_KEYWORD}"`;
  }
  return undefined;
}
