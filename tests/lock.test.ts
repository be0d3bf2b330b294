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

describe('ingest and purge of the same lake exclude each other (exit 4)', () => {
  it('refuses an ingest while a purge of its destination runs, and a purge while an ingest into it runs', async () => {
    const { runWatt, scratchDir } = await import('./helpers/cli.js');
    const { liveLocks, lockNames } = await import('../src/lock.js');
    const { destinationUri } = await import('../src/store/index.js');
    const { resolveLakeConfig } = await import('../src/config.js');
    const cwd = scratchDir();
    const env = { WATT_PSEUDONYMISATION_KEY: 'k'.repeat(40) };
    const destination = destinationUri(resolveLakeConfig({}, { WATT_LAKE_ROOT: path.join(cwd, 'lake') }));
    const home = path.join(cwd, '.watt');

    const purge = acquireLock(home, lockNames.purge(destination), 'a test purge');
    const ingest = await runWatt(['ingest'], { cwd, env });
    expect(ingest.code).toBe(4);
    expect(ingest.stderr).toMatch(/watt: a purge of file:.* is running \(pid \d+\): ingest refused/);
    expect(readdirSync(path.join(home, 'locks'))).toHaveLength(1); // the ingest let its own lock go
    purge.release();

    const held = acquireLock(home, lockNames.ingest('f'.repeat(64), destination), 'a test ingest');
    expect(liveLocks(home, (n) => lockNames.isIngestOf(n, destination))).toHaveLength(1);
    const purged = await runWatt(['purge', '--days', '30', '--yes'], { cwd, env });
    expect(purged.code).toBe(4);
    expect(purged.stderr).toMatch(/watt: an ingest into file:.* is running .*purge refused/);
    held.release();
    expect((await runWatt(['ingest'], { cwd, env })).code).toBe(0);
  });
});

describe('lakeLocation (the key of lake locks)', () => {
  it('resolves symlinks of local lakes, also below a folder that does not exist yet', async () => {
    const { mkdtempSync, mkdirSync, symlinkSync, realpathSync } = await import('node:fs');
    const { pathToFileURL } = await import('node:url');
    const { lakeLocation } = await import('../src/lock.js');
    const base = realpathSync(mkdtempSync(path.join(os.tmpdir(), 'watt-loc-')));
    mkdirSync(path.join(base, 'real'));
    symlinkSync(path.join(base, 'real'), path.join(base, 'link'));
    const viaLink = lakeLocation(pathToFileURL(path.join(base, 'link', 'watt-lake', 'raw')).href);
    expect(viaLink).toBe(pathToFileURL(path.join(base, 'real', 'watt-lake', 'raw')).href);
    expect(lakeLocation(pathToFileURL(path.join(base, 'real', 'watt-lake', 'raw')).href + '/')).toBe(viaLink);
  });

  it('normalises remote lake URIs (scheme case, repeated and trailing slashes)', async () => {
    const { lakeLocation } = await import('../src/lock.js');
    expect(lakeLocation('S3://watt-lake//watt-about-it/raw/')).toBe('s3://watt-lake/watt-about-it/raw');
    expect(lakeLocation('az://acct/watt-lake/raw')).toBe('az://acct/watt-lake/raw');
  });
});
