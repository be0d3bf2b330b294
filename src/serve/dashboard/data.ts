import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import type Database from 'better-sqlite3';
import type { Env } from '../../config.js';
import { openCatalogReadOnly, queryRunDetail, queryRuns, type RunDetail, type RunSummary } from '../../catalog/runs.js';

/**
 * What the dashboard of `watt serve` shows, read from the run history (the catalog, opened
 * read-only per request: a serve never changes it) and, for the purge preview, from the lake.
 * Every answer is counts, dates, keys and statuses: no row of data, no pseudonym, no identifier
 * (trail entries lose their `detail`, which may hold a pseudonym prefix).
 */

/** Runs listed with the chart (the newest of the window). */
export const RUNS_LISTED = 200;

export interface DayPoint {
  /** UTC day, YYYY-MM-DD. */
  day: string;
  prefix: string | null;
  runs: number;
  rows_landed: number;
  rows_rejected: number;
  /** Runs of any verb that ended failed or interrupted that day. */
  failures: number;
}

export interface RunsView {
  /** First day of the window (UTC). */
  since: string;
  days: number;
  /** One point per day and prefix that had runs. */
  points: DayPoint[];
  prefixes: string[];
  runs: RunSummary[];
}

/** Days back from `now` (UTC midnight of the first day), ISO 8601. */
export function windowStart(days: number, now = new Date()): string {
  const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()) - (days - 1) * 86_400_000);
  return d.toISOString();
}

/**
 * One read-only connection per catalog for the life of the server (opening SQLite costs
 * milliseconds; a read-only connection in WAL mode sees every commit of the verbs), and the answers
 * computed from it, kept until the catalog changes: `PRAGMA data_version` moves whenever another
 * connection commits, so a cached answer is never older than the last run recorded.
 */
class CatalogReader {
  private db: Database.Database | undefined;
  private version = -1;
  private readonly answers = new Map<string, unknown>();

  constructor(private readonly home: string) {}

  read<T>(key: string, empty: T, fn: (db: Database.Database) => T): T {
    if (!this.db) {
      const opened = openCatalogReadOnly(this.home);
      if (!opened) return empty; // no catalog yet: try again next time
      this.db = opened.db;
    }
    const version = this.db.pragma('data_version', { simple: true }) as number;
    if (version !== this.version) {
      this.answers.clear();
      this.version = version;
    }
    if (this.answers.has(key)) return this.answers.get(key) as T;
    const value = fn(this.db);
    if (this.answers.size > 100) this.answers.clear();
    this.answers.set(key, value);
    return value;
  }

  close(): void {
    this.db?.close();
    this.db = undefined;
  }
}

const readers = new Map<string, CatalogReader>();

/** The reader of `<home>/catalog.db` (one per home in this process). */
function reader(home: string): CatalogReader {
  let r = readers.get(home);
  if (!r) readers.set(home, (r = new CatalogReader(home)));
  return r;
}

/** Close the catalog connection kept for `home` (the server closes it when it stops). */
export function closeCatalogReader(home: string): void {
  readers.get(home)?.close();
  readers.delete(home);
}

function withCatalog<T>(home: string, empty: T, fn: (db: Database.Database) => T, key?: string): T {
  if (key === undefined) {
    const opened = openCatalogReadOnly(home);
    if (!opened) return empty;
    try {
      return fn(opened.db);
    } finally {
      opened.db.close();
    }
  }
  return reader(home).read(key, empty, fn);
}

function hasColumn(db: Database.Database, column: string): boolean {
  return (db.prepare('PRAGMA table_info(runs)').all() as Array<{ name: string }>).some((c) => c.name === column);
}

