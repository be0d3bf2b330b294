import { createHash } from 'node:crypto';
import type { Lake } from '../lake/index.js';
import type { Layout } from '../lake/layout.js';

/**
 * The manifest of a run, written last under `<prefix>/_manifests/<run_id>.json`: a run is
 * complete exactly when its manifest exists (the commit rule, ARCHITECTURE.md "Lakes").
 */
export interface Manifest {
  manifest_version: 1;
  run_id: string;
  /** The source as landed: `name` is the file name with personal identifiers redacted (README "File names"). */
  source: { name: string; sha256: string; bytes: number };
  object: { key: string; uri: string; sha256: string; bytes: number; rows: number } | null;
  rejects: { key: string; uri: string; rows: number } | null;
  rows: number;
  rejected: number;
  schema: { id: string; sha256: string };
  /** `key_id`: {@link keyIdOf} of the key the pseudonyms were made with (absent in manifests before key ids). */
  pseudonymisation: { algorithm: 'HMAC-SHA256'; columns: string[]; key_id?: string };
  partition: { date: string; layout: Layout };
  started_at: string;
  finished_at: string;
  watt_version: string;
}

/** A manifest as written: its key, URI, sha256 and size in bytes. */
export interface WrittenManifest {
  key: string;
  uri: string;
  sha256: string;
  bytes: number;
}

/**
 * Write the manifest (pretty JSON, one trailing newline) under `key`, its sha256 in the object
 * metadata. Called last: once it exists the run is complete.
 * @throws StorageError (3) from the lake.
 */
export async function writeManifest(lake: Lake, key: string, manifest: Manifest): Promise<WrittenManifest> {
  const body = JSON.stringify(manifest, null, 2) + '\n';
  const sha256 = createHash('sha256').update(body).digest('hex');
  await lake.put(key, body, { sha256, contentType: 'application/json' });
  return { key, uri: lake.uri(key), sha256, bytes: Buffer.byteLength(body) };
}
