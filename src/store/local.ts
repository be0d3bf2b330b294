import path from 'node:path';
import { createReadStream, createWriteStream } from 'node:fs';
import { chmod, link, rename, rm, rmdir, stat, readdir, copyFile, writeFile, realpath } from 'node:fs/promises';
import { ensurePrivateDir, PRIVATE_FILE_MODE } from '../private-fs.js';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { createHash, randomBytes } from 'node:crypto';
import os from 'node:os';
import { pathToFileURL } from 'node:url';
import { StorageError, UsageError } from '../errors.js';
import type { DeleteResult, Lake, ObjectInfo, PutOptions, RetainedVersions } from './types.js';
import { isAlive } from '../lock.js';

const TMP_DIR = '.watt-tmp';
/** This host in temp file names (8 hex of the sha256 of its name): pids are only checked on their own host. */
const HOST_TAG = createHash('sha256').update(os.hostname()).digest('hex').slice(0, 8);

/**
 * The local lake: `<root>/<bucket>/<key>` on the file system. Writes go to
 * `<root>/<bucket>/.watt-tmp/` then `rename(2)` into place, so an object is visible whole or not
 * at all. Never reads, writes or deletes anything outside `<root>/<bucket>`, symlinks included:
 * every path is resolved with realpath(3) before use, and a folder or file that is a symlink
 * leading outside the bucket folder is refused (UsageError, exit 2), never followed; a symlink
 * leading inside is an alias, skipped by `list`. The sha256 of an object is kept in its run's
 * manifest (the file system has no portable object metadata).
 */
export class LocalLake implements Lake {
  readonly provider = 'local' as const;
  readonly bucket: string;
  readonly dir: string;

  constructor(root: string, bucket: string) {
    this.bucket = bucket;
    this.dir = path.resolve(root, bucket);
  }

  /** Absolute path of a key. @throws UsageError if it would leave the bucket folder. */
  pathOf(key: string): string {
    const full = path.resolve(this.dir, key);
    if (!full.startsWith(this.dir + path.sep) || key.split('/').includes('..') || key.split('/')[0] === TMP_DIR) {
      throw new UsageError(`key "${key.slice(0, 80)}" would leave the lake folder`);
    }
    return full;
  }

  uri(key: string): string {
    return pathToFileURL(path.join(this.dir, key)).href;
  }

  /** Real path of `file`: realpath(3) of its deepest existing ancestor, the rest appended. */
  private static async resolveReal(file: string): Promise<string> {
    let rest = '';
    let dir = file;
    for (;;) {
      try {
        return path.join(await realpath(dir), rest);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        const parent = path.dirname(dir);
        if ((code !== 'ENOENT' && code !== 'ENOTDIR') || parent === dir) throw err;
        rest = path.join(path.basename(dir), rest);
        dir = parent;
      }
    }
  }

  /**
   * Refuse a path whose real location (symlinks resolved) is outside the bucket folder.
   * @throws UsageError (exit 2) naming the path relative to the lake.
   */
  private async confine(file: string): Promise<void> {
    const [root, real] = await Promise.all([LocalLake.resolveReal(this.dir), LocalLake.resolveReal(file)]);
    if (real !== root && !real.startsWith(root + path.sep)) {
      throw new UsageError(`${path.relative(this.dir, file) || '.'} in the lake ${this.dir} is a symlink leading outside the lake: refused`, {
        hint: 'replace the symlink by a real folder inside the lake root, or point WATT_LAKE_ROOT at the real location',
      });
    }
  }

  /** A new temp path in `.watt-tmp/`, named after this process and host: see {@link Lake.stagingFile}. */
  async stagingFile(): Promise<string> {
    const tmp = path.join(this.dir, TMP_DIR);
    await this.confine(tmp);
    await ensurePrivateDir(tmp);
    return path.join(tmp, `${process.pid}-h${HOST_TAG}-${randomBytes(6).toString('hex')}`);
  }

  /**
   * Remove temp files (`.watt-tmp/<pid>-h<host>-*`) left by processes that no longer exist: of this
   * host, when their pid is gone; of another host (a lake folder shared over NFS, or by containers,
   * whose pids this host cannot check), once older than `graceMs`. Names without a host tag
   * (watt before 2026-12-07) count as this host's.
   * @param graceMs the recovery grace (table/integrity.ts DEFAULT_GRACE_MS unless configured)
   * @returns files removed.
   */
  async removeStaleTemp(graceMs: number, now = Date.now()): Promise<number> {
    const tmp = path.join(this.dir, TMP_DIR);
    let names: string[];
    try {
      await this.confine(tmp);
      names = await readdir(tmp);
    } catch {
      return 0;
    }
    let removed = 0;
    for (const name of names) {
      const m = /^(\d+)-(?:h([0-9a-f]{8})-)?/.exec(name);
      const pid = Number(m?.[1]);
      if (!pid) continue;
      const file = path.join(tmp, name);
      if (m![2] === undefined || m![2] === HOST_TAG) {
        if (pid === process.pid || isAlive(pid)) continue;
      } else {
        const s = await stat(file).catch(() => undefined);
        if (!s || now - s.mtimeMs < graceMs) continue;
      }
      await rm(file, { force: true });
      removed++;
    }
    return removed;
  }

