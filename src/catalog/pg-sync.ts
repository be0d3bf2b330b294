import { createRequire } from 'node:module';
import { MessageChannel, Worker, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { StorageError } from '../errors.js';

/**
 * A synchronous PostgreSQL connection for the catalog (`WATT_CATALOG_URL=postgres://…`), shaped
 * like the part of better-sqlite3's API that watt uses, so that the catalog's callers stay
 * synchronous and engine-blind:
 * `prepare(sql).run/get/all/iterate`, `transaction(fn)` (with `.immediate`), `exec`, `close`, `open`.
 *
 * How: one worker thread holds one `pg` (node-postgres 8) client. Each call posts the statement on
 * a MessageChannel and blocks this thread with `Atomics.wait` on a SharedArrayBuffer until the
 * worker answers, then reads the answer with `receiveMessageOnPort` (the technique of `synckit`,
 * kept in-house so that the worker is unref'd, ended by {@link PgSyncDatabase.close}, and holds
 * one session: transactions and advisory locks need the same connection for every statement).
 * `pg` is loaded inside the worker only: a SQLite catalog never loads it.
 *
 * SQL is translated once per statement text ({@link translateSql}): `?` and `@name` placeholders
 * to `$n`, and the few SQLite-only forms watt's callers use (sqlite_master, sqlite_sequence,
 * PRAGMA table_info).
 */

/** What `run()` returns (better-sqlite3's RunResult). */
export interface PgRunResult {
  changes: number;
  lastInsertRowid: number | bigint;
}

/** Advisory lock key of `transaction().immediate` (any constant unlikely to clash: "watt" in ASCII). */
export const WRITER_LOCK = 0x77617474;

/** Per call wait for the worker, ms: a query or a connection that takes longer fails (StorageError upstream). */
const CALL_TIMEOUT_MS = 120_000;

/** The worker: plain JavaScript run with `eval` (it must work from dist/ and from the TypeScript sources under jest). */
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { port, flag, pgPath, url, appName } = workerData;
const pg = require(pgPath);
pg.types.setTypeParser(20, (v) => Number(v));   // int8 (COUNT, identity columns): numbers, as SQLite gives
pg.types.setTypeParser(1700, (v) => Number(v)); // numeric
let client;
function answer(msg) {
  port.postMessage(msg);
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
}
function failure(err) {
  return { error: { message: String((err && err.message) || err), code: err && err.code } };
}
port.on('message', async (req) => {
  try {
    if (req.op === 'connect') {
      client = new pg.Client({ connectionString: url, application_name: appName, connectionTimeoutMillis: 10000 });
      client.on('error', () => {}); // a dropped connection fails the next call instead of killing the thread
      await client.connect();
      await client.query("SET client_min_messages = warning");
      // The run history is an index the lake can rebuild: its writes need not wait for the WAL
      // flush. Claims, erasures and the trail ask for a durable commit (op 'durable', and
      // transaction().immediate), so that a crash of the server never forgets them.
      await client.query("SET synchronous_commit = off");
      answer({ ok: true });
    } else if (req.op === 'query') {
      const r = await client.query(req.sql, req.params);
      answer({ rows: r.rows, changes: r.rowCount == null ? 0 : r.rowCount });
    } else if (req.op === 'durable') {
      await client.query('BEGIN');
      try {
        await client.query('SET LOCAL synchronous_commit = on');
        const r = await client.query(req.sql, req.params);
        await client.query('COMMIT');
        answer({ rows: r.rows, changes: r.rowCount == null ? 0 : r.rowCount });
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {});
        throw err;
      }
    } else if (req.op === 'exec') {
      await client.query(req.sql);
      answer({ ok: true });
    } else if (req.op === 'end') {
      try { if (client) await client.end(); } finally { answer({ ok: true }); port.close(); }
    }
  } catch (err) {
    answer(failure(err));
  }
});
`;

/**
 * An error of the PostgreSQL catalog (`code`: the SQLSTATE the server answered, e.g. 23505
 * unique_violation; undefined for a lost connection or a timeout): a storage error (exit 3).
 */
export class PgError extends StorageError {
  readonly code: string | undefined;
  constructor(message: string, code: string | undefined) {
    super(message, { hint: 'check that the PostgreSQL server of WATT_CATALOG_URL is up and reachable from this machine, then run again' });
    this.code = code;
  }
}

type Params = unknown[] | [Record<string, unknown>];

/** A prepared statement: translated once, run synchronously. */
export class PgStatement {
  private readonly sql: string;
  private readonly names: string[] | undefined;

  constructor(
    private readonly db: PgSyncDatabase,
    source: string,
  ) {
    const t = translateSql(source);
    this.sql = t.sql;
    this.names = t.names;
  }

  private bind(args: Params): unknown[] {
    if (this.names) {
      const obj = (args[0] ?? {}) as Record<string, unknown>;
      return this.names.map((n) => normalise(obj[n]));
    }
    return (args as unknown[]).map(normalise);
  }

  run(...args: Params): PgRunResult {
    const r = this.db.query(this.sql, this.bind(args));
    return { changes: r.changes, lastInsertRowid: 0 };
  }

  get(...args: Params): unknown {
    return this.db.query(this.sql, this.bind(args)).rows[0];
  }

  all(...args: Params): unknown[] {
    return this.db.query(this.sql, this.bind(args)).rows;
  }

  iterate(...args: Params): IterableIterator<unknown> {
    return this.all(...args)[Symbol.iterator]();
  }
}

/** better-sqlite3 binds booleans as errors and undefined as missing; PostgreSQL gets null for undefined. */
function normalise(v: unknown): unknown {
  return v === undefined ? null : v;
}

/** The synchronous PostgreSQL session (see the module's comment). */
export class PgSyncDatabase {
  readonly engine = 'postgres' as const;
  open = true;
  private readonly worker: Worker;
  private readonly port: MessagePort;
  private readonly flag = new Int32Array(new SharedArrayBuffer(4));
  private depth = 0;
  private dataVersion = 0;
  /** Holders of this session ({@link PgSyncDatabase.shared}); the last {@link close} ends it. */
  refs = 1;
  private readonly url: string;

  /**
   * The open session of this process for `url`, or a new one (blocking connect). Each call is
   * one reference: call {@link close} once per call.
   */
  static shared(url: string): PgSyncDatabase {
    const open = sessions.get(url);
    if (open?.open) {
      open.refs++;
      return open;
    }
    const db = new PgSyncDatabase(url);
    sessions.set(url, db);
    return db;
  }
  private readonly statements = new Map<string, PgStatement>();

  /**
   * Connect (blocking) to `url`.
   * @throws PgError when the server cannot be reached or refuses the login.
   */
  constructor(url: string) {
    this.url = url;
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    const pgPath = createRequire(import.meta.url).resolve('pg');
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { port: port2, flag: this.flag, pgPath, url, appName: 'watt' }, transferList: [port2] });
    this.worker.unref();
    this.port.unref();
    try {
      this.call({ op: 'connect' });
    } catch (err) {
      void this.worker.terminate();
      this.open = false;
      throw err;
    }
  }

  /** Post one request and block until the worker answers. */
  private call(req: Record<string, unknown>): { rows: Record<string, unknown>[]; changes: number } {
    if (!this.open) throw new PgError('the PostgreSQL catalog connection is closed', undefined);
    Atomics.store(this.flag, 0, 0);
    this.port.postMessage(req);
    const status = Atomics.wait(this.flag, 0, 0, CALL_TIMEOUT_MS);
    if (status === 'timed-out') throw new PgError(`the PostgreSQL catalog did not answer within ${CALL_TIMEOUT_MS / 1000} s`, undefined);
    const msg = receiveMessageOnPort(this.port)?.message as { error?: { message: string; code?: string }; rows?: Record<string, unknown>[]; changes?: number } | undefined;
    if (!msg) throw new PgError('the PostgreSQL catalog worker stopped without answering', undefined);
    if (msg.error) throw new PgError(msg.error.message, msg.error.code);
    return { rows: msg.rows ?? [], changes: msg.changes ?? 0 };
  }

  /** One statement with `$n` parameters (already PostgreSQL SQL). */
  query(sql: string, params: unknown[] = []): { rows: Record<string, unknown>[]; changes: number } {
    return this.call({ op: 'query', sql, params });
  }

  /**
   * One statement committed durably (waits for the WAL flush, whatever the session's
   * `synchronous_commit = off`): claims. Not inside {@link transaction}.
   */
  durable(sql: string, params: unknown[] = []): { rows: Record<string, unknown>[]; changes: number } {
    if (this.depth > 0) return this.query(sql, params);
    return this.call({ op: 'durable', sql, params });
  }

  prepare(sql: string): PgStatement {
    let s = this.statements.get(sql);
    if (!s) {
      s = new PgStatement(this, sql);
      this.statements.set(sql, s);
    }
    return s;
  }

  /** Several statements, no parameters (migrations). */
  exec(sql: string): this {
    this.call({ op: 'exec', sql });
    return this;
  }

  /**
   * better-sqlite3's `transaction(fn)`: BEGIN / COMMIT, ROLLBACK on a throw; nested calls use a
   * savepoint. `.immediate` and `.exclusive` also take one transaction-level advisory lock
   * ({@link WRITER_LOCK}), so that, as with SQLite's `BEGIN IMMEDIATE`, such transactions run one
   * at a time across every machine (the trail's read-last-then-append relies on it), and commit
   * durably (`synchronous_commit = on`).
   */
  transaction<A extends unknown[], R>(fn: (...args: A) => R): ((...args: A) => R) & { immediate: (...args: A) => R; deferred: (...args: A) => R; exclusive: (...args: A) => R } {
    const make = (serial: boolean) => (...args: A): R => {
      const nested = this.depth > 0;
      const sp = `watt_sp_${this.depth}`;
      this.exec(nested ? `SAVEPOINT ${sp}` : serial ? `BEGIN; SET LOCAL synchronous_commit = on; SELECT pg_advisory_xact_lock(${WRITER_LOCK})` : 'BEGIN');
      this.depth++;
      try {
        const r = fn(...args);
        this.depth--;
        this.exec(nested ? `RELEASE SAVEPOINT ${sp}` : 'COMMIT');
        return r;
      } catch (err) {
        this.depth--;
        try {
          this.exec(nested ? `ROLLBACK TO SAVEPOINT ${sp}` : 'ROLLBACK');
        } catch {
          /* the connection is gone: the server rolled back */
        }
        throw err;
      }
    };
    const run = make(false);
    const serial = make(true);
    return Object.assign(run, { immediate: serial, deferred: run, exclusive: serial });
  }

  /** Only what watt asks of SQLite pragmas that has a meaning here; other pragmas are no-ops. */
  pragma(source: string, options?: { simple?: boolean }): unknown {
    const name = source.trim().split(/\s|=/)[0]!.toLowerCase();
    if (name === 'data_version') {
      // The dashboard's "did anything change" probe: other machines write without telling this
      // session, so the answer is "maybe" every time (a new number: no answer is cached).
      this.dataVersion++;
      return options?.simple ? this.dataVersion : [{ data_version: this.dataVersion }];
    }
    return options?.simple ? undefined : [];
  }

  /** Drop one reference; the last one closes the session (blocking) and ends the worker. */
  close(): void {
    if (!this.open) return;
    if (--this.refs > 0) return;
    if (sessions.get(this.url) === this) sessions.delete(this.url);
    try {
      this.call({ op: 'end' });
    } catch {
      /* closing anyway */
    }
    this.open = false;
    void this.worker.terminate();
  }
}

/** Open sessions of this process by URL ({@link PgSyncDatabase.shared}). */
const sessions = new Map<string, PgSyncDatabase>();

/** SQLite-only forms of watt's callers and their PostgreSQL equivalents (whole-statement patterns). */
const REWRITES: Array<[RegExp, string]> = [
  [/FROM\s+sqlite_master\s+WHERE\s+type\s*=\s*'table'\s+AND\s+name\s*=\s*'(\w+)'/gi, "FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = '$1'"],
  // The highest seq ever handed out (survives deletions of the last entries), like sqlite_sequence.
  [/SELECT\s+seq\s+FROM\s+sqlite_sequence\s+WHERE\s+name\s*=\s*'(\w+)'/gi, 'SELECT (CASE WHEN is_called THEN last_value ELSE 0 END)::bigint AS seq FROM $1_seq_seq'],
  // The one JSON path watt reads in SQL (trail intents: detail.intent, an integer).
  [/json_extract\((\w+),\s*'\$\.intent'\)/gi, "(($1)::jsonb->>'intent')::bigint"],
  [/PRAGMA\s+table_info\((\w+)\)/gi, "SELECT column_name AS name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = '$1' ORDER BY ordinal_position"],
];

/**
 * Translate one SQLite statement of watt to PostgreSQL: the SQLite-only forms above, then `?`
 * placeholders to `$1…` and `@name` to `$n` (`names` lists them in order), leaving
 * string literals, quoted identifiers and comments alone.
 */
export function translateSql(source: string): { sql: string; names?: string[] } {
  let text = source;
  for (const [re, to] of REWRITES) text = text.replace(re, to);
  let out = '';
  let n = 0;
  const names: string[] = [];
  const index = new Map<string, number>();
  for (let i = 0; i < text.length; ) {
    const c = text[i]!;
    if (c === "'" || c === '"') {
      let j = i + 1;
      for (; j < text.length; j++) {
        if (text[j] === c) {
          if (text[j + 1] === c) j++;
          else break;
        }
      }
      out += text.slice(i, j + 1);
      i = j + 1;
    } else if (c === '-' && text[i + 1] === '-') {
      const j = text.indexOf('\n', i);
      const end = j < 0 ? text.length : j;
      out += text.slice(i, end);
      i = end;
    } else if (c === '?') {
      out += `$${++n}`;
      i++;
    } else if (c === '@' && /[A-Za-z_]/.test(text[i + 1] ?? '')) {
      const m = /^[A-Za-z_]\w*/.exec(text.slice(i + 1))!;
      const name = m[0];
      let k = index.get(name);
      if (k === undefined) {
        names.push(name);
        k = names.length;
        index.set(name, k);
      }
      out += `$${k}`;
      i += 1 + name.length;
    } else {
      out += c;
      i++;
    }
  }
  if (names.length && n) throw new Error(`a statement mixes ? and named parameters: ${source.slice(0, 80)}`);
  return names.length ? { sql: out, names } : { sql: out };
}
