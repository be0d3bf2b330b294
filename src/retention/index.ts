import { cleaningOldVersions, storeVersionsPolicy } from './store-versions.js';
import path from 'node:path';
import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import { logDir, resolveLakeConfig, retentionPolicy, wattHome, type Env, type LakeConfig, type LakeFlags } from '../config.js';
import { CancelledError, DataError, InterruptedError, LockError, StorageError, UsageError, WattError } from '../errors.js';
import { createRunLogger } from '../log.js';
import { Catalog, catalogUrl } from '../catalog/catalog.js';
import { lockPrefix } from '../table/pg-claim.js';
import { destinationUri, openLake, type Lake } from '../store/index.js';
import { acquireLock, liveLocks, lockNames, type Lock } from '../lock.js';
import { newRunId } from '../run-id.js';
import { failpoint } from '../failpoint.js';
import { canonicalIdentifier } from '../records/identifier.js';
import { recoverLake } from '../table/recover.js';
import { graceMs } from '../table/integrity.js';
import { availableKeys, lakeKeyIds, subjectPseudonyms, type LakeKeyIds } from './keys.js';
import { anchorKey, verifyTrailAndAnchors, writeAnchor } from '../trail/anchor.js';
import { appendTrail, PSEUDONYM_PREFIX_CHARS } from '../trail/trail.js';
import { publishTableVersion } from '../table/delta-log.js';
import { erasureGraceMs, vacuumErased, type VacuumResult } from '../table/vacuum.js';
import { purgeByAge, type AgePlanSummary, type RetentionPeriods } from './age.js';
import { eraseSubject, type ErasureStep } from './erasure.js';
import type { AgePurgeResult, ErasureResult, PurgeResult, TrailResult } from './types.js';

export type { PurgeResult, AgePurgeResult, ErasureResult, TrailResult, CategoryResult, ErasedObject } from './types.js';
export type { AgePlanSummary } from './age.js';
export { verifyTrail } from '../trail/trail.js';

/** Options of `watt purge`, as typed by the command (flags not given are undefined). */
export interface RunPurgeOptions extends LakeFlags {
  /** Retention period in days for lake objects, run logs and catalog rows; default: the policy. */
  days?: number;
  /** Raw identifier of a data subject to erase (GDPR Art. 17). Never logged or printed. */
  subject?: string;
  /** Personal column to match the subject in, default `customer_id`. */
  column?: string;
  verifyTrail?: boolean;
  dryRun?: boolean;
  verbose?: boolean;
  /** Console shows warnings and errors only (--json, cron). */
  quiet?: boolean;
  signal?: AbortSignal;
  /** Go on when the store keeps copies watt cannot delete (src/retention/store-versions.ts). */
  acceptRetainedCopies?: boolean;
  /** Asked before deleting by age (interactive terminals without --yes). */
  confirm?: (plan: AgePlanSummary) => Promise<boolean>;
}

/** Default personal column for `--subject`: the customer number (schemas/energy_consumption.schema.json). */
export const DEFAULT_SUBJECT_COLUMN = 'customer_id';

/** Name of the lock a purge of a lake folder takes (an erasure takes the same one). */
export function purgeLockName(destination: string): string {
  return lockNames.purge(destination);
}

/**
 * `watt purge` end to end: resolve configuration, take the lake's lock (not for dry runs), open the
 * run log, the catalog and the lake, then purge by age, erase one data subject, or verify the
 * audit trail. Test hook: `WATT_TEST_CRASH_AFTER=<step>[:<n>]` (steps intent, object, manifest,
 * done) kills the process with SIGKILL after the n-th such step of an erasure.
 * @throws UsageError (2) bad flags or configuration; DataError (1) a broken trail; StorageError (3);
 * LockError (4) another purge of the same lake runs; InterruptedError (130).
 */
