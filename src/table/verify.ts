import path from 'node:path';
import { existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import Database from 'better-sqlite3';
import type { LakeConfig } from '../config.js';
import { Catalog, catalogUrl } from '../catalog/catalog.js';
import { lockPrefix } from '../table/pg-claim.js';
import { InterruptedError, LockError, StorageError, UsageError } from '../errors.js';
import type { Logger } from '../log.js';
import { acquireLock, liveLocks, lockNames, type Lock } from '../lock.js';
import { verifyTrailAndAnchors } from '../trail/anchor.js';
import { destinationUri, openLake, readObject, type Lake } from '../store/index.js';
import { committedInTableLog, listLake, orphanVerdict, unmanifested, DEFAULT_GRACE_MS } from './integrity.js';
import { recoverLake } from './recover.js';
import { manifestObjects, type Manifest } from './manifest.js';
import { runIdOf } from './layout.js';
import { erasureGraceMs } from './vacuum.js';
import { appendTrail } from '../trail/trail.js';
import { rebuildManifest } from './rebuild.js';
import { trailId } from '../trail/anchor.js';
import { duplicateLandings, hashAndCount, unanchoredPurges, type ManifestIdentity } from './verify-checks.js';

/** Kinds of finding of `watt verify`. */
export type FindingKind =
  | 'orphan' // a data object or quarantine file no manifest names, from a dead or ended run (garbage)
  | 'pending' // the same, but its run may still be writing (live run, or within the grace period): not a failure
  | 'manifest_invalid' // a manifest that is not valid JSON or has no run
  | 'object_missing' // a manifest names an object the lake does not hold
  | 'sha256_mismatch' // the object's content no longer hashes to the manifest's sha256 (or its size differs)
  | 'schema_missing' // a manifest's `schema.key` (`_schemas/<sha256>.json`) is not in the lake
  | 'trail_broken' // the audit trail's chain or one of the lake's anchors does not verify
  | 'duplicate_landing' // two or more manifests land the same source (sha256) with the same key id
  | 'rows_mismatch' // an object holds another number of rows than its manifest says, or a manifest's total differs from its objects'
  | 'manifest_missing' // an object of a run the catalog records as committed whose manifest is gone: kept, never repaired by deletion
  | 'anchor_missing'; // purge runs of the trail that no anchor in the lake covers (anchor deleted, or the purge stopped before it)

export interface Finding {
  kind: FindingKind;
  /** The lake key concerned (an anchor key for trail findings). */
  key: string;
  /** One line, no personal data. */
  detail: string;
  /** `--repair` deleted it. */
  repaired?: boolean;
}

/** What `watt verify` found; `ok` is false when any finding other than `pending` is left unrepaired. */
export interface VerifyResult {
  ok: boolean;
  /** URI of the lake folder checked. */
  lake: string;
  manifests: number;
  data_objects: number;
  rejects: number;
  /** Objects re-hashed (sha256, streaming) and their total size in bytes. */
  objects_hashed: number;
  bytes_hashed: number;
  trail:
    | { status: 'ok' | 'broken'; catalog: string; entries: number; head: string; anchors: number; anchors_checked: number; anchors_foreign: number; problem?: string }
    | { status: 'skipped'; reason: string; anchors: number };
  findings: Finding[];
  repair: boolean;
}

export interface VerifyOptions {
  config: LakeConfig;
  /** WATT_HOME: the catalog (for the trail and run states) if any; not created unless repairing. */
  home: string;
  repair?: boolean;
  /** Grace period for unmanifested objects of unknown origin, ms. */
  graceMs?: number;
  /** Erasure grace, ms: objects an erasure replaced are `pending` until it ends (default `WATT_ERASURE_GRACE_MINUTES`, else 10 min). */
  erasureGraceMs?: number;
  logger: Logger;
  runId: string;
  signal?: AbortSignal;
}

/** Objects re-hashed at once. */
const HASH_CONCURRENCY = 4;

/**
 * `watt verify`: check a lake folder against its manifests, the way `git fsck` checks objects
 * against refs. Reads every manifest under `<prefix>/_manifests/` (version 1 or 2); each object it
 * names ({@link manifestObjects}: every partition object of a version 2 manifest) must exist and
 * hash (sha256, streamed) to the manifest's value, and the schema it names (`schema.key`,
 * `_schemas/<sha256>.json`) must exist (`schema_missing`, one finding per schema); every data
 * object (CSV or Parquet) and quarantine file must be named by its run's manifest (the commit
 * rule: an object of a run without a manifest is an orphan or pending; one its run's manifest no
 * longer names, left by an interrupted purge or erasure, is an orphan that `repair` deletes);
 * schemas are shared and content-addressed, never orphans; the catalog's audit trail, when this
 * WATT_HOME has one, must verify and match the lake's anchors (`<prefix>/_audit/`). Needs no
 * catalog: from an empty WATT_HOME the lake is still checked and the trail reported as skipped.
 *
 * With `repair`, takes the lake's purge lock (exit 4 while an ingest or purge runs), then runs
 * {@link recoverLake}: objects of dead or ended runs, and of unknown runs older than the grace
 * period, are deleted with a `recovery.delete` trail entry each. Never deleted: objects of runs the
 * catalog records as committed (succeeded, rejected) whose manifest the trail does not record as
 * deleted (`manifest_missing`): their manifest is rebuilt from the catalog's copy when every object
 * it names re-hashes to it ({@link rebuildManifest}, a `recovery.restore_manifest` trail entry),
 * else they are reported and left alone. Hash and row mismatches, missing objects, duplicate
 * landings and unanchored purges are never "repaired": they are reported.
 *
 * @throws StorageError (3) lake unreachable; LockError (4); InterruptedError (130/143).
 */
export async function verifyLake(options: VerifyOptions): Promise<VerifyResult> {
  const { config, home, logger, signal } = options;
  const destination = destinationUri(config);
  const grace = options.graceMs ?? DEFAULT_GRACE_MS;
  const erasureGrace = options.erasureGraceMs ?? erasureGraceMs();
  const catalogFile = path.join(home, 'catalog.db');
  let lock: Lock | undefined;
  let catalog: Catalog | undefined;
  let lake: Lake | undefined;
  let releasePrefix: (() => void) | undefined;
  const findings: Finding[] = [];
  try {
    if (options.repair) {
      lock = acquireLock(home, lockNames.purge(destination), `a purge or repair of ${destination}`);
      const ingesting = liveLocks(home, (name) => lockNames.isIngestOf(name, destination));
      if (ingesting.length) throw new LockError(`an ingest into ${destination} is running (pid ${ingesting[0]!.pid}): repair refused`, { hint: 'run verify --repair again when the ingest is done' });
    }
    if (options.repair || existsSync(catalogFile) || catalogUrl()) catalog = Catalog.open(home);
    // A shared PostgreSQL catalog: no ingest of another machine commits into the prefix during the repair.
    if (options.repair) releasePrefix = await lockPrefix(catalog, destination, config.prefix, 'exclusive', `verify --repair ${options.runId}`);
    lake = await openLake(config);
    const repaired = new Set<string>();
    if (options.repair) {
      const rec = await recoverLake({ scan: 'always', lake, prefix: config.prefix, destination, home, catalog, logger, runId: options.runId, graceMs: grace, signal });
      if (rec.error) throw rec.error_exit_code === 2 ? new UsageError(`repair refused: ${rec.error}`) : new StorageError(`repair could not finish: ${rec.error}`);
      for (const d of rec.deleted) {
        repaired.add(d.key);
        findings.push({ kind: 'orphan', key: d.key, detail: d.reason, repaired: true });
      }
    }
    const listing = await listLake(lake, config.prefix, signal);
    interrupted(signal);
    const present = new Map([...listing.data, ...listing.rejects].map((o) => [o.key, o]));

    // Manifests: parse, then the objects they name (every object of `manifestObjects`, version 1 or 2).
    const toHash: { key: string; sha256: string; bytes: number; rows?: number; manifest: string }[] = [];
    const identities: ManifestIdentity[] = [];
    const schemas = new Set(listing.schemas.map((o) => o.key));
    /** Keys each readable manifest names, by run_id. */
    const named = new Map<string, Set<string>>();
    /** Keys erasures replaced, with the time of the latest such erasure (ms). */
    const replaced = new Map<string, number>();
    const missingSchemas = new Map<string, { manifests: number; example: string }>();
    // Schemas present and named: hashed once each, however many manifests name them.
    const schemaObjects = new Map(listing.schemas.map((o) => [o.key, o]));
    const schemaChecks = new Map<string, { key: string; sha256: string; bytes: number; manifest: string }>();
    for (const m of listing.manifests.values()) {
      interrupted(signal);
      let manifest: Partial<Manifest>;
      try {
        manifest = JSON.parse((await readObject(lake, m.key)).toString('utf8'));
        if (typeof manifest !== 'object' || manifest === null || typeof manifest.run_id !== 'string') throw new Error('no run_id');
        if (manifest.objects !== undefined && !Array.isArray(manifest.objects)) throw new Error('objects is not a list');
      } catch (err) {
        if (err instanceof StorageError) throw err;
        findings.push({ kind: 'manifest_invalid', key: m.key, detail: `not a watt manifest: ${(err as Error).message.slice(0, 80)}` });
        continue;
      }
      const keys = new Set<string>();
      named.set(runIdOf(m.key) ?? manifest.run_id, keys);
      // Objects an erasure replaced (issue 23): left for readers of older table versions until the vacuum.
      for (const e of (manifest as { erasures?: { key?: unknown; at?: unknown; replaced_by?: unknown }[] }).erasures ?? []) {
        if (typeof e?.key === 'string' && e.replaced_by !== undefined && typeof e.at === 'string') replaced.set(e.key, Math.max(replaced.get(e.key) ?? 0, Date.parse(e.at) || 0));
      }
      // A run that landed no data object (every row rejected) does not count as a landing.
      if (typeof manifest.source?.sha256 === 'string' && manifestObjects(manifest).length > 0) {
        identities.push({ key: m.key, run_id: manifest.run_id, source_sha256: manifest.source.sha256, key_id: typeof manifest.pseudonymisation?.key_id === 'string' ? manifest.pseudonymisation.key_id : null, forced: manifest.forced === true });
      }
      const listedRows = manifestObjects(manifest).reduce((sum, o) => sum + (typeof o?.rows === 'number' ? o.rows : 0), 0);
      if (typeof manifest.rows === 'number' && manifestObjects(manifest).every((o) => typeof o?.rows === 'number') && listedRows !== manifest.rows) {
        findings.push({ kind: 'rows_mismatch', key: m.key, detail: `the manifest says ${manifest.rows} rows, its objects' entries ${listedRows}` });
      }
      for (const obj of manifestObjects(manifest)) {
        if (typeof obj?.key !== 'string') {
          findings.push({ kind: 'manifest_invalid', key: m.key, detail: 'names a data object without a key' });
          continue;
        }
        keys.add(obj.key);
        const o = present.get(obj.key);
        if (!o) findings.push({ kind: 'object_missing', key: obj.key, detail: `named by ${m.key}, not in the lake` });
        else toHash.push({ key: o.key, sha256: obj.sha256, bytes: obj.bytes, rows: typeof obj.rows === 'number' ? obj.rows : undefined, manifest: m.key });
      }
      if (manifest.rejects && typeof manifest.rejects.key === 'string') {
        keys.add(manifest.rejects.key);
        if (!present.has(manifest.rejects.key)) findings.push({ kind: 'object_missing', key: manifest.rejects.key, detail: `quarantine file named by ${m.key}, not in the lake` });
      }
      const schemaKey = manifest.schema?.key;
      const schemaObject = typeof schemaKey === 'string' ? schemaObjects.get(schemaKey) : undefined;
      if (schemaObject && !schemaChecks.has(schemaObject.key)) schemaChecks.set(schemaObject.key, { key: schemaObject.key, sha256: String(manifest.schema?.sha256), bytes: schemaObject.size, manifest: m.key });
      if (typeof schemaKey === 'string' && !schemas.has(schemaKey)) {
        const seen = missingSchemas.get(schemaKey);
        if (seen) seen.manifests++;
        else missingSchemas.set(schemaKey, { manifests: 1, example: m.key });
      }
    }
    // The same source landed twice with one key: every row twice for readers of committed runs.
    for (const d of duplicateLandings(identities)) {
      findings.push({ kind: 'duplicate_landing', key: d.manifests[1]!, detail: `${d.manifests.length} manifests land source ${d.source_sha256.slice(0, 12)}… with key id ${d.key_id ?? '(none)'}: ${d.manifests.join(', ')}` });
    }
    // One finding per missing schema (runs checked against the same schema share it).
    for (const [key, { manifests, example }] of missingSchemas) {
      findings.push({ kind: 'schema_missing', key, detail: `schema named by ${manifests > 1 ? `${manifests} manifests, e.g. ` : ''}${example}, not in the lake` });
    }

    // Re-hash every object a manifest names, by streaming it.
    let bytesHashed = 0;
    for (let i = 0; i < toHash.length; i += HASH_CONCURRENCY) {
      interrupted(signal);
      const batch = toHash.slice(i, i + HASH_CONCURRENCY);
      const hashed = await Promise.all(batch.map(async (t) => hashAndCount(lake!, t.key, signal)));
      batch.forEach((t, j) => {
        const h = hashed[j]!;
        bytesHashed += h.bytes;
        if (h.sha256 !== t.sha256 || (typeof t.bytes === 'number' && h.bytes !== t.bytes)) {
          findings.push({ kind: 'sha256_mismatch', key: t.key, detail: `content differs from ${t.manifest} (sha256 ${h.sha256.slice(0, 12)}…, ${h.bytes} bytes; manifest ${String(t.sha256).slice(0, 12)}…, ${t.bytes} bytes)` });
        }
        if (t.rows !== undefined && h.rows !== undefined && h.rows !== t.rows) {
          findings.push({ kind: 'rows_mismatch', key: t.key, detail: `holds ${h.rows} rows, ${t.manifest} says ${t.rows}` });
        }
      });
    }
    interrupted(signal);

    // Schemas beside the data: small, hashed apart from the data objects' counts.
    for (const t of schemaChecks.values()) {
      const h = await hashObject(lake, t.key, signal);
      if (h.sha256 !== t.sha256) findings.push({ kind: 'sha256_mismatch', key: t.key, detail: `schema content differs from the sha256 in ${t.manifest} (sha256 ${h.sha256.slice(0, 12)}…)` });
    }
    interrupted(signal);

    // Objects no manifest names: of runs without a manifest (unfinished runs)...
    const now = new Date();
    const logged = await committedInTableLog(lake, config.prefix);
    /** Committed runs whose manifest is gone: rebuilt from the catalog's copy with --repair, else reported. */
    const lostManifests = new Map<string, string>();
    for (const o of unmanifested(listing)) {
      if (repaired.has(o.key)) continue;
      const verdict = orphanVerdict(o, catalog, now, grace, logged);
      const run = runIdOf(o.key);
      if (verdict.committed && options.repair && catalog && run) {
        if (!lostManifests.has(run)) {
          const rebuilt = await rebuildManifest({ lake, catalog, prefix: config.prefix, destination, repairRunId: options.runId, logger, signal }, run);
          lostManifests.set(run, rebuilt.restored ? '' : rebuilt.reason);
          findings.push({ kind: 'manifest_missing', key: rebuilt.key, detail: rebuilt.restored ? `run ${run}: ${rebuilt.reason}` : `run ${run} is committed per the catalog; not rebuilt: ${rebuilt.reason}`, repaired: rebuilt.restored });
        }
        if (lostManifests.get(run) === '') continue; // named by the restored manifest
        findings.push({ kind: 'manifest_missing', key: o.key, detail: verdict.reason });
        continue;
      }
      findings.push({ kind: verdict.committed ? 'manifest_missing' : verdict.garbage ? 'orphan' : 'pending', key: o.key, detail: verdict.reason });
    }
    // ...and of runs whose manifest does not name them (a purge or erasure stopped after
    // rewriting the manifest and before deleting the object): garbage under the commit rule.
    for (const o of [...listing.data, ...listing.rejects]) {
      const run = runIdOf(o.key);
      const keys = run ? named.get(run) : undefined;
      if (!keys || keys.has(o.key) || repaired.has(o.key)) continue;
      const erasedAt = replaced.get(o.key);
      if (erasedAt !== undefined && now.getTime() < erasedAt + erasureGrace) {
        findings.push({ kind: 'pending', key: o.key, detail: `replaced by an erasure; left for readers of older table versions until ${new Date(erasedAt + erasureGrace).toISOString()} (erasure grace), then watt vacuum or the next purge deletes it` });
        continue;
      }
      // A copy an erasure wrote whose manifest does not name it yet: that erasure may still be
      // running (on another machine); within the grace period it is left alone.
      if (/\.erasure-\d{8}T\d{6}Z-[a-z0-9]+_/.test(o.key) && now.getTime() - o.lastModified.getTime() < grace) {
        findings.push({ kind: 'pending', key: o.key, detail: `an erasure's copy its manifest does not name yet, written ${Math.round((now.getTime() - o.lastModified.getTime()) / 60_000)} min ago: within the grace period (${Math.round(grace / 60_000)} min), maybe an erasure still running` });
        continue;
      }
      const detail =
        erasedAt !== undefined
          ? `replaced by an erasure, past the erasure grace: watt vacuum, the next purge or verify --repair deletes it`
          : `run ${run}'s manifest does not name it (left by an interrupted purge or erasure)`;
      if (options.repair && catalog) {
        appendTrail(catalog.db, [{ action: 'recovery.delete', lake: destination, key: o.key, count: 1, run_id: options.runId, detail: { reason: detail, bytes: o.size } }]);
        const del = await lake.delete([o.key]);
        if (del.errors.length === 0) {
          catalog.markLakeObjectsDeleted(lake.provider, lake.bucket, [o.key], now.toISOString());
          logger.warn(`removed ${lake.uri(o.key)}: ${detail}`, { step: 'repair', key: o.key });
          findings.push({ kind: 'orphan', key: o.key, detail, repaired: true });
          continue;
        }
        appendTrail(catalog.db, [{ action: 'recovery.delete_failed', lake: destination, key: o.key, count: 0, run_id: options.runId, detail: { message: del.errors[0]!.message.slice(0, 200) } }]);
      }
      findings.push({ kind: 'orphan', key: o.key, detail });
    }

    // The audit trail against the lake's anchors.
    let trail: VerifyResult['trail'];
    if (!catalog) trail = { status: 'skipped', reason: `no catalog at ${catalogFile}: the trail lives in the catalog of the machine that purged`, anchors: listing.anchors.length };
    else {
      const db = catalog.engine === 'postgres' ? catalog.db : new Database(catalogFile, { readonly: true, fileMustExist: true });
      try {
        const t = await verifyTrailAndAnchors(db, lake, config.prefix, home, signal);
        trail = { status: t.ok ? 'ok' : 'broken', catalog: catalog.engine === 'postgres' ? catalog.file : catalogFile, entries: t.entries, head: t.head, anchors: t.anchors.anchors, anchors_checked: t.anchors.checked, anchors_foreign: t.anchors.foreign, problem: t.problem };
        if (!t.ok) findings.push({ kind: 'trail_broken', key: t.anchors.broken[0]?.key ?? catalogFile, detail: t.problem! });
        // Purge runs after the newest anchor of this trail: nothing outside the catalog vouches for them.
        const unanchored = unanchoredPurges(db, destination, await newestAnchoredSeq(db, lake, listing.anchors.map((a) => a.key)));
        if (unanchored) {
          findings.push({
            kind: 'anchor_missing',
            key: `${config.prefix}/_audit/${unanchored.run_ids.at(-1)}.json`,
            detail: `trail entries ${unanchored.first_seq}..${unanchored.last_seq} of purge run${unanchored.run_ids.length > 1 ? 's' : ''} ${unanchored.run_ids.join(', ')} are covered by no anchor in the lake (deleted, or the purge stopped before writing it): the trail after the last anchor cannot be checked`,
          });
        }
      } finally {
        if (db !== catalog.db) db.close();
      }
    }
    interrupted(signal);
    const failing = findings.filter((f) => f.kind !== 'pending' && !f.repaired);
    return {
      ok: failing.length === 0,
      lake: destination,
      manifests: listing.manifests.size,
      data_objects: listing.data.length,
      rejects: listing.rejects.length,
      objects_hashed: toHash.length,
      bytes_hashed: bytesHashed,
      trail,
      findings,
      repair: Boolean(options.repair),
    };
  } finally {
    releasePrefix?.();
    await lake?.close();
    catalog?.close();
    lock?.release();
  }
}

/** The highest trail sequence number held by an anchor of this catalog's trail among `keys` (0: none). */
async function newestAnchoredSeq(db: Database.Database, lake: Lake, keys: string[]): Promise<number> {
  const id = trailId(db);
  let best = 0;
  for (const key of keys) {
    try {
      const a = JSON.parse((await readObject(lake, key)).toString('utf8')) as { trail?: { trail_id?: string; seq?: number } };
      if (a.trail?.trail_id === id && typeof a.trail.seq === 'number' && a.trail.seq > best) best = a.trail.seq;
    } catch (err) {
      if (err instanceof StorageError) throw err; // unreadable anchors are reported by checkAnchors
    }
  }
  return best;
}

function interrupted(signal?: AbortSignal): void {
  if (signal?.aborted) throw new InterruptedError('verify interrupted; nothing was changed by the check itself');
}

async function hashObject(lake: Lake, key: string, signal?: AbortSignal): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  const stream = await lake.get(key);
  try {
    for await (const chunk of stream) {
      if (signal?.aborted) break;
      hash.update(chunk as Buffer);
      bytes += (chunk as Buffer).length;
    }
  } finally {
    stream.destroy();
  }
  return { sha256: hash.digest('hex'), bytes };
}

