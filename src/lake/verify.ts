import path from 'node:path';
import { existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import Database from 'better-sqlite3';
import type { LakeConfig } from '../config.js';
import { Catalog } from '../catalog/catalog.js';
import { InterruptedError, LockError, StorageError, UsageError } from '../errors.js';
import type { Logger } from '../log.js';
import { acquireLock, liveLocks, lockNames, type Lock } from '../lock.js';
import { verifyTrailAndAnchors } from '../retention/anchor.js';
import { destinationUri, openLake, type Lake } from './index.js';
import { listLake, orphanVerdict, unmanifested, DEFAULT_GRACE_MS } from './integrity.js';
import { recoverLake } from './recover.js';

/** Kinds of finding of `watt verify`. */
export type FindingKind =
  | 'orphan' // a data object or quarantine file no manifest names, from a dead or ended run (garbage)
  | 'pending' // the same, but its run may still be writing (live run, or within the grace period): not a failure
  | 'manifest_invalid' // a manifest that is not valid JSON or has no run
  | 'object_missing' // a manifest names an object the lake does not hold
  | 'sha256_mismatch' // the object's content no longer hashes to the manifest's sha256 (or its size differs)
  | 'trail_broken'; // the audit trail's chain or one of the lake's anchors does not verify

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
  logger: Logger;
  runId: string;
  signal?: AbortSignal;
}

/** Objects re-hashed at once. */
const HASH_CONCURRENCY = 4;

/**
 * `watt verify`: check a lake folder against its manifests, the way `git fsck` checks objects
 * against refs. Reads every manifest under `<prefix>/_manifests/`; each object a manifest names
 * must exist and hash (sha256, streamed) to the manifest's value; every data object and quarantine
 * file must be named by a manifest (the commit rule); the catalog's audit trail, when this
 * WATT_HOME has one, must verify and match the lake's anchors (`<prefix>/_audit/`). Needs no
 * catalog: from an empty WATT_HOME the lake is still checked and the trail reported as skipped.
 *
 * With `repair`, takes the lake's purge lock (exit 4 while an ingest or purge runs), then runs
 * {@link recoverLake}: objects of dead or ended runs, and of unknown runs older than the grace
 * period, are deleted with a `recovery.delete` trail entry each. Hash mismatches and missing
 * objects are never "repaired": they are reported.
 *
 * @throws StorageError (3) lake unreachable; LockError (4); InterruptedError (130/143).
 */