export async function runPurge(opts: RunPurgeOptions, env: Env = process.env): Promise<PurgeResult> {
  const home = wattHome(env);
  if (opts.verifyTrail) {
    if (opts.subject !== undefined || opts.days !== undefined || opts.dryRun) throw new UsageError('--verify-trail takes no --subject, --days or --dry-run');
    return verifyCatalogTrailAndAnchors(home, resolveLakeConfig(opts, env), opts.signal);
  }
  if (opts.subject !== undefined && opts.days !== undefined) throw new UsageError('use either --subject (erasure of one data subject) or --days (retention by age), not both');
  if (opts.column !== undefined && opts.subject === undefined) throw new UsageError('--column only applies with --subject');
  // eslint-disable-next-line no-control-regex
  if (opts.column !== undefined && !/^[^\u0000-\u001f\u007f]{1,128}$/.test(opts.column)) throw new UsageError('invalid --column: a column name of 1 to 128 printable characters');
  const subject = opts.subject === undefined ? undefined : checkSubject(opts.subject);
  const keys = subject === undefined ? undefined : availableKeys(home, env);
  const periods = opts.days === undefined ? policyPeriods(env) : undefined;
  const erasureGrace = erasureGraceMs(env); // checked before anything changes (exit 2)

  const config = resolveLakeConfig(opts, env);
  const destination = destinationUri(config);
  const runId = newRunId();
  const now = new Date();
  const dryRun = Boolean(opts.dryRun);
  const logger = createRunLogger({ fileStem: 'purge', runId, dir: logDir(env), verbose: opts.verbose, quiet: opts.quiet, defaultMeta: { command: 'purge', run_id: runId } });
  let lock: Lock | undefined;
  let catalog: Catalog | undefined;
  let lake: Lake | undefined;
  let releasePrefix: (() => void) | undefined;
  try {
    lock = dryRun ? undefined : acquireLock(home, purgeLockName(destination), `a purge of ${destination}`);
    const ingesting = lock ? liveLocks(home, (name) => lockNames.isIngestOf(name, destination)) : [];
    if (ingesting.length) {
      throw new LockError(`an ingest into ${destination} is running (pid ${ingesting[0]!.pid}): purge refused so that no row escapes it`, { hint: 'run the purge again when the ingest is done' });
    }
    lake = await openLake(config);
    // What the store keeps of what this run deletes or rewrites (versions, soft delete): refused
    // before any change when watt cannot delete it and it was not accepted.
    const storeVersions = await storeVersionsPolicy(lake, Boolean(opts.acceptRetainedCopies), subject === undefined ? 'purge' : 'erasure');
    if (storeVersions.action !== 'none') logger.info(`store: ${storeVersions.setting}: ${storeVersions.action === 'accepted' ? 'its copies accepted (--accept-retained-copies)' : 'old versions of what this run deletes or rewrites are deleted'}`, { step: 'versions' });
    lake = cleaningOldVersions(lake, storeVersions, logger);
    catalog = dryRun && !existsSync(path.join(home, 'catalog.db')) && !catalogUrl(env) ? undefined : Catalog.open(home, env);
    // A shared PostgreSQL catalog: the prefix is ours alone (no ingest of another machine commits
    // into it meanwhile; one that is committing is waited for) before the lake is read.
    if (!dryRun) releasePrefix = await lockPrefix(catalog, destination, config.prefix, 'exclusive', `${subject === undefined ? 'purge' : 'erasure'} ${runId}`);
    // Every key id of the lake must have a key before anything changes (exit 2 otherwise).
    const lakeIds = subject === undefined ? undefined : await lakeKeyIds(lake, config.prefix, opts.signal);
    const pseudonyms = subject === undefined ? undefined : subjectPseudonyms(subject, keys!, lakeIds!, home);
    // The columns searched: every column the runs' manifests record as pseudonymised (issue 17).
    const columns = lakeIds ? subjectColumns(opts.column, lakeIds, destination) : [];
    if (opts.signal?.aborted) throw new InterruptedError(`purge ${runId} interrupted before it changed anything`);
    if (!dryRun) catalog?.startRun({ run_id: runId, command: pseudonyms === undefined ? 'purge' : 'erasure', started_at: now.toISOString(), destination, prefix: config.prefix, log_path: logger.file });
    // Finish the cleanup of earlier runs: before an erasure (so that it never meets garbage), after
    // a purge by age (which deletes the old part of the lake first: the listing is then shorter).
    const recover = () => recoverLake({ scan: 'always', lake: lake!, prefix: config.prefix, destination, home, catalog, logger, runId, graceMs: graceMs(env), now, signal: opts.signal });
    if (!dryRun && pseudonyms !== undefined) await recover();
    const context = { lake, prefix: config.prefix, destination, runId, dryRun, catalog, logger, signal: opts.signal, now, storeVersions };
    let result: AgePurgeResult | ErasureResult;
    /** The version retention committed between its manifests and its objects' deletion. */
    let published: number | null | undefined = null;
    if (pseudonyms !== undefined) {
      if (pseudonyms.without_key_id > 0) {
        logger.info(`${pseudonyms.without_key_id} manifest${pseudonyms.without_key_id > 1 ? 's' : ''} carry no key id (written before key ids): erased under the current key ${pseudonyms.all[0]!.key_id}`, { step: 'keys' });
      }
      const erased = await eraseSubject({ ...context, pseudonym: pseudonyms.primary, pseudonyms: pseudonyms.all.map((p) => p.pseudonym), column: columns[0] ?? DEFAULT_SUBJECT_COLUMN, columns, home, onStep: crashHook(env.WATT_TEST_CRASH_AFTER) });
      erased.keys = pseudonyms.all.map((p) => ({ key_id: p.key_id, pseudonym_scheme: p.scheme, pseudonym_prefix: p.pseudonym.slice(0, PSEUDONYM_PREFIX_CHARS), manifests: p.manifests }));
      erased.manifests_without_key_id = pseudonyms.without_key_id;
      // Remembered for ingests that started before this erasure and commit after it (they filter the
      // subject), on a shared PostgreSQL catalog only: there ingests of other machines may be under
      // way; on SQLite (one machine) the purge lock already excludes every ingest of this lake, and
      // the subject's pseudonym is not kept on disk after its erasure.
      if (!dryRun && catalog?.engine === 'postgres') catalog.recordErasure(destination, config.prefix, pseudonyms.all.map((p) => ({ key_id: p.key_id, pseudonym: p.pseudonym })), runId);
      result = erased;
    } else {
      const n = opts.days;
      result = await purgeByAge({
        ...context,
        basis: n === undefined ? 'policy' : 'days',
        periods: n === undefined ? periods! : { raw_data: n, run_logs: n, catalog_rows: n },
        logDir: logDir(env),
        currentLog: logger.file,
        home,
        confirm: opts.confirm,
        // Retention's table version goes out between its manifests and its objects' deletion, so
        // the latest version never names a deleted object.
        publish: async () => (published = await publishTableVersion(lake!, config.prefix, { operation: 'DELETE', command: 'purge', runId }, logger, now)),
      });
      if (!dryRun) await recover();
    }
    if (!dryRun) {
      // One table log version for the run (src/table/delta-log.ts): the erased or expired files removed or re-added.
      const version = published ?? (await publishTableVersion(lake, config.prefix, { operation: 'DELETE', command: pseudonyms !== undefined ? 'purge --subject' : 'purge', runId }, logger, now));
      if (version !== null) result.table_version = version ?? null;
      // Then the old objects of erasures (this one with a grace of 0, earlier ones past theirs).
      result.vacuum = await vacuumErased({ ...context, graceMs: erasureGrace, now: new Date() });
    }
    result.store_versions = storeVersions;
    if (!dryRun && catalog && storeVersions.action !== 'none') {
      appendTrail(catalog.db, [{ action: 'retention.store_versions', lake: destination, count: storeVersions.versions_deleted, run_id: runId, detail: { setting: storeVersions.setting, action: storeVersions.action, ...(storeVersions.days !== undefined ? { days: storeVersions.days } : {}) } }]);
    }
    if (!dryRun && catalog) {
      failpoint('purge:before-anchor');
      const anchor = await writeAnchor(catalog.db, lake, config.prefix, runId, destination, home, logger);
      if (anchor) {
        result.trail_anchor = { key: anchorKey(config.prefix, runId), seq: anchor.trail.seq, hash: anchor.trail.hash };
        catalog.recordAnchor({ lake: destination, prefix: config.prefix, run_id: runId, trail_id: anchor.trail.trail_id, seq: anchor.trail.seq, hash: anchor.trail.hash, at: anchor.at });
      }
    }
    result.log = logger.file ?? null;
    if (!dryRun) catalog?.finishRun(runId, result.mode === 'subject' ? { status: 'succeeded', rows: result.rows_removed, objects: result.objects.length } : { status: 'succeeded', rows: null, objects: result.mode === 'age' ? result.deleted : 0 });
    return result;
  } catch (err) {
    logger.error(err instanceof Error ? err.message : String(err), { step: 'failed' });
    if (!dryRun && catalog?.getRun(runId)) {
      catalog.finishRun(runId, { status: opts.signal?.aborted ? 'interrupted' : err instanceof CancelledError ? 'cancelled' : 'failed', error: err instanceof Error ? err.message.slice(0, 500) : String(err) });
    }
    throw opts.signal?.aborted && !(err instanceof InterruptedError) ? new InterruptedError(`purge ${runId} interrupted; run it again to finish`) : err;
  } finally {
    releasePrefix?.();
    await lake?.close();
    catalog?.close();
    lock?.release();
    await logger.close();
  }
}

