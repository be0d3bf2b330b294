import path from 'node:path';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { DataError, StorageError } from '../errors.js';
import type { Logger } from '../log.js';
import { newRunId } from '../run-id.js';
import { wattVersion } from '../paths.js';
import { clockToMinutes, thermalParams } from './params.js';
import { defaultWeatherFile, heatingSeasonNights, loadDailyWeather } from './weather.js';
import { SYNTHETIC_TARGET_TIME, syntheticHistory } from './synthetic.js';
import type { FeasibilitySample } from './feasibility.js';
import { feasibilitySamples } from './feasibility.js';
import type { IgnitionRecord } from './history.js';
import { historyToCsv, loadHistoryCsv } from './history.js';
import { DEFAULT_MARGIN_QUANTILE, fitLeadModel } from './fit.js';
import type { SplitSpec } from './evaluate.js';
import { evaluateSplit, syntheticSplits } from './evaluate.js';
import type { LeadModel, WattModel } from './model-file.js';
import type { HouseModel } from './house-model.js';
import { checkHistorySanity } from './history-sanity.js';
import { trainHouseModel } from './house-train.js';
import type { SavedModel } from './model-store.js';
import { saveHouseModel, saveModel } from './model-store.js';

/**
 * `watt train`'s core: build the ignition history (synthetic or the user's), evaluate on held-out
 * nights, fit the final model on every night, save it and record it in the catalog.
 */

export interface TrainOptions {
  /** A user's ignition history (CSV); absent: synthetic history. */
  dataFile?: string;
  /** Synthetic: PRNG seed for target and power draws (default 42). */
  seed?: number;
  /** Synthetic: draws per night and class (default 1: ~11,500 nights; 5 gives ~57,000). */
  variants?: number;
  /** Synthetic: cold copies of each night for training (default 1; see synthetic.ts COLD_SHIFT_K). */
  coldVariants?: number;
  /** Synthetic: daily weather CSV (default samples/weather.csv). */
  weatherFile?: string;
  /** Write the history used as CSV here. */
  exportHistory?: string;
  /** Quantile of the training ratios used as safety margin (default 0.9). */
  marginQuantile?: number;
  /** Skip the held-out evaluation (faster; the model then carries no metrics). */
  skipEvaluation?: boolean;
  /** WATT_HOME, where models and the catalog live. */
  home: string;
  /** Save under `<home>/models/<version>/` and record in the catalog (default true). */
  save?: boolean;
  /** `watt train --data --house ID`: save into the model registry under this house id (registry.ts). */
  houseId?: string;
  /** Save a model that fails the quality gate, marked `quality: poor` (default: exit 1, keep the previous model). */
  acceptPoor?: boolean;
  /** Model version, or a function of the training data's sha256 (default a new run id, `YYYYMMDDTHHMMSSZ-xxxxxx`: sorts by time). */
  version?: string | ((trainingSha256: string) => string);
  /** ISO time stamped in the model, or null for a reproducible build (default now). */
  createdAt?: string | null;
  logger?: Logger;
}

export interface TrainResult {
  /** A class model (synthetic history) or a calibrated house (`--data`). */
  model: WattModel;
  /** Nights the model learnt from. */
  rows: number;
  /** Synthetic nights that 9 h of stove cannot bring to the target (not in the history). */
  infeasibleNights: number;
  /** Seconds spent building the history (simulation or file validation), evaluating and fitting the final model. */
  timings: { history_s: number; evaluate_s: number; fit_s: number };
  saved?: SavedModel;
  exported?: { file: string; rows: number };
  warnings: string[];
}

const silent: Logger = { error() {}, warn() {}, info() {}, debug() {} };

/**
 * Train a lead-time model.
 * @throws UsageError (2) for a missing history or weather file; DataError (1) for invalid history
 *   rows or too few nights; StorageError (3) if the model, the export or the catalog cannot be written.
 */
