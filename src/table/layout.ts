import path from 'node:path';
import { UsageError } from '../errors.js';

/**
 * Lake key layout: the one place keys are built and read back.
 *
 * - plain (the seed's): `<prefix>/<YYYY>/<MM>/<DD>/<stem>_<run_id>.<csv|parquet>`
 * - hive:               `<prefix>/year=YYYY/month=M/day=D/<stem>_<run_id>.<csv|parquet>`
 *   (issue 11: hive values without leading zeros, so that readers type them as integers;
 *   keys written before keep `month=03`, and both are read back)
 * - manifest:           `<prefix>/_manifests/<run_id>.json` (written last: a run is complete exactly when it exists)
 * - rejects:            `<prefix>/_rejects/<run_id>.jsonl`
 * - schema:             `<prefix>/_schemas/<sha256>.json` (the schema a run checked its rows against, stored once)
 */
export type Layout = 'plain' | 'hive';
export const LAYOUTS: readonly Layout[] = ['plain', 'hive'];

/** A partition date, `YYYY-MM-DD` (UTC calendar day). */
export type PartitionDate = string;

/**
 * Validate a `YYYY-MM-DD` partition date (a real calendar day).
 * @throws UsageError otherwise.
 */
export function parsePartitionDate(text: string): PartitionDate {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  const d = m ? new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!)) : undefined;
  if (!m || !d || d.getUTCFullYear() !== +m[1]! || d.getUTCMonth() !== +m[2]! - 1 || d.getUTCDate() !== +m[3]!) {
    throw new UsageError(`invalid date "${text.slice(0, 40)}": expected YYYY-MM-DD, a real calendar day`);
  }
  return text;
}

/** Today's UTC date as `YYYY-MM-DD`. */
export function todayUtc(now: Date = new Date()): PartitionDate {
  return now.toISOString().slice(0, 10);
}

/**
 * File stem of a source for its lake key: base name without extension, reduced to
 * `[A-Za-z0-9._-]` so that a source name can never inject `/` or `..` into a key.
 */
export function sourceStem(sourcePath: string): string {
  const base = path.basename(sourcePath).replace(/\.[^.]*$/, '');
  const safe = base.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^\.+/, '').replace(/\.{2,}/g, '.');
  return safe || 'data';
}

/** File extension of each data format. */
export const DATA_EXTENSIONS = { csv: 'csv', parquet: 'parquet' } as const;

/**
 * Key of a data object of a run: one per partition day. `format` picks the extension (default
 * csv). Hive partition values carry no leading zeros (`year=2025/month=3/day=7`) so that
 * DuckDB, Spark or Athena type `month` and `day` as integers.
 */
export function dataKey(prefix: string, layout: Layout, date: PartitionDate, stem: string, runId: string, format: keyof typeof DATA_EXTENSIONS = 'csv'): string {
  const [y, m, d] = date.split('-') as [string, string, string];
  const partition = layout === 'hive' ? `year=${y}/month=${Number(m)}/day=${Number(d)}` : `${y}/${m}/${d}`;
  return `${prefix}/${partition}/${stem}_${runId}.${DATA_EXTENSIONS[format]}`;
}

/**
 * Key of the copy of a data object that an erasure writes without a data subject's rows (issue 23:
 * erasure writes new objects and removes the old ones in one table version, so that readers of
 * an older version never see an object change under them): same folder, same ingest run_id at
 * the end (so {@link runIdOf} still names the run that landed the rows), the erasure's run_id
 * after the stem. An earlier erasure's marker is replaced, not stacked:
 * `<dir>/<stem>_<run>.parquet` -> `<dir>/<stem>.erasure-<erasure run>_<run>.parquet`.
 * @throws UsageError when `key` is not a data key of a run (no run_id before its extension).
 */
export function erasedKey(key: string, erasureRunId: string): string {
  const m = /^(.*\/)([^/]*?)(?:\.erasure-\d{8}T\d{6}Z-[a-z0-9]+)?_(\d{8}T\d{6}Z-[a-z0-9]+)\.(csv|parquet)$/.exec(key);
  if (!m) throw new UsageError(`${key.slice(0, 200)} is not a data object of a run: it cannot be rewritten under a new key`);
  return `${m[1]}${m[2]}.erasure-${erasureRunId}_${m[3]}.${m[4]}`;
}

/** Key of the schema stored beside the data, by the sha256 of its file's bytes. */
export function schemaKey(prefix: string, sha256: string): string {
  return `${prefix}/_schemas/${sha256}.json`;
}

/** True for a key in a data partition with a data extension (csv or parquet), in either layout. */
export function isDataKey(prefix: string, key: string): boolean {
  return /\.(?:csv|parquet)$/.test(key) && partitionDateOf(prefix, key) !== undefined;
}

/** Key of the manifest of a run. */
export function manifestKey(prefix: string, runId: string): string {
  return `${prefix}/_manifests/${runId}.json`;
}

/** Key of the quarantine file (rejected rows) of a run. */
export function rejectsKey(prefix: string, runId: string): string {
  return `${prefix}/_rejects/${runId}.jsonl`;
}

/**
 * The partition date a key carries, in either layout, or undefined (e.g. a manifest).
 * Reads the three path segments right after `prefix/`.
 */
export function partitionDateOf(prefix: string, key: string): PartitionDate | undefined {
  if (!key.startsWith(prefix + '/')) return undefined;
  const parts = key.slice(prefix.length + 1).split('/');
  if (parts.length < 4) return undefined;
  const [a, b, c] = parts as [string, string, string];
  let m: RegExpExecArray | null;
  let ymd: [string, string, string] | undefined;
  if (/^\d{4}$/.test(a) && /^\d{2}$/.test(b) && /^\d{2}$/.test(c)) ymd = [a, b, c];
  else if ((m = /^year=(\d{4})$/.exec(a)) && /^month=\d{1,2}$/.test(b) && /^day=\d{1,2}$/.test(c)) ymd = [m[1]!, b.slice(6).padStart(2, '0'), c.slice(4).padStart(2, '0')];
  if (!ymd) return undefined;
  try {
    return parsePartitionDate(ymd.join('-'));
  } catch {
    return undefined;
  }
}

/** The run_id embedded in a key produced by watt (data, manifest or rejects), or undefined. */
export function runIdOf(key: string): string | undefined {
  const m = /(\d{8}T\d{6}Z-[a-z0-9]+)\.(?:csv|parquet|json|jsonl)$/.exec(key);
  return m?.[1];
}