/** Runs per day and prefix over the last `days` days, and the newest runs of that window. */
export function runsView(home: string, days: number, prefix?: string, now = new Date()): RunsView {
  const since = windowStart(days, now);
  const empty: RunsView = { since, days, points: [], prefixes: [], runs: [] };
  return withCatalog(home, empty, (db) => {
    const p = hasColumn(db, 'prefix') ? 'prefix' : 'NULL';
    const filter = prefix ? `AND ${p} = @prefix` : '';
    const points = db
      .prepare(
        `SELECT substr(started_at, 1, 10) AS day, ${p} AS prefix, COUNT(*) AS runs,
           COALESCE(SUM(CASE WHEN command = 'ingest' THEN rows END), 0) AS rows_landed,
           COALESCE(SUM(CASE WHEN command = 'ingest' THEN rejected END), 0) AS rows_rejected,
           SUM(CASE WHEN status IN ('failed', 'interrupted') THEN 1 ELSE 0 END) AS failures
         FROM runs WHERE started_at >= @since ${filter}
         GROUP BY day, ${p} ORDER BY day, ${p}`,
      )
      .all({ since, prefix }) as DayPoint[];
    const prefixes = (db.prepare(`SELECT DISTINCT ${p} AS prefix FROM runs WHERE ${p} IS NOT NULL ORDER BY 1`).all() as Array<{ prefix: string }>).map((r) => r.prefix);
    return { since, days, points, prefixes, runs: queryRuns(db, { limit: RUNS_LISTED, since, prefix }) };
  }, `runs:${since}:${days}:${prefix ?? ''}`);
}

/** One run in full, without trail details (they may hold a pseudonym prefix) or the source hash. */
export function runView(home: string, runId: string): RunDetail | undefined {
  return withCatalog<RunDetail | undefined>(home, undefined, (db) => {
    const run = queryRunDetail(db, runId);
    if (!run) return undefined;
    return { ...run, source_sha256: null, trail: run.trail.map((t) => ({ ...t, detail: null })) };
  }, `run:${runId}`);
}

export interface PartitionMonth {
  prefix: string | null;
  /** YYYY-MM of the partition date. */
  month: string;
  objects: number;
  bytes: number;
  rows: number;
}

export interface PurgePreview {
  prefix: string;
  /** URI of the lake folder. */
  lake: string;
  /** When it was computed (the preview is cached for a minute). */
  computed_at: string;
  objects?: number;
  bytes?: number;
  /** Per policy category (raw_data, run_logs...), as `purge --dry-run` prints. */
  categories?: Array<{ id: string; days: number; cutoff: string; items: number; bytes: number }>;
  /** Lake keys that would go (at most 200 are listed by purge). */
  keys?: string[];
  key_count?: number;
  /** The lake could not be read. */
  error?: string;
}

/** Live data objects of the lake by prefix and partition month, from the catalog. */
export function lakeView(home: string): { partitions: PartitionMonth[] } {
  return withCatalog(home, { partitions: [] }, (db) => {
    const p = hasColumn(db, 'prefix') ? 'r.prefix' : 'NULL';
    const partitions = db
      .prepare(
        `SELECT ${p} AS prefix, COALESCE(substr(o.partition_date, 1, 7), 'undated') AS month, COUNT(*) AS objects,
           COALESCE(SUM(o.bytes), 0) AS bytes, COALESCE(SUM(o.rows), 0) AS rows
         FROM lake_objects o LEFT JOIN runs r ON r.run_id = o.run_id
         WHERE o.kind = 'data' AND o.deleted_at IS NULL
         GROUP BY 1, 2 ORDER BY 1, 2`,
      )
      .all() as PartitionMonth[];
    return { partitions };
  }, 'lake');
}

/** Prefixes the purge preview covers: those ingest runs landed data into. */
export function ingestPrefixes(home: string): string[] {
  return withCatalog(home, [] as string[], (db) =>
    hasColumn(db, 'prefix') ? (db.prepare(`SELECT DISTINCT prefix FROM runs WHERE command = 'ingest' AND prefix IS NOT NULL ORDER BY 1 LIMIT 20`).all() as Array<{ prefix: string }>).map((r) => r.prefix) : [],
  'ingest-prefixes');
}

/**
 * What the next `watt purge` would delete under `prefix` of the configured lake (provider and
 * bucket from the server's environment), computed as `purge --dry-run` does: the retention policy
 * applied as of now. Changes nothing, writes no log.
 */