export async function train(options: TrainOptions): Promise<TrainResult> {
  const logger = options.logger ?? silent;
  const warnings: string[] = [];
  const t0 = performance.now();
  let records: IgnitionRecord[];
  let splits: () => SplitSpec[];
  let training: LeadModel['training'];
  let infeasibleNights = 0;
  let feasibility: FeasibilitySample[] = [];
  if (options.dataFile) return trainHouse(options, options.dataFile, logger, t0);
  {
    const weatherFile = options.weatherFile ?? defaultWeatherFile();
    const nights = heatingSeasonNights(loadDailyWeather(weatherFile));
    if (nights.length === 0) throw new DataError(`${path.basename(weatherFile)} has no heating-season night (October to April)`);
    const history = syntheticHistory(nights, { seed: options.seed ?? 42, variants: options.variants ?? 1, coldVariants: options.coldVariants ?? 1 });
    records = history.nights.map((n) => n.record);
    infeasibleNights = history.infeasible.length;
    splits = () => syntheticSplits(history);
    feasibility = feasibilitySamples(history.nights, history.infeasible, clockToMinutes(SYNTHETIC_TARGET_TIME));
    training = {
      source: 'synthetic',
      name: `synthetic from ${path.basename(weatherFile)}`,
      sha256: createHash('sha256').update(historyToCsv(records)).digest('hex'),
      rows: records.length,
      seed: options.seed ?? 42,
      variants: options.variants ?? 1,
      cold_variants: options.coldVariants ?? 1,
      weather_sha256: createHash('sha256').update(readFileSync(weatherFile)).digest('hex'),
    };
    logger.info(
      `simulated ${nights.length} heating-season nights × 7 DPE classes${(options.variants ?? 1) > 1 ? ` × ${options.variants}` : ''} (+ ${options.coldVariants ?? 1} cold cop${(options.coldVariants ?? 1) === 1 ? 'y' : 'ies'} of each night): ${records.length} nights, ${infeasibleNights} infeasible in 9 h`,
    );
  }
  const historySeconds = (performance.now() - t0) / 1000;
  let exported: TrainResult['exported'];
  if (options.exportHistory) {
    const file = path.resolve(options.exportHistory);
    try {
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, historyToCsv(records));
    } catch (err) {
      throw new StorageError(`cannot write history to ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    exported = { file, rows: records.length };
    logger.info(`wrote the ignition history to ${file} (${records.length} rows)`);
  }
  const fitBase = { marginQuantile: options.marginQuantile ?? DEFAULT_MARGIN_QUANTILE, wattVersion: wattVersion(), training };
  const t1 = performance.now();
  const metrics = [];
  if (!options.skipEvaluation) {
    const specs = splits();
    if (specs.length === 0) {
      const w = `too few nights (${records.length}) for a held-out evaluation: the model carries no metrics`;
      warnings.push(w);
      logger.warn(w);
    }
    for (const spec of specs) {
      try {
        metrics.push(evaluateSplit(spec, fitBase));
      } catch (err) {
        const w = `evaluation ${spec.split} skipped: ${(err as Error).message}`;
        warnings.push(w);
        logger.warn(w);
      }
    }
  }
  const evaluateSeconds = (performance.now() - t1) / 1000;
  const t2 = performance.now();
  let fitted;
  try {
    fitted = fitLeadModel(records, {
      ...fitBase,
      feasibility,
      version: typeof options.version === 'function' ? options.version(training.sha256) : (options.version ?? newRunId()),
      createdAt: options.createdAt === undefined ? new Date().toISOString() : options.createdAt,
    });
  } catch (err) {
    throw new DataError(`cannot train: ${(err as Error).message}`, { hint: 'a history needs at least 10 nights of one DPE class' });
  }
  const fitSeconds = (performance.now() - t2) / 1000;
  const model = fitted.model;
  model.metrics = metrics;
  if (fitted.skippedClasses.length) {
    const w = `class${fitted.skippedClasses.length > 1 ? 'es' : ''} ${fitted.skippedClasses.join(', ')} skipped: fewer than 10 nights`;
    warnings.push(w);
    logger.warn(w);
  }
  logger.info(`fitted ${records.length} nights in ${fitSeconds.toFixed(2)} s`);
  const saved = options.save === false ? undefined : saveModel(model, options.home);
  if (saved) logger.info(`saved model ${model.version} to ${saved.dir}`);
  return {
    model,
    rows: records.length,
    infeasibleNights,
    timings: { history_s: historySeconds, evaluate_s: evaluateSeconds, fit_s: fitSeconds },
    saved,
    exported,
    warnings,
  };
}

/**
 * `watt train --data`: one house's history -> sanity checks -> chronological hold-out evaluation ->
 * calibration on every night -> save.
 * @throws DataError (1) for invalid rows, failed sanity checks (history-sanity.ts), several houses in
 *   one file or fewer than 10 usable nights; UsageError (2) for a missing file; StorageError (3).
 */
async function trainHouse(options: TrainOptions, dataFile: string, logger: Logger, t0: number): Promise<TrainResult> {
  const warnings: string[] = [];
  const warn = (w: string) => {
    warnings.push(w);
    logger.warn(w);
  };
  const params = thermalParams();
  const loaded = loadHistoryCsv(dataFile, { powerKw: params.stove.defaultPowerKw, targetTime: '07:00' });
  if (loaded.ignoredColumns.length) warn(`${loaded.name}: ignored column${loaded.ignoredColumns.length > 1 ? 's' : ''} ${loaded.ignoredColumns.join(', ')} (not in the ignition history schema)`);
  const houses = [...new Set(loaded.records.map((r) => `${r.dpe_class}${r.location ? ` / ${r.location}` : ''}`))];
  if (houses.length > 1) {
    const i = loaded.records.findIndex((r) => `${r.dpe_class}${r.location ? ` / ${r.location}` : ''}` !== houses[0]);
    throw new DataError(`${loaded.name} holds ${houses.length} houses (DPE class / location: ${houses.slice(0, 4).join(', ')}${houses.length > 4 ? ', ...' : ''}; line ${loaded.lines[i]} starts another): watt train --data calibrates one house`, {
      hint: 'split the history into one file per house',
    });
  }
  const sanity = checkHistorySanity(loaded.records, loaded.lines, loaded.name);
  for (const w of sanity.warnings) warn(w);
  const records = loaded.records.filter((_, i) => !sanity.dropped.has(i));
  if (records.length < MIN_NIGHTS) throw new DataError(`${loaded.name} has ${records.length} usable nights: a house needs at least ${MIN_NIGHTS} to calibrate`, { hint: 'keep recording a few more mornings' });
  const training: HouseModel['training'] = {
    source: 'file',
    name: loaded.name,
    sha256: createHash('sha256').update(readFileSync(dataFile)).digest('hex'),
    rows: records.length,
    ...(loaded.ignoredColumns.length ? { ignored_columns: loaded.ignoredColumns } : {}),
    ...(warnings.length ? { warnings } : {}),
  };
  logger.info(`read ${records.length} nights from ${loaded.name}`);
  const historySeconds = (performance.now() - t0) / 1000;
  const version = typeof options.version === 'function' ? options.version(training.sha256) : (options.version ?? newRunId());
  let trained;
  try {
    trained = trainHouseModel(records, { wattVersion: wattVersion(), training, version, createdAt: options.createdAt === undefined ? new Date().toISOString() : options.createdAt, skipEvaluation: options.skipEvaluation });
  } catch (err) {
    throw new DataError(`${loaded.name}: ${(err as Error).message}`, { hint: 'keep recording a few more mornings' });
  }
  const model = trained.model;
  if (options.houseId) model.house_id = options.houseId;
  if (!options.skipEvaluation && !model.evaluation) warn(`too few nights (${records.length - trained.keptOn}) for a held-out evaluation (25 needed): the model carries no metrics`);
  logger.info(`calibrated ${records.length - trained.keptOn} nights in ${trained.fit_s.toFixed(2)} s: H ${model.heating.h_w_per_k.value.toFixed(0)} W/K, τ ${model.heating.tau_min.value.toFixed(0)} min, d ${model.heating.delay_min.value.toFixed(1)} min`);
  const timings = { history_s: historySeconds, evaluate_s: trained.evaluate_s, fit_s: trained.fit_s };
  const quality = model.quality;
  if (quality?.status === 'poor') {
    const e = model.evaluation!;
    const figures = `hold-out of ${e.test_nights} nights: MAE ${e.mae_min} min, bias ${e.bias_min > 0 ? '+' : ''}${e.bias_min} min, late ${(e.late_rate * 100).toFixed(1)} %; without margin MAE ${e.baselines!.raw.mae_min} min; lookup schedule MAE ${e.baselines!.lookup.mae_min} min`;
    if (!options.acceptPoor) {
      throw new QualityGateError(`model ${version} fails the quality gate (${quality.reasons.join('; ')}; ${figures}): not saved, the previous model stays in use`, {
        hint: 'record more nights (or temp_min_c), or pass --accept-poor to save it marked quality: poor (predict and serve then add a warning)',
      }, { model, rows: records.length, timings, warnings });
    }
    warn(`model ${version} fails the quality gate (${quality.reasons.join('; ')}; ${figures}): saved with --accept-poor, marked quality: poor`);
  }
  const saved = options.save === false ? undefined : options.houseId ? saveHouseModel(model, options.home, options.houseId) : saveModel(model, options.home);
  if (saved) logger.info(`saved model ${model.version}${options.houseId ? ' of one house of the registry' : ''}`);
  return { model, rows: records.length, infeasibleNights: 0, timings, saved, warnings };
}

/**
 * The quality gate refused the model (exit 1): carries the model and its figures so that the command
 * can still print the report.
 */
export class QualityGateError extends DataError {
  constructor(
    message: string,
    options: { hint?: string },
    readonly result: { model: HouseModel; rows: number; timings: TrainResult['timings']; warnings: string[] },
  ) {
    super(message, options);
  }
}

/** Nights a house history needs. */
const MIN_NIGHTS = 10;
