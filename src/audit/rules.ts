import { readFile } from 'node:fs/promises';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { UsageError } from '../errors.js';
import { assetPath } from '../paths.js';
import { CHECKS } from './checks/index.js';
import type { Rule, RuleSetFile } from './types.js';

/** Path of watt's default rule set, shipped with the package. */
export const DEFAULT_RULES_FILE = assetPath('src', 'audit', 'rules', 'default.json');
/** Path of the JSON Schema of rule sets and user configurations. */
export const RULES_SCHEMA_FILE = assetPath('schemas', 'audit-rules.schema.json');

// ajv-formats is CommonJS: its default export is the plugin function.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv) => Ajv;

let validators: Promise<{ file: ValidateFunction; check: (type: string) => ValidateFunction | undefined; ajv: Ajv }> | undefined;
function getValidators() {
  validators ??= (async () => {
    const ajv = new Ajv({ allErrors: false, strict: false });
    addFormats(ajv);
    const schema = JSON.parse(await readFile(RULES_SCHEMA_FILE, 'utf8')) as Record<string, unknown>;
    const file = ajv.compile(schema);
    const compiled = new Map<string, ValidateFunction>();
    const check = (type: string) => {
      const def = CHECKS.get(type);
      if (!def) return undefined;
      let v = compiled.get(type);
      if (!v) {
        v = ajv.compile(def.optionsSchema);
        compiled.set(type, v);
      }
      return v;
    };
    return { file, check, ajv };
  })();
  return validators;
}

/**
 * Read and validate a rule set file against schemas/audit-rules.schema.json and each check's
 * options schema.
 * @throws UsageError (exit 2) when the file is missing, not JSON, or invalid; the message names the
 * file, the rule and the first problem.
 */
export async function readRuleSet(file: string, options: { validate?: boolean } = {}): Promise<RuleSetFile> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : (err as Error).message.split('\n')[0];
    throw new UsageError(`cannot read audit configuration ${file}: ${why}`, { hint: 'pass a JSON file shaped like schemas/audit-rules.schema.json' });
  }
  // watt's own defaults are validated by its tests (tests/audit/rules.test.ts): compiling the
  // schemas with ajv costs ~150 ms of every audit, spent only on a user's configuration.
  if (options.validate === false) return parsed as RuleSetFile;
  const { file: validate, check } = await getValidators();
  if (!validate(parsed)) {
    const e = validate.errors?.[0];
    throw new UsageError(`invalid audit configuration ${file}: ${e?.instancePath || '/'} ${e?.message ?? 'is invalid'}`, {
      hint: 'see schemas/audit-rules.schema.json',
    });
  }
  const set = parsed as RuleSetFile;
  const seen = new Set<string>();
  for (const rule of set.rules ?? []) {
    if (seen.has(rule.id)) throw new UsageError(`invalid audit configuration ${file}: rule "${rule.id}" is defined twice`);
    seen.add(rule.id);
    const { type, ...options } = rule.check;
    const validateOptions = check(type);
    if (!validateOptions) {
      throw new UsageError(`invalid audit configuration ${file}: rule "${rule.id}" uses unknown check type "${type}"`, {
        hint: `use one of ${[...CHECKS.keys()].join(', ')}`,
      });
    }
    if (!validateOptions(options)) {
      const e = validateOptions.errors?.[0];
      throw new UsageError(`invalid audit configuration ${file}: rule "${rule.id}" (${type}): options${e?.instancePath ?? ''} ${e?.message ?? 'are invalid'}`);
    }
  }
  return set;
}

/**
 * The rules of an audit: watt's defaults, then a user's configuration (`extendDefaults: false`
 * starts from nothing; a rule with an existing id replaces it; `overrides` change severity,
 * enabled, help...).
 * @throws UsageError for an invalid file, an override or `dependsOn` naming an unknown rule.
 */
export async function loadRules(configFile?: string): Promise<Rule[]> {
  const user = configFile ? await readRuleSet(configFile) : undefined;
  const rules = new Map<string, Rule>();
  if (user?.extendDefaults !== false) {
    for (const rule of (await readRuleSet(DEFAULT_RULES_FILE, { validate: false })).rules ?? []) rules.set(rule.id, rule);
  }
  for (const rule of user?.rules ?? []) rules.set(rule.id, rule);
  for (const [id, change] of Object.entries(user?.overrides ?? {})) {
    const rule = rules.get(id);
    if (!rule) throw new UsageError(`invalid audit configuration ${configFile}: override of unknown rule "${id}"`);
    rules.set(id, { ...rule, ...change });
  }
  for (const rule of rules.values()) {
    for (const dep of rule.dependsOn ?? []) {
      if (!rules.has(dep)) throw new UsageError(`invalid audit configuration: rule "${rule.id}" depends on unknown rule "${dep}"`);
    }
  }
  return [...rules.values()];
}
