import path from 'node:path';
import { ensurePrivateDirSync, ensurePrivateFileSync } from '../private-fs.js';
import os from 'node:os';
import Database from 'better-sqlite3';
import { StorageError } from '../errors.js';

/**
 * The catalog: one SQLite file (`<WATT_HOME>/catalog.db`, better-sqlite3) recording every run, every
 * lake object it wrote, the trained models and (for `watt purge`) the audit trail.
 * It holds pseudonyms, keys, hashes and counts only: never a raw personal identifier or a secret.
 *
 * Schema changes are appended to {@link MIGRATIONS}; `PRAGMA user_version` records how many ran.
 */
export const MIGRATIONS: readonly string[] = [
  // 1: runs and lake objects (issue: ingest)
  `CREATE TABLE runs (
     run_id        TEXT PRIMARY KEY,
     command       TEXT NOT NULL,
     status        TEXT NOT NULL CHECK (status IN ('running','succeeded','failed','rejected','skipped','interrupted')),
     started_at    TEXT NOT NULL,
     finished_at   TEXT,
     source_name   TEXT,
     source_sha256 TEXT,
     destination   TEXT,
     rows          INTEGER,
     rejected      INTEGER,
     manifest_uri  TEXT,
     log_path      TEXT,
     error         TEXT
   );
   CREATE INDEX runs_source ON runs (source_sha256, destination, status);
   CREATE TABLE lake_objects (
     id             INTEGER PRIMARY KEY,
     run_id         TEXT REFERENCES runs (run_id),
     kind           TEXT NOT NULL CHECK (kind IN ('data','manifest','rejects')),
     uri            TEXT NOT NULL,
     provider       TEXT NOT NULL,
     bucket         TEXT NOT NULL,
     key            TEXT NOT NULL,
     sha256         TEXT,
     bytes          INTEGER,
     rows           INTEGER,
     partition_date TEXT,
     created_at     TEXT NOT NULL,
     deleted_at     TEXT
   );
   CREATE INDEX lake_objects_key ON lake_objects (provider, bucket, key);
   CREATE TABLE models (
     version         TEXT PRIMARY KEY,
     path            TEXT NOT NULL,
     created_at      TEXT NOT NULL,
     training_sha256 TEXT,
     metrics         TEXT,
     watt_version    TEXT
   );`,
  // 2: audit trail of deletions and erasures (issue: purge). Append-only: triggers refuse UPDATE
  // and DELETE; each entry carries sha256(prev_hash + entry), see src/trail/trail.ts.
  // AUTOINCREMENT keeps the highest seq ever written in sqlite_sequence, so removing the last
  // entries is detected too.
  `CREATE TABLE audit_log (
     seq       INTEGER PRIMARY KEY AUTOINCREMENT,
     at        TEXT NOT NULL,
     action    TEXT NOT NULL,
     lake      TEXT NOT NULL,
     key       TEXT,
     count     INTEGER NOT NULL,
     run_id    TEXT NOT NULL,
     actor     TEXT NOT NULL,
     detail    TEXT,
     prev_hash TEXT NOT NULL,
     hash      TEXT NOT NULL UNIQUE
   );
   CREATE INDEX audit_log_action ON audit_log (action, lake);
   CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
     BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
   CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
     BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;`,
  // 3: key identity of runs, and a cache of the lake's manifests (issue: correct or loud, ingest).
  // key_id: keyIdOf() of the pseudonymisation key a run used; rotated_from_key_id: the lake's key
  // id that `ingest --new-key` rotated away from. lake_manifests caches what was read from
  // <prefix>/_manifests/ so that a repeat ingest reads only new manifests (the lake stays the truth).
  `ALTER TABLE runs ADD COLUMN key_id TEXT;
   ALTER TABLE runs ADD COLUMN rotated_from_key_id TEXT;
   CREATE TABLE lake_manifests (
     lake          TEXT NOT NULL,
     key           TEXT NOT NULL,
     bytes         INTEGER NOT NULL,
     run_id        TEXT,
     source_sha256 TEXT,
     key_id        TEXT,
     finished_at   TEXT,
     object_uri    TEXT,
     uri           TEXT NOT NULL,
     read_at       TEXT NOT NULL,
     PRIMARY KEY (lake, key)
   );`,
  // 4: the process that runs each run (issue 8, crash recovery): a run left `running` whose pid is
  // no longer alive on its host died; the next run on the lake marks it failed and removes its objects.
  `ALTER TABLE runs ADD COLUMN pid INTEGER;
   ALTER TABLE runs ADD COLUMN host TEXT;`,
  // 5: the run history as the source of every view (issue 20). Every verb records a run; a purge
  // answered "no" at its prompt is `cancelled`; row and object counts are separate columns.
  // SQLite cannot change a CHECK constraint in place: the table is rebuilt (the documented
  // 12-step procedure; foreign keys are off while migration 5 runs, see migrate()).
  // prefix: the lake prefix of the run (ingest, purge, erasure, verify); objects: lake objects
  // written (ingest) or deleted/rewritten (purge, erasure); exit_code and hint of the CLI;
  // detail: a small JSON object of verb-specific figures (audit findings, train metrics), never
  // personal data.
  `CREATE TABLE runs_v5 (
     run_id        TEXT PRIMARY KEY,
     command       TEXT NOT NULL,
     status        TEXT NOT NULL CHECK (status IN ('running','succeeded','failed','rejected','skipped','interrupted','cancelled')),
     started_at    TEXT NOT NULL,
     finished_at   TEXT,
     source_name   TEXT,
     source_sha256 TEXT,
     destination   TEXT,
     rows          INTEGER,
     rejected      INTEGER,
     manifest_uri  TEXT,
     log_path      TEXT,
     error         TEXT,
     key_id        TEXT,
     rotated_from_key_id TEXT,
     pid           INTEGER,
     host          TEXT,
     prefix        TEXT,
     objects       INTEGER,
     exit_code     INTEGER,
     hint          TEXT,
     detail        TEXT
   );
   INSERT INTO runs_v5 (run_id, command, status, started_at, finished_at, source_name, source_sha256, destination, rows, rejected, manifest_uri, log_path, error, key_id, rotated_from_key_id, pid, host)
     SELECT run_id, command, status, started_at, finished_at, source_name, source_sha256, destination, rows, rejected, manifest_uri, log_path, error, key_id, rotated_from_key_id, pid, host FROM runs;
   -- a purge by age recorded the objects it deleted as rows; a cancelled purge was recorded as failed
   UPDATE runs_v5 SET objects = rows, rows = NULL WHERE command = 'purge';
   UPDATE runs_v5 SET status = 'cancelled' WHERE command = 'purge' AND status = 'failed' AND error LIKE 'purge cancelled%';
   DROP TABLE runs;
   ALTER TABLE runs_v5 RENAME TO runs;
   CREATE INDEX runs_source ON runs (source_sha256, destination, status);
   CREATE INDEX runs_started ON runs (started_at, prefix, command, status, rows, rejected, objects);
   CREATE INDEX runs_command ON runs (command, started_at);
   CREATE INDEX lake_objects_run ON lake_objects (run_id, kind);
   CREATE INDEX lake_objects_live ON lake_objects (kind, deleted_at, run_id, partition_date, bytes, rows);`,
  // 6: the text of each manifest watt wrote or rewrote (issue 21: `watt verify --repair` rebuilds
  // a committed run's lost manifest from it, after re-hashing the objects it names). A manifest
  // holds pseudonyms, key ids, hashes and counts: never a raw identifier or a secret.
  `CREATE TABLE manifest_bodies (
     provider   TEXT NOT NULL,
     bucket     TEXT NOT NULL,
     key        TEXT NOT NULL,
     run_id     TEXT,
     sha256     TEXT NOT NULL,
     body       TEXT NOT NULL,
     written_at TEXT NOT NULL,
     PRIMARY KEY (provider, bucket, key)
   );`,
];

