import os from 'node:os';
import { LockError, StorageError } from '../errors.js';
import { manifestKey } from './layout.js';
import { isAlive } from '../lock.js';
import type { Catalog } from '../catalog/catalog.js';
import type { PgSyncDatabase } from '../catalog/pg-sync.js';
import type { Logger } from '../log.js';
import type { ClaimOptions, ClaimOutcome } from './claim.js';

/**
 * Coordination through a shared PostgreSQL catalog (issue 21, item 1): the landing claim as a row
 * of `claims` (primary key lake, prefix, source sha256, key id: the UNIQUE constraint decides
 * between two machines), and per-prefix advisory locks between commits and purges/erasures.
 * The same flow as the lake's claim ({@link ./claim.ts}): taken just before the manifest; the
 * holder's manifest in the lake says it landed; a holder whose run failed, whose process is gone
 * from this host or that is older than the grace period without a manifest is stale.
 */

/** Claim rows: `held` while the run commits, `committed` after its manifest, `released` when it failed. */
type ClaimState = 'held' | 'committed' | 'released';

interface ClaimRow {
  run_id: string;
  host: string;
  pid: number;
  claimed_at: string;
  state: ClaimState;
}

/** The lake claim's options ({@link ClaimOptions}), plus the shared catalog that holds the claim row. */
export interface PgClaimOptions extends Omit<ClaimOptions, 'now' | 'waitMs'> {
  catalog: Catalog;
  /** Identity of the lake (destination URI without the prefix is fine: lake and prefix are both keyed). */
  lakeId: string;
  /** How long (ms) to wait for a live holder's manifest before LockError (exit 4). */
  waitMs: number;
}

/** The PostgreSQL session of a PostgreSQL catalog. */
function session(catalog: Catalog): PgSyncDatabase {
  const pg = catalog.pg;
  if (!pg) throw new Error('the PostgreSQL claim needs a PostgreSQL catalog');
  return pg;
}

/**
 * Take the landing claim of a source in the shared catalog, or find who landed it.
 * @returns `{ won: true }` (key `claims:<lake> <prefix> <sha256> <key id>`, generation 0), or the
 * run that landed the source and its manifest.
 * @throws LockError (4) a live run holds the claim and wrote no manifest within `waitMs`;
 * StorageError (3) when the catalog or the lake fails.
 */