/**
 * `watt purge --verify-trail`: the hash chain of the catalog's audit trail, then the anchors of the
 * configured lake folder (`<prefix>/_audit/*.json`).
 * @throws UsageError when there is no catalog; StorageError when the lake cannot be read.
 */
export async function verifyCatalogTrailAndAnchors(home: string, config: LakeConfig, signal?: AbortSignal): Promise<TrailResult> {
  let file = path.join(home, 'catalog.db');
  let db: Database.Database;
  let shared: Catalog | undefined;
  if (catalogUrl()) {
    shared = Catalog.open(home);
    db = shared.db;
    file = shared.file;
  } else {
    if (!existsSync(file)) throw new UsageError(`no catalog at ${file}: nothing to verify`, { hint: 'set WATT_HOME to the folder holding catalog.db' });
    try {
      db = new Database(file, { readonly: true, fileMustExist: true });
    } catch (err) {
      throw new StorageError(`cannot open catalog ${file}: ${(err as Error).message}`);
    }
  }
  const lake = await openLake(config).catch((err) => {
    db.close();
    throw err;
  });
  try {
    const r = await verifyTrailAndAnchors(db, lake, config.prefix, home, signal);
    if (signal?.aborted) throw new InterruptedError('trail verification interrupted');
    const result: TrailResult = { mode: 'verify-trail', catalog: file, ok: r.ok, entries: r.entries, head: r.head, broken: r.broken, problem: r.problem, anchors: r.anchors };
    if (shared) {
      // A shared catalog also keeps each purge's anchor (trail_anchors): each must still match the trail.
      const at = db.prepare('SELECT hash FROM audit_log WHERE seq = ?');
      const anchors = shared.anchors(destinationUri(config));
      const broken = anchors
        .filter((a) => (at.get(a.seq) as { hash: string } | undefined)?.hash !== a.hash)
        .map((a) => ({ run_id: a.run_id, reason: `the trail's entry ${a.seq} no longer has the hash anchored by purge ${a.run_id} on ${a.at}` }));
      result.catalog_anchors = { checked: anchors.length, broken };
      if (broken.length) {
        result.ok = false;
        result.problem ??= broken[0]!.reason;
      }
    }
    return result;
  } catch (err) {
    if (err instanceof WattError) throw err;
    throw new DataError(`cannot read the audit trail of ${file}: ${(err as Error).message}`);
  } finally {
    db.close();
    await lake.close();
  }
}

