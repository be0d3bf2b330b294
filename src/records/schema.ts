import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsImport from 'ajv-formats';
import { UsageError } from '../errors.js';

// ajv-formats is CommonJS with a default export.
const addFormats = addFormatsImport as unknown as typeof addFormatsImport.default;

/** How a CSV cell is converted before validation, from the property's JSON Schema `type`. */
export type CellType = 'string' | 'number' | 'integer' | 'boolean';

/** The custom keyword marking personal columns: `"x-personal-data": "pseudonymise"`. */
export const PERSONAL_KEYWORD = 'x-personal-data';

/** A data-set schema compiled for row validation. */
export interface CompiledSchema {
  /** Path of the schema file (worker threads compile their own copy from it). */
  file: string;
  /** `$id` of the schema (or its file name). */
  id: string;
  /** sha256 of the schema file's bytes. */
  sha256: string;
  /** Columns listed in `required`, in schema order. */
  required: string[];
  /** Conversion of each declared property. */
  types: Map<string, CellType>;
  /** Columns to pseudonymise (GDPR Art. 4(5)). */
  personal: Set<string>;
  /** ajv validator of one converted row. */
  validate: ValidateFunction;
}

/**
 * Load and compile a JSON Schema (draft 2020-12) describing one CSV row.
 * Formats are checked strictly (ajv-formats "full": `2025-13-01T00:00:00Z` is invalid).
 * @throws UsageError if the file is missing, not JSON, not a valid schema, or uses an unknown
 * `x-personal-data` action.
 */
export function loadSchema(file: string): CompiledSchema {
  let bytes: Buffer;
  try {
    if (statSync(file).isDirectory()) throw new UsageError(`schema ${file} is a directory, not a JSON Schema file`);
    bytes = readFileSync(file);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`cannot read schema ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let schema: Record<string, unknown>;
  try {
    schema = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new UsageError(`schema ${file} is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof schema !== 'object' || schema === null || schema.type !== 'object' || typeof schema.properties !== 'object') {
    throw new UsageError(`schema ${file} must describe an object with "properties" (one per CSV column)`);
  }
  const ajv = new Ajv2020({ allErrors: false, strict: true, allowUnionTypes: true });
  addFormats(ajv, { mode: 'full' });
  ajv.addFormat('date-time', { type: 'string', validate: isRfc3339DateTime });
  ajv.addKeyword({ keyword: PERSONAL_KEYWORD, schemaType: 'string' });
  let validate: ValidateFunction;
  try {
    validate = ajv.compile(schema);
  } catch (err) {
    throw new UsageError(`schema ${file} is not a valid JSON Schema: ${(err as Error).message}`);
  }
  const properties = schema.properties as Record<string, Record<string, unknown>>;
  const types = new Map<string, CellType>();
  const personal = new Set<string>();
  for (const [name, prop] of Object.entries(properties)) {
    const t = Array.isArray(prop.type) ? prop.type.find((x) => x !== 'null') : prop.type;
    types.set(name, t === 'number' || t === 'integer' || t === 'boolean' ? t : 'string');
    const action = prop[PERSONAL_KEYWORD];
    if (action !== undefined) {
      if (action !== 'pseudonymise') {
        throw new UsageError(`schema ${file}: column ${name} has ${PERSONAL_KEYWORD} "${String(action)}"; the only supported action is "pseudonymise"`);
      }
      personal.add(name);
    }
  }
  const required = Array.isArray(schema.required) ? (schema.required as string[]) : [];
  return {
    file,
    id: typeof schema.$id === 'string' ? schema.$id : file.split('/').pop()!,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    required,
    types,
    personal,
    validate,
  };
}

const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:[Zz]|([+-])(\d{2}):(\d{2}))$/;
const DAYS_IN_MONTH = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
let lastDateTime = '';

/**
 * RFC 3339 `date-time` with a mandatory offset (`2025-01-01T08:00:00Z`, `...+01:00`): real
 * calendar days (no month 13, no 30 February), hours 00-23, minutes 00-59, seconds 00-59 (60 for
 * a leap second at :59). The same rules as ajv-formats' "full" mode, in one regex, and the last
 * valid value memoised (readings come in runs of the same timestamp).
 */
export function isRfc3339DateTime(text: string): boolean {
  if (text === lastDateTime) return true;
  const m = DATE_TIME.exec(text);
  if (!m) return false;
  const year = +m[1]!;
  const month = +m[2]!;
  const day = +m[3]!;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (month < 1 || month > 12 || day < 1 || day > (month === 2 && leap ? 29 : DAYS_IN_MONTH[month]!)) return false;
  const hour = +m[4]!;
  const minute = +m[5]!;
  const second = +m[6]!;
  if (hour > 23 || minute > 59 || second > 60 || (second === 60 && minute !== 59)) return false;
  if (m[7] && (+m[8]! > 23 || +m[9]! > 59)) return false;
  lastDateTime = text;
  return true;
}

const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const INTEGER = /^[+-]?\d+$/;

/** Why a CSV cell could not be converted to its column's type. */
export class CellError {
  constructor(readonly reason: string) {}
}
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
      return NUMBER.test(raw) ? Number(raw) : NOT_NUMBER;
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
    default:
      return { column, reason: error.message ?? error.keyword };
  }
}