export async function claimSourcePg(o: PgClaimOptions): Promise<ClaimOutcome> {
  const pg = session(o.catalog);
  const pk = [o.lakeId, o.prefix, o.sourceSha256, o.keyId];
  const key = `claims:${o.prefix}/${o.sourceSha256.slice(0, 12)}.${o.keyId}`;
  const deadline = Date.now() + o.waitMs;
  const me = () => [o.runId, os.hostname(), process.pid, new Date().toISOString()];
  for (let attempt = 0; attempt < 10_000; attempt++) {
    const inserted = pg.durable(
      `INSERT INTO claims (lake, prefix, source_sha256, key_id, run_id, host, pid, claimed_at, state) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'held')
       ON CONFLICT (lake, prefix, source_sha256, key_id) DO NOTHING`,
      [...pk, ...me()],
    );
    if (inserted.changes === 1) {
      o.logger.debug(`claimed the source in the PostgreSQL catalog (${key})`, { step: 'claim' });
      return { won: true, key, generation: 0 };
    }
    const row = pg.query('SELECT run_id, host, pid, claimed_at, state FROM claims WHERE lake = $1 AND prefix = $2 AND source_sha256 = $3 AND key_id = $4', pk).rows[0] as unknown as ClaimRow | undefined;
    if (!row) continue; // released and removed meanwhile: insert again
    if (row.run_id === o.runId) return { won: true, key, generation: 0 };
    const manifest = manifestKey(o.prefix, row.run_id);
    const landed = row.state !== 'released' && (await o.lake.head(manifest));
    if (landed) return { won: false, run_id: row.run_id, manifest: o.lake.uri(manifest) };
    // Free when released, committed but its manifest is gone (purged), or stale.
    let free = row.state !== 'held';
    if (!free) {
      const status = (pg.query('SELECT status FROM runs WHERE run_id = $1', [row.run_id]).rows[0] as { status?: string } | undefined)?.status;
      const age = Date.now() - Date.parse(row.claimed_at);
      const deadHere = row.host === os.hostname() && row.pid !== process.pid && !isAlive(row.pid);
      if (status && status !== 'running') free = true;
      else if (deadHere || age >= o.graceMs) {
        o.logger.warn(`claim ${key} of run ${row.run_id} on ${row.host} is stale (${deadHere ? 'its process is gone' : `no manifest after ${Math.round(age / 60_000)} min`}): taking it over`, { step: 'claim' });
        free = true;
      } else if (Date.now() >= deadline) {
        throw new LockError(`run ${row.run_id} on ${row.host} claimed this source ${Math.round(age / 1000)} s ago and has not committed it: nothing of run ${o.runId} was committed`, {
          hint: 'run the ingest again later: it is skipped if that run landed the file, or lands it if that run failed',
        });
      }
    }
    if (free) {
      // Compare-and-set on the row as read: of two takers, one changes it.
      const taken = pg.durable(
        `UPDATE claims SET run_id = $5, host = $6, pid = $7, claimed_at = $8, state = 'held'
         WHERE lake = $1 AND prefix = $2 AND source_sha256 = $3 AND key_id = $4 AND run_id = $9 AND state = $10`,
        [...pk, ...me(), row.run_id, row.state],
      );
      if (taken.changes === 1) return { won: true, key, generation: 0 };
      continue;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new StorageError(`could not take the claim ${key}: too many competing writers`);
}

/** After the manifest: the claim is `committed` (a later claimer reads the manifest and is skipped). */
export function commitClaimPg(catalog: Catalog, o: Pick<PgClaimOptions, 'lakeId' | 'prefix' | 'sourceSha256' | 'keyId' | 'runId'>): void {
  session(catalog).query(`UPDATE claims SET state = 'committed' WHERE lake = $1 AND prefix = $2 AND source_sha256 = $3 AND key_id = $4 AND run_id = $5`, [o.lakeId, o.prefix, o.sourceSha256, o.keyId, o.runId]);
}

/** The run gave up before its manifest (or landed nothing): the claim is `released`. Best effort (logged). */
export function releaseClaimPg(catalog: Catalog, o: Pick<PgClaimOptions, 'lakeId' | 'prefix' | 'sourceSha256' | 'keyId' | 'runId'>, logger: Logger): void {
  try {
    session(catalog).query(`UPDATE claims SET state = 'released' WHERE lake = $1 AND prefix = $2 AND source_sha256 = $3 AND key_id = $4 AND run_id = $5`, [o.lakeId, o.prefix, o.sourceSha256, o.keyId, o.runId]);
  } catch (err) {
    logger.error(`could not release the claim in the PostgreSQL catalog: ${(err as Error).message.slice(0, 200)} (it goes stale after the grace period)`, { step: 'claim' });
  }
}

/** How long a run waits for a prefix lock: `WATT_CATALOG_LOCK_WAIT_SECONDS` (>= 0), else 60 s. */
export function prefixLockWaitMs(env: Record<string, string | undefined> = process.env): number {
  const v = env.WATT_CATALOG_LOCK_WAIT_SECONDS;
  const n = Number(v);
  return v !== undefined && v !== '' && Number.isFinite(n) && n >= 0 ? n * 1000 : 60_000;
}

/**
 * Take the advisory lock of one prefix of one lake in the shared catalog (a session lock on
 * `hashtextextended(lake + prefix)`, released by the returned function or when the connection
 * ends, e.g. the process dies): `shared` for an ingest's commit window (from its first upload to
 * its manifest; ingests do not wait for each other), `exclusive` for a purge, an erasure or a
 * repair (never beside a commit of the same prefix). Polls every 100 ms up to `waitMs`.
 * Undefined (nothing to release) when the catalog is SQLite: one machine, where the local locks
 * of src/lock.ts already keep purge and ingest apart.
 * @throws LockError (4) when the lock is still held by another run after `waitMs`.
 */
export async function lockPrefix(catalog: Catalog | undefined, lakeId: string, prefix: string, mode: 'shared' | 'exclusive', what: string, waitMs = prefixLockWaitMs()): Promise<(() => void) | undefined> {
  const pg = catalog?.pg;
  if (!pg) return undefined;
  const suffix = mode === 'shared' ? '_shared' : '';
  const name = `watt-prefix:${lakeId}|${prefix}`;
  const deadline = Date.now() + waitMs;
  for (;;) {
    const ok = pg.query(`SELECT pg_try_advisory_lock${suffix}(hashtextextended($1, 0)) AS ok`, [name]).rows[0]?.ok === true;
    if (ok) {
      let held = true;
      return () => {
        if (!held || !pg.open) return;
        held = false;
        try {
          pg.query(`SELECT pg_advisory_unlock${suffix}(hashtextextended($1, 0))`, [name]);
        } catch {
          /* the session ends with the process: the server releases it */
        }
      };
    }
    if (Date.now() >= deadline) {
      throw new LockError(
        mode === 'shared'
          ? `a purge, erasure or repair of ${prefix} on another machine holds the prefix in the shared catalog: ${what} waited ${Math.round(waitMs / 1000)} s and gave up, nothing was committed`
          : `an ingest on another machine is committing into ${prefix} (shared catalog): ${what} waited ${Math.round(waitMs / 1000)} s and gave up, nothing was changed`,
        { hint: 'run it again once the other run is done (WATT_CATALOG_LOCK_WAIT_SECONDS sets the wait)' },
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
