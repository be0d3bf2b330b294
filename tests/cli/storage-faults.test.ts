/**
 * Issue 22, item 5: exit codes from the cause. Storage refusals are exit 3 with the path and a
 * hint, wherever they happen: real tiny tmpfs mounts where the test may mount one (root), else
 * skipped; EACCES (root ignores modes) and EDQUOT (no quotas here) injected at the file system
 * call (tests/helpers/fs-fault.mjs); SQLite's own errors made for real with better-sqlite3.
 */
import { afterAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { storageFaultOf } from '../../src/storage-fault.js';
import { UsageError, DataError, InterruptedError } from '../../src/errors.js';
import { ROOT, runWatt, scratchDir } from '../helpers/cli.js';

const mounted: string[] = [];
/** Mount a tmpfs of `size` at a new folder (options e.g. 'ro'); undefined when this machine does not allow it. */
function tmpfs(size: string, extra = ''): string | undefined {
  const dir = scratchDir('watt-tmpfs-');
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}${extra ? `,${extra}` : ''}`, 'tmpfs', dir]);
  if (r.status !== 0) return undefined;
  mounted.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of mounted) spawnSync('umount', ['-l', dir]);
});
const canMount = (() => {
  const dir = tmpfs('64k');
  return dir !== undefined;
})();
const itMount = canMount ? it : it.skip;

describe('exit 3 with the path and a hint (real file systems)', () => {
  itMount('a read-only lake root (EROFS): exit 3, not "internal error: ENOENT ... mkdir"', async () => {
    const ro = tmpfs('64k', 'ro')!;
    const cwd = scratchDir();
    const r = await runWatt(['ingest'], { cwd, env: { WATT_LAKE_ROOT: path.join(ro, 'lake') } });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`mkdir failed at ${ro}: EROFS (read-only file system)`);
    expect(r.stderr).toMatch(/mount it read-write, or point WATT_HOME \/ WATT_LAKE_ROOT to a writable place/);
    expect(r.stderr).not.toMatch(/internal error/);
  });

  itMount('a full lake root (ENOSPC): exit 3 naming the object', async () => {
    const full = tmpfs('64k')!;
    spawnSync('sh', ['-c', `head -c 65536 /dev/zero > "${full}/fill"`]);
    const cwd = scratchDir();
    const r = await runWatt(['ingest'], { cwd, env: { WATT_LAKE_ROOT: path.join(full, 'lake') } });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/ENOSPC/);
    expect(r.stderr).toContain(full);
  });

  itMount('WATT_HOME on a disk that fills up after the catalog exists: exit 3', async () => {
    const disk = tmpfs('1m')!;
    const cwd = scratchDir();
    const env = { WATT_HOME: path.join(disk, 'home') };
    expect((await runWatt(['ingest'], { cwd, env })).code).toBe(0);
    spawnSync('sh', ['-c', `head -c 2000000 /dev/zero > "${disk}/fill"`]);
    const r = await runWatt(['ingest', '--source', path.join(ROOT, 'samples', 'weather.csv')], { cwd, env });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(disk);
    expect(r.stderr).not.toMatch(/internal error/);
  });
});

describe('exit 3 for causes injected at the file system call', () => {
  const preload = path.join(ROOT, 'tests', 'helpers', 'fs-fault.mjs');
  for (const [code, what] of [
    ['EACCES', 'permission denied'],
    ['EDQUOT', 'disk quota exceeded'],
    ['ENOSPC', 'no space left on device'],
    ['EROFS', 'read-only file system'],
  ] as const) {
    it(`${code} on the lake root: exit 3, "${what}", the path`, async () => {
      const cwd = scratchDir();
      const lake = path.join(cwd, 'lake');
      const r = await runWatt(['ingest'], { cwd, env: { NODE_OPTIONS: `--import ${preload}`, WATT_FS_FAULT_CODE: code, WATT_FS_FAULT_PATH: lake } });
      expect(r.code).toBe(3);
      expect(r.stderr).toContain(`${code} (${what})`);
      expect(r.stderr).toContain(lake);
      expect(r.stderr).not.toMatch(/internal error/);
    });
  }
});

describe('storageFaultOf', () => {
  it("maps better-sqlite3's SQLITE_READONLY to exit 3 naming the catalog", () => {
    const dir = scratchDir();
    const file = path.join(dir, 'x.db');
    new Database(file).exec('CREATE TABLE t (a)');
    const db = new Database(file, { readonly: true });
    let err: unknown;
    try {
      db.exec('INSERT INTO t VALUES (1)');
    } catch (e) {
      err = e;
    }
    expect((err as { code: string }).code).toMatch(/^SQLITE_READONLY/);
    const fault = storageFaultOf(err, { WATT_HOME: dir });
    expect(fault?.exitCode).toBe(3);
    expect(fault?.message).toContain(path.join(dir, 'catalog.db'));
    expect(fault?.hint).toMatch(/writable/);
  });

  (canMount ? it : it.skip)("maps SQLITE_FULL (a database on a full tmpfs) to exit 3", () => {
    const disk = tmpfs('256k')!;
    const db = new Database(path.join(disk, 'x.db'));
    db.exec('CREATE TABLE t (a)');
    let err: unknown;
    try {
      const insert = db.prepare('INSERT INTO t VALUES (?)');
      for (let i = 0; i < 10_000; i++) insert.run(Buffer.alloc(4096, i % 251));
    } catch (e) {
      err = e;
    }
    expect((err as { code: string }).code).toMatch(/^SQLITE_FULL/);
    expect(storageFaultOf(err)?.exitCode).toBe(3);
    expect(storageFaultOf(err)?.message).toMatch(/database or disk is full/);
  });

  it('follows the cause chain, leaves usage errors, interruptions and other errors alone', () => {
    const enospc = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', syscall: 'write', path: '/srv/lake/x.csv' });
    const wrapped = new DataError('ingest failed', { cause: enospc });
    expect(storageFaultOf(wrapped)?.message).toBe('write failed at /srv/lake/x.csv: ENOSPC (no space left on device)');
    expect(storageFaultOf(new UsageError('bad flag', { cause: enospc }))).toBeUndefined();
    expect(storageFaultOf(new InterruptedError())).toBeUndefined();
    expect(storageFaultOf(new Error('boom'))).toBeUndefined();
    expect(storageFaultOf(Object.assign(new Error('x'), { code: 'ENOENT', syscall: 'open', path: '/nope' }))).toBeUndefined();
  });

  it('a recursive mkdir ENOENT under a writable folder is not turned into a storage error', () => {
    const dir = scratchDir();
    mkdirSync(path.join(dir, 'ok'));
    writeFileSync(path.join(dir, 'file'), '');
    // ENOTDIR-like case: the nearest existing ancestor is writable: nothing to say.
    expect(storageFaultOf(Object.assign(new Error('x'), { code: 'ENOENT', syscall: 'mkdir', path: path.join(dir, 'ok', 'a', 'b') }))).toBeUndefined();
  });
});
