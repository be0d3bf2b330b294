import type { Catalog, ManifestCacheRecord } from '../catalog/catalog.js';
import { readObject, type Lake } from '../store/index.js';
import type { Logger } from '../log.js';
import { manifestObjects, type Manifest } from '../table/manifest.js';
import { manifestScheme, type PseudonymScheme } from '../records/pseudonymise.js';

/**
 * What ingest needs to know of a lake prefix, read from its manifests (the truth about what
 * landed, ARCHITECTURE.md "Lakes"), not from the local catalog: which sources landed (by sha256)
 * and with which pseudonymisation key id. The catalog caches each manifest read, keyed by its
 * lake key and size, so a repeat ingest lists `<prefix>/_manifests/` and reads only new ones.
 */
export interface LakeIndex {
  /** Every manifest of the prefix, oldest first (by `finished_at`, then run_id). */
  manifests: ManifestCacheRecord[];
  /** Manifests read from the lake in this call (the others came from the catalog cache). */
  read: number;
}

/** Largest manifest read, bytes (a manifest is about 1 KiB; anything bigger is not watt's). */
const MAX_MANIFEST_BYTES = 1024 * 1024;

/**
 * List `<prefix>/_manifests/*.json` and summarise each one, from the catalog cache when the key
 * and size match, else by reading it. Unreadable or foreign JSON files are skipped with a warning.
 * @param endpoint the S3-compatible endpoint, if any (part of the lake's identity in the cache)
 * @param cache the catalog to read and update the cache in (none: read every manifest).
 * @throws StorageError (3) when the lake cannot be listed or a manifest cannot be read.
 */
export async function readLakeIndex(lake: Lake, prefix: string, endpoint: string | undefined, cache: Catalog | undefined, logger: Logger): Promise<LakeIndex> {
  const folder = `${prefix}/_manifests/`;
  // The cache is per store: the same bucket name under another root or endpoint is another lake.
  const lakeId = `${lake.uri('')}${endpoint ? ` at ${endpoint}` : ''}`;
  const cached = new Map((cache?.cachedManifests(lakeId, folder) ?? []).map((m) => [m.key, m]));
  const manifests: ManifestCacheRecord[] = [];
  const fresh: ManifestCacheRecord[] = [];
  const listed = new Set<string>();
  for await (const info of lake.list(folder)) {
    if (!info.key.endsWith('.json') || info.key.slice(folder.length).includes('/')) continue;
    listed.add(info.key);
    const hit = cached.get(info.key);
    if (hit && hit.bytes === info.size) {
      manifests.push(hit);
      continue;
    }
    if (info.size > MAX_MANIFEST_BYTES) {
      logger.warn(`skipped ${lake.uri(info.key)}: ${info.size} bytes is not a watt manifest`, { step: 'manifests', key: info.key });
      continue;
    }
    const summary = summarise(info.key, lake.uri(info.key), info.size, (await readObject(lake, info.key)).toString('utf8'));
    if (!summary) {
      logger.warn(`skipped ${lake.uri(info.key)}: not a watt manifest`, { step: 'manifests', key: info.key });
      continue;
    }
    manifests.push(summary);
    fresh.push(summary);
  }
  const gone = [...cached.keys()].filter((k) => !listed.has(k));
  if (fresh.length || gone.length) cache?.cacheManifests(lakeId, fresh, gone);
  manifests.sort((a, b) => cmp(a.finished_at ?? '', b.finished_at ?? '') || cmp(a.run_id ?? '', b.run_id ?? ''));
  logger.debug(`${manifests.length} manifests under ${lake.uri(folder)} (${fresh.length} read, ${manifests.length - fresh.length} from the catalog cache)`, { step: 'manifests' });
  return { manifests, read: fresh.length };
}

/**
 * The key id the lake prefix is pseudonymised under: that of its newest manifest carrying one
 * (after a deliberate rotation, the new key's), with that manifest's key; undefined for a prefix
 * without key ids (empty, or only manifests written before key ids).
 */
export function lakeKeyId(index: LakeIndex): { keyId: string; manifest: string } | undefined {
  for (let i = index.manifests.length - 1; i >= 0; i--) {
    const m = index.manifests[i]!;
    if (m.key_id) return { keyId: m.key_id, manifest: m.key };
  }
  return undefined;
}

/**
 * The pseudonym scheme of the lake prefix: that of its newest manifest (a manifest recording none
 * is v1, `hmac-sha256`), with that manifest's key; undefined for a prefix without manifests.
 */
export function lakeScheme(index: LakeIndex): { scheme: PseudonymScheme; manifest: string } | undefined {
  const newest = index.manifests.at(-1);
  return newest ? { scheme: manifestScheme(newest.pseudonym_scheme), manifest: newest.key } : undefined;
}

/** The newest manifest that landed a source with this sha256, if any. */
export function findLanded(index: LakeIndex, sourceSha256: string): ManifestCacheRecord | undefined {
  // A manifest naming no data object (every row rejected, issue 17) landed nothing: not "ingested".
  for (let i = index.manifests.length - 1; i >= 0; i--) if (index.manifests[i]!.source_sha256 === sourceSha256 && index.manifests[i]!.object_uri !== null) return index.manifests[i];
  return undefined;
}

function summarise(key: string, uri: string, bytes: number, text: string): ManifestCacheRecord | undefined {
  let m: Partial<Manifest>;
  try {
    m = JSON.parse(text) as Partial<Manifest>;
  } catch {
    return undefined;
  }
  if (typeof m !== 'object' || m === null || typeof m.run_id !== 'string' || typeof m.source?.sha256 !== 'string') return undefined;
  return {
    key,
    bytes,
    run_id: m.run_id,
    source_sha256: m.source.sha256,
    key_id: typeof m.pseudonymisation?.key_id === 'string' ? m.pseudonymisation.key_id : null,
    pseudonym_scheme: typeof m.pseudonymisation?.pseudonym_scheme === 'string' ? m.pseudonymisation.pseudonym_scheme : null,
    finished_at: typeof m.finished_at === 'string' ? m.finished_at : null,
    // The first data object (by key) stands for the run: version 1's only object, version 2's first partition.
    object_uri: firstObjectUri(m),
    uri,
  };
}

function firstObjectUri(m: Partial<Manifest>): string | null {
  const uri = manifestObjects(m)[0]?.uri;
  return typeof uri === 'string' ? uri : null;
}


function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
