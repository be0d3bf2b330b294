import path from 'node:path';
import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import { StorageError } from '../errors.js';
import type { RunStatus } from './catalog.js';

/**
 * The run history of the catalog, read-only (`watt runs`): the catalog is opened with
 * `readonly`, never created or migrated, so listing runs can never change it.
 */

export const RUN_STATUSES: readonly RunStatus[] = ['running', 'succeeded', 'failed', 'rejected', 'skipped', 'interrupted'];

/** One run as `watt runs --json` prints it. Times ISO 8601 UTC; duration in seconds. */
export interface RunSummary {
  run_id: string;
  verb: string;
  status: RunStatus;
  started_at: string;
  finished_at: string | null;
  /** Seconds from start to finish (null while running). */
  duration_s: number | null;
  rows: number | null;
  rejected: number | null;
  /** URI of the lake folder or object written (never holding a secret). */
  destination: string | null;
  /** One-line error of a failed run. */
  error: string | null;
}

export interface RunQuery {
  /** Most recent runs first, at most this many. */
  limit: number;
  verb?: string;
  status?: RunStatus;
}

/**
 * List runs from `<home>/catalog.db`, newest first. `catalog` is undefined when the file does
 * not exist (nothing has run with this WATT_HOME).
 * @throws StorageError if the file exists but cannot be read as a watt catalog.
 */
export function listRuns(home: string, query: RunQuery): { catalog?: string; runs: RunSummary[] } {
  const file = path.join(home, 'catalog.db');
  if (!existsSync(file)) return { runs: [] };
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
    db.pragma('busy_timeout = 5000');
    const where: string[] = [];
    const params: Record<string, unknown> = { limit: query.limit };
    if (query.verb) {
      where.push('command = @verb');
      params.verb = query.verb;
    }
    if (query.status) {
      where.push('status = @status');
      params.status = query.status;
    }
    const rows = db
      .prepare(
        `SELECT run_id, command AS verb, status, started_at, finished_at, rows, rejected, destination, error
         FROM runs ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
         ORDER BY started_at DESC, run_id DESC LIMIT @limit`,
      )
      .all(params) as Array<Omit<RunSummary, 'duration_s'>>;
    return {
      catalog: file,
      runs: rows.map((r) => ({
        run_id: r.run_id,
        verb: r.verb,
        status: r.status,
        started_at: r.started_at,
        finished_at: r.finished_at,
        duration_s: r.finished_at ? Math.max(0, Date.parse(r.finished_at) - Date.parse(r.started_at)) / 1000 : null,
        rows: r.rows,
        rejected: r.rejected,
        destination: r.destination,
        error: r.error,
      })),
    };
  } catch (err) {
    throw new StorageError(`cannot read the run history in ${file}: ${(err as Error).message.split('\n')[0]}`, { hint: 'is WATT_HOME a watt state folder?' });
  } finally {
    db?.close();
  }
}
