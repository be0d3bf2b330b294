import path from 'node:path';
import { accessSync, constants, existsSync } from 'node:fs';
import { wattHome } from './config.js';
import { InterruptedError, StorageError, WattError, oneLine } from './errors.js';

/**
 * Exit codes from the cause (issue 22, item 5): a file system or SQLite error that says the
 * storage itself refused (no room, read-only, no permission, quota) is a storage error (exit 3)
 * wherever it is thrown, with the path it concerns and a hint, instead of exit 1 "internal error".
 * src/cli.ts and the ingest batch (src/ingest/sources.ts) pass every error through
 * {@link storageFaultOf}, so every verb benefits without catching these codes itself.
 */

/** errno codes (POSIX, see errno(3)) that mean the storage refused, with what to do about each. */
const ERRNO_HINTS: Record<string, { what: string; hint: string }> = {
  ENOSPC: { what: 'no space left on device', hint: 'free some space on that file system (or point WATT_HOME / WATT_LAKE_ROOT elsewhere), then run again' },
  EDQUOT: { what: 'disk quota exceeded', hint: 'free some space within your quota (or raise it), then run again' },
  EROFS: { what: 'read-only file system', hint: 'mount it read-write, or point WATT_HOME / WATT_LAKE_ROOT to a writable place' },
  EACCES: { what: 'permission denied', hint: 'check the owner and mode of that path (watt needs to write there), or point WATT_HOME / WATT_LAKE_ROOT elsewhere' },
  EPERM: { what: 'operation not permitted', hint: 'check the owner, mode and attributes of that path, or point WATT_HOME / WATT_LAKE_ROOT elsewhere' },
};

/** SQLite result codes (https://sqlite.org/rescode.html) that mean the catalog's storage refused. */
const SQLITE_HINTS: Array<{ prefix: string; what: string; hint: string }> = [
  { prefix: 'SQLITE_FULL', what: 'database or disk is full', hint: 'free some space where WATT_HOME lives, then run again' },
  { prefix: 'SQLITE_READONLY', what: 'the catalog is read-only', hint: 'make WATT_HOME and catalog.db writable, or point WATT_HOME elsewhere' },
  { prefix: 'SQLITE_CANTOPEN', what: 'cannot open the catalog', hint: 'check that WATT_HOME exists and is writable' },
  { prefix: 'SQLITE_IOERR', what: 'disk I/O error on the catalog', hint: 'check the disk that holds WATT_HOME (space, errors in dmesg)' },
];

/** The errno codes {@link storageFaultOf} maps to exit 3. */
export const STORAGE_ERRNO_CODES: readonly string[] = Object.keys(ERRNO_HINTS);

/**
 * The StorageError (exit 3) that `err` really is, or undefined when it is something else.
 *
 * Looks at `err` and its `cause` chain (at most 8 deep) for an errno code in
 * {@link STORAGE_ERRNO_CODES} (Node's `code`, with `path` / `dest` when the call had one) or a
 * SQLite code (better-sqlite3's `SqliteError.code`: `SQLITE_FULL*`, `SQLITE_READONLY*`,
 * `SQLITE_CANTOPEN*`, `SQLITE_IOERR*`; the path is then the catalog, `<WATT_HOME>/catalog.db`).
 * An error that already has its class (a WattError other than exit 1, e.g. a usage error or an
 * interruption) is left alone: its code was chosen on purpose.
 *
 * The message is one line: `<what failed> at <path>: <code> (<why>)`; the path is the file
 * system's, never a personal identifier from the data (source names are not passed here: Node
 * errors of a source read are caught and classed where they happen).
 */
export function storageFaultOf(err: unknown, env: NodeJS.ProcessEnv = process.env): StorageError | undefined {
  if (err instanceof StorageError || err instanceof InterruptedError) return undefined;
  if (err instanceof WattError && err.exitCode !== 1) return undefined;
  let e: unknown = err;
  for (let depth = 0; depth < 8 && e && typeof e === 'object'; depth++, e = (e as { cause?: unknown }).cause) {
    const raw = (e as { code?: unknown }).code;
    if (typeof raw !== 'string') continue;
    let code: string = raw;
    let where = (e as { path?: unknown; dest?: unknown }).dest ?? (e as { path?: unknown }).path;
    // Node's recursive mkdir reports ENOENT when a parent cannot be created on a read-only or
    // forbidden file system: ask the nearest folder that exists whether it can be written to.
    if (code === 'ENOENT' && (e as { syscall?: unknown }).syscall === 'mkdir' && typeof where === 'string') {
      const refusal = writeRefusal(where);
      if (refusal) [code, where] = refusal;
    }
    const errno = ERRNO_HINTS[code];
    if (errno) {
      const syscall = (e as { syscall?: unknown }).syscall;
      const at = typeof where === 'string' ? ` at ${where}` : '';
      const op = typeof syscall === 'string' ? `${syscall} failed` : 'storage write failed';
      return new StorageError(oneLine(`${op}${at}: ${code} (${errno.what})`), { hint: errno.hint, cause: err });
    }
    const sqlite = SQLITE_HINTS.find((s) => code.startsWith(s.prefix));
    if (sqlite) {
      const catalog = path.join(wattHome(env), 'catalog.db');
      return new StorageError(oneLine(`catalog ${catalog}: ${code} (${sqlite.what})`), { hint: sqlite.hint, cause: err });
    }
  }
  return undefined;
}

/** For a folder that mkdir could not create: the errno (EROFS, EACCES...) and the nearest existing ancestor that refuses writes, if one does. */
function writeRefusal(dir: string): [string, string] | undefined {
  let d = path.resolve(dir);
  while (!existsSync(d) && path.dirname(d) !== d) d = path.dirname(d);
  try {
    accessSync(d, constants.W_OK);
    return undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code && code in ERRNO_HINTS ? [code, d] : undefined;
  }
}