/**
 * The columns an erasure searches: those the lake's manifests record as pseudonymised
 * (`pseudonymisation.columns`), most recorded first; `--column` narrows them to one.
 * A lake without manifests: the `--column` given, or none (nothing landed, nothing to search).
 * @throws UsageError (2) when the runs record no pseudonymised column at all (the subject cannot be
 * found by its pseudonym), or `--column` names a column no run pseudonymised.
 */
export function subjectColumns(column: string | undefined, ids: LakeKeyIds, destination: string): string[] {
  const recorded = [...ids.columns.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([c]) => c);
  if (ids.manifests === 0) return column !== undefined ? [column] : [];
  if (recorded.length === 0) {
    throw new UsageError(`the ${ids.manifests} run${ids.manifests > 1 ? 's' : ''} in ${destination} record no pseudonymised column: a data subject cannot be found in them by pseudonym, nothing was erased`, {
      hint: 'their schema marked no column "x-personal-data": if they hold personal data, delete those runs (watt purge --days) and ingest again with a schema that marks it',
    });
  }
  if (column === undefined) return recorded;
  if (!recorded.includes(column)) throw new UsageError(`--column ${column.slice(0, 60)} is not pseudonymised in any run of ${destination}`, { hint: `the runs pseudonymise: ${recorded.join(', ').slice(0, 200)}` });
  return [column];
}