/** How long a process waits for another one holding the catalog's write lock, ms. */
const BUSY_TIMEOUT_MS = 10_000;

/** Run `fn`, retrying a few times when SQLite still answers SQLITE_BUSY after the busy timeout. */
function withBusyRetry<T>(fn: () => T): T {
  for (let attempt = 0; ; attempt++) {
    try {
      return fn();
    } catch (err) {
      if (attempt >= 5 || !String((err as { code?: string }).code ?? '').startsWith('SQLITE_BUSY')) throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50 * (attempt + 1));
    }
  }
}

export type RunStatus = 'running' | 'succeeded' | 'failed' | 'rejected' | 'skipped' | 'interrupted' | 'cancelled';

/**
 * Run ids started through {@link Catalog.startRun} or {@link Catalog.recordRun} in this process,
 * in order: the CLI completes them at exit (exit code, prefix) and records a run of its own for a
 * verb that started none (a failure before the source was opened, train, audit-rgpd, verify, serve).
 */
export const runsStartedInProcess: string[] = [];

export interface RunRecord {
  run_id: string;
  command: string;
  status: RunStatus;
  started_at: string;
  finished_at: string | null;
  source_name: string | null;
  source_sha256: string | null;
  destination: string | null;
  rows: number | null;
  rejected: number | null;
  manifest_uri: string | null;
  log_path: string | null;
  error: string | null;
  /** keyIdOf() of the pseudonymisation key the run used (ingest), if recorded. */
  key_id?: string | null;
  /** The lake key id an `ingest --new-key` rotated away from, if this run rotated the key. */
  rotated_from_key_id?: string | null;
  /** Process id and host name of the process that ran it (null for runs recorded before migration 4). */
  pid?: number | null;
  host?: string | null;
  /** Lake prefix of the run (migration 5; null for runs without a lake). */
  prefix?: string | null;
  /** Lake objects written (ingest) or deleted and rewritten (purge, erasure). */
  objects?: number | null;
  /** Exit code of the CLI (0 ok, 1 data, 2 usage, 3 storage, 4 lock, 130 interrupted). */
  exit_code?: number | null;
  /** What to do about a failure (one line). */
  hint?: string | null;
  /** JSON text: verb-specific figures (audit findings by severity, train metrics...). */
  detail?: string | null;
}

