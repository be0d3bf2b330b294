import { assetPath } from '../paths.js';
import type { LeadModel } from './model-file.js';
import type { SavedModel } from './model-store.js';
import { writeModelFolder } from './model-store.js';
import { train } from './train.js';

/**
 * The default model shipped in `models/default/` so that `watt predict` works right after
 * `npm ci`: the synthetic history of samples/weather.csv with seed 42, one draw per night and
 * class, no time stamp, version `default-<first 8 hex of the training sha256>`. Rebuilding it
 * (`npm run model:default`) gives the same bytes; tests/model/default-model.test.ts checks it.
 */
export const DEFAULT_MODEL_SEED = 42;

/** Train the default model in memory (nothing written). */
export async function buildDefaultModel(): Promise<LeadModel> {
  const result = await train({
    home: assetPath('models'),
    save: false,
    seed: DEFAULT_MODEL_SEED,
    variants: 1,
    version: (sha) => `default-${sha.slice(0, 8)}`,
    createdAt: null,
  });
  return result.model as LeadModel;
}

/**
 * Rebuild `models/default/model.json` and `model_card.md` in the package (or `dir`).
 * @throws StorageError if the folder cannot be written.
 */
export async function writeDefaultModel(dir: string = assetPath('models', 'default')): Promise<SavedModel> {
  return writeModelFolder(await buildDefaultModel(), dir);
}
