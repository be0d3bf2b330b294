import os from 'node:os';
import { randomUUID } from 'node:crypto';
import { LockError, StorageError, UsageError } from '../errors.js';
import { readObject } from '../store/index.js';
import { manifestKey } from './layout.js';
import { isAlive } from '../lock.js';
import type { Lake, ObjectInfo } from '../store/types.js';
import type { Logger } from '../log.js';

/**
 * The landing claim of a source (issue 21, item 2): before a run writes its manifest it takes the
 * claim of (lake, prefix, source sha256, key id) as an object written create-if-absent
 * ({@link Lake.putIfAbsent}: link(2) on the local lake, `If-None-Match: *` on S3 and Azure), so
 * that two machines landing the same file at the same instant cannot both commit it: the store
 * lets exactly one writer create the key. The loser removes its objects and ends `skipped`.
 *
 * Claims are generations, `<prefix>/_claims/<source sha256>.<key id>/<generation, 6 digits>.json`,
 * never overwritten nor deleted by a claimer (a delete-and-retake would let two takers both win):
 * the highest generation is the claim in force.
 * - its run has a manifest: the source landed, the claimer is skipped;
 * - it is a release (written by a run that claimed, then failed before its manifest): free, the
 *   claimer takes the next generation;
 * - its run has no manifest yet: the holder is committing (milliseconds) or died. The claimer
 *   polls the holder's manifest for `waitMs`; a claim of a process gone from this host, or older than the grace period whose run never
 *   wrote a manifest is stale and the next generation may be taken; otherwise the claimer fails
 *   with LockError (exit 4) and nothing committed.
 *
 * Claims hold a run id, a host name, a process id and a time: no personal data. Purge by age
 * leaves `_claims/` alone (like `_schemas/`).
 */
export interface ClaimOptions {
  lake: Lake;
  prefix: string;
  sourceSha256: string;
  keyId: string;
  runId: string;
  logger: Logger;
  /** Grace period (ms) after which a claim whose run has no manifest is stale. */
  graceMs: number;
  /** How long (ms) to wait for the holder's manifest before failing with LockError (default 30 s). */
  waitMs?: number;
  /** The clock (tests). */
  now?: () => Date;
}

/** What a claim attempt found. */
export type ClaimOutcome =
  | { won: true; key: string; generation: number }
  /** The source landed under the claim of `run_id` (its manifest exists). */
  | { won: false; run_id: string; manifest: string };

/** Body of a claim object. */
interface ClaimBody {
  run_id: string;
  host: string;
  pid: number;
  claimed_at: string;
  /** Present on a release: the run gave its claim back without committing. */
  released?: boolean;
}

/** Runs of this process holding a claim until {@link endClaim}: a claim of this pid whose run is not here is stale. */
const activeClaims = new Set<string>();

/** The run ended (committed, failed or released): its claim no longer has a live holder in this process. */
export function endClaim(runId: string): void {
  activeClaims.delete(runId);
}

/** How long a claimer waits for a fresh claim's manifest: `WATT_CLAIM_WAIT_SECONDS` (>= 0), else 30 s. */
export function claimWaitMs(env: Record<string, string | undefined> = process.env): number {
  const n = Number(env.WATT_CLAIM_WAIT_SECONDS);
  return env.WATT_CLAIM_WAIT_SECONDS !== undefined && env.WATT_CLAIM_WAIT_SECONDS !== '' && Number.isFinite(n) && n >= 0 ? n * 1000 : 30_000;
}

/**
 * What the operator declares of the S3 endpoint's conditional writes: `WATT_S3_CONDITIONAL_WRITES`
 * = `auto` (default: probe the endpoint, warn when it ignores `If-None-Match`), `on` (trust it, no
 * probe: AWS S3 since August 2024) or `off` (the endpoint ignores it, as s3rver does: the claim is
 * not exclusive; said once in the log, at info level, since the operator knows).
 * @throws UsageError (2) for any other value.
 */
export function s3ConditionalWrites(env: Record<string, string | undefined> = process.env): 'auto' | 'on' | 'off' {
  const v = (env.WATT_S3_CONDITIONAL_WRITES ?? '').trim().toLowerCase();
  if (v === '' || v === 'auto') return 'auto';
  if (v === 'on' || v === 'off') return v;
  throw new UsageError(`WATT_S3_CONDITIONAL_WRITES=${JSON.stringify(v.slice(0, 20))} is not auto, on or off`, { hint: 'declare whether the S3 endpoint honours If-None-Match, or leave it unset to probe' });
}

/** Folder of the claims of one source and key id. */
export function claimFolder(prefix: string, sourceSha256: string, keyId: string): string {
  return `${prefix}/_claims/${sourceSha256}.${keyId}/`;
}

function generationKey(folder: string, generation: number): string {
  return `${folder}${String(generation).padStart(6, '0')}.json`;
}

/**
 * Take the landing claim of a source, or find who holds it.
 * @throws LockError (4) another run holds a fresh claim and its manifest did not appear within
 * `waitMs`; StorageError (3) from the store.
 */
