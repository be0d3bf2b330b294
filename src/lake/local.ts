import path from 'node:path';
import { createReadStream, createWriteStream } from 'node:fs';
import { chmod, rename, rm, rmdir, stat, readdir, copyFile, writeFile } from 'node:fs/promises';
import { ensurePrivateDir, PRIVATE_FILE_MODE } from '../private-fs.js';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { StorageError, UsageError } from '../errors.js';
import type { DeleteResult, Lake, ObjectInfo, PutOptions } from './types.js';

const TMP_DIR = '.watt-tmp';

/**
 * The local lake: `<root>/<bucket>/<key>` on the file system. Writes go to
 * `<root>/<bucket>/.watt-tmp/` then `rename(2)` into place, so an object is visible whole or not
 * at all. Never touches anything outside `<root>/<bucket>`. The sha256 of an object is kept in
 * its run's manifest (the file system has no portable object metadata).
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

  private async tempPath(): Promise<string> {
    const tmp = path.join(this.dir, TMP_DIR);
    await ensurePrivateDir(tmp);
    return path.join(tmp, `${process.pid}-${randomBytes(6).toString('hex')}`);
  }

  /** Fill a temp file in the bucket folder, then rename it onto the key: visible whole or not at all. */
  private async writeAtomically(key: string, fill: (tmp: string) => Promise<void>): Promise<ObjectInfo> {
    const target = this.pathOf(key);
    const tmp = await this.tempPath();
    try {
      await fill(tmp);
      await chmod(tmp, PRIVATE_FILE_MODE); // private by default, whatever the umask or the source file's mode
      await ensurePrivateDir(path.dirname(target));
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
    const s = await stat(file);
    return { key, size: s.size, lastModified: s.mtime };
  }

  async get(key: string): Promise<Readable> {
    const file = this.pathOf(key);
    try {
      await stat(file);
    } catch (err) {
      throw wrap(err, `read ${this.uri(key)}`);
    }
    return createReadStream(file);
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    try {
      return await this.info(key, this.pathOf(key));
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
        await rm(this.pathOf(key), { force: true });
        result.deleted.push(key);
        await this.pruneEmptyDirs(path.dirname(this.pathOf(key)));
      } catch (err) {
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

  async close(): Promise<void> {}
}

function wrap(err: unknown, what: string): Error {
  if (err instanceof UsageError || err instanceof StorageError) return err;
  const e = err as NodeJS.ErrnoException;
  const hint = e.code === 'ENOSPC' ? 'free some disk space' : e.code === 'EACCES' ? 'check the folder permissions' : undefined;
  return new StorageError(`cannot ${what}: ${e.code ?? e.message}`, { hint, cause: err });
}

