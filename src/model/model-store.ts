import path from 'node:path';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { StorageError } from '../errors.js';
import { Catalog } from '../catalog/catalog.js';
import type { WattModel } from './model-file.js';
import { renderModelCard } from './model-card.js';
import { renderHouseCard } from './house-card.js';
import { isHouseModel } from './house-model.js';
import { houseModelsDir } from './registry.js';

/**
 * Persisting models: `<WATT_HOME>/models/<version>/model.json` + `model_card.md`, written to a
 * temporary folder then renamed (a model is visible whole or not at all), then recorded in the
 * catalog (`models` table).
 */

/** The exact bytes of a model file: pretty JSON, 2 spaces, final newline. */
export function modelJson(model: WattModel): string {
  return JSON.stringify(model, null, 2) + '\n';
}

export interface SavedModel {
  dir: string;
  modelFile: string;
  cardFile: string;
}

/**
 * Write `model.json` and `model_card.md` into `dir` (created; replaced if it exists) atomically.
 * @throws StorageError if the folder cannot be written.
 */
export function writeModelFolder(model: WattModel, dir: string): SavedModel {
  const tmp = `${dir}.tmp-${process.pid}`;
  try {
    mkdirSync(tmp, { recursive: true });
    writeFileSync(path.join(tmp, 'model.json'), modelJson(model));
    writeFileSync(path.join(tmp, 'model_card.md'), isHouseModel(model) ? renderHouseCard(model) : renderModelCard(model));
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(path.dirname(dir), { recursive: true });
    renameSync(tmp, dir);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw new StorageError(`cannot write model to ${dir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, {
      hint: 'check WATT_HOME is writable and the disk has space',
    });
  }
  return { dir, modelFile: path.join(dir, 'model.json'), cardFile: path.join(dir, 'model_card.md') };
}

/**
 * Save a trained model under `<home>/models/<version>/` and record it in `<home>/catalog.db`.
 * @throws StorageError if the folder or the catalog cannot be written.
 */
export function saveModel(model: WattModel, home: string): SavedModel {
  return saveModelIn(model, home, path.join(home, 'models', model.version));
}

/**
 * Save a house model into the registry: `<home>/models/houses/<house id>/<version>/` (registry.ts),
 * recorded in the catalog like any model. `watt predict --house ID` and `POST /v1/predict` with
 * `house_id` use the newest version; the default model (`<home>/models/<version>/`) is untouched.
 * @throws UsageError for an invalid house id; StorageError if the folder or the catalog cannot be written.
 */
export function saveHouseModel(model: WattModel, home: string, houseId: string): SavedModel {
  return saveModelIn(model, home, path.join(houseModelsDir(home, houseId), model.version));
}

function saveModelIn(model: WattModel, home: string, dir: string): SavedModel {
  const saved = writeModelFolder(model, dir);
  const catalog = Catalog.open(home);
  try {
    catalog.recordModel({
      version: model.version,
      path: saved.modelFile,
      created_at: model.created_at ?? new Date().toISOString(),
      training_sha256: model.training.sha256,
      metrics: isHouseModel(model) ? model.evaluation : model.metrics,
      watt_version: model.watt_version,
    });
  } catch (err) {
    throw new StorageError(`cannot record model ${model.version} in ${catalog.file}: ${(err as Error).message}`);
  } finally {
    catalog.close();
  }
  return saved;
}