/** What the catalog caches of one manifest of the lake (see {@link Catalog.cachedManifests}). */
export interface ManifestCacheRecord {
  key: string;
  /** Size of the manifest object when it was read, bytes: a different size means read it again. */
  bytes: number;
  run_id: string | null;
  source_sha256: string | null;
  key_id: string | null;
  finished_at: string | null;
  /** URI of the run's data object, if it landed one. */
  object_uri: string | null;
  /** URI of the manifest. */
  uri: string;
}

export interface LakeObjectRecord {
  run_id: string | null;
  kind: 'data' | 'manifest' | 'rejects';
  uri: string;
  provider: string;
  bucket: string;
  key: string;
  sha256?: string | null;
  bytes?: number | null;
  rows?: number | null;
  partition_date?: string | null;
}

export class Catalog {
  readonly db: Database.Database;
  readonly file: string;

  private constructor(file: string, db: Database.Database) {
    this.file = file;
    this.db = db;
  }

  /**
   * Open (creating if needed) `<home>/catalog.db` and run pending migrations.
   * @throws StorageError if the file cannot be created or is not a SQLite database.
   */
  static open(home: string): Catalog {
    const file = path.join(home, 'catalog.db');
    try {
      ensurePrivateDirSync(home);
      // 0600 whatever the umask; SQLite gives the -wal and -shm files the database file's mode.
      ensurePrivateFileSync(file);
      // The busy timeout comes first: concurrent first runs wait for each other instead of failing.
      const db = new Database(file, { timeout: BUSY_TIMEOUT_MS });
      db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
      withBusyRetry(() => db.pragma('journal_mode = WAL'));
      db.pragma('foreign_keys = ON');
      const catalog = new Catalog(file, db);
      catalog.migrate();
      return catalog;
    } catch (err) {
      throw new StorageError(`cannot open catalog ${file}: ${(err as Error).message}`, { cause: err });
    }
  }

  /**
   * Run pending migrations, safe when several processes open a fresh catalog at once: each
   * migration runs in a `BEGIN IMMEDIATE` transaction (one writer at a time, the others wait up to
   * the busy timeout) that re-reads `user_version` inside, so a migration another process has just
   * applied is never applied twice (`table runs already exists`).
   */
  private migrate(): void {
    if ((this.db.pragma('user_version', { simple: true }) as number) >= MIGRATIONS.length) return;
    const step = this.db.transaction(() => {
      const done = this.db.pragma('user_version', { simple: true }) as number;
      if (done >= MIGRATIONS.length) return false;
      this.db.exec(MIGRATIONS[done]!);
      this.db.pragma(`user_version = ${done + 1}`);
      return true;
    });
    // Migration 5 rebuilds `runs`, which lake_objects references: foreign keys are off meanwhile
    // (PRAGMA foreign_keys is a no-op inside a transaction), checked again after.
    this.db.pragma('foreign_keys = OFF');
    try {
      while (withBusyRetry(() => step.immediate())) {
        /* one migration per transaction, until none is pending */
      }
    } finally {
      this.db.pragma('foreign_keys = ON');
    }
  }