export async function purgePreview(home: string, prefix: string, env: Env, now = new Date()): Promise<PurgePreview> {
  // One import after the other: module graphs sharing dependencies loaded concurrently trip Jest's
  // ESM loader ("request for 'node:crypto' is not in cache"); the cost is paid once per process.
  const { resolveLakeConfig, logDir } = await import('../../config.js');
  const { destinationUri, openLake } = await import('../../store/index.js');
  const { purgeByAge } = await import('../../retention/age.js');
  const { policyPeriods } = await import('../../retention/index.js');
  const { createRunLogger } = await import('../../log.js');
  const { newRunId } = await import('../../run-id.js');
  const config = resolveLakeConfig({ prefix }, env);
  const destination = destinationUri(config);
  const base: PurgePreview = { prefix, lake: destination, computed_at: now.toISOString() };
  const silent = new Writable({ write: (_c, _e, cb) => cb() });
  const logger = createRunLogger({ stream: silent, quiet: true });
  let lake: Awaited<ReturnType<typeof openLake>> | undefined;
  try {
    lake = await openLake(config);
    const r = await purgeByAge({
      lake,
      prefix: config.prefix,
      destination,
      runId: newRunId(now),
      dryRun: true,
      logger,
      now,
      basis: 'policy',
      periods: policyPeriods(env),
      logDir: logDir(env),
      home,
    });
    const raw = r.categories.find((c) => c.id === 'raw_data');
    return {
      ...base,
      objects: raw?.items ?? 0,
      bytes: raw?.bytes ?? 0,
      categories: r.categories.map((c) => ({ id: c.id, days: c.days, cutoff: c.cutoff, items: c.items, bytes: c.bytes })),
      keys: r.keys ?? [],
      key_count: r.key_count,
    };
  } catch (err) {
    return { ...base, error: (err as Error).message.split('\n')[0]!.slice(0, 200) };
  } finally {
    await lake?.close();
    await logger.close();
  }
}

export interface GdprDay {
  day: string;
  erasures: number;
  purges: number;
  /** Lake objects deleted or rewritten by those runs. */
  objects: number;
  /** Rows erased. */
  rows_erased: number;
}

export interface CheckRun {
  run_id: string;
  status: string;
  finished_at: string | null;
  error: string | null;
  detail: Record<string, unknown> | null;
}

export interface GdprView {
  since: string;
  days: GdprDay[];
  /** The catalog's trail checked now (hash chain). */
  trail: { ok: boolean; entries: number; problem?: string; checked_at: string };
  last_verify: CheckRun | null;
  last_verify_trail: CheckRun | null;
  last_audit: CheckRun | null;
}

function lastRun(db: Database.Database, command: string): CheckRun | null {
  const cols = hasColumn(db, 'detail') ? 'detail' : 'NULL AS detail';
  const r = db.prepare(`SELECT run_id, status, finished_at, error, ${cols} FROM runs WHERE command = ? AND status != 'running' ORDER BY started_at DESC LIMIT 1`).get(command) as
    | (Omit<CheckRun, 'detail'> & { detail: string | null })
    | undefined;
  if (!r) return null;
  let detail: Record<string, unknown> | null = null;
  try {
    detail = r.detail ? (JSON.parse(r.detail) as Record<string, unknown>) : null;
  } catch {
    detail = null;
  }
  return { ...r, detail };
}

/** How long a check of the trail's hash chain is reused, ms: re-hashing every entry costs O(entries). */
export const TRAIL_CHECK_TTL_MS = 5 * 60_000;
const trailChecks = new Map<string, { at: number; result: GdprView['trail'] }>();

