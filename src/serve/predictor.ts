import { WattError } from '../errors.js';
import type { WattModel } from '../model/model-file.js';
import { CLASS_MODEL_DEFAULTS, predictDefaults, resolveModel } from '../model/model-file.js';
import { predictLead } from '../model/predict.js';
import { HouseModelRegistry, isUnknownHouse } from './model-registry.js';

/**
 * The one adapter between `watt serve` and the model: loads a model exactly as `watt predict`
 * does (`--model`, else the newest under `<WATT_HOME>/models/`, else the shipped default; see
 * `resolveModel`), maps a request body to the prediction function and back to the exact JSON of
 * `watt predict --json` (without the `error`, `exit_code` and `hint` the CLI adds when an
 * infeasible night makes it exit 1: over HTTP that night is a plain 200). Nothing else in
 * src/serve/ touches src/model/.
 *
 * A prediction without an indoor reading searches the cool-down curve (milliseconds of CPU), so
 * answers are kept in a bounded LRU cache keyed on the exact inputs (the same inputs always give
 * the same answer from one model; the cache dies with the model on reload).
 */

/** Body of `POST /v1/predict` once validated (see schemas.ts). */
export interface PredictRequest {
  /** The house whose model answers (registry.ts); absent: the default model. */
  house_id?: string;
  dpe_class?: string;
  outdoor_temp_c: number;
  indoor_temp_c?: number;
  target_temp_c?: number;
  target_time?: string;
  stove_power_kw?: number;
  /** The night's forecast minimum (°C), for models that use it; passed through as `tempMinC`. */
  temp_min_c?: number;
}

/** An answer: HTTP status and the JSON text of the body. */
export interface PredictAnswer {
  status: 200 | 400 | 404;
  /** JSON text: the prediction (as `watt predict --json`) or `{"error", "details", "hint"}`. */
  json: string;
  /** `true`/`false` for a prediction, undefined for a refused input. */
  feasible?: boolean;
}

export interface Predictor {
  readonly version: string;
  /** Absolute path of the model.json in use. */
  readonly file: string;
  /** Where it came from: `flag` (--model), `watt-home` (the newest trained), `shipped` (the default). */
  readonly origin: string;
  /** When it was loaded (ISO 8601 UTC). */
  readonly loadedAt: string;
  /** Answer one request body (synchronous, pure arithmetic). */
  predict(body: PredictRequest): PredictAnswer;
  /** Cache statistics: hits and misses since load. */
  cacheStats(): { hits: number; misses: number; size: number };
  /** House models loaded from the registry (LRU) and loads since start. */
  houseStats(): { size: number; loads: number };
}

/**
 * Defaults of a class model's query (the shipped default). A house model has its own (its history's
 * usual target, time and stove): both come from `predictDefaults`, the one set `watt predict` uses.
 */
export const PREDICT_DEFAULTS = CLASS_MODEL_DEFAULTS;

/** Entries kept in the prediction cache by default (~1 KiB each). */
export const DEFAULT_CACHE_SIZE = 10_000;

/**
 * Load the model and build a predictor.
 * @throws WattError (UsageError) when no model can be read; the server then answers 503.
 */
// async: a future model store may read from a lake
export async function loadPredictor(options: { model?: string; home: string; cacheSize?: number; maxHouseModels?: number }): Promise<Predictor> {
  const { model, file, origin } = resolveModel(options.model, options.home);
  const max = options.cacheSize ?? DEFAULT_CACHE_SIZE;
  const houses = new HouseModelRegistry(options.home, options.maxHouseModels);
  const cache = new Map<string, PredictAnswer>();
  let hits = 0;
  let misses = 0;

  const error = (status: 400 | 404, err: WattError): PredictAnswer => ({ status, json: JSON.stringify({ error: err.message, details: [], ...(err.hint ? { hint: err.hint } : {}) }) });

  const compute = (m: WattModel, modelOrigin: string, body: PredictRequest): PredictAnswer => {
    const defaults = predictDefaults(m);
    const input = {
      dpeClass: body.dpe_class as never,
      outdoorC: body.outdoor_temp_c,
      indoorC: body.indoor_temp_c,
      targetC: body.target_temp_c ?? defaults.target_temp_c,
      at: body.target_time ?? defaults.target_time,
      powerKw: body.stove_power_kw ?? defaults.stove_power_kw,
      ...(body.temp_min_c === undefined ? {} : { tempMinC: body.temp_min_c }),
    };
    try {
      const p = predictLead(m, input);
      // never a server file path in a response: the version and origin say which model answered
      return { status: 200, json: JSON.stringify({ ...p, ...(body.house_id === undefined ? {} : { house_id: body.house_id }), model_origin: modelOrigin }), feasible: p.feasible };
    } catch (err) {
      // The model refuses the input (outside its training range, target below indoor, a dpe_class
      // that contradicts the house's model...): the same sentence as `watt predict` exits 2 with.
      if (err instanceof WattError && err.exitCode === 2) return error(400, err);
      throw err;
    }
  };

  return {
    version: model.version,
    file,
    origin,
    loadedAt: new Date().toISOString(),
    predict(body) {
      let m = model;
      let modelOrigin: string = origin;
      if (body.house_id !== undefined) {
        try {
          m = houses.get(body.house_id);
          modelOrigin = 'registry';
        } catch (err) {
          if (err instanceof WattError) return error(isUnknownHouse(err) ? 404 : 400, err);
          throw err;
        }
      }
      const key = `${body.house_id ?? ''}|${m.version}|${body.dpe_class ?? ''}|${body.outdoor_temp_c}|${body.indoor_temp_c ?? ''}|${body.target_temp_c ?? ''}|${body.target_time ?? ''}|${body.stove_power_kw ?? ''}|${body.temp_min_c ?? ''}`;
      const cached = cache.get(key);
      if (cached) {
        hits++;
        cache.delete(key); // most recently used last
        cache.set(key, cached);
        return cached;
      }
      misses++;
      const answer = compute(m, modelOrigin, body);
      if (max > 0) {
        cache.set(key, answer);
        if (cache.size > max) cache.delete(cache.keys().next().value!);
      }
      return answer;
    },
    cacheStats: () => ({ hits, misses, size: cache.size }),
    houseStats: () => houses.stats(),
  };
}
