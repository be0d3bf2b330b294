import type { WattModel } from '../model/model-file.js';
import { UnknownHouseError, newestHouseModelFile, resolveHouseModel } from '../model/registry.js';

/**
 * The house models `watt serve` answers with (issue 19: one server for every house): loaded lazily
 * from the registry (`<WATT_HOME>/models/houses/<house id>/<version>/`, src/model/registry.ts) on the
 * first request that names the house, kept in an LRU of at most `maxModels` models (a house model is
 * ~3 KiB of JSON), and re-resolved at most every `recheckMs` so that a house retrained while the
 * server runs is picked up without a SIGHUP (the answer cache is keyed on the model version, so no
 * answer of the older model is served after the switch). SIGHUP drops the whole registry.
 */

/** Models kept loaded by default. */
export const DEFAULT_MAX_HOUSE_MODELS = 1000;
/** How often (ms) a loaded house's newest version is looked up again. */
export const DEFAULT_RECHECK_MS = 30_000;

interface Entry {
  model: WattModel;
  file: string;
  checkedAt: number;
}

export class HouseModelRegistry {
  private readonly entries = new Map<string, Entry>();
  private loads = 0;

  constructor(
    private readonly home: string,
    private readonly maxModels = DEFAULT_MAX_HOUSE_MODELS,
    private readonly recheckMs = DEFAULT_RECHECK_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * The model of a house (loaded on first use, most recently used kept).
   * @throws UnknownHouseError (a UsageError) when the house has no model; UsageError for an unreadable model.
   */
  get(houseId: string): WattModel {
    const t = this.now();
    let e = this.entries.get(houseId);
    if (e && t - e.checkedAt >= this.recheckMs) {
      // a newer version trained since? (one directory listing per house per recheck period)
      const newest = newestHouseModelFile(this.home, houseId);
      if (newest !== e.file) e = undefined;
      else e.checkedAt = t;
    }
    if (!e) {
      const r = resolveHouseModel(this.home, houseId);
      this.loads++;
      e = { model: r.model, file: r.file, checkedAt: t };
    }
    this.entries.delete(houseId);
    this.entries.set(houseId, e);
    if (this.entries.size > this.maxModels) this.entries.delete(this.entries.keys().next().value!);
    return e.model;
  }

  /** Models loaded now, and loads since start (a load per miss or newer version). */
  stats(): { size: number; loads: number } {
    return { size: this.entries.size, loads: this.loads };
  }
}

/** Whether an error means "this house has no model" (404) rather than a bad request. */
export function isUnknownHouse(err: unknown): boolean {
  return err instanceof UnknownHouseError;
}
