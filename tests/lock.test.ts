import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { acquireLock } from '../src/lock.js';
import { LockError } from '../src/errors.js';

describe('lock files', () => {
  it('lets one holder in, refuses a second with exit code 4, and frees on release', () => {
    const home = mkdtempSync(path.join(os.tmpdir(), 'watt-lock-'));
    const first = acquireLock(home, 'purge:s3://b/p', 'a purge of s3://b/p');
    let error: unknown;
    try {
      acquireLock(home, 'purge:s3://b/p', 'a purge of s3://b/p');
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(LockError);
    expect((error as LockError).exitCode).toBe(4);
    expect((error as Error).message).toMatch(/a purge of s3:\/\/b\/p is already running \(pid \d+/);
    first.release();
    acquireLock(home, 'purge:s3://b/p', 'x').release();
    expect(readdirSync(path.join(home, 'locks'))).toEqual([]);
  });

  it('takes over a lock whose process is gone', () => {
    const home = mkdtempSync(path.join(os.tmpdir(), 'watt-lock-'));
    const lock = acquireLock(home, 'n', 'x');
    // Rewrite the holder as a finished process of this host.
    const dead = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
    writeFileSync(lock.file, JSON.stringify({ pid: Number(dead.stdout.trim()), host: os.hostname(), started_at: 'then' }));
    const again = acquireLock(home, 'n', 'x');
    expect(again.file).toBe(lock.file);
    again.release();
  });
});
