import os from 'node:os';
import { createHash } from 'node:crypto';
import type Database from 'better-sqlite3';

/**
 * The audit trail of `watt purge`: an append-only `audit_log` table in the catalog (migration 2 in
 * src/catalog/catalog.ts) where every deletion and erasure is recorded, chained by hashes so that
 * an edited, inserted, removed or reordered entry is detected (GDPR Art. 5(2) accountability,
 * Art. 17 erasure, Art. 30 records).
 *
 * Entry `n` stores `hash = sha256(prev_hash + "\n" + JSON.stringify([seq, at, action, lake, key,
 * count, run_id, actor, detail]))` (hex) with `prev_hash` the hash of entry `n - 1`, or 64 zeros
 * for the first entry. The trail holds no personal data: keys, counts, run ids, the OS user, and at
 * most a 12-character prefix of a subject's pseudonym.
 */

/** prev_hash of the first entry. */
export const GENESIS_HASH = '0'.repeat(64);

/** Characters of a pseudonym shown in output, logs and the trail (never the raw identifier). */
export const PSEUDONYM_PREFIX_CHARS = 12;

export type TrailAction =
  | 'retention.delete' // one lake object deleted by age (key, count 1), written before the delete call
  | 'retention.delete_failed' // the store refused that delete (key, message): the object is still there
  | 'retention.intent' // about to rewrite a run's manifest without its expired objects, then delete them (key: the manifest; detail: keys)
  | 'retention.rewrite' // that manifest rewritten and its expired objects deleted (detail.intent closes the intent)
  | 'retention.abandon' // an interrupted intent found not applied (the manifest still names the objects): the next plan redoes it
  | 'retention.delete_logs' // run logs deleted by age (count)
  | 'retention.delete_catalog_rows' // catalog rows deleted by age (count)
  | 'retention.delete_models' // model versions deleted by age (count)
  | 'retention.store_versions' // what the store keeps of what a purge or erasure deleted or rewrote, and what watt did (count: old versions deleted; detail: setting, action)
  | 'erasure.request' // an erasure of one data subject started (pseudonym prefix)
  | 'erasure.intent' // about to rewrite or delete one object (key, new sha256): the erasure journal
  | 'erasure.rewrite' // object rewritten without the subject's rows, manifest updated (key, rows removed)
  | 'erasure.delete' // object held only the subject's rows: deleted, manifest updated
  | 'erasure.abandon' // an interrupted intent found not applied: the scan does it again
  | 'erasure.complete' // the erasure finished (objects, rows removed)
  | 'erasure.vacuum' // an object an erasure replaced (no manifest names it, not in the latest table version) deleted after the erasure grace, written before the delete
  | 'recovery.delete' // an object of an unfinished run (no manifest names it) deleted, written before the delete (key, reason)
  | 'recovery.delete_failed' // the store refused that delete: the object is still there
  | 'recovery.delete_spool' // stale spool files of dead runs removed from WATT_HOME/tmp (count)
  | 'recovery.restore_manifest' // a committed run's lost manifest written back from the catalog's copy after re-hashing its objects (key: the manifest)
  | 'key.rotation'; // `ingest --new-key` landed with another key than the lake's (detail: from_key_id, to_key_id)

export interface TrailInput {
  action: TrailAction;
  /** URI of the lake folder, e.g. `s3://watt-lake/watt-about-it/raw`. */
  lake: string;
  /** The key concerned, or null for a count. */
  key?: string | null;
  /** Objects, files or rows concerned. */
  count: number;
  run_id: string;
  /** Extra facts (bytes, sha256, intent seq...): JSON, no personal data. */
  detail?: Record<string, unknown>;
}

/** One row of `audit_log`. */
export interface TrailEntry {
  seq: number;
  /** ISO 8601 UTC. */
  at: string;
  action: string;
  lake: string;
  key: string | null;
  count: number;
  run_id: string;
  /** OS user who ran watt. */
  actor: string;
  /** JSON text, or null. */
  detail: string | null;
  prev_hash: string;
  hash: string;
}

/** Outcome of {@link verifyTrail}. */
export interface TrailVerification {
  ok: boolean;
  /** Entries read. */
  entries: number;
  /** Hash of the last entry (the head), or the genesis hash for an empty trail. */
  head: string;
  /** The first broken entry, when not ok. */
  broken?: { seq: number; reason: string };
}

/** The OS user running watt (the trail's actor). */
export function currentActor(): string {
  try {
    return os.userInfo().username || 'unknown';
  } catch {
    return process.env.USER || process.env.USERNAME || 'unknown';
  }
}

/** Hash of one entry given its predecessor's hash (hex sha256). */
export function entryHash(prevHash: string, e: Omit<TrailEntry, 'hash' | 'prev_hash'>): string {
  const body = JSON.stringify([e.seq, e.at, e.action, e.lake, e.key, e.count, e.run_id, e.actor, e.detail]);
  return createHash('sha256').update(prevHash).update('\n').update(body).digest('hex');
}

