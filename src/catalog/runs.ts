import path from 'node:path';
import { existsSync, readFileSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { StorageError } from '../errors.js';
import { Catalog, catalogUrl, type RunStatus } from './catalog.js';

/**
 * The run history of the catalog, read-only (`watt runs`, the dashboard of `watt serve`): the
 * catalog is opened with `readonly`, never created or migrated, so reading runs can never change
 * it. Nothing here holds personal data: source names are the redacted names of the manifests,
 * errors are WattError lines, trail entries carry pseudonym prefixes at most.
 */

export const RUN_STATUSES: readonly RunStatus[] = ['running', 'succeeded', 'failed', 'rejected', 'skipped', 'interrupted', 'cancelled'];

/** One run as `watt runs --json` prints it. Times ISO 8601 UTC; duration in seconds. */
export interface RunSummary {
  run_id: string;
  verb: string;
  status: RunStatus;
  started_at: string;
  finished_at: string | null;
  /** Seconds from start to finish (null while running). */
  duration_s: number | null;
  /** Source file name as in the manifest (personal identifiers redacted), ingest only. */
  source: string | null;
  /** Lake prefix the run worked on. */
  prefix: string | null;
  /** Rows read from the source (landed + rejected), ingest only. */
  rows_in: number | null;
  /** Rows written to the lake (ingest) or erased (erasure). */
  rows: number | null;
  rejected: number | null;
  /** Lake objects written (ingest: data objects) or deleted and rewritten (purge, erasure). */
  objects: number | null;
  /** URI of the lake folder or object written (never holding a secret). */
  destination: string | null;
  exit_code: number | null;
  /** One-line error of a failed run. */
  error: string | null;
}

/** One lake object of a run (`watt runs RUN_ID`). */
export interface RunObject {
  kind: 'data' | 'manifest' | 'rejects';
  key: string;
  uri: string;
  /** Partition day (YYYY-MM-DD) of a data object. */
  partition_date: string | null;
  rows: number | null;
  bytes: number | null;
  sha256: string | null;
  created_at: string;
  /** When a purge or erasure deleted it, if it did. */
  deleted_at: string | null;
}

/** Rejected rows of an ingest by column and reason, from the run log's validation lines. */
export interface RejectsSummary {
  /** Rejected rows in all (the run's count). */
  rows: number;
  /** Errors the log lists (the first ones: strict runs log up to 20). */
  listed: number;
  by: Array<{ column: string | null; reason: string; count: number }>;
}

/** An audit-trail entry written by a run (pseudonym prefixes at most, never an identifier). */
export interface TrailEntry {
  seq: number;
  at: string;
  action: string;
  key: string | null;
  count: number;
  detail: unknown;
}

/** One run in full, as `watt runs RUN_ID` and the dashboard's run detail show it. */
export interface RunDetail extends RunSummary {
  source_sha256: string | null;
  manifest: string | null;
  log: string | null;
  /** Whether the log file is still there (retention removes old logs). */
  log_present: boolean;
  hint: string | null;
  key_id: string | null;
  host: string | null;
  pid: number | null;
  /** Verb-specific figures (audit findings by severity, rows...). */
  detail: Record<string, unknown> | null;
  objects_list: RunObject[];
  rejects: RejectsSummary | null;
  trail: TrailEntry[];
}

export interface RunQuery {
  /** Most recent runs first, at most this many. */
  limit: number;
  verb?: string;
  status?: RunStatus;
  prefix?: string;
  /** Only runs started at or after this time (ISO 8601). */
  since?: string;
}

/** Columns of the runs table added by migration 5 (older catalogs read without them). */
function hasColumn(db: Database.Database, column: string): boolean {
  return (db.prepare('PRAGMA table_info(runs)').all() as Array<{ name: string }>).some((c) => c.name === column);
}

/**
 * Open `<home>/catalog.db` read-only, or return undefined when it does not exist.
 * @throws StorageError if the file exists but cannot be read as a watt catalog.
 */
export function openCatalogReadOnly(home: string): { db: Database.Database; file: string } | undefined {
  if (catalogUrl()) {
    // The shared PostgreSQL catalog (WATT_CATALOG_URL): the same tables, through the same calls.
    const shared = Catalog.open(home);
    return { db: shared.db, file: shared.file };
  }
  const file = path.join(home, 'catalog.db');
  if (!existsSync(file)) return undefined;
  try {
    const db = new Database(file, { readonly: true, fileMustExist: true });
    db.pragma('busy_timeout = 5000');
    db.prepare('SELECT 1 FROM runs LIMIT 1').get();
    return { db, file };
  } catch (err) {
    throw new StorageError(`cannot read the run history in ${file}: ${(err as Error).message.split('\n')[0]}`, { hint: 'is WATT_HOME a watt state folder?' });
  }
}

type Row = Record<string, unknown>;

/** SELECT list of a run summary; `objects` of an ingest is the count of its data objects. */
function summaryColumns(db: Database.Database): string {
  const v5 = hasColumn(db, 'prefix');
  return `r.run_id, r.command AS verb, r.status, r.started_at, r.finished_at, r.source_name AS source, r.rows, r.rejected, r.destination, r.error,
    ${v5 ? 'r.prefix, r.exit_code, COALESCE(r.objects, (SELECT COUNT(*) FROM lake_objects o WHERE o.run_id = r.run_id AND o.kind = \'data\'))' : 'NULL AS prefix, NULL AS exit_code, (SELECT COUNT(*) FROM lake_objects o WHERE o.run_id = r.run_id AND o.kind = \'data\')'} AS objects`;
}

function toSummary(r: Row): RunSummary {
  const started = r.started_at as string;
  const finished = (r.finished_at as string | null) ?? null;
  const rows = (r.rows as number | null) ?? null;
  const rejected = (r.rejected as number | null) ?? null;
  return {
    run_id: r.run_id as string,
    verb: r.verb as string,
    status: r.status as RunStatus,
    started_at: started,
    finished_at: finished,
    duration_s: finished ? Math.max(0, Date.parse(finished) - Date.parse(started)) / 1000 : null,
    source: (r.source as string | null) ?? null,
    prefix: (r.prefix as string | null) ?? null,
    rows_in: r.verb === 'ingest' && rows !== null ? rows + (rejected ?? 0) : null,
    rows,
    rejected,
    objects: r.verb === 'ingest' || r.verb === 'purge' || r.verb === 'erasure' ? ((r.objects as number | null) ?? null) : null,
    destination: (r.destination as string | null) ?? null,
    exit_code: (r.exit_code as number | null) ?? null,
    error: (r.error as string | null) ?? null,
  };
}

/** Runs of an open catalog, newest first (the query of {@link listRuns}). */
export function queryRuns(db: Database.Database, query: RunQuery): RunSummary[] {
  const where: string[] = [];
  const params: Record<string, unknown> = { limit: query.limit };
  if (query.verb) {
    where.push('r.command = @verb');
    params.verb = query.verb;
  }
  if (query.status) {
    where.push('r.status = @status');
    params.status = query.status;
  }
  if (query.prefix && hasColumn(db, 'prefix')) {
    where.push('r.prefix = @prefix');
    params.prefix = query.prefix;
  }
  if (query.since) {
    where.push('r.started_at >= @since');
    params.since = query.since;
  }
  const rows = db
    .prepare(`SELECT ${summaryColumns(db)} FROM runs r ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY r.started_at DESC, r.run_id DESC LIMIT @limit`)
    .all(params) as Row[];
  return rows.map(toSummary);
}

/**
 * List runs from `<home>/catalog.db`, newest first. `catalog` is undefined when the file does
 * not exist (nothing has run with this WATT_HOME).
 * @throws StorageError if the file exists but cannot be read as a watt catalog.
 */
export function listRuns(home: string, query: RunQuery): { catalog?: string; runs: RunSummary[] } {
  const opened = openCatalogReadOnly(home);
  if (!opened) return { runs: [] };
  try {
    return { catalog: opened.file, runs: queryRuns(opened.db, query) };
  } catch (err) {
    throw new StorageError(`cannot read the run history in ${opened.file}: ${(err as Error).message.split('\n')[0]}`, { hint: 'is WATT_HOME a watt state folder?' });
  } finally {
    opened.db.close();
  }
}

/** Largest run log read for the rejects summary, bytes (a log is a few KB; this bounds a wrong path). */
const MAX_LOG_BYTES = 8 * 1024 * 1024;

/**
 * Rejected rows by column and reason, from the JSON lines of an ingest's run log (`step:
 * validate` warnings carry `column` and `reason`; values of personal columns are never logged and
 * values are not read here at all). Undefined when the log is gone.
 */
export function rejectsFromLog(logPath: string | null, rejected: number | null): RejectsSummary | null {
  if (!rejected) return null;
  const summary: RejectsSummary = { rows: rejected, listed: 0, by: [] };
  if (!logPath || !existsSync(logPath) || statSync(logPath).size > MAX_LOG_BYTES) return summary;
  const counts = new Map<string, { column: string | null; reason: string; count: number }>();
  for (const line of readFileSync(logPath, 'utf8').split('\n')) {
    if (!line.includes('"validate"') || !line.includes('"reason"')) continue;
    try {
      const e = JSON.parse(line) as { step?: string; column?: string | null; reason?: string };
      if (e.step !== 'validate' || typeof e.reason !== 'string') continue;
      // The reason is the schema's words ("is not a valid date-time"); cut anything after a colon that could quote a value.
      const reason = e.reason.slice(0, 120);
      const k = `${e.column ?? ''}\u0000${reason}`;
      const c = counts.get(k) ?? { column: e.column ?? null, reason, count: 0 };
      c.count++;
      counts.set(k, c);
      summary.listed++;
    } catch {
      // not a JSON line (a text log): skip
    }
  }
  summary.by = [...counts.values()].sort((a, b) => b.count - a.count);
  return summary;
}

/** One run in full from an open catalog, or undefined. */
export function queryRunDetail(db: Database.Database, runId: string): RunDetail | undefined {
  const v5 = hasColumn(db, 'prefix');
  const r = db
    .prepare(`SELECT ${summaryColumns(db)}, r.source_sha256, r.manifest_uri, r.log_path, r.key_id, r.host, r.pid${v5 ? ', r.hint, r.detail' : ', NULL AS hint, NULL AS detail'} FROM runs r WHERE r.run_id = ?`)
    .get(runId) as Row | undefined;
  if (!r) return undefined;
  const objects = db
    .prepare('SELECT kind, key, uri, partition_date, rows, bytes, sha256, created_at, deleted_at FROM lake_objects WHERE run_id = ? ORDER BY kind, partition_date, key')
    .all(runId) as RunObject[];
  const hasTrail = !!db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'audit_log'").get();
  const trail = hasTrail
    ? (db.prepare('SELECT seq, at, action, key, count, detail FROM audit_log WHERE run_id = ? ORDER BY seq').all(runId) as Array<Omit<TrailEntry, 'detail'> & { detail: string | null }>).map((t) => ({
        ...t,
        detail: parseJson(t.detail),
      }))
    : [];
  const log = (r.log_path as string | null) ?? null;
  const summary = toSummary(r);
  return {
    ...summary,
    source_sha256: (r.source_sha256 as string | null) ?? null,
    manifest: (r.manifest_uri as string | null) ?? null,
    log,
    log_present: log !== null && existsSync(log),
    hint: (r.hint as string | null) ?? null,
    key_id: (r.key_id as string | null) ?? null,
    host: (r.host as string | null) ?? null,
    pid: (r.pid as number | null) ?? null,
    detail: parseJson(r.detail as string | null) as Record<string, unknown> | null,
    objects_list: objects,
    rejects: summary.verb === 'ingest' ? rejectsFromLog(log, summary.rejected) : null,
    trail,
  };
}

function parseJson(text: string | null): unknown {
  if (text === null || text === undefined) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * One run in full from `<home>/catalog.db` (`watt runs RUN_ID`). `run` is undefined for an
 * unknown run id, `catalog` when there is no catalog.
 * @throws StorageError if the catalog cannot be read.
 */
export function showRun(home: string, runId: string): { catalog?: string; run?: RunDetail } {
  const opened = openCatalogReadOnly(home);
  if (!opened) return {};
  try {
    return { catalog: opened.file, run: queryRunDetail(opened.db, runId) };
  } finally {
    opened.db.close();
  }
}
