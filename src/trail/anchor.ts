import os from 'node:os';
import { createHash } from 'node:crypto';
import type Database from 'better-sqlite3';
import { readObject } from '../store/index.js';
import type { Lake } from '../store/types.js';
import type { Logger } from '../log.js';
import { GENESIS_HASH, verifyTrail } from './trail.js';

/**
 * Trail anchors: after each purge the head of the audit trail (sequence number and hash) is
 * written into the lake, `<prefix>/_audit/<run_id>.json`, and into the run log. The trail lives in
 * the catalog; whoever can write the catalog can drop the triggers, rewrite every entry and
 * recompute every hash, and the chain would still verify. An anchor kept outside the database (in
 * the lake, where the data is) makes such a rewrite visible: the entry at the anchored sequence
 * number no longer has the anchored hash. As in certificate transparency's signed tree heads, the
 * head is published where the writer of the log cannot silently change it.
 *
 * An anchor names its trail by `trail_id`, the hash of the trail's first entry, so that a lake
 * shared by several machines (each with its own catalog) holds anchors of several trails: anchors
 * of another trail are counted as foreign, unless they were written from this host and this
 * WATT_HOME (then this catalog's trail was rewritten from its first entry, or replaced).
 */
export interface TrailAnchor {
  anchor_version: 1;
  /** The purge run that wrote it. */
  run_id: string;
  /** ISO 8601 UTC. */
  at: string;
  /** URI of the lake folder purged. */
  lake: string;
  trail: { trail_id: string; seq: number; hash: string };
  /** Where the catalog is (host name, WATT_HOME path): no secret, no personal data. */
  catalog: { host: string; home: string };
}

/** Outcome of {@link checkAnchors}. */
export interface AnchorCheck {
  /** Anchors found under `<prefix>/_audit/`. */
  anchors: number;
  /** Anchors of this catalog's trail, checked against it. */
  checked: number;
  /** Anchors of other catalogs' trails (other machines). */
  foreign: number;
  /** Anchors this catalog's trail no longer matches, with why. */
  broken: { key: string; reason: string }[];
}

/** Key of the anchor a purge run writes. */
export function anchorKey(prefix: string, runId: string): string {
  return `${prefix}/_audit/${runId}.json`;
}

/** The id of a trail: hash of its first entry, or the genesis hash when empty. */
export function trailId(db: Database.Database): string {
  const row = db.prepare('SELECT hash FROM audit_log ORDER BY seq LIMIT 1').get() as { hash: string } | undefined;
  return row?.hash ?? GENESIS_HASH;
}

/**
 * Write the trail head into the lake (`<prefix>/_audit/<run_id>.json`) and the run log.
 * @returns the anchor written, or undefined for an empty trail.
 * @throws StorageError when the lake refuses the write.
 */
export async function writeAnchor(db: Database.Database, lake: Lake, prefix: string, runId: string, destination: string, home: string, logger: Logger): Promise<TrailAnchor | undefined> {
  const head = db.prepare('SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1').get() as { seq: number; hash: string } | undefined;
  if (!head) return undefined;
  const anchor: TrailAnchor = {
    anchor_version: 1,
    run_id: runId,
    at: new Date().toISOString(),
    lake: destination,
    trail: { trail_id: trailId(db), seq: head.seq, hash: head.hash },
    catalog: { host: os.hostname(), home },
  };
  const body = JSON.stringify(anchor, null, 2) + '\n';
  const key = anchorKey(prefix, runId);
  await lake.put(key, body, { sha256: createHash('sha256').update(body).digest('hex'), contentType: 'application/json' });
  logger.info(`trail anchor ${lake.uri(key)}: entry ${head.seq}, hash ${head.hash}`, { step: 'anchor', key, trail_seq: head.seq, trail_hash: head.hash, trail_id: anchor.trail.trail_id });
  return anchor;
}

/**
 * Check the catalog's trail against every anchor under `<prefix>/_audit/`: for each anchor of this
 * trail, the entry at its sequence number must exist and carry its hash; an anchor written from
 * this host and WATT_HOME whose trail id is not this trail's means the trail was rewritten from its
 * first entry (or the catalog replaced). The hash chain itself is checked by {@link verifyTrail}.
 * @throws StorageError when the lake cannot be listed or read.
 */
export async function checkAnchors(db: Database.Database, lake: Lake, prefix: string, home: string, signal?: AbortSignal): Promise<AnchorCheck> {
  const result: AnchorCheck = { anchors: 0, checked: 0, foreign: 0, broken: [] };
  const id = trailId(db);
  const at = db.prepare('SELECT hash FROM audit_log WHERE seq = ?');
  for await (const o of lake.list(`${prefix}/_audit/`)) {
    if (signal?.aborted) break;
    if (!o.key.endsWith('.json')) continue;
    result.anchors++;
    let anchor: TrailAnchor;
    try {
      anchor = JSON.parse((await readObject(lake, o.key)).toString('utf8')) as TrailAnchor;
      if (typeof anchor?.trail?.seq !== 'number' || typeof anchor.trail.hash !== 'string') throw new Error('no trail head');
    } catch (err) {
      result.broken.push({ key: o.key, reason: `unreadable anchor: ${(err as Error).message.slice(0, 80)}` });
      continue;
    }
    if (anchor.trail.trail_id !== id) {
      if (anchor.catalog?.host === os.hostname() && anchor.catalog?.home === home) {
        result.broken.push({ key: o.key, reason: `written by this catalog (entry ${anchor.trail.seq}) but the trail's first entry changed: the trail was rewritten or replaced` });
      } else result.foreign++;
      continue;
    }
    result.checked++;
    const row = at.get(anchor.trail.seq) as { hash: string } | undefined;
    if (!row) result.broken.push({ key: o.key, reason: `anchored entry ${anchor.trail.seq} is missing from the trail` });
    else if (row.hash !== anchor.trail.hash) result.broken.push({ key: o.key, reason: `entry ${anchor.trail.seq} no longer has the anchored hash: the trail was rewritten` });
  }
  return result;
}

/** Chain and anchors together, for `purge --verify-trail`, `watt verify` and the audit rule. */
export interface TrailAndAnchors {
  ok: boolean;
  entries: number;
  head: string;
  /** First problem, one line. */
  problem?: string;
  broken?: { seq: number; reason: string };
  anchors: AnchorCheck;
}

/** Verify the hash chain, then the anchors of one lake folder. */
export async function verifyTrailAndAnchors(db: Database.Database, lake: Lake, prefix: string, home: string, signal?: AbortSignal): Promise<TrailAndAnchors> {
  const chain = verifyTrail(db);
  const anchors = await checkAnchors(db, lake, prefix, home, signal);
  const problem = !chain.ok
    ? `audit trail broken at entry ${chain.broken!.seq}: ${chain.broken!.reason}`
    : anchors.broken.length
      ? `audit trail does not match its anchor ${anchors.broken[0]!.key}: ${anchors.broken[0]!.reason}`
      : undefined;
  return { ok: !problem, entries: chain.entries, head: chain.head, problem, broken: chain.broken, anchors };
}