export async function verifyLake(options: VerifyOptions): Promise<VerifyResult> {
  const { config, home, logger, signal } = options;
  const destination = destinationUri(config);
  const grace = options.graceMs ?? DEFAULT_GRACE_MS;
  const catalogFile = path.join(home, 'catalog.db');
  let lock: Lock | undefined;
  let catalog: Catalog | undefined;
  let lake: Lake | undefined;
  const findings: Finding[] = [];
  try {
    if (options.repair) {
      lock = acquireLock(home, lockNames.purge(destination), `a purge or repair of ${destination}`);
      const ingesting = liveLocks(home, (name) => lockNames.isIngestOf(name, destination));
      if (ingesting.length) throw new LockError(`an ingest into ${destination} is running (pid ${ingesting[0]!.pid}): repair refused`, { hint: 'run verify --repair again when the ingest is done' });
    }
    if (options.repair || existsSync(catalogFile)) catalog = Catalog.open(home);
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

    // Manifests: parse, then the objects they name.
    const toHash: { key: string; sha256: string; bytes: number; manifest: string }[] = [];
    const schemasSeen = new Set<string>();
    const schemaChecks: typeof toHash = [];
    const others = new Map(listing.other.map((o) => [o.key, o]));
    for (const m of listing.manifests.values()) {
      interrupted(signal);
      let manifest: { run_id?: unknown; object?: { key: string; sha256: string; bytes: number } | null; rejects?: { key: string } | null };
      try {
        manifest = JSON.parse((await readAll(await lake.get(m.key))).toString('utf8'));
        if (typeof manifest !== 'object' || manifest === null || typeof manifest.run_id !== 'string') throw new Error('no run_id');
      } catch (err) {
        if (err instanceof StorageError) throw err;
        findings.push({ kind: 'manifest_invalid', key: m.key, detail: `not a watt manifest: ${(err as Error).message.slice(0, 80)}` });
        continue;
      }
      if (manifest.object) {
        const o = present.get(manifest.object.key);
        if (!o) findings.push({ kind: 'object_missing', key: manifest.object.key, detail: `named by ${m.key}, not in the lake` });
        else toHash.push({ key: o.key, sha256: manifest.object.sha256, bytes: manifest.object.bytes, manifest: m.key });
      }
      if (manifest.rejects && !present.has(manifest.rejects.key)) {
        findings.push({ kind: 'object_missing', key: manifest.rejects.key, detail: `quarantine file named by ${m.key}, not in the lake` });
      }
      // The schema stored beside the data (issue 11): present, and hashed once however many manifests name it.
      const schemaRef = (manifest as { schema?: { key?: unknown; sha256?: unknown } }).schema;
      if (schemaRef && typeof schemaRef.key === 'string' && !schemasSeen.has(schemaRef.key)) {
        schemasSeen.add(schemaRef.key);
        const o = others.get(schemaRef.key);
        if (!o) findings.push({ kind: 'object_missing', key: schemaRef.key, detail: `schema named by ${m.key}, not in the lake` });
        else schemaChecks.push({ key: o.key, sha256: String(schemaRef.sha256), bytes: o.size, manifest: m.key });
      }
    }

    // Re-hash every object a manifest names, by streaming it.
    let bytesHashed = 0;
    for (let i = 0; i < toHash.length; i += HASH_CONCURRENCY) {
      interrupted(signal);
      const batch = toHash.slice(i, i + HASH_CONCURRENCY);
      const hashed = await Promise.all(batch.map(async (t) => hashObject(lake!, t.key, signal)));
      batch.forEach((t, j) => {
        const h = hashed[j]!;
        bytesHashed += h.bytes;
        if (h.sha256 !== t.sha256 || (typeof t.bytes === 'number' && h.bytes !== t.bytes)) {
          findings.push({ kind: 'sha256_mismatch', key: t.key, detail: `content differs from ${t.manifest} (sha256 ${h.sha256.slice(0, 12)}…, ${h.bytes} bytes; manifest ${String(t.sha256).slice(0, 12)}…, ${t.bytes} bytes)` });
        }
      });
    }
    interrupted(signal);

    // Schemas beside the data: small, hashed apart from the data objects' counts.
    for (const t of schemaChecks) {
      const h = await hashObject(lake, t.key, signal);
      if (h.sha256 !== t.sha256) findings.push({ kind: 'sha256_mismatch', key: t.key, detail: `schema content differs from the sha256 in ${t.manifest} (sha256 ${h.sha256.slice(0, 12)}…)` });
    }
    interrupted(signal);

    // Objects no manifest names.
    const now = new Date();
    for (const o of unmanifested(listing)) {
      if (repaired.has(o.key)) continue;
      const verdict = orphanVerdict(o, catalog, now, grace);
      findings.push({ kind: verdict.garbage ? 'orphan' : 'pending', key: o.key, detail: verdict.reason });
    }

    // The audit trail against the lake's anchors.
    let trail: VerifyResult['trail'];
    if (!catalog) trail = { status: 'skipped', reason: `no catalog at ${catalogFile}: the trail lives in the catalog of the machine that purged`, anchors: listing.anchors.length };
    else {
      const db = new Database(catalogFile, { readonly: true, fileMustExist: true });
      try {
        const t = await verifyTrailAndAnchors(db, lake, config.prefix, home, signal);
        trail = { status: t.ok ? 'ok' : 'broken', catalog: catalogFile, entries: t.entries, head: t.head, anchors: t.anchors.anchors, anchors_checked: t.anchors.checked, anchors_foreign: t.anchors.foreign, problem: t.problem };
        if (!t.ok) findings.push({ kind: 'trail_broken', key: t.anchors.broken[0]?.key ?? catalogFile, detail: t.problem! });
      } finally {
        db.close();
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
    await lake?.close();
    catalog?.close();
    lock?.release();
  }
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

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks);
}