/** Erasures and purges per day, the trail's integrity (checked at most every 5 minutes), the last verify and audit-rgpd. */
export async function gdprView(home: string, days: number, now = new Date()): Promise<GdprView> {
  const since = windowStart(days, now);
  const { verifyTrail } = await import('../../trail/trail.js');
  const checkedAt = new Date().toISOString();
  return withCatalog<GdprView>(home, { since, days: [], trail: { ok: true, entries: 0, checked_at: checkedAt }, last_verify: null, last_verify_trail: null, last_audit: null }, (db) => {
    const objects = hasColumn(db, 'objects') ? 'objects' : 'rows';
    const perDay = db
      .prepare(
        `SELECT substr(started_at, 1, 10) AS day,
           SUM(CASE WHEN command = 'erasure' THEN 1 ELSE 0 END) AS erasures,
           SUM(CASE WHEN command = 'purge' THEN 1 ELSE 0 END) AS purges,
           COALESCE(SUM(${objects}), 0) AS objects,
           COALESCE(SUM(CASE WHEN command = 'erasure' THEN rows END), 0) AS rows_erased
         FROM runs WHERE command IN ('purge', 'erasure') AND status = 'succeeded' AND started_at >= ?
         GROUP BY day ORDER BY day`,
      )
      .all(since) as GdprDay[];
    let trail = trailChecks.get(home);
    if (!trail || Date.now() - trail.at > TRAIL_CHECK_TTL_MS) {
      const t = verifyTrail(db);
      trail = { at: Date.now(), result: { ok: t.ok, entries: t.entries, ...(t.ok || !t.broken ? {} : { problem: `entry ${t.broken.seq}: ${t.broken.reason}` }), checked_at: checkedAt } };
      trailChecks.set(home, trail);
    }
    return {
      since,
      days: perDay,
      trail: trail.result,
      last_verify: lastRun(db, 'verify'),
      last_verify_trail: lastRun(db, 'verify-trail'),
      last_audit: lastRun(db, 'audit-rgpd'),
    };
  }, `gdpr:${since}`);
}

export interface ModelView {
  model: {
    version: string;
    origin: string;
    loaded_at: string;
    /** Hold-out evaluations of the model card: MAE (minutes), late rate (0..1). */
    splits: Array<{ split: string; description: string | null; test_rows: number | null; mae_min: number | null; late_rate: number | null }>;
    /** MAE and late rate after the first N training nights (house models), if the card has one. */
    learning_curve: Array<{ train_nights: number; mae_min: number; late_rate: number }> | null;
  } | null;
  /** Predictions answered with 200, per UTC hour, since the server started (last 48 hours). */
  predictions: Array<{ hour: string; count: number }>;
}

/** The model card's figures of a model.json (metrics of the default model, evaluation of a house model). */
export function modelCard(file: string): Pick<NonNullable<ModelView['model']>, 'splits' | 'learning_curve'> {
  try {
    const m = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
    const splits: NonNullable<ModelView['model']>['splits'] = [];
    const metrics = Array.isArray(m.metrics) ? (m.metrics as Array<Record<string, unknown>>) : [];
    for (const s of metrics) splits.push({ split: String(s.split ?? 'hold-out'), description: typeof s.description === 'string' ? s.description : null, test_rows: num(s.test_rows), mae_min: num(s.mae_min), late_rate: num(s.late_rate) });
    const evaluation = (m.evaluation ?? (m.card as Record<string, unknown> | undefined)?.evaluation) as Record<string, unknown> | undefined;
    let curve: NonNullable<ModelView['model']>['learning_curve'] = null;
    if (evaluation) {
      if (num(evaluation.mae_min) !== null) splits.push({ split: 'hold-out', description: 'last nights of the house history', test_rows: num(evaluation.test_nights), mae_min: num(evaluation.mae_min), late_rate: num(evaluation.late_rate) });
      if (Array.isArray(evaluation.learning_curve)) {
        curve = (evaluation.learning_curve as Array<Record<string, unknown>>).map((p) => ({ train_nights: Number(p.train_nights), mae_min: Number(p.mae_min), late_rate: Number(p.late_rate) }));
      }
    }
    return { splits, learning_curve: curve };
  } catch {
    return { splits: [], learning_curve: null };
  }
}

/** Predictions counted per UTC hour (in memory, since the server started; 48 hours kept). */
export class HourlyCounter {
  private readonly counts = new Map<string, number>();

  inc(at = new Date()): void {
    const hour = at.toISOString().slice(0, 13) + ':00Z';
    this.counts.set(hour, (this.counts.get(hour) ?? 0) + 1);
    if (this.counts.size > 48) this.counts.delete(this.counts.keys().next().value!);
  }

  points(): Array<{ hour: string; count: number }> {
    return [...this.counts.entries()].map(([hour, count]) => ({ hour, count }));
  }
}
