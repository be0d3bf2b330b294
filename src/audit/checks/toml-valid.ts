import { parse as parseToml, TomlError } from 'smol-toml';
import { defineCheck } from './types.js';

/** A condition on a parsed TOML document: the value at a dotted `key` equals `equals`, or is a non-empty array/table. */
export interface TomlCondition {
  key: string;
  equals?: string | number | boolean;
  nonEmpty?: boolean;
}

export interface TomlValidOptions {
  file: string;
  /** At least one condition must hold (none given: parsing is enough). */
  requireAny?: TomlCondition[];
  /** What the conditions mean, for the finding's message, e.g. "extend the default rules ([extend] useDefault = true) or define [[rules]]". */
  requireHint?: string;
}

/**
 * `toml-valid`: a TOML file parses (TOML 1.0, smol-toml) and satisfies at least one of
 * `requireAny`. A syntax error is a finding at its line and column.
 */
export default defineCheck<TomlValidOptions>({
  type: 'toml-valid',
  description: 'a TOML file parses and holds the required keys',
  optionsSchema: {
    type: 'object',
    required: ['file'],
    additionalProperties: false,
    properties: {
      file: { type: 'string', minLength: 1 },
      requireAny: {
        type: 'array',
        items: {
          type: 'object',
          required: ['key'],
          additionalProperties: false,
          properties: {
            key: { type: 'string', minLength: 1 },
            equals: { type: ['string', 'number', 'boolean'] },
            nonEmpty: { type: 'boolean' },
          },
        },
      },
      requireHint: { type: 'string', minLength: 1 },
    },
  },
  async run(options, ctx) {
    const { file } = options;
    const text = await ctx.readText(file);
    if (text === undefined) return [{ file, message: `${file} is missing` }];
    let doc: Record<string, unknown>;
    try {
      doc = parseToml(text) as Record<string, unknown>;
    } catch (err) {
      if (err instanceof TomlError) {
        return [{ file, line: err.line, column: err.column, message: `${file} is not valid TOML: ${err.message.split('\n')[0]}` }];
      }
      return [{ file, message: `${file} is not valid TOML: ${(err as Error).message.split('\n')[0]}` }];
    }
    const conditions = options.requireAny ?? [];
    if (conditions.length === 0 || conditions.some((c) => holds(doc, c))) return [];
    return [{ file, message: `${file} must ${options.requireHint ?? `set one of ${conditions.map((c) => c.key).join(', ')}`}` }];
  },
});

function holds(doc: Record<string, unknown>, condition: TomlCondition): boolean {
  let value: unknown = doc;
  for (const part of condition.key.split('.')) {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
    value = (value as Record<string, unknown>)[part];
  }
  if (condition.equals !== undefined) return value === condition.equals;
  if (condition.nonEmpty) return Array.isArray(value) ? value.length > 0 : value !== null && typeof value === 'object' && Object.keys(value).length > 0;
  return value !== undefined;
}
