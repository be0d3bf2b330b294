import type { Readable } from 'node:stream';

/** One object in a lake. */
export interface ObjectInfo {
  /** Key relative to the bucket/container, `/`-separated. */
  key: string;
  /** Size in bytes. */
  size: number;
  lastModified: Date;
  /** Hex sha256 of the content, when the lake stored it in the object's metadata. */
  sha256?: string;
  /**
   * Local lake only: the file's identity as `stat(2)` gives it (device, inode, size, mtime and
   * ctime in nanoseconds). Equal identities: the file was not replaced nor written since (a
   * rename gives a new inode, a write a new ctime, which no user process can set back).
   */
  identity?: string;
}

export interface PutOptions {
  /** Hex sha256 of the body, stored in the object metadata (`x-amz-meta-sha256`, Azure `sha256`). */
  sha256?: string;
  contentType?: string;
  /** `putFile` only: the caller no longer needs the file, so the local lake may move it in place. */
  consume?: boolean;
  /** Extra metadata (ASCII keys and values). */
  metadata?: Record<string, string>;
}

export interface DeleteResult {
  deleted: string[];
  errors: { key: string; message: string }[];
}

/**
 * What a store keeps of an object after watt deletes or overwrites it, read from the store's own
 * settings before a purge or an erasure (issue 21: erased rows must not survive in old versions).
 */
export interface RetainedVersions {
  /**
   * `none`: nothing kept (local folder; S3 bucket never versioned; an endpoint without versioning);
   * `versions`: noncurrent versions kept (S3 versioning Enabled or Suspended; Azure blob versioning);
   * `soft-delete`: deleted data kept `days` days and recoverable (Azure soft delete for blobs);
   * `unknown`: the state could not be read (e.g. the credentials lack s3:GetBucketVersioning).
   */
  kind: 'none' | 'versions' | 'soft-delete' | 'unknown';
  /** One line naming the store setting, e.g. `S3 bucket versioning: Enabled`. No secret. */
  setting: string;
  /** `soft-delete`: days a deleted object stays recoverable. */
  days?: number;
  /** watt can delete what is kept itself ({@link Lake.deleteOldVersions}): versions yes, soft-deleted data no. */
  deletable: boolean;
}

/**
 * A data lake: a local folder, an S3 bucket or an Azure Blob container.
 *
 * Contract: `put` is atomic (the object is visible whole or not at all); `list` pages through
 * everything under a prefix; `delete` batches. Failures of the store throw `StorageError`
 * (exit 3) after the SDK's bounded retries. Keys are built by `layout.ts` only.
 */
export interface Lake {
  readonly provider: 'local' | 's3' | 'azure';
  readonly bucket: string;
  /** URI of a key, e.g. `s3://bucket/key`, `az://container/key`, `file:///abs/path`. */
  uri(key: string): string;
  /** Write a stream (or a whole small buffer) under `key`. */
  put(key: string, body: Readable | Buffer | string, options?: PutOptions): Promise<ObjectInfo>;
  /**
   * Create-if-absent: write a small object under `key` only if no object holds that key, atomically
   * (two writers racing for one key: exactly one wins). The table log's commits use it (Delta Lake
   * PROTOCOL.md: "writers must use put-if-absent"). Local: link(2) of a temp file, which fails if
   * the key exists; S3: `If-None-Match: *` (conditional writes, 412 when present); Azure:
   * `ifNoneMatch: *` (409/412).
   * @returns the object written, or undefined when the key already exists (nothing written)
   */
  putIfAbsent(key: string, body: Buffer | string, options?: PutOptions): Promise<ObjectInfo | undefined>;
  /** Write a local file under `key` (streams it; the local lake copies then renames). */
  putFile(key: string, file: string, options?: PutOptions): Promise<ObjectInfo>;
  /**
   * Local lake only: a new, private (0700 folder) path on the lake's own file system where a
   * writer may build an object before {@link putFile} with `consume` moves it onto its key (one
   * `rename(2)`, no copy). Readers never see it (not under any key, not listed); a file left there
   * by a process that died is removed by the next recovery of the lake (src/table/recover.ts).
   * Absent for S3 and Azure, where an object is built by its upload.
   * @throws UsageError (2) when the lake's temp folder is a symlink leading outside the lake
   */
  stagingFile?(): Promise<string>;
  /** Read an object. @throws StorageError if it does not exist. */
  get(key: string): Promise<Readable>;
  /** Metadata of an object, or undefined if absent. */
  head(key: string): Promise<ObjectInfo | undefined>;
  /** Every object whose key starts with `prefix`, paginated under the hood. */
  list(prefix: string): AsyncIterable<ObjectInfo>;
  /** Delete keys in batches; keys already gone count as deleted. */
  delete(keys: string[]): Promise<DeleteResult>;
  /** What the store keeps after a delete or an overwrite (its versioning / soft-delete settings). @throws StorageError (3) */
  retainedVersions(): Promise<RetainedVersions>;
  /**
   * Delete every version of each key except its current content, and every delete marker: after a
   * delete nothing of the key remains, after an overwrite only the new content (S3 `VersionId`,
   * Azure `versionid`). A no-op (0) where the store keeps no versions.
   * @returns versions (and delete markers) deleted
   * @throws StorageError (3) when the store refuses (e.g. S3 Object Lock, missing s3:DeleteObjectVersion)
   */
  deleteOldVersions(keys: readonly string[]): Promise<number>;
  /** Release clients and sockets. */
  close(): Promise<void>;
}