export async function claimSource(options: ClaimOptions): Promise<ClaimOutcome> {
  const { lake, prefix, runId, logger } = options;
  const folder = claimFolder(prefix, options.sourceSha256, options.keyId);
  const now = options.now ?? (() => new Date());
  const deadline = Date.now() + (options.waitMs ?? 30_000);
  for (let lost = 0; lost < 1000; ) {
    const current = await currentClaim(lake, folder);
    let next = 0;
    if (current) {
      next = current.generation + 1;
      if (!current.body.released) {
        const holder = current.body.run_id;
        if (holder === runId) return { won: true, key: current.key, generation: current.generation };
        const manifest = manifestKey(prefix, holder);
        if (await lake.head(manifest)) return { won: false, run_id: holder, manifest: lake.uri(manifest) };
        const age = now().getTime() - current.info.lastModified.getTime();
        const deadHere = current.body.host === os.hostname() && (current.body.pid === process.pid ? !activeClaims.has(holder) : !isAlive(current.body.pid));
        if (deadHere) {
          logger.warn(`claim ${lake.uri(current.key)} of run ${holder} is stale (its process ${current.body.pid} on this host is gone, no manifest): taking the next generation`, { step: 'claim' });
        } else if (age < options.graceMs) {
          if (Date.now() >= deadline) {
            throw new LockError(`run ${holder} on ${current.body.host} claimed this source ${Math.round(age / 1000)} s ago and has not committed it: nothing of run ${runId} was committed`, {
              hint: 'run the ingest again later: it is skipped if that run landed the file, or lands it if that run failed',
            });
          }
          await new Promise((r) => setTimeout(r, 100));
          continue;
        } else logger.warn(`claim ${lake.uri(current.key)} of run ${holder} is stale (no manifest after ${Math.round(age / 60_000)} min): taking the next generation`, { step: 'claim' });
      }
    }
    const key = generationKey(folder, next);
    const body: ClaimBody = { run_id: runId, host: os.hostname(), pid: process.pid, claimed_at: now().toISOString() };
    const written = await lake.putIfAbsent(key, JSON.stringify(body) + '\n', { contentType: 'application/json' });
    if (written) {
      activeClaims.add(runId);
      logger.debug(`claimed the source (${lake.uri(key)})`, { step: 'claim', key });
      return { won: true, key, generation: next };
    }
    lost++; // another writer took this generation: read again
  }
  throw new StorageError(`could not take the claim under ${lake.uri(folder)}: too many competing writers`);
}

/**
 * Give a claim back (the run failed after claiming, before its manifest) by writing the next
 * generation as a release, so that a later run lands the source at once instead of waiting for
 * the grace period. Best effort: a failure is logged (the claim then goes stale after the grace).
 */
export async function releaseClaim(lake: Lake, claim: { key: string; generation: number }, runId: string, logger: Logger): Promise<void> {
  const folder = claim.key.slice(0, claim.key.lastIndexOf('/') + 1);
  const body: ClaimBody = { run_id: runId, host: os.hostname(), pid: process.pid, claimed_at: new Date().toISOString(), released: true };
  try {
    await lake.putIfAbsent(generationKey(folder, claim.generation + 1), JSON.stringify(body) + '\n', { contentType: 'application/json' });
  } catch (err) {
    logger.error(`could not release the claim ${lake.uri(claim.key)}: ${(err as Error).message.slice(0, 200)} (it goes stale after the grace period)`, { step: 'claim' });
  }
}

/** The highest generation of a claim folder, read. */
async function currentClaim(lake: Lake, folder: string): Promise<{ key: string; generation: number; info: ObjectInfo; body: ClaimBody } | undefined> {
  let best: { generation: number; info: ObjectInfo } | undefined;
  for await (const o of lake.list(folder)) {
    const m = /^(\d{6})\.json$/.exec(o.key.slice(folder.length));
    if (!m) continue;
    const generation = Number(m[1]);
    if (!best || generation > best.generation) best = { generation, info: o };
  }
  if (!best) return undefined;
  let body: ClaimBody;
  try {
    body = JSON.parse((await readObject(lake, best.info.key)).toString('utf8')) as ClaimBody;
  } catch (err) {
    if (err instanceof StorageError) throw err;
    body = { run_id: '', host: '?', pid: 0, claimed_at: '', released: true }; // unreadable: treat as free
  }
  return { key: best.info.key, generation: best.generation, info: best.info, body };
}

/**
 * Whether the store honours create-if-absent (S3 endpoints that predate conditional writes, such
 * as s3rver, ignore `If-None-Match` and overwrite). Writes a probe key twice with
 * {@link Lake.putIfAbsent}: the second write must be refused. The probe is deleted. Local and Azure
 * always honour it (link(2); Blob `If-None-Match`), so only S3 is probed; the answer is cached per
 * lake URI for the process.
 * @throws StorageError (3) from the store.
 */
export async function honoursPutIfAbsent(lake: Lake, prefix: string): Promise<boolean> {
  if (lake.provider !== 's3') return true;
  const id = lake.uri(prefix);
  const known = probed.get(id);
  if (known !== undefined) return known;
  const key = `${prefix}/_claims/.probe-${randomUUID()}`;
  try {
    await lake.putIfAbsent(key, 'probe\n');
    const second = await lake.putIfAbsent(key, 'probe\n');
    probed.set(id, second === undefined);
  } finally {
    await lake.delete([key]).catch(() => undefined);
  }
  return probed.get(id)!;
}
const probed = new Map<string, boolean>();