/** Per-category periods from watt's retention policy (src/retention/policy.json or WATT_RETENTION_POLICY). */
export function policyPeriods(env: Env): RetentionPeriods {
  const policy = new Map(retentionPolicy(env).map((c) => [c.id, c.days]));
  const raw = policy.get('raw_data');
  const logs = policy.get('run_logs');
  if (raw === undefined || logs === undefined) throw new UsageError('the retention policy must define raw_data and run_logs periods (or pass --days)');
  return { raw_data: raw, run_logs: logs, catalog_rows: logs, models: policy.get('models'), transformed_data: policy.get('transformed_data') };
}

/**
 * Bring a raw subject identifier to its canonical form (NFC, trimmed: the same function ingest
 * applies before pseudonymisation) and check it without ever echoing it.
 * @throws UsageError when empty, longer than 128 characters (the schema's maxLength) or holding control characters.
 */
function checkSubject(raw: string): string {
  const id = canonicalIdentifier(raw);
  // eslint-disable-next-line no-control-regex
  if (id === '' || id.length > 128 || /[\u0000-\u001f\u007f]/.test(id)) {
    throw new UsageError('invalid --subject: expected the identifier as ingested (1 to 128 printable characters); it is not shown here');
  }
  return id;
}

/** `WATT_TEST_CRASH_AFTER=<step>[:<n>]`: SIGKILL this process after the n-th (default 1st) step. */
function crashHook(spec: string | undefined): ((step: ErasureStep) => void) | undefined {
  const m = spec ? /^(intent|object|manifest|done)(?::(\d+))?$/.exec(spec) : null;
  if (!m) return undefined;
  let left = Number(m[2] ?? 1);
  return (step) => {
    if (step === m[1] && --left === 0) process.kill(process.pid, 'SIGKILL');
  };
}

/** Options of `watt vacuum`. */
export interface RunVacuumOptions extends LakeFlags {
  /** Erasure grace in minutes (default `WATT_ERASURE_GRACE_MINUTES`, else 10). */
  grace?: number;
  /** Go on when the store keeps copies watt cannot delete (src/retention/store-versions.ts). */
  acceptRetainedCopies?: boolean;
  dryRun?: boolean;
  verbose?: boolean;
  quiet?: boolean;
  signal?: AbortSignal;
}

/** `watt vacuum --json`. */
export interface VacuumRunResult extends VacuumResult {
  mode: 'vacuum';
  run_id: string;
  dry_run: boolean;
  lake: string;
  /** The table log version this run published first (absent: the log already held the lake's state). */
  table_version?: number | null;
  trail_anchor?: import('./types.js').TrailAnchorRef;
  /** What the store keeps of what this run deleted (versions), and what watt did about it. */
  store_versions?: import('./store-versions.js').StoreVersionsRecord;
  log: string | null;
}

/**
 * `watt vacuum`: delete the objects that erasures replaced (src/table/vacuum.ts) once the erasure
 * grace has passed, after publishing any table version a killed run left unpublished. Takes the
 * purge lock of the lake (exit 4 while a purge or an ingest runs), records an `erasure.vacuum`
 * trail entry per object and anchors the trail like a purge.
 * @throws UsageError (2) configuration; StorageError (3); LockError (4); InterruptedError (130).
 */
