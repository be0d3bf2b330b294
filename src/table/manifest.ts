import { createHash } from 'node:crypto';
import { readObject, type Lake } from '../store/index.js';
import type { Layout } from './layout.js';
import type { PseudonymScheme } from '../records/pseudonymise.js';

/** Format of a data object in the lake: canonical CSV (RFC 4180, UTF-8) or Apache Parquet. */
export type DataFormat = 'csv' | 'parquet';
export const DATA_FORMATS: readonly DataFormat[] = ['csv', 'parquet'];

/** One data object of a run: one partition (a UTC day) of its valid rows. */
export interface ManifestObject {
  key: string;
  uri: string;
  /** Hex sha256 of the object's bytes. */
  sha256: string;
  bytes: number;
  rows: number;
  /** The partition the object belongs to: the UTC day `YYYY-MM-DD` in its key. */
  partition_date: string;
  format: DataFormat;
  /** Parquet objects: min, max and null count of the timestamp columns (table/object-stats.ts), published in the table log. */
  stats?: import('./object-stats.js').ObjectStats;
}

/**
 * The manifest of a run, written last under `<prefix>/_manifests/<run_id>.json`: a run is
 * complete exactly when its manifest exists (the commit rule, ARCHITECTURE.md "Lakes").
 *
 * Version 2 (issue 11) lists every data object of the run in `objects` (one per partition day),
 * names the format, the partition column and the schema stored beside the data. Version 1
 * manifests (one `object`, CSV, ingest-date partition) are still read: use
 * {@link manifestObjects} rather than either field.
 */
export interface Manifest {
  manifest_version: 1 | 2;
  run_id: string;
  /** The source as landed: `name` is the file name with personal identifiers redacted (README "File names"). */
  source: { name: string; sha256: string; bytes: number };
  /** Version 1 only: the single data object (or null when no row was valid). */
  object?: (Omit<ManifestObject, 'partition_date' | 'format'> & Partial<Pick<ManifestObject, 'partition_date' | 'format'>>) | null;
  /** Version 2: the data objects, sorted by key (empty when no row was valid). */
  objects?: ManifestObject[];
  /** Version 2: format of every data object. */
  format?: DataFormat;
  rejects: { key: string; uri: string; rows: number } | null;
  rows: number;
  rejected: number;
  /**
   * The schema the rows were checked against. `key`: where it is stored beside the data
   * (`<prefix>/_schemas/<sha256>.json`, version 2); `primary_key`: its `x-primary-key` columns;
   * `not_personal`: columns the schema declares not personal on purpose (`"x-personal-data": false`, its `x-reason`);
   * `extra_columns`: the policy applied to columns the schema does not declare, and the columns
   * kept (`keep`) or dropped (`drop`).
   */
  schema: { id: string; sha256: string; key?: string; primary_key?: string[]; extra_columns?: { policy: ExtraColumnsPolicy; columns: string[] }; not_personal?: { column: string; reason: string }[] };
  /**
   * `key_id`: {@link keyIdOf} of the key the pseudonyms were made with (absent in manifests before key ids);
   * `pseudonym_scheme`: how they are spelled (records/pseudonymise.ts PseudonymScheme; absent in
   * manifests before schemes: `hmac-sha256`, 64 hex characters).
   */
  pseudonymisation: { algorithm: 'HMAC-SHA256'; columns: string[]; key_id?: string; pseudonym_scheme?: PseudonymScheme };
  /** `--force`: this run landed a source already landed, on purpose (`watt verify` does not count it as a duplicate landing). */
  forced?: boolean;
  /**
   * How the data objects are partitioned. `by`: the date-time column whose UTC day names each
   * object's partition (version 2; absent or null: the ingest date `date`, the same for all).
   */
  partition: { date?: string; layout: Layout; by?: string | null };
  started_at: string;
  finished_at: string;
  watt_version: string;
}

/** What to do with a column the schema does not declare: land it as text (warn), leave it out, or fail the run. */
export type ExtraColumnsPolicy = 'keep' | 'drop' | 'reject';
export const EXTRA_COLUMNS_POLICIES: readonly ExtraColumnsPolicy[] = ['keep', 'drop', 'reject'];

/**
 * The data objects a manifest names, whatever its version: version 2's `objects`, or version
 * 1's single `object` (CSV, partition date of the run). Tolerates partial JSON (never throws).
 */
export function manifestObjects(manifest: Partial<Manifest>): ManifestObject[] {
  if (Array.isArray(manifest.objects)) return manifest.objects;
  const o = manifest.object;
  if (!o || typeof o.key !== 'string') return [];
  return [{ ...o, partition_date: o.partition_date ?? manifest.partition?.date ?? '', format: o.format ?? 'csv' }];
}

/** A manifest as written: its key, URI, sha256 and size in bytes. */
export interface WrittenManifest {
  key: string;
  uri: string;
  sha256: string;
  bytes: number;
  /** The text written (kept by the catalog so that a lost manifest can be rebuilt). */
  body: string;
}

/**
 * Write the manifest (pretty JSON, one trailing newline) under `key`, its sha256 in the object
 * metadata. Called last: once it exists the run is complete.
 * @throws StorageError (3) from the lake.
 */
export async function writeManifest(lake: Lake, key: string, manifest: Manifest): Promise<WrittenManifest> {
  const body = JSON.stringify(manifest, null, 2) + '\n';
  const sha256 = createHash('sha256').update(body).digest('hex');
  await lake.put(key, body, { sha256, contentType: 'application/json' });
  return { key, uri: lake.uri(key), sha256, bytes: Buffer.byteLength(body), body };
}

/** Read and parse a manifest. @throws StorageError from the lake; SyntaxError/Error for bad JSON. */
export async function readManifestJson(lake: Lake, key: string): Promise<Partial<Manifest> & Record<string, unknown>> {
  const m = JSON.parse((await readObject(lake, key)).toString('utf8')) as Partial<Manifest> & Record<string, unknown>;
  if (typeof m !== 'object' || m === null) throw new Error('not a JSON object');
  return m;
}