  /** Whether a run that ended failed or interrupted after `since` (ISO 8601) recorded lake objects not marked deleted. (crash recovery) */
  failedRunsWithObjectsSince(since: string): boolean {
    return !!this.db
      .prepare(
        `SELECT 1 FROM runs r JOIN lake_objects o ON o.run_id = r.run_id
         WHERE r.status IN ('failed', 'interrupted') AND r.finished_at >= ? AND o.deleted_at IS NULL LIMIT 1`,
      )
      .get(since);
  }

  /** Runs left `running` (any host), oldest first. (crash recovery) */
  runningRuns(): RunRecord[] {
    return this.db.prepare(`SELECT * FROM runs WHERE status = 'running' ORDER BY started_at`).all() as RunRecord[];
  }

  /** Record the start of a run (status `running`, this process's pid and host). */
  startRun(run: { run_id: string; command: string; started_at: string; source_name?: string; source_sha256?: string; destination?: string; log_path?: string; key_id?: string; rotated_from_key_id?: string; prefix?: string }): void {
    this.db
      .prepare(
        `INSERT INTO runs (run_id, command, status, started_at, source_name, source_sha256, destination, log_path, key_id, rotated_from_key_id, prefix, pid, host)
         VALUES (@run_id, @command, 'running', @started_at, @source_name, @source_sha256, @destination, @log_path, @key_id, @rotated_from_key_id, @prefix, @pid, @host)`,
      )
      .run({ source_name: null, source_sha256: null, destination: null, log_path: null, key_id: null, rotated_from_key_id: null, prefix: null, ...run, pid: process.pid, host: os.hostname() });
    runsStartedInProcess.push(run.run_id);
  }

  /**
   * Record a whole run at once (a verb whose core keeps no run of its own, or one that failed
   * before it started: the CLI records it with its exit code and one-line error). `error` and
   * `hint` must hold no personal data (WattError messages never do).
   */
  recordRun(run: Pick<RunRecord, 'run_id' | 'command' | 'status' | 'started_at'> & Partial<Omit<RunRecord, 'run_id' | 'command' | 'status' | 'started_at'>>): void {
    const row: Record<string, unknown> = {
      finished_at: null, source_name: null, source_sha256: null, destination: null, rows: null, rejected: null, manifest_uri: null, log_path: null, error: null,
      key_id: null, rotated_from_key_id: null, prefix: null, objects: null, exit_code: null, hint: null, detail: null,
      ...run,
      pid: process.pid,
      host: os.hostname(),
    };
    const cols = Object.keys(row);
    this.db.prepare(`INSERT INTO runs (${cols.join(', ')}) VALUES (${cols.map((c) => `@${c}`).join(', ')})`).run(row);
    runsStartedInProcess.push(run.run_id);
  }

  finishRun(runId: string, fields: Partial<Omit<RunRecord, 'run_id' | 'command' | 'started_at'>> & { status: RunStatus }): void {
    const allowed = ['status', 'finished_at', 'source_name', 'source_sha256', 'destination', 'rows', 'rejected', 'manifest_uri', 'log_path', 'error', 'key_id', 'rotated_from_key_id', 'prefix', 'objects', 'exit_code', 'hint', 'detail'];
    const entries = Object.entries({ finished_at: new Date().toISOString(), ...fields }).filter(([k]) => allowed.includes(k));
    const set = entries.map(([k]) => `${k} = @${k}`).join(', ');
    this.db.prepare(`UPDATE runs SET ${set} WHERE run_id = @run_id`).run({ ...Object.fromEntries(entries), run_id: runId });
  }

  getRun(runId: string): RunRecord | undefined {
    return this.db.prepare('SELECT * FROM runs WHERE run_id = ?').get(runId) as RunRecord | undefined;
  }

