import { createHash } from 'node:crypto';
import { computeCanonicalDateTime, noteDateTime, recentDateTimes } from './canonical.js';
import { readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsImport from 'ajv-formats';
import { UsageError } from '../errors.js';
import { CellError } from './cell-error.js';
import { DECIMAL_KEYWORD, readDecimalType, type DecimalType } from './decimal.js';
import { readColumnFormats, readDialect, REASON_KEYWORD, TIMEZONE_KEYWORD, DIALECT_KEYWORD, DECIMAL_CHAR_KEYWORD, GROUP_CHAR_KEYWORD, DATETIME_FORMAT_KEYWORD, type ColumnFormat, type CsvDialect } from './dialect.js';

// ajv-formats is CommonJS with a default export.
const addFormats = addFormatsImport as unknown as typeof addFormatsImport.default;

/** How a CSV cell is converted before validation, from the property's JSON Schema `type`. */
export type CellType = 'string' | 'number' | 'integer' | 'boolean';

/** The custom keyword marking personal columns: `"x-personal-data": "pseudonymise"`. */
export const PERSONAL_KEYWORD = 'x-personal-data';

/**
 * The custom root keyword naming the primary key: `"x-primary-key": ["record_id"]`, the columns
 * whose values together identify a row (as Frictionless Table Schema's `primaryKey`).
 */
export const PRIMARY_KEY_KEYWORD = 'x-primary-key';

/**
 * A schema as read once from its file: the parsed JSON and the sha256 of the file's bytes.
 * Plain data: it crosses to worker threads, which compile this very object and never read the
 * file again (a schema replaced on disk during a run cannot change what the run checks).
 */
export interface SchemaSource {
  /** Path of the schema file it was read from (for messages). */
  file: string;
  /** The parsed JSON Schema. */
  json: Record<string, unknown>;
  /** Hex sha256 of the schema file's bytes. */
  sha256: string;
  /**
   * The schema file's bytes exactly as read (they hash to `sha256`): what the run stores beside
   * the data (`<prefix>/_schemas/<sha256>.json`). Absent for sources built in memory.
   */
  bytes?: Uint8Array;
}

/** A data-set schema compiled for row validation. */
export interface CompiledSchema {
  /** Path of the schema file. */
  file: string;
  /** What was compiled: pass this (never `file`) to anything that compiles its own copy. */
  source: SchemaSource;
  /** `$id` of the schema (or its file name). */
  id: string;
  /** sha256 of the schema file's bytes. */
  sha256: string;
  /** Columns listed in `required`, in schema order. */
  required: string[];
  /** Conversion of each declared property. */
  types: Map<string, CellType>;
  /** Columns with `x-decimal` (records/decimal.ts): exact amounts, Parquet DECIMAL(precision, scale). */
  decimals: Map<string, DecimalType>;
  /** Columns whose `format` is `date-time` (RFC 3339), in schema order: typed TIMESTAMP in Parquet, partition candidates. */
  dateTimes: Set<string>;
  /** `x-primary-key` columns, in key order; empty when the schema declares none. */
  primaryKey: string[];
  /** Columns to pseudonymise (GDPR Art. 4(5)). */
  personal: Set<string>;
  /**
   * `pattern` of each personal column that declares one, anchored (`^(?:p)$`: whole matches only)
   * and compiled like the validator's (RE2 when available); used to redact source file names.
   */
  personalPatterns: Map<string, RegExpLike>;
  /**
   * Columns declared not personal on purpose (`"x-personal-data": false`), with the schema's
   * `x-reason` (or an empty string): the personal-data guard leaves them alone, the manifest records them.
   */
  notPersonal: Map<string, string>;
  /** The CSV dialect of the schema's `x-dialect` (records/dialect.ts), defaults RFC 4180 UTF-8. */
  dialect: CsvDialect;
  /** Columns with a declared spelling (`x-decimalChar`, `x-groupChar`, `x-datetimeFormat`, `x-timezone`). */
  formats: Map<string, ColumnFormat>;
  /** The schema's `x-timezone`: zone of naive date-times in every date-time column without its own. */
  timezone?: string;
  /** ajv validator of one converted row (all errors of a row). */
  validate: ValidateFunction;
  /**
   * Whether compiling this schema loads the `re2` native addon (it has patterns and the addon is
   * available). Worker threads that compile it load the addon too: see transform-plan.ts for why
   * that matters when a process runs several files.
   */
  loadsRe2: boolean;
}

/** The part of RegExp that watt uses; RE2 objects provide it too. */
export interface RegExpLike {
  test(text: string): boolean;
}

/**
 * Load and compile a JSON Schema (draft 2020-12) describing one CSV row: {@link readSchemaSource}
 * then {@link compileSchema}.
 * @throws UsageError, see both.
 */
export function loadSchema(file: string): CompiledSchema {
  return compileSchema(readSchemaSource(file));
}

/**
 * Read and parse a schema file once.
 * @throws UsageError if the file is missing, a directory, or not JSON.
 */
export function readSchemaSource(file: string): SchemaSource {
  let bytes: Buffer;
  try {
    if (statSync(file).isDirectory()) throw new UsageError(`schema ${file} is a directory, not a JSON Schema file`);
    bytes = readFileSync(file);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`cannot read schema ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new UsageError(`schema ${file} is not valid JSON: ${(err as Error).message}`);
  }
  return { file, json, sha256: createHash('sha256').update(bytes).digest('hex'), bytes: new Uint8Array(bytes) };
}

/**
 * Compile a schema source for row validation. Formats are checked strictly (ajv-formats "full":
 * `2025-13-01T00:00:00Z` is invalid). Every `pattern` is compiled with RE2 (linear time, no
 * catastrophic backtracking: `^(a+)+$` on a long cell cannot hang a run); patterns RE2 does not
 * support (backreferences, lookaround) are refused. If the RE2 addon cannot load, patterns with
 * nested quantifiers or backreferences are refused instead and the rest use JavaScript RegExp.
 * Messages never quote a pattern longer than 80 characters.
 * @param options `validated`: the same source was compiled already in this process (worker
 * threads get the run's schema): skip checking it against the JSON Schema 2020-12 meta-schema.
 * @throws UsageError if it is not a valid schema of an object with properties, a pattern is
 * refused, or a column uses an unknown `x-personal-data` action.
 */
export function compileSchema(source: SchemaSource, options: { validated?: boolean } = {}): CompiledSchema {
  const { file, json: schema } = source;
  if (typeof schema !== 'object' || schema === null || schema.type !== 'object' || typeof schema.properties !== 'object') {
    throw new UsageError(`schema ${file} must describe an object with "properties" (one per CSV column)`);
  }
  const patterns = [...patternsIn(schema, '')];
  // The re2 addon is loaded only for a schema that has patterns (none: nothing to compile).
  const engine = patterns.length ? regExpEngine() : NO_PATTERNS;
  for (const where of patterns) {
    const problem = engine.check(where.pattern);
    if (problem) throw new UsageError(`schema ${file}: the pattern at ${where.at.slice(0, 80) || '/'} (${quotePattern(where.pattern)}) is refused: ${problem}`, { hint: 'rewrite the pattern without backreferences, lookaround or nested quantifiers' });
  }
  // A schema this process already compiled (a worker thread's copy) skips the check against the
  // 2020-12 meta-schema: that check compiles the meta-schema, ~90 % of the compile time.
  const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true, validateSchema: options.validated !== true, code: { regExp: engine.compile as never } });
  addFormats(ajv, { mode: 'full' });
  ajv.addFormat('date-time', { type: 'string', validate: isRfc3339DateTime });
  ajv.addKeyword({ keyword: PERSONAL_KEYWORD, schemaType: ['string', 'boolean'] });
  ajv.addKeyword({ keyword: PRIMARY_KEY_KEYWORD, schemaType: 'array' });
  // The dialect and spelling keywords (records/dialect.ts): annotations for ajv, read below.
  ajv.addKeyword({ keyword: DIALECT_KEYWORD, schemaType: 'object' });
  ajv.addKeyword({ keyword: TIMEZONE_KEYWORD, schemaType: 'string' });
  ajv.addKeyword({ keyword: DECIMAL_CHAR_KEYWORD, schemaType: 'string' });
  ajv.addKeyword({ keyword: GROUP_CHAR_KEYWORD, schemaType: 'string' });
  ajv.addKeyword({ keyword: DATETIME_FORMAT_KEYWORD, schemaType: 'string' });
  ajv.addKeyword({ keyword: REASON_KEYWORD, schemaType: 'string' });
  ajv.addKeyword({ keyword: DECIMAL_KEYWORD, schemaType: 'object' });
  let validate: ValidateFunction;
  try {
    validate = ajv.compile(schema);
  } catch (err) {
    throw new UsageError(`schema ${file} is not a valid JSON Schema: ${hideLongPatterns((err as Error).message).slice(0, 300)}`);
  }
  const properties = schema.properties as Record<string, Record<string, unknown>>;
  const types = new Map<string, CellType>();
  const personal = new Set<string>();
  const personalPatterns = new Map<string, RegExpLike>();
  const dateTimes = new Set<string>();
  const notPersonal = new Map<string, string>();
  const decimals = new Map<string, DecimalType>();
  for (const [name, prop] of Object.entries(properties)) {
    const t = Array.isArray(prop.type) ? prop.type.find((x) => x !== 'null') : prop.type;
    types.set(name, t === 'number' || t === 'integer' || t === 'boolean' ? t : 'string');
    const decimal = readDecimalType(prop, name, file, String(t));
    if (decimal) decimals.set(name, decimal);
    if (types.get(name) === 'string' && prop.format === 'date-time') dateTimes.add(name);
    const action = prop[PERSONAL_KEYWORD];
    if (action === false) {
      notPersonal.set(name, typeof prop[REASON_KEYWORD] === 'string' ? (prop[REASON_KEYWORD] as string).slice(0, 200) : '');
    } else if (action !== undefined) {
      if (action !== 'pseudonymise') {
        throw new UsageError(`schema ${file}: column ${name} has ${PERSONAL_KEYWORD} "${String(action).slice(0, 40)}"; supported: "pseudonymise", or false (not personal, with an "${REASON_KEYWORD}")`);
      }
      personal.add(name);
      if (typeof prop.pattern === 'string') personalPatterns.set(name, engine.compile(`^(?:${prop.pattern})$`, 'u'));
    }
  }
  const required = Array.isArray(schema.required) ? (schema.required as string[]) : [];
  const primaryKey = readPrimaryKey(schema, file, types);
  const dialect = readDialect(schema, file);
  const { formats, timezone } = readColumnFormats(schema, file, types, dateTimes);
  return {
    file,
    source,
    id: typeof schema.$id === 'string' ? schema.$id : file.split('/').pop()!,
    sha256: source.sha256,
    required,
    types,
    decimals,
    dateTimes,
    primaryKey,
    personal,
    personalPatterns,
    notPersonal,
    dialect,
    formats,
    ...(timezone ? { timezone } : {}),
    validate,
    loadsRe2: engine.native,
  };
}

/**
 * The `x-primary-key` of a schema: a non-empty array of distinct declared column names.
 * @throws UsageError otherwise, naming the keyword.
 */
function readPrimaryKey(schema: Record<string, unknown>, file: string, types: Map<string, CellType>): string[] {
  const value = schema[PRIMARY_KEY_KEYWORD];
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.length === 0 || !value.every((c) => typeof c === 'string')) {
    throw new UsageError(`schema ${file}: ${PRIMARY_KEY_KEYWORD} must be a non-empty array of column names`);
  }
  const unknown = value.filter((c) => !types.has(c));
  if (unknown.length) throw new UsageError(`schema ${file}: ${PRIMARY_KEY_KEYWORD} names column${unknown.length > 1 ? 's' : ''} not in "properties": ${unknown.join(', ').slice(0, 200)}`);
  if (new Set(value).size !== value.length) throw new UsageError(`schema ${file}: ${PRIMARY_KEY_KEYWORD} lists a column twice`);
  return value as string[];
}

/** Longest pattern quoted in a message, in characters. */
const MAX_QUOTED_PATTERN = 80;

/** A pattern as messages show it: quoted when short, else only its length. */
function quotePattern(pattern: string): string {
  return pattern.length <= MAX_QUOTED_PATTERN ? JSON.stringify(pattern) : `a ${pattern.length}-character pattern`;
}

/** Replace quoted runs longer than 80 characters (ajv echoes patterns) by their length. */
function hideLongPatterns(message: string): string {
  return message.replace(/"([^"]{81,})"/g, (_m, p: string) => `<${p.length}-character pattern>`).replace(/\/([^/\s]{81,})\//g, (_m, p: string) => `<${p.length}-character pattern>`);
}

/** Every `pattern` keyword value and `patternProperties` key in a schema, with its JSON pointer. */
function* patternsIn(node: unknown, at: string): Generator<{ at: string; pattern: string }> {
  if (Array.isArray(node)) {
    for (let i = 0; i < node.length; i++) yield* patternsIn(node[i], `${at}/${i}`);
    return;
  }
  if (typeof node !== 'object' || node === null) return;
  for (const [k, v] of Object.entries(node as Record<string, unknown>)) {
    if (k === 'pattern' && typeof v === 'string') yield { at: `${at}/pattern`, pattern: v };
    if (k === 'patternProperties' && typeof v === 'object' && v !== null) for (const p of Object.keys(v)) yield { at: `${at}/patternProperties`, pattern: p };
    if (k === 'properties' && typeof v === 'object' && v !== null) {
      for (const [name, sub] of Object.entries(v as Record<string, unknown>)) yield* patternsIn(sub, `${at}/properties/${name}`);
    } else if (typeof v === 'object') yield* patternsIn(v, `${at}/${k}`);
  }
}

interface RegExpEngine {
  /** Whether this is the re2 native addon. */
  native: boolean;
  /** ajv's `code.regExp`: compile `pattern` with `flags`. */
  compile: (pattern: string, flags: string) => RegExpLike;
  /** Why the engine refuses a pattern, or undefined when it accepts it. */
  check: (pattern: string) => string | undefined;
}

let engineCache: RegExpEngine | undefined;

/** The engine of a schema without patterns: ajv never calls it. */
const NO_PATTERNS: RegExpEngine = { native: false, compile: (pattern, flags) => new RegExp(pattern, flags), check: () => undefined };

/**
 * RE2 (the `re2` native addon, Google's linear-time engine) when it loads; otherwise JavaScript
 * RegExp behind a refusal of the constructs that backtrack catastrophically.
 */
function regExpEngine(): RegExpEngine {
  if (engineCache) return engineCache;
  let RE2: ((pattern: string, flags: string) => RegExpLike) | undefined;
  try {
    RE2 = createRequire(import.meta.url)('re2') as (pattern: string, flags: string) => RegExpLike;
  } catch {
    RE2 = undefined;
  }
  if (RE2) {
    const re2 = RE2;
    engineCache = {
      native: true,
      compile: (pattern, flags) => re2(pattern, flags),
      check: (pattern) => {
        try {
          re2(pattern, 'u');
          return undefined;
        } catch (err) {
          return `RE2 cannot compile it (${(err as Error).message.replace(pattern, '…').slice(0, 80)}); watt runs patterns in linear time and does not support backreferences or lookaround`;
        }
      },
    };
  } else {
    engineCache = { native: false, compile: (pattern, flags) => new RegExp(pattern, flags), check: refusalWithoutRe2 };
  }
  return engineCache;
}

/**
 * Why a pattern is refused when the RE2 addon cannot load and JavaScript's backtracking RegExp
 * must run it: backreferences (`\1`, `\k<name>`) and nested quantifiers (`(a+)+`, `(a*)*`,
 * `(a{2,})+`), the shapes of catastrophic backtracking; undefined when accepted.
 */
export function refusalWithoutRe2(pattern: string): string | undefined {
  if (/\\[1-9]|\\k</.test(pattern)) return 'it uses a backreference (the RE2 engine is not installed, so such patterns could backtrack for minutes)';
  if (/\([^()]*[+*}][^()]*\)[+*{]/.test(pattern)) return 'it nests quantifiers, e.g. (a+)+ (the RE2 engine is not installed, so such patterns could backtrack for minutes)';
  try {
    new RegExp(pattern, 'u');
  } catch {
    return 'it is not a valid regular expression';
  }
  return undefined;
}

const DAYS_IN_MONTH = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
let lastDateTime = '';

/**
 * RFC 3339 `date-time` with a mandatory offset (`2025-01-01T08:00:00Z`, `...+01:00`): real
 * calendar days (no month 13, no 30 February), hours 00-23, minutes 00-59, seconds 00-59 (60 for
 * a leap second at :59), offsets up to 23:59. The same rules as ajv-formats' "full" mode and the
 * grammar `\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})`, read character
 * by character (no regex, no allocation: it runs on every row, in any order), and the last valid
 * value and the recent valid ones memoised (readings share their timestamps across meters).
 */
export function isRfc3339DateTime(text: string): boolean {
  if (text === lastDateTime) return true;
  // Valid date-times seen recently, with their canonical forms (canonical.ts): instants repeat
  // across meters in any order. One lookup serves this check and the canonical spelling after it.
  const known = recentDateTimes.get(text);
  if (known !== undefined) {
    lastDateTime = text;
    noteDateTime(text, known);
    return true;
  }
  if (!checkRfc3339DateTime(text)) return false;
  lastDateTime = text;
  const canonical = computeCanonicalDateTime(text);
  if (canonical === text) recentDateTimes.setSelf(text);
  else recentDateTimes.set(text, canonical);
  return true;
}

function checkRfc3339DateTime(text: string): boolean {
  const n = text.length;
  if (n < 20) return false;
  const year = digits(text, 0, 4);
  const month = digits(text, 5, 2);
  const day = digits(text, 8, 2);
  const hour = digits(text, 11, 2);
  const minute = digits(text, 14, 2);
  const second = digits(text, 17, 2);
  if (year < 0 || month < 0 || day < 0 || hour < 0 || minute < 0 || second < 0) return false;
  const sep = text.charCodeAt(10);
  if (text.charCodeAt(4) !== 45 || text.charCodeAt(7) !== 45 || (sep !== 84 && sep !== 116 && sep !== 32) || text.charCodeAt(13) !== 58 || text.charCodeAt(16) !== 58) return false;
  let i = 19;
  if (text.charCodeAt(i) === 46) {
    // fraction: at least one digit
    const from = ++i;
    while (i < n && isDigit(text.charCodeAt(i))) i++;
    if (i === from) return false;
  }
  const zone = text.charCodeAt(i);
  if (zone === 90 || zone === 122) {
    if (i !== n - 1) return false;
  } else if (zone === 43 || zone === 45) {
    if (i !== n - 6 || text.charCodeAt(i + 3) !== 58) return false;
    const offsetHours = digits(text, i + 1, 2);
    const offsetMinutes = digits(text, i + 4, 2);
    if (offsetHours < 0 || offsetMinutes < 0 || offsetHours > 23 || offsetMinutes > 59) return false;
  } else return false;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (month < 1 || month > 12 || day < 1 || day > (month === 2 && leap ? 29 : DAYS_IN_MONTH[month]!)) return false;
  return !(hour > 23 || minute > 59 || second > 60 || (second === 60 && minute !== 59));
}

/** True for the character codes of `0`-`9` (the `\d` of a JavaScript regex without the `u` flag). */
function isDigit(code: number): boolean {
  return code >= 48 && code <= 57;
}

/** The value of the `count` decimal digits of `text` at `at`, or -1 if one is not a digit (or missing). */
function digits(text: string, at: number, count: number): number {
  let v = 0;
  for (let i = at; i < at + count; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return -1; // NaN (past the end) fails too
    v = v * 10 + (c - 48);
  }
  return v;
}

/**
 * A number as CSV cells write it: `[+-]`, digits with an optional `.` (or `.` and digits), an
 * optional exponent (the regex `^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$`, read character
 * by character: it runs on every number cell of every row). No thousands separators, no comma
 * decimals, no `Infinity`, `NaN`, hex or white space (which `Number()` alone would accept).
 */
export function isDecimalNumber(raw: string): boolean {
  const n = raw.length;
  let i = 0;
  let c = raw.charCodeAt(0);
  if (c === 43 || c === 45) c = raw.charCodeAt(++i);
  const intStart = i;
  while (c >= 48 && c <= 57) c = raw.charCodeAt(++i);
  let digits = i - intStart;
  if (c === 46) {
    c = raw.charCodeAt(++i);
    const fracStart = i;
    while (c >= 48 && c <= 57) c = raw.charCodeAt(++i);
    digits += i - fracStart;
  }
  if (digits === 0) return false;
  if (c === 101 || c === 69) {
    c = raw.charCodeAt(++i);
    if (c === 43 || c === 45) c = raw.charCodeAt(++i);
    const expStart = i;
    while (c >= 48 && c <= 57) c = raw.charCodeAt(++i);
    if (i === expStart) return false;
  }
  return i === n;
}
const INTEGER = /^[+-]?\d+$/;

export { CellError };
const NOT_NUMBER = new CellError('is not a number');
const NOT_INTEGER = new CellError('is not an integer');
const NOT_BOOLEAN = new CellError('must be true or false');

/**
 * Convert a CSV cell to the JSON type its column declares, or return a {@link CellError}.
 * Booleans are `true`/`false` in any case; numbers are decimal (no thousands separators, no
 * comma decimals); an empty cell becomes undefined so that `required` reports it as missing.
 * Allocation-free on the hot path (called for every cell).
 */
export function convertCell(raw: string, type: CellType | undefined): unknown {
  if (raw === '') return undefined;
  switch (type) {
    case 'number':
      return isDecimalNumber(raw) ? Number(raw) : NOT_NUMBER;
    case 'integer':
      return INTEGER.test(raw) ? Number(raw) : NOT_INTEGER;
    case 'boolean': {
      if (raw === 'true') return true;
      if (raw === 'false') return false;
      const lower = raw.toLowerCase();
      if (lower === 'true') return true;
      if (lower === 'false') return false;
      return NOT_BOOLEAN;
    }
    default:
      return raw;
  }
}

/** One ajv error as (column, reason), in plain words. */
export function describeAjvError(error: ErrorObject): { column: string; reason: string } {
  const column = error.instancePath ? error.instancePath.slice(1).split('/')[0]! : String((error.params as { missingProperty?: string }).missingProperty ?? '');
  switch (error.keyword) {
    case 'required':
      return { column, reason: 'is empty but required' };
    case 'format':
      return { column, reason: `is not a valid ${(error.params as { format: string }).format}` };
    case 'minimum':
      return { column, reason: `must be >= ${(error.params as { limit: number }).limit}` };
    case 'maximum':
      return { column, reason: `must be <= ${(error.params as { limit: number }).limit}` };
    case 'type':
      return { column, reason: `must be a ${(error.params as { type: string }).type}` };
    case 'pattern':
      return { column, reason: `must match pattern ${quotePattern((error.params as { pattern: string }).pattern)}` };
    default:
      return { column, reason: error.message ?? error.keyword };
  }
}
