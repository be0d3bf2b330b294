import path from 'node:path';
import os from 'node:os';
import { mkdirSync, openSync, writeSync, closeSync, readFileSync, readdirSync, unlinkSync } from 'node:fs';
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
      return {
        file,
        release() {
          if (released) return;
          released = true;
          try {
            unlinkSync(file);
          } catch {
            /* already gone */
          }
        },
      };
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

/** Lock names shared by ingest and purge: one purge per lake, one ingest per (file, lake). */
export const lockNames = {
  purge: (destination: string) => `purge:${destination}`,
  ingest: (sourceSha256: string, destination: string) => `ingest:${sourceSha256}:${destination}`,
  isIngestOf: (name: string, destination: string) => name.startsWith('ingest:') && name.endsWith(`:${destination}`),
};

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

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