  /** Fill a temp file in the bucket folder, then rename it onto the key: visible whole or not at all. */
  private async writeAtomically(key: string, fill: (tmp: string) => Promise<void>): Promise<ObjectInfo> {
    const target = this.pathOf(key);
    await this.confine(target);
    const tmp = await this.stagingFile();
    try {
      await fill(tmp);
      await chmod(tmp, PRIVATE_FILE_MODE); // private by default, whatever the umask or the source file's mode
      await ensurePrivateDir(path.dirname(target));
      await this.confine(target); // again: a folder may have been swapped for a symlink meanwhile
      await rename(tmp, target);
    } catch (err) {
      await rm(tmp, { force: true });
      throw wrap(err, `write ${this.uri(key)}`);
    }
    return this.info(key, target);
  }

  async put(key: string, body: Readable | Buffer | string, _options: PutOptions = {}): Promise<ObjectInfo> {
    return this.writeAtomically(key, async (tmp) => {
      if (typeof body === 'string' || Buffer.isBuffer(body)) await writeFile(tmp, body);
      else await pipeline(body, createWriteStream(tmp));
    });
  }

  async putIfAbsent(key: string, body: Buffer | string, _options: PutOptions = {}): Promise<ObjectInfo | undefined> {
    const target = this.pathOf(key);
    await this.confine(target);
    const tmp = await this.stagingFile();
    try {
      await writeFile(tmp, body, { mode: PRIVATE_FILE_MODE });
      await ensurePrivateDir(path.dirname(target));
      await this.confine(target);
      // link(2) never replaces an existing name: of two racing writers exactly one succeeds.
      await link(tmp, target);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return undefined;
      throw wrap(err, `write ${this.uri(key)}`);
    } finally {
      await rm(tmp, { force: true });
    }
    return this.info(key, target);
  }

  async putFile(key: string, file: string, options: PutOptions = {}): Promise<ObjectInfo> {
    return this.writeAtomically(key, async (tmp) => {
      if (!options.consume) return copyFile(file, tmp);
      // Same file system: a rename is atomic and free; across file systems, copy then rename.
      await rename(file, tmp).catch(async (err: NodeJS.ErrnoException) => {
        if (err.code !== 'EXDEV') throw err;
        await copyFile(file, tmp);
      });
    });
  }

  private async info(key: string, file: string): Promise<ObjectInfo> {
    const s = await stat(file, { bigint: true });
    return { key, size: Number(s.size), lastModified: s.mtime, identity: `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}` };
  }

  async get(key: string): Promise<Readable> {
    const file = this.pathOf(key);
    try {
      await this.confine(file);
      await stat(file);
    } catch (err) {
      throw wrap(err, `read ${this.uri(key)}`);
    }
    return createReadStream(file);
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    try {
      const file = this.pathOf(key);
      await this.confine(file);
      return await this.info(key, file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw wrap(err, `stat ${this.uri(key)}`);
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    // Walk from the deepest folder the prefix names, then filter by the full prefix.
    const slash = prefix.lastIndexOf('/');
    const start = slash >= 0 ? prefix.slice(0, slash) : '';
    const startDir = start ? this.pathOf(start) : this.dir;
    await this.confine(startDir);
    const stack: string[] = [startDir];
    const found: ObjectInfo[] = [];
    while (stack.length) {
      const dir = stack.pop()!;
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw wrap(err, `list ${dir}`);
      }
      for (const e of entries) {
        const full = path.join(dir, e.name);
        const key = path.relative(this.dir, full).split(path.sep).join('/');
        if (key === TMP_DIR) continue;
        if (e.isSymbolicLink()) {
          // Outside: refused (erasure must not miss it, nor follow it). Inside: an alias of a path listed anyway.
          await this.confine(full);
          continue;
        }
        if (e.isDirectory()) {
          if ((key + '/').startsWith(prefix) || prefix.startsWith(key + '/')) stack.push(full);
        } else if (e.isFile() && key.startsWith(prefix)) {
          found.push(await this.info(key, full));
        }
      }
    }
    found.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    yield* found;
  }

  async delete(keys: string[]): Promise<DeleteResult> {
    const result: DeleteResult = { deleted: [], errors: [] };
    for (const key of keys) {
      try {
        await this.confine(this.pathOf(key));
        await rm(this.pathOf(key), { force: true });
        result.deleted.push(key);
        await this.pruneEmptyDirs(path.dirname(this.pathOf(key)));
      } catch (err) {
        if (err instanceof UsageError) throw err; // a symlink out of the lake: refused, not a store failure
        result.errors.push({ key, message: (err as Error).message });
      }
    }
    return result;
  }

  /** Remove folders left empty by a delete, up to the bucket folder. */
  private async pruneEmptyDirs(dir: string): Promise<void> {
    while (dir.startsWith(this.dir + path.sep)) {
      try {
        if ((await readdir(dir)).length > 0) return;
        await rmdir(dir);
      } catch {
        return;
      }
      dir = path.dirname(dir);
    }
  }

  /** A folder keeps nothing after a delete or a rename over a file. */
  async retainedVersions(): Promise<RetainedVersions> {
    return { kind: 'none', setting: 'local folder: no versions', deletable: true };
  }

  async deleteOldVersions(): Promise<number> {
    return 0;
  }

  async close(): Promise<void> {}
}


function wrap(err: unknown, what: string): Error {
  if (err instanceof UsageError || err instanceof StorageError) return err;
  const e = err as NodeJS.ErrnoException;
  const hint = e.code === 'ENOSPC' ? 'free some disk space' : e.code === 'EACCES' ? 'check the folder permissions' : undefined;
  return new StorageError(`cannot ${what}: ${e.code ?? e.message}`, { hint, cause: err });
}