export async function runVacuum(opts: RunVacuumOptions, env: Env = process.env): Promise<VacuumRunResult> {
  const home = wattHome(env);
  const config = resolveLakeConfig(opts, env);
  const destination = destinationUri(config);
  const runId = newRunId();
  const now = new Date();
  const dryRun = Boolean(opts.dryRun);
  const logger = createRunLogger({ fileStem: 'vacuum', runId, dir: logDir(env), verbose: opts.verbose, quiet: opts.quiet, defaultMeta: { command: 'vacuum', run_id: runId } });
  let lock: Lock | undefined;
  let catalog: Catalog | undefined;
  let lake: Lake | undefined;
  try {
    lock = dryRun ? undefined : acquireLock(home, purgeLockName(destination), `a vacuum of ${destination}`);
    const ingesting = lock ? liveLocks(home, (name) => lockNames.isIngestOf(name, destination)) : [];
    if (ingesting.length) throw new LockError(`an ingest into ${destination} is running (pid ${ingesting[0]!.pid}): vacuum refused`, { hint: 'run the vacuum again when the ingest is done' });
    lake = await openLake(config);
    // As a purge: the old versions of what it deletes are deleted too (S3 versioning), or refused.
    const storeVersions = dryRun ? undefined : await storeVersionsPolicy(lake, Boolean(opts.acceptRetainedCopies), 'erasure');
    if (storeVersions) lake = cleaningOldVersions(lake, storeVersions, logger);
    catalog = dryRun && !existsSync(path.join(home, 'catalog.db')) ? undefined : Catalog.open(home);
    if (!dryRun) catalog?.startRun({ run_id: runId, command: 'vacuum', started_at: now.toISOString(), destination, prefix: config.prefix, log_path: logger.file });
    const version = dryRun ? null : await publishTableVersion(lake, config.prefix, { operation: 'DELETE', command: 'vacuum', runId }, logger, now);
    const graceMs = opts.grace !== undefined ? opts.grace * 60_000 : erasureGraceMs(env);
    const v = await vacuumErased({ lake, prefix: config.prefix, destination, catalog: dryRun ? undefined : catalog, logger, runId, now, graceMs, dryRun, signal: opts.signal });
    const result: VacuumRunResult = { mode: 'vacuum', run_id: runId, dry_run: dryRun, lake: destination, ...v, log: null };
    if (version !== null) result.table_version = version ?? null;
    if (storeVersions) result.store_versions = storeVersions;
    if (storeVersions && catalog && storeVersions.action !== 'none' && v.deleted.length) {
      appendTrail(catalog.db, [{ action: 'retention.store_versions', lake: destination, count: storeVersions.versions_deleted, run_id: runId, detail: { setting: storeVersions.setting, action: storeVersions.action, ...(storeVersions.days !== undefined ? { days: storeVersions.days } : {}) } }]);
    }
    if (!dryRun && catalog && v.deleted.length) {
      const anchor = await writeAnchor(catalog.db, lake, config.prefix, runId, destination, home, logger);
      if (anchor) result.trail_anchor = { key: anchorKey(config.prefix, runId), seq: anchor.trail.seq, hash: anchor.trail.hash };
    }
    result.log = logger.file ?? null;
    if (!dryRun) catalog?.finishRun(runId, { status: 'succeeded', rows: null, objects: v.deleted.length });
    return result;
  } catch (err) {
    logger.error(err instanceof Error ? err.message : String(err), { step: 'failed' });
    if (!dryRun && catalog?.getRun(runId)) catalog.finishRun(runId, { status: opts.signal?.aborted ? 'interrupted' : 'failed', error: err instanceof Error ? err.message.slice(0, 500) : String(err) });
    throw opts.signal?.aborted && !(err instanceof InterruptedError) ? new InterruptedError(`vacuum ${runId} interrupted; run it again to finish`) : err;
  } finally {
    await lake?.close();
    catalog?.close();
    lock?.release();
    await logger.close();
  }
}
