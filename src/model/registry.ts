import path from 'node:path';
import { existsSync, readdirSync } from 'node:fs';
import { UsageError } from '../errors.js';
import type { ResolvedModel, WattModel } from './model-file.js';
import { readModel } from './model-file.js';

/**
 * The model registry: one calibrated model per house, keyed by a house id, stored as files in the
 * model store, `<WATT_HOME>/models/houses/<house id>/<version>/model.json` (the newest version is
 * the house's model). `watt train --data h.csv --house ID` writes there, `watt predict --house ID`
 * and `POST /v1/predict` with `house_id` read there; without a house id the default model is used
 * as before (`<WATT_HOME>/models/<version>/`, else the shipped one). Light module: `watt predict`
 * and `watt serve` import it.
 *
 * A house id is a pseudonymous key chosen by the operator (letters, digits, `-` and `_`, 1 to 64
 * characters, starting with a letter or digit): never a name or an address. The pattern keeps it a
 * single path segment, so no id can reach outside the registry (`..`, `/`, `\`).
 */

/** A house id: 1-64 of [A-Za-z0-9_-], starting with a letter or digit. */
export const HOUSE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

/** Whether `id` is a valid house id. */
export function isHouseId(id: string): boolean {
  return HOUSE_ID_PATTERN.test(id);
}

/**
 * Check a house id.
 * @throws UsageError (exit 2) if it is not 1-64 of letters, digits, `-`, `_` (the value is not echoed beyond 20 characters).
 */
export function checkHouseId(id: string): string {
  if (!isHouseId(id)) {
    throw new UsageError(`invalid house id "${id.slice(0, 20)}${id.length > 20 ? '…' : ''}": use 1 to 64 letters, digits, - or _, starting with a letter or digit`, {
      hint: 'a house id is a pseudonymous key of your choice, never a name or an address',
    });
  }
  return id;
}

/** The folder of one house's model versions. @throws UsageError for an invalid id. */
export function houseModelsDir(home: string, houseId: string): string {
  return path.join(home, 'models', 'houses', checkHouseId(houseId));
}

/** The newest version folder of a house holding a model.json, or undefined. */
export function newestHouseModelFile(home: string, houseId: string): string | undefined {
  const dir = houseModelsDir(home, houseId);
  if (!existsSync(dir)) return undefined;
  const versions = readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && !d.name.includes('.tmp-') && existsSync(path.join(dir, d.name, 'model.json')))
    .map((d) => d.name)
    .sort();
  const newest = versions.at(-1);
  return newest ? path.join(dir, newest, 'model.json') : undefined;
}

/** No model for that house id (exit 2 on the command line, 404 over HTTP). */
export class UnknownHouseError extends UsageError {
  constructor(houseId: string) {
    super(`no model for house ${houseId}: train one with watt train --data FILE --house ${houseId}`, { hint: 'list the houses under WATT_HOME/models/houses/' });
  }
}

/**
 * The newest model of a house.
 * @throws UsageError for an invalid id, UnknownHouseError when the house has no model, UsageError for an unreadable model.
 */
export function resolveHouseModel(home: string, houseId: string): ResolvedModel & { model: WattModel } {
  const file = newestHouseModelFile(home, houseId);
  if (!file) throw new UnknownHouseError(houseId);
  return { model: readModel(file), file, origin: 'registry' };
}