  /** The latest successful run that loaded a source with this sha256 to this destination, if any. */
  findSucceededRun(sourceSha256: string, destination: string): RunRecord | undefined {
    return this.db
      .prepare(
        `SELECT * FROM runs WHERE source_sha256 = ? AND destination = ? AND status = 'succeeded'
         ORDER BY started_at DESC LIMIT 1`,
      )
      .get(sourceSha256, destination) as RunRecord | undefined;
  }

  /**
   * Manifests cached by earlier reads of one lake (`lake`: an identity such as
   * `file:///abs/lake/watt-lake/` or `s3://bucket/ at https://endpoint`), whose key starts with
   * `prefix`. (ingest)
   */
  cachedManifests(lake: string, prefix: string): ManifestCacheRecord[] {
    return this.db
      .prepare('SELECT key, bytes, run_id, source_sha256, key_id, finished_at, object_uri, uri FROM lake_manifests WHERE lake = ? AND substr(key, 1, ?) = ?')
      .all(lake, prefix.length, prefix) as ManifestCacheRecord[];
  }

  /** Update the cache of one lake's manifests: upsert `read`, forget `gone` keys. (ingest) */
  cacheManifests(lake: string, read: readonly ManifestCacheRecord[], gone: readonly string[]): void {
    const upsert = this.db.prepare(
      `INSERT OR REPLACE INTO lake_manifests (lake, key, bytes, run_id, source_sha256, key_id, finished_at, object_uri, uri, read_at)
       VALUES (@lake, @key, @bytes, @run_id, @source_sha256, @key_id, @finished_at, @object_uri, @uri, @read_at)`,
    );
    const forget = this.db.prepare('DELETE FROM lake_manifests WHERE lake = ? AND key = ?');
    const readAt = new Date().toISOString();
    this.db.transaction(() => {
      for (const m of read) upsert.run({ ...m, lake, read_at: readAt });
      for (const key of gone) forget.run(lake, key);
    })();
  }

  /** The URI of the object of one kind a run wrote (e.g. its data object), if recorded. */
  objectUri(runId: string, kind: LakeObjectRecord['kind']): string | undefined {
    const row = this.db.prepare('SELECT uri FROM lake_objects WHERE run_id = ? AND kind = ? ORDER BY id LIMIT 1').get(runId, kind) as { uri: string } | undefined;
    return row?.uri;
  }

  /** Record an object watt wrote; a manifest's text (`body`) is kept too ({@link manifestBody}). */
  addLakeObject(obj: LakeObjectRecord & { body?: string }): void {
    const { body, ...record } = obj;
    if (body !== undefined && record.kind === 'manifest' && record.sha256) this.recordManifestBody(record.provider, record.bucket, record.key, record.run_id, record.sha256, body);
    this.db
      .prepare(
        `INSERT INTO lake_objects (run_id, kind, uri, provider, bucket, key, sha256, bytes, rows, partition_date, created_at)
         VALUES (@run_id, @kind, @uri, @provider, @bucket, @key, @sha256, @bytes, @rows, @partition_date, @created_at)`,
      )
      .run({ sha256: null, bytes: null, rows: null, partition_date: null, ...record, created_at: new Date().toISOString() });
  }

  /** Keep (or replace) the text of a manifest written or rewritten under `key`. */
  recordManifestBody(provider: string, bucket: string, key: string, runId: string | null, sha256: string, body: string): void {
    this.db
      .prepare(
        `INSERT INTO manifest_bodies (provider, bucket, key, run_id, sha256, body, written_at) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (provider, bucket, key) DO UPDATE SET sha256 = excluded.sha256, body = excluded.body, written_at = excluded.written_at, run_id = COALESCE(excluded.run_id, manifest_bodies.run_id)`,
      )
      .run(provider, bucket, key, runId, sha256, body, new Date().toISOString());
  }

  /** The last text watt wrote under a manifest key, with its sha256; undefined when none was kept (runs before migration 6). */
  manifestBody(provider: string, bucket: string, key: string): { sha256: string; body: string; run_id: string | null } | undefined {
    return this.db.prepare('SELECT sha256, body, run_id FROM manifest_bodies WHERE provider = ? AND bucket = ? AND key = ?').get(provider, bucket, key) as
      | { sha256: string; body: string; run_id: string | null }
      | undefined;
  }

