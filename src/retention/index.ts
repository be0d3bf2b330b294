import path from 'node:path';
import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import { logDir, resolveLakeConfig, retentionPolicy, wattHome, type Env, type LakeFlags } from '../config.js';
import { DataError, LockError, StorageError, UsageError } from '../errors.js';
import { createRunLogger } from '../log.js';
import { Catalog } from '../catalog/catalog.js';
import { destinationUri, openLake, type Lake } from '../lake/index.js';
import { acquireLock, liveLocks, lockNames } from '../lock.js';
import { newRunId } from '../run-id.js';
import { loadPseudonymisationKey, Pseudonymiser } from '../records/pseudonymise.js';
import { purgeByAge, type AgePlanSummary, type RetentionPeriods } from './age.js';
import { eraseSubject, type ErasureStep } from './erasure.js';
import { verifyTrail } from './trail.js';
import type { PurgeResult, TrailResult } from './types.js';

export type { PurgeResult, AgePurgeResult, ErasureResult, TrailResult, CategoryResult, ErasedObject } from './types.js';
export type { AgePlanSummary } from './age.js';
export { verifyTrail } from './trail.js';

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
    return verifyCatalogTrail(home);
  }
  if (opts.subject !== undefined && opts.days !== undefined) throw new UsageError('use either --subject (erasure of one data subject) or --days (retention by age), not both');
  if (opts.column !== undefined && opts.subject === undefined) throw new UsageError('--column only applies with --subject');
  const column = opts.column ?? DEFAULT_SUBJECT_COLUMN;
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(column)) throw new UsageError(`invalid --column "${column.slice(0, 40)}": a column name of letters, digits and '_'`);
  const subject = opts.subject === undefined ? undefined : checkSubject(opts.subject);
  const periods = opts.days === undefined ? policyPeriods(env) : undefined;

  const config = resolveLakeConfig(opts, env);
  const destination = destinationUri(config);
  const runId = newRunId();
  const now = new Date();
  const dryRun = Boolean(opts.dryRun);
  const logger = createRunLogger({ fileStem: 'purge', runId, dir: logDir(env), verbose: opts.verbose, quiet: opts.quiet, defaultMeta: { command: 'purge', run_id: runId } });
  const lock = dryRun ? undefined : acquireLock(home, purgeLockName(destination), `a purge of ${destination}`);
  const ingesting = lock ? liveLocks(home, (name) => lockNames.isIngestOf(name, destination)) : [];
  if (ingesting.length) {
    lock?.release();
    throw new LockError(`an ingest into ${destination} is running (pid ${ingesting[0]!.pid}): purge refused so that no row escapes it`, { hint: 'run the purge again when the ingest is done' });
  }
  let catalog: Catalog | undefined;
  let lake: Lake | undefined;
  try {
    const pseudonym = subject === undefined ? undefined : subjectPseudonym(subject, home, env);
    catalog = dryRun && !existsSync(path.join(home, 'catalog.db')) ? undefined : Catalog.open(home);
    if (!dryRun) catalog?.startRun({ run_id: runId, command: 'purge', started_at: now.toISOString(), destination, log_path: logger.file });
    lake = await openLake(config);
    const context = { lake, prefix: config.prefix, destination, runId, dryRun, catalog, logger, signal: opts.signal, now };
    let result: PurgeResult;
    if (pseudonym !== undefined) {
      result = await eraseSubject({ ...context, pseudonym, column, home, onStep: crashHook(env.WATT_TEST_CRASH_AFTER) });
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
      });
    }
    result.log = logger.file ?? null;
    if (!dryRun) catalog?.finishRun(runId, { status: 'succeeded', rows: result.mode === 'subject' ? result.rows_removed : result.mode === 'age' ? result.deleted : 0 });
    return result;
  } catch (err) {
    logger.error(err instanceof Error ? err.message : String(err), { step: 'failed' });
    if (!dryRun && catalog?.getRun(runId)) {
      catalog.finishRun(runId, { status: opts.signal?.aborted ? 'interrupted' : 'failed', error: err instanceof Error ? err.message.slice(0, 500) : String(err) });
    }
    throw err;
  } finally {
    await lake?.close();
    catalog?.close();
    lock?.release();
    await logger.close();
  }
}

/**
 * Verify the audit trail of `<home>/catalog.db` (read-only).
 * @throws UsageError when there is no catalog; DataError (exit 1) is left to the caller: the
 * result says `ok: false` and names the first broken entry.
 */
export function verifyCatalogTrail(home: string): TrailResult {
  const file = path.join(home, 'catalog.db');
  if (!existsSync(file)) throw new UsageError(`no catalog at ${file}: nothing to verify`, { hint: 'set WATT_HOME to the folder holding catalog.db' });
  let db: Database.Database;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
  } catch (err) {
    throw new StorageError(`cannot open catalog ${file}: ${(err as Error).message}`);
  }
  try {
    return { mode: 'verify-trail', catalog: file, ...verifyTrail(db) };
  } catch (err) {
    throw new DataError(`cannot read the audit trail of ${file}: ${(err as Error).message}`);
  } finally {
    db.close();
  }
}

/** Per-category periods from watt's retention policy (src/retention/policy.json or WATT_RETENTION_POLICY). */
function policyPeriods(env: Env): RetentionPeriods {
  const policy = new Map(retentionPolicy(env).map((c) => [c.id, c.days]));
  const raw = policy.get('raw_data');
  const logs = policy.get('run_logs');
  if (raw === undefined || logs === undefined) throw new UsageError('the retention policy must define raw_data and run_logs periods (or pass --days)');
  return { raw_data: raw, run_logs: logs, catalog_rows: logs, models: policy.get('models'), transformed_data: policy.get('transformed_data') };
}

/**
 * Check a raw subject identifier without ever echoing it.
 * @throws UsageError when empty, longer than 128 characters (the schema's maxLength) or holding control characters.
 */
function checkSubject(raw: string): string {
  const id = raw.trim();
  // eslint-disable-next-line no-control-regex
  if (id === '' || id.length > 128 || /[\u0000-\u001f\u007f]/.test(id)) {
    throw new UsageError('invalid --subject: expected the identifier as ingested (1 to 128 printable characters); it is not shown here');
  }
  return id;
}

/**
 * The subject's pseudonym under ingest's key (same key, same HMAC). Refuses to generate a new key:
 * a new key would match nothing and report a false "nothing to erase".
 * @throws UsageError when no key is configured.
 */
function subjectPseudonym(subject: string, home: string, env: Env): string {
  if (!env.WATT_PSEUDONYMISATION_KEY && !existsSync(path.join(home, 'pseudonymisation.key'))) {
    throw new UsageError(`no pseudonymisation key: WATT_PSEUDONYMISATION_KEY is unset and ${path.join(home, 'pseudonymisation.key')} does not exist`, {
      hint: 'run the erasure with the key ingest used (same WATT_HOME or WATT_PSEUDONYMISATION_KEY)',
    });
  }
  return new Pseudonymiser(loadPseudonymisationKey(home, env).key).pseudonym(subject);
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