/**
 * Append entries to the trail in one IMMEDIATE transaction (serialised against other writers of
 * the same catalog), chaining each to the last one.
 * @returns the entries written (with seq and hash).
 * @throws better-sqlite3 errors if the catalog is not writable (callers wrap them).
 */
export function appendTrail(db: Database.Database, inputs: readonly TrailInput[], actor = currentActor(), now: () => Date = () => new Date()): TrailEntry[] {
  if (inputs.length === 0) return [];
  const insert = db.prepare(
    `INSERT INTO audit_log (seq, at, action, lake, key, count, run_id, actor, detail, prev_hash, hash)
     VALUES (@seq, @at, @action, @lake, @key, @count, @run_id, @actor, @detail, @prev_hash, @hash)`,
  );
  const write = db.transaction(() => {
    const last = db.prepare('SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1').get() as { seq: number; hash: string } | undefined;
    const highest = (db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'audit_log'").get() as { seq: number } | undefined)?.seq ?? 0;
    let seq = Math.max(last?.seq ?? 0, highest);
    let prev = last?.hash ?? GENESIS_HASH;
    const out: TrailEntry[] = [];
    for (const input of inputs) {
      seq += 1;
      const base = {
        seq,
        at: now().toISOString(),
        action: input.action,
        lake: input.lake,
        key: input.key ?? null,
        count: input.count,
        run_id: input.run_id,
        actor,
        detail: input.detail === undefined ? null : JSON.stringify(input.detail),
      };
      const entry: TrailEntry = { ...base, prev_hash: prev, hash: entryHash(prev, base) };
      insert.run(entry);
      out.push(entry);
      prev = entry.hash;
    }
    return out;
  });
  return write.immediate();
}

/**
 * Check the whole chain: sequence numbers contiguous from 1, each `prev_hash` equal to the previous
 * entry's hash, each hash recomputed, and no entry removed after the last one (sqlite_sequence).
 * Streams the table (memory flat). A catalog without an audit_log table has an empty, valid trail.
 * @returns the verification, naming the first broken entry.
 */
export function verifyTrail(db: Database.Database): TrailVerification {
  const table = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'audit_log'").get();
  if (!table) return { ok: true, entries: 0, head: GENESIS_HASH };
  let expectedSeq = 1;
  let prev = GENESIS_HASH;
  let entries = 0;
  const fail = (seq: number, reason: string): TrailVerification => ({ ok: false, entries, head: prev, broken: { seq, reason } });
  for (const row of db.prepare('SELECT * FROM audit_log ORDER BY seq').iterate() as IterableIterator<TrailEntry>) {
    entries++;
    if (row.seq !== expectedSeq) {
      return fail(
        expectedSeq,
        row.seq > expectedSeq
          ? `entr${row.seq - expectedSeq > 1 ? `ies ${expectedSeq} to ${row.seq - 1} are` : `y ${expectedSeq} is`} missing: removed from the trail`
          : `entry ${row.seq} is out of order`,
      );
    }
    if (row.prev_hash !== prev) {
      return fail(row.seq, `prev_hash does not match the hash of entry ${row.seq - 1}: an entry before it was changed or replaced`);
    }
    const { hash, prev_hash: _p, ...fields } = row;
    if (entryHash(prev, fields) !== hash) return fail(row.seq, 'hash mismatch: the entry was edited after it was written');
    prev = hash;
    expectedSeq++;
  }
  const highest = (db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'audit_log'").get() as { seq: number } | undefined)?.seq ?? 0;
  if (highest > expectedSeq - 1) {
    return fail(expectedSeq, `the trail ends at entry ${expectedSeq - 1} but ${highest} entries were written: the last entries were removed`);
  }
  return { ok: true, entries, head: prev };
}

/** Intent actions and the actions that close them (`detail.intent` = the intent's seq). */
const CLOSERS = {
  'erasure.intent': ['erasure.rewrite', 'erasure.delete', 'erasure.abandon'],
  'retention.intent': ['retention.rewrite', 'retention.abandon'],
} as const;

/** The entries of an intent action (default `erasure.intent`) on `lake` that no later entry closes (detail.intent = their seq). */
export function openIntents(db: Database.Database, lake: string, action: keyof typeof CLOSERS = 'erasure.intent'): (TrailEntry & { parsed: Record<string, unknown> })[] {
  const closers = CLOSERS[action];
  const rows = db
    .prepare(
      `SELECT * FROM audit_log WHERE action = @action AND lake = @lake AND seq NOT IN (
         SELECT json_extract(detail, '$.intent') FROM audit_log
         WHERE action IN (${closers.map((_, i) => `@c${i}`).join(', ')}) AND lake = @lake AND detail IS NOT NULL)
       ORDER BY seq`,
    )
    .all({ lake, action, ...Object.fromEntries(closers.map((c, i) => [`c${i}`, c])) }) as TrailEntry[];
  return rows.map((r) => ({ ...r, parsed: JSON.parse(r.detail ?? '{}') as Record<string, unknown> }));
}

/** Hash of the last entry, or the genesis hash. */
export function trailHead(db: Database.Database): string {
  const row = db.prepare('SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1').get() as { hash: string } | undefined;
  return row?.hash ?? GENESIS_HASH;
}