  /** Record a trained model (`watt train`); `metrics` is stored as JSON text. */
  recordModel(model: { version: string; path: string; created_at: string; training_sha256: string | null; metrics: unknown; watt_version: string }): void {
    this.db
      .prepare(
        `INSERT INTO models (version, path, created_at, training_sha256, metrics, watt_version)
         VALUES (@version, @path, @created_at, @training_sha256, @metrics, @watt_version)`,
      )
      .run({ ...model, metrics: JSON.stringify(model.metrics) });
  }

  /** Mark lake objects deleted (`deleted_at`, ISO 8601) by key; returns the rows changed. (purge) */
  markLakeObjectsDeleted(provider: string, bucket: string, keys: readonly string[], at: string = new Date().toISOString()): number {
    const stmt = this.db.prepare('UPDATE lake_objects SET deleted_at = ? WHERE provider = ? AND bucket = ? AND key = ? AND deleted_at IS NULL');
    let changed = 0;
    this.db.transaction(() => {
      for (const key of keys) changed += stmt.run(at, provider, bucket, key).changes;
    })();
    return changed;
  }

  /** Update the sha256, size (bytes) and row count of a live lake object after a rewrite. (purge --subject) */
  updateLakeObject(provider: string, bucket: string, key: string, fields: { sha256: string; bytes: number; rows?: number | null; body?: string }): void {
    const { body, ...rest } = fields;
    if (body !== undefined) this.recordManifestBody(provider, bucket, key, null, fields.sha256, body);
    this.db
      .prepare('UPDATE lake_objects SET sha256 = @sha256, bytes = @bytes, rows = COALESCE(@rows, rows) WHERE provider = @provider AND bucket = @bucket AND key = @key AND deleted_at IS NULL')
      .run({ rows: null, ...rest, provider, bucket, key });
  }

  /**
   * Point a live lake object's row at the copy an erasure wrote under a new key (the landing keeps
   * one row: counts of objects per run do not change). (purge --subject)
   * @returns the rows changed (0: the catalog did not record the object)
   */
  replaceLakeObject(provider: string, bucket: string, key: string, copy: { key: string; uri: string; sha256: string; bytes: number; rows: number }): number {
    return this.db
      .prepare('UPDATE lake_objects SET key = @new_key, uri = @uri, sha256 = @sha256, bytes = @bytes, rows = @rows WHERE provider = @provider AND bucket = @bucket AND key = @key AND deleted_at IS NULL')
      .run({ new_key: copy.key, uri: copy.uri, sha256: copy.sha256, bytes: copy.bytes, rows: copy.rows, provider, bucket, key }).changes;
  }

  /** Partition date recorded for any object of a run, if any. (purge: undated keys such as rejects) */
  partitionDateOfRun(runId: string): string | undefined {
    const row = this.db.prepare('SELECT partition_date FROM lake_objects WHERE run_id = ? AND partition_date IS NOT NULL LIMIT 1').get(runId) as
      | { partition_date: string }
      | undefined;
    return row?.partition_date;
  }

  /**
   * Delete (or with `dryRun` only count) runs started before `before` and lake object rows created
   * before it or belonging to those runs, except run `keepRunId`. Times are ISO 8601 UTC. (purge)
   */
  deleteRowsBefore(before: string, keepRunId: string, dryRun = false): { runs: number; lake_objects: number } {
    const oldRuns = `SELECT run_id FROM runs WHERE started_at < @before AND run_id != @keep`;
    const objectsWhere = `created_at < @before OR run_id IN (${oldRuns})`;
    const params = { before, keep: keepRunId };
    if (dryRun) {
      const count = (sql: string) => (this.db.prepare(sql).get(params) as { n: number }).n;
      return { runs: count(`SELECT COUNT(*) AS n FROM (${oldRuns})`), lake_objects: count(`SELECT COUNT(*) AS n FROM lake_objects WHERE ${objectsWhere}`) };
    }
    return this.db.transaction(() => {
      const lakeObjects = this.db.prepare(`DELETE FROM lake_objects WHERE ${objectsWhere}`).run(params).changes;
      const runs = this.db.prepare(`DELETE FROM runs WHERE started_at < @before AND run_id != @keep`).run(params).changes;
      return { runs, lake_objects: lakeObjects };
    })();
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
