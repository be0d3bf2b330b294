import path from 'node:path';
import os from 'node:os';
import { mkdirSync, openSync, writeSync, closeSync, readFileSync, readdirSync, unlinkSync, realpathSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createHash } from 'node:crypto';
import { LockError } from './errors.js';

/**
 * Advisory lock files under `<WATT_HOME>/locks/`, created with O_EXCL so that exactly one process
 * wins. A lock left by a process that no longer runs on this host is taken over.
 */
export interface Lock {
  readonly file: string;
  release(): void;
}

/**
 * Take the lock named `name` (any string; hashed into a file name).
 * @param what how to describe the holder in the error, e.g. "a purge of s3://bucket/prefix".
 * @throws LockError (exit 4) if another live process holds it.
 */
export function acquireLock(home: string, name: string, what: string): Lock {
  const dir = path.join(home, 'locks');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, `${createHash('sha256').update(name).digest('hex').slice(0, 24)}.lock`);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx', 0o600);
      writeSync(fd, JSON.stringify({ pid: process.pid, host: os.hostname(), started_at: new Date().toISOString(), name }));
      closeSync(fd);
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        process.removeListener('exit', release);
        try {
          unlinkSync(file);
        } catch {
          /* already gone */
        }
      };
      // Also on process.exit() (e.g. the 2 s stop deadline after SIGTERM, src/signals.ts).
      process.on('exit', release);
      return { file, release };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = readHolder(file);
      if (holder && holder.host === os.hostname() && !isAlive(holder.pid)) {
        try {
          unlinkSync(file); // stale: its process is gone
        } catch {
          /* someone else took it over */
        }
        continue;
      }
      throw new LockError(
        `${what} is already running (pid ${holder?.pid ?? '?'} since ${holder?.started_at ?? '?'})`,
        { hint: `wait for it to finish, or remove ${file} if that process is gone` },
      );
    }
  }
  throw new LockError(`${what} is already running`);
}

/** Who holds a lock. */
export interface LockHolder {
  pid: number;
  host: string;
  started_at: string;
  name: string;
}

/**
 * Lock names shared by ingest, purge and verify: one purge per lake, one ingest per (file, lake).
 * The lake is named by its resolved location ({@link lakeLocation}), so two spellings of one
 * place (a symlinked WATT_LAKE_ROOT, a trailing slash) take the same lock.
 */
export const lockNames = {
  purge: (destination: string) => `purge:${lakeLocation(destination)}`,
  ingest: (sourceSha256: string, destination: string) => `ingest:${sourceSha256}:${lakeLocation(destination)}`,
  isIngestOf: (name: string, destination: string) => name.startsWith('ingest:') && name.endsWith(`:${lakeLocation(destination)}`),
};

/**
 * The resolved location of a lake folder URI, the key of its locks: for `file:` URIs the real
 * path (symlinks resolved with realpath(3) on the deepest folder that exists, the rest appended);
 * for `s3://` and `az://` URIs the scheme lower-cased, repeated and trailing slashes removed.
 * @param destination a destination URI from `destinationUri()`, e.g. `file:///srv/lake/watt/raw`.
 */
export function lakeLocation(destination: string): string {
  if (destination.startsWith('file:')) {
    let rest = '';
    let dir = path.resolve(fileURLToPath(destination));
    for (;;) {
      try {
        return pathToFileURL(path.join(realpathSync(dir), rest)).href.replace(/\/+$/, '');
      } catch {
        const parent = path.dirname(dir);
        if (parent === dir) return pathToFileURL(path.join(dir, rest)).href;
        rest = path.join(path.basename(dir), rest);
        dir = parent;
      }
    }
  }
  const m = /^([a-z0-9+.-]+):\/\/(.*)$/i.exec(destination);
  if (!m) return destination;
  return `${m[1]!.toLowerCase()}://${m[2]!.replace(/\/{2,}/g, '/').replace(/\/+$/, '')}`;
}

/**
 * Live holders of the locks whose names `match` (stale ones, of processes gone, are skipped).
 * Ingest and purge each take their own lock, then look for the other's: whichever comes second
 * sees the first and backs off, so an erasure never runs while rows are landing in its lake.
 */
export function liveLocks(home: string, match: (name: string) => boolean): LockHolder[] {
  const dir = path.join(home, 'locks');
  let files: string[];
  try {
    files = readdirSync(dir);
  } catch {
    return [];
  }
  return files
    .map((f) => readHolder(path.join(dir, f)))
    .filter((h): h is LockHolder => !!h && typeof h.name === 'string' && match(h.name) && !(h.host === os.hostname() && !isAlive(h.pid)));
}

function readHolder(file: string): LockHolder | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

/** Whether a process with this pid is alive on this host (signal 0; EPERM means alive, owned by another user). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
