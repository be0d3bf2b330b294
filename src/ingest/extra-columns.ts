import { DataError } from '../errors.js';
import type { Logger } from '../log.js';
import type { CompiledSchema } from '../records/schema.js';
import type { ExtraColumnsPolicy } from '../table/manifest.js';

/**
 * Columns the schema does not declare (issue 11, item 4): `--extra-columns keep|drop|reject`.
 *
 * - keep (default): land them as they are (text), with a warning; the manifest lists them.
 * - drop: leave them out of the data objects (cells and header); the log and the manifest name them.
 * - reject: fail the run before any row is read (exit 1), naming them; nothing is written.
 *
 * A schema with `"additionalProperties": false` (or `"unevaluatedProperties": false`) forbids
 * undeclared columns: `keep` then refuses
 * the source like `reject` (landing them would break the schema the manifest points to), and
 * the message points at `--extra-columns drop`. `drop` is allowed: what lands then conforms.
 */

/** What the policy decided for one source: recorded in the manifest's `schema.extra_columns`. */
export interface ExtraColumnsOutcome {
  policy: ExtraColumnsPolicy;
  /** The undeclared columns, in file order: kept (`keep`) or dropped (`drop`). */
  columns: string[];
}

/** Most column names quoted in one message. */
const NAMES_SHOWN = 10;

function names(columns: string[]): string {
  const shown = columns.slice(0, NAMES_SHOWN).join(', ');
  return columns.length > NAMES_SHOWN ? `${shown} and ${columns.length - NAMES_SHOWN} more` : shown;
}

/**
 * Apply the extra-columns policy to a checked header (column names, file order).
 * Column names are header cells, not row values: they are quoted (cut to 10 names).
 * @throws DataError (1) for `reject`, or `keep` under `additionalProperties: false`, when the
 * header has undeclared columns.
 */
export function applyExtraColumns(header: string[], schema: CompiledSchema, policy: ExtraColumnsPolicy = 'keep', warnings: string[], logger: Logger): ExtraColumnsOutcome {
  const extra = header.filter((h) => !schema.types.has(h));
  if (extra.length === 0) return { policy, columns: [] };
  const plural = extra.length > 1 ? 's' : '';
  const closed = schema.source.json.additionalProperties === false || schema.source.json.unevaluatedProperties === false;
  if (policy === 'reject') {
    throw new DataError(`column${plural} not in the schema (--extra-columns reject): ${names(extra)}; nothing was written`, {
      hint: 'declare them in the schema, or rerun with --extra-columns drop to leave them out',
    });
  }
  if (policy === 'keep' && closed) {
    throw new DataError(`column${plural} not in the schema, which sets "additionalProperties": false: ${names(extra)}; nothing was written`, {
      hint: 'rerun with --extra-columns drop to leave them out, or declare them in the schema',
    });
  }
  const w = policy === 'drop' ? `extra column${plural} dropped (not in the schema): ${names(extra)}` : `extra column${plural} kept as is (not in the schema): ${names(extra)}`;
  warnings.push(w);
  logger.warn(w, { step: 'header', policy, columns: extra });
  return { policy, columns: extra };
}
