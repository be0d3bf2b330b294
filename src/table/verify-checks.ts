import { createHash } from 'node:crypto';
import type Database from 'better-sqlite3';
import type { Lake } from '../store/types.js';

/**
 * Checks `watt verify` makes beyond hashes (issue 21, item 4): duplicate landings of one source,
 * the rows an object really holds against its manifest's count, and the purge runs of the trail
 * that no anchor in the lake covers. Pure readers: they change nothing.
 */

/** One manifest as the duplicate check needs it. */
export interface ManifestIdentity {
  key: string;
  run_id: string;
  source_sha256: string;
  /** Pseudonymisation key id (null for manifests written before key ids). */
  key_id: string | null;
  /** Whether the run was a deliberate `--force` landing (the manifest's `forced`). */
  forced?: boolean;
}

/**
 * Manifests that land the same source (sha256) with the same key id: the second and later ones are
 * a double landing (every row twice for readers of "committed runs"). Grouped, oldest key first.
 * `ingest --force` lands a source again on purpose: its manifest says `forced`, and a group is a
 * finding only when two or more of its landings were not forced. Callers pass only manifests that
 * name data objects (a run whose rows were all rejected landed nothing).
 */
export function duplicateLandings(manifests: readonly ManifestIdentity[]): { source_sha256: string; key_id: string | null; manifests: string[] }[] {
  const groups = new Map<string, ManifestIdentity[]>();
  for (const m of manifests) {
    const id = `${m.source_sha256}\u0000${m.key_id ?? ''}`;
    const g = groups.get(id);
    if (g) g.push(m);
    else groups.set(id, [m]);
  }
  return [...groups.values()]
    // Two landings that were not forced: the same rows twice by accident (a race, a lost catalog).
    .filter((g) => g.filter((m) => !m.forced).length > 1)
    .map((g) => ({ source_sha256: g[0]!.source_sha256, key_id: g[0]!.key_id, manifests: g.map((m) => m.key).sort() }));
}

/** What {@link hashAndCount} read of an object. */
export interface ObjectReading {
  sha256: string;
  bytes: number;
  /**
   * Data rows: CSV records after the header (line breaks outside double quotes, RFC 4180), Parquet
   * `num_rows` of the footer; undefined when the object could not be counted (not CSV nor Parquet,
   * or a Parquet footer that does not parse).
   */
  rows?: number;
}

/** Bytes of an object's tail kept to read a Parquet footer (a watt footer is a few KiB). */
const TAIL_BYTES = 4 * 1024 * 1024;

/**
 * Stream an object once: its sha256, its size, and its rows (CSV records or the Parquet footer's
 * `num_rows`).
 * @throws StorageError (3) from the store.
 */
export async function hashAndCount(lake: Lake, key: string, signal?: AbortSignal): Promise<ObjectReading> {
  const hash = createHash('sha256');
  let bytes = 0;
  const csv = key.endsWith('.csv');
  const parquet = key.endsWith('.parquet');
  let records = 0;
  let inQuotes = false;
  let last = -1;
  let tail: Buffer[] = [];
  let tailBytes = 0;
  const stream = await lake.get(key);
  try {
    for await (const c of stream) {
      if (signal?.aborted) break;
      const chunk = c as Buffer;
      hash.update(chunk);
      bytes += chunk.length;
      if (csv) {
        for (let i = 0; i < chunk.length; i++) {
          const b = chunk[i]!;
          if (b === 0x22) inQuotes = !inQuotes;
          else if (b === 0x0a && !inQuotes) records++;
        }
        if (chunk.length) last = chunk[chunk.length - 1]!;
      } else if (parquet) {
        tail.push(chunk);
        tailBytes += chunk.length;
        while (tail.length > 1 && tailBytes - tail[0]!.length >= TAIL_BYTES) tailBytes -= tail.shift()!.length;
      }
    }
  } finally {
    stream.destroy();
  }
  let rows: number | undefined;
  if (csv) {
    // A last record without a final line break still counts; the header is not a row.
    if (bytes > 0 && last !== 0x0a) records++;
    rows = Math.max(0, records - 1);
  } else if (parquet) rows = await footerRows(Buffer.concat(tail));
  tail = [];
  return { sha256: hash.digest('hex'), bytes, rows };
}

async function footerRows(tail: Buffer): Promise<number | undefined> {
  if (tail.length < 12 || tail.subarray(tail.length - 4).toString('latin1') !== 'PAR1') return undefined;
  try {
    const { parquetMetadata } = await import('hyparquet');
    const ab = tail.buffer.slice(tail.byteOffset, tail.byteOffset + tail.byteLength) as ArrayBuffer;
    return Number(parquetMetadata(ab).num_rows);
  } catch {
    return undefined;
  }
}

/** Trail actions written only by purge runs, each of which ends by writing an anchor. */
const ANCHORED_ACTIONS = ['retention.intent', 'retention.delete', 'retention.rewrite', 'retention.delete_failed', 'retention.abandon', 'erasure.request', 'erasure.intent', 'erasure.rewrite', 'erasure.delete', 'erasure.complete', 'erasure.abandon', 'erasure.vacuum'];

/**
 * Purge runs of this lake, recorded as succeeded in the catalog, whose trail entries lie after the
 * newest anchor of this trail found in the lake: their anchor was deleted, so nothing outside
 * the catalog vouches for those entries: a trail rewritten after the last anchor would go unseen.
 * @param anchoredSeq the highest sequence number an anchor of this trail in the lake holds (0: none)
 * @returns the runs and the entries' range, empty when every purge entry is anchored
 */
export function unanchoredPurges(db: Database.Database, lake: string, anchoredSeq: number): { run_ids: string[]; first_seq: number; last_seq: number } | undefined {
  const marks = ANCHORED_ACTIONS.map(() => '?').join(', ');
  // Only purges the catalog records as succeeded: a succeeded purge always wrote its anchor first
  // (a killed one did not, and is not a sign of tampering).
  const rows = db
    .prepare(`SELECT seq, run_id FROM audit_log WHERE lake = ? AND seq > ? AND action IN (${marks}) AND run_id IN (SELECT run_id FROM runs WHERE status = 'succeeded') ORDER BY seq`)
    .all(lake, anchoredSeq, ...ANCHORED_ACTIONS) as { seq: number; run_id: string }[];
  if (!rows.length) return undefined;
  return { run_ids: [...new Set(rows.map((r) => r.run_id))], first_seq: rows[0]!.seq, last_seq: rows.at(-1)!.seq };
}
