import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { readObject } from '../store/index.js';
import type { Lake, ObjectInfo } from '../store/types.js';

/**
 * What the manifests of a lake prefix commit (the commit rule, ARCHITECTURE.md "Lakes": a run is
 * complete exactly when `<prefix>/_manifests/<run_id>.json` exists), read without the ingest
 * pipeline's types so that retention and verify can ask it from the table layer.
 */
export interface CommittedKeys {
  /** Keys of the manifests read. */
  manifests: string[];
  /** Data objects and quarantine files named by a manifest read. */
  named: Set<string>;
  /** Manifests that could not be parsed as JSON (their objects are in no `named`). */
  unreadable: string[];
}

/** Manifests read at once. */
const READS = 8;

/**
 * Read every manifest under `<prefix>/_manifests/` and collect the keys they name (version 2's
 * `objects[].key`, version 1's `object.key`, and `rejects.key`). Only what a manifest names is
 * committed: an object of a run still writing (here or on another machine) is in no manifest yet.
 * @param manifestKeys the manifest keys to read (from a listing the caller already made), else listed here
 * @throws StorageError (3) when the lake cannot be listed or a manifest cannot be read.
 */
export async function committedKeys(lake: Lake, prefix: string, manifestKeys?: string[]): Promise<CommittedKeys> {
  let keys = manifestKeys;
  if (!keys) {
    keys = [];
    const folder = `${prefix}/_manifests/`;
    for await (const o of lake.list(folder)) if (o.key.endsWith('.json') && !o.key.slice(folder.length).includes('/')) keys.push(o.key);
  }
  const out: CommittedKeys = { manifests: [], named: new Set(), unreadable: [] };
  for (let i = 0; i < keys.length; i += READS) {
    const batch = keys.slice(i, i + READS);
    const texts = await Promise.all(batch.map(async (k) => (await readObject(lake, k)).toString('utf8')));
    batch.forEach((k, j) => {
      const names = namedBy(texts[j]!);
      if (!names) {
        out.unreadable.push(k);
        return;
      }
      out.manifests.push(k);
      for (const n of names) out.named.add(n);
    });
  }
  return out;
}

/** The keys a manifest's JSON text names, or undefined when it is not JSON of a manifest's shape. */
export function namedBy(text: string): string[] | undefined {
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof m !== 'object' || m === null) return undefined;
  const r = m as { objects?: unknown; object?: { key?: unknown } | null; rejects?: { key?: unknown } | null };
  const out: string[] = [];
  if (Array.isArray(r.objects)) for (const o of r.objects) if (typeof (o as { key?: unknown })?.key === 'string') out.push((o as { key: string }).key);
  if (typeof r.object?.key === 'string') out.push(r.object.key);
  if (typeof r.rejects?.key === 'string') out.push(r.rejects.key);
  return out;
}

/** An object a run wrote, as the run computed it. */
export interface WrittenObject {
  key: string;
  /** Hex sha256 of the bytes the run wrote. */
  sha256: string;
  /** Bytes the run wrote. */
  bytes: number;
  /** Local lake: the file's identity when the run wrote it ({@link ObjectInfo.identity}). */
  identity?: string;
}

/** Why a written object no longer is what its run wrote. */
export interface ChangedObject {
  key: string;
  reason: 'missing' | 'size' | 'sha256';
}

/**
 * Check, just before a run's manifest, that each object it wrote is still in the store with the
 * bytes it computed: another machine's purge or erasure that does not know the run (it has no
 * manifest yet) may have deleted or rewritten it. The local lake compares the file's identity
 * (device, inode, size, mtime and ctime in ns: {@link ObjectInfo.identity}) with the one its put
 * returned: equal, the file is the one the run wrote, untouched (erasure and every other watt
 * writer replace a file by rename, which gives a new inode; a write in place moves the ctime,
 * which no user process can set back); different or unknown, it re-reads and hashes the object
 * (the file system keeps no sha256). S3 and Azure compare the size and the sha256 kept in the
 * object's metadata by `head` (every watt writer, erasure's rewrite included, sets it), so
 * nothing is downloaded.
 * @returns the objects that changed (empty: all as written)
 * @throws StorageError (3) when the store cannot be read.
 */
export async function changedObjects(lake: Lake, objects: readonly WrittenObject[]): Promise<ChangedObject[]> {
  const changed: ChangedObject[] = [];
  for (const o of objects) {
    const info: ObjectInfo | undefined = await lake.head(o.key);
    if (!info) {
      changed.push({ key: o.key, reason: 'missing' });
      continue;
    }
    if (info.size !== o.bytes) {
      changed.push({ key: o.key, reason: 'size' });
      continue;
    }
    if (lake.provider === 'local' && o.identity !== undefined && info.identity === o.identity) continue;
    const sha = lake.provider === 'local' || !info.sha256 ? await hashOf(lake, o.key) : info.sha256;
    if (sha !== o.sha256) changed.push({ key: o.key, reason: 'sha256' });
  }
  return changed;
}

/** Hex sha256 of an object's bytes, streamed. */
async function hashOf(lake: Lake, key: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(
    await lake.get(key),
    new Writable({
      write(chunk: Buffer, _enc, done) {
        hash.update(chunk);
        done();
      },
    }),
  );
  return hash.digest('hex');
}
