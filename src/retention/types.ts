import type { TrailVerification } from '../trail/trail.js';

/**
 * Results of `watt purge`, rendered by src/commands/purge.ts as text or `--json`.
 * Sizes in bytes, times ISO 8601 UTC, periods in days. No raw personal identifier anywhere.
 */

/** Keys listed in a result at most; past this only their count is given. */
export const MAX_KEYS_LISTED = 1000;

/** What retention removed (or would remove) in one category of the policy (GDPR Art. 5(1)(e)). */
export interface CategoryResult {
  /** Policy id: raw_data, run_logs, catalog_rows, models, transformed_data. */
  id: string;
  /** Retention period applied, in days. */
  days: number;
  /** Items older than this instant (ISO 8601 UTC) go; partitions older than its day (UTC). */
  cutoff: string;
  /** Objects, files or rows deleted (or that would be). */
  items: number;
  /** Bytes freed (0 for catalog rows). */
  bytes: number;
  /** Keys or file names, when there are at most {@link MAX_KEYS_LISTED}. */
  keys?: string[];
  /** Why a category was not applied, e.g. no store for it yet. */
  note?: string;
}

/** `watt purge [--days N]`: retention by age. */
export interface AgePurgeResult {
  mode: 'age';
  run_id: string;
  dry_run: boolean;
  /** URI of the lake folder purged. */
  lake: string;
  /** `days` when --days was given, `policy` when the per-category policy applied. */
  basis: 'days' | 'policy';
  categories: CategoryResult[];
  /** Items deleted across categories. */
  deleted: number;
  bytes_freed: number;
  /** Lake keys deleted (or that would be), when at most {@link MAX_KEYS_LISTED}. */
  keys?: string[];
  key_count: number;
  /**
   * Manifests of runs spanning the cutoff (`--partition-by`) rewritten without their expired
   * objects (or that would be, for a dry run); their `retention` list records the pass.
   */
  manifests_rewritten?: string[];
  /** Hash of the last audit-trail entry after this run (absent for a dry run). */
  trail_head?: string;
  /** The trail head written into the lake after this run (absent for a dry run). */
  trail_anchor?: TrailAnchorRef;
  /** The table log version (`<prefix>/_delta_log/`) that publishes this run (absent: nothing changed; null: not published, see the log). */
  table_version?: number | null;
  /** Old objects replaced by erasures deleted or left for the erasure grace (src/table/vacuum.ts). */
  vacuum?: import('../table/vacuum.js').VacuumResult;
  /** What the store keeps of what this run deleted or rewrote, and what watt did about it (absent: dry run of an older watt). */
  store_versions?: import('./store-versions.js').StoreVersionsRecord;
  log: string | null;
}

/** Where a purge anchored the trail head: `<prefix>/_audit/<run_id>.json`. */
export interface TrailAnchorRef {
  key: string;
  seq: number;
  hash: string;
}

/** One object an erasure changed (or would change). */
export interface ErasedObject {
  key: string;
  kind: 'data' | 'rejects';
  /** Rows of the data subject removed from it. */
  rows_removed: number;
  /** Rows left; 0 means the object was deleted. */
  rows_left: number;
  action: 'rewritten' | 'deleted';
  /**
   * Key of the rewritten copy (data objects: erasure never changes an object in place; the old
   * key leaves the table in this run's version and is vacuumed after the erasure grace).
   */
  new_key?: string;
  /** Rows removed per column that held the subject (internal: summed into the result). */
  by_column?: Record<string, number>;
}

/** `watt purge --subject ID`: erasure of one data subject (GDPR Art. 17). */
export interface ErasureResult {
  mode: 'subject';
  run_id: string;
  dry_run: boolean;
  lake: string;
  /** The first personal column searched (kept for readers of the earlier output), e.g. customer_id. */
  column: string;
  /** Every personal column searched: those the runs' manifests record as pseudonymised, or `--column`. */
  columns?: string[];
  /** Rows removed per column searched (0 included). */
  rows_removed_by_column?: Record<string, number>;
  /** First characters of the subject's pseudonym (never the raw identifier). */
  pseudonym_prefix: string;
  objects_scanned: number;
  objects_rewritten: number;
  objects_deleted: number;
  rows_removed: number;
  /** Interrupted steps of an earlier erasure completed by this run. */
  recovered: number;
  /** Data objects and quarantine files no manifest names (runs still writing): not searched. */
  objects_unfinished?: number;
  objects: ErasedObject[];
  /** The subject's pseudonym under each key id and pseudonym scheme present in the lake (plus the current key). */
  keys?: { key_id: string; pseudonym_scheme: string; pseudonym_prefix: string; manifests: number }[];
  /** Manifests without a key id (written before key ids): erased under the current key. */
  manifests_without_key_id?: number;
  trail_head?: string;
  trail_anchor?: TrailAnchorRef;
  /** The table log version (`<prefix>/_delta_log/`) that publishes this run (absent: nothing changed; null: not published, see the log). */
  table_version?: number | null;
  /** Old objects replaced by erasures (this one or earlier ones) deleted or left for the grace. */
  vacuum?: import('../table/vacuum.js').VacuumResult;
  /** What the store keeps of what this run deleted or rewrote, and what watt did about it (absent: dry run of an older watt). */
  store_versions?: import('./store-versions.js').StoreVersionsRecord;
  log: string | null;
}

/** `watt purge --verify-trail`. */
export interface TrailResult extends TrailVerification {
  mode: 'verify-trail';
  catalog: string;
  /** First problem (chain or anchor), one line. */
  problem?: string;
  /** The lake's anchors checked against the trail. */
  anchors?: import('../trail/anchor.js').AnchorCheck;
  /** A PostgreSQL catalog: the anchors it recorded (`trail_anchors`) for this lake, checked against the trail. */
  catalog_anchors?: { checked: number; broken: { run_id: string; reason: string }[] };
}

export type PurgeResult = AgePurgeResult | ErasureResult | TrailResult;

/** What the core modules of purge share: an open lake, the run, where to log and record. */
export interface PurgeContext {
  lake: import('../store/types.js').Lake;
  /** Validated key prefix (no trailing slash); nothing outside `<prefix>/` is touched. */
  prefix: string;
  /** URI of the lake folder (for messages and the trail), never holding secrets. */
  destination: string;
  runId: string;
  dryRun: boolean;
  /** Absent for a dry run without a catalog: nothing is recorded. */
  catalog?: import('../catalog/catalog.js').Catalog;
  logger: import('../log.js').Logger;
  signal?: AbortSignal;
  /** The run's clock (tests pass a fixed one). */
  now: Date;
  /** What the run does about the store's old versions (src/retention/store-versions.ts); recorded in the manifests it rewrites. */
  storeVersions?: import('./store-versions.js').StoreVersionsRecord;
}
