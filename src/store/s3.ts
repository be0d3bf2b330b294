import { Readable } from 'node:stream';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import {
  S3Client,
  HeadObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  DeleteObjectsCommand,
  GetBucketVersioningCommand,
  ListObjectVersionsCommand,
  HeadBucketCommand,
  PutObjectCommand,
  type S3ServiceException,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { LakeConfig } from '../config.js';
import { StorageError, UsageError } from '../errors.js';
import type { DeleteResult, Lake, ObjectInfo, PutOptions, RetainedVersions } from './types.js';

/** Multipart part size: 8 MiB (S3 minimum is 5 MiB); 4 parts in flight. */
const PART_SIZE = 8 * 1024 * 1024;
/** DeleteObjects takes at most 1,000 keys per call (S3 API reference). */
const DELETE_BATCH = 1000;

/**
 * An S3 (or S3-compatible) bucket. Uploads use lib-storage's `Upload` (multipart above 8 MiB,
 * a single PutObject below): S3 makes an object visible only when the upload completes, so a
 * failed or aborted run leaves nothing. The sha256 is stored as `x-amz-meta-sha256`.
 * Credentials come from the standard AWS chain; they never appear in messages.
 */
export class S3Lake implements Lake {
  readonly provider = 's3' as const;
  readonly bucket: string;
  readonly client: S3Client;

  private constructor(client: S3Client, bucket: string) {
    this.client = client;
    this.bucket = bucket;
  }

  /** @throws StorageError if the bucket is unreachable or refuses access. */
  static async open(config: LakeConfig): Promise<S3Lake> {
    // watt pins SDK versions that run on Node 20 (package-lock.json); the SDK's notice about
    // future versions needing Node 22 is not actionable for a watt user, so keep stderr clean.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    const client = new S3Client({
      // Without a region the SDK reads AWS_REGION / ~/.aws/config; S3-compatible stores get us-east-1.
      region: config.region || (config.endpoint ? 'us-east-1' : undefined),
      endpoint: config.endpoint,
      forcePathStyle: config.endpoint ? true : undefined,
      // S3-compatible stores (MinIO, s3rver...) do not all accept the SDK's default CRC checksums
      // on streamed uploads; send a checksum only where the API requires one.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: 3,
    });
    const lake = new S3Lake(client, config.bucket);
    try {
      await client.send(new HeadBucketCommand({ Bucket: config.bucket }));
    } catch (err) {
      client.destroy();
      throw s3Error(err, `reach bucket s3://${config.bucket}${config.endpoint ? ` at ${safeEndpoint(config.endpoint)}` : ''}`);
    }
    return lake;
  }

  uri(key: string): string {
    return `s3://${this.bucket}/${key}`;
  }

  async put(key: string, body: Readable | Buffer | string, options: PutOptions = {}): Promise<ObjectInfo> {
    const metadata = { ...(options.metadata ?? {}), ...(options.sha256 ? { sha256: options.sha256 } : {}) };
    try {
      if (typeof body === 'string' || Buffer.isBuffer(body)) {
        await this.client.send(
          new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentType: options.contentType, Metadata: metadata }),
        );
      } else {
        const upload = new Upload({
          client: this.client,
          params: { Bucket: this.bucket, Key: key, Body: body, ContentType: options.contentType, Metadata: metadata },
          partSize: PART_SIZE,
          queueSize: 4,
          leavePartsOnError: false,
        });
        await upload.done();
      }
    } catch (err) {
      throw s3Error(err, `upload ${this.uri(key)}`);
    }
    const info = await this.head(key);
    if (!info) throw new StorageError(`upload of ${this.uri(key)} reported success but the object is missing`);
    return info;
  }

  async putIfAbsent(key: string, body: Buffer | string, options: PutOptions = {}): Promise<ObjectInfo | undefined> {
    const metadata = { ...(options.metadata ?? {}), ...(options.sha256 ? { sha256: options.sha256 } : {}) };
    try {
      await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentType: options.contentType, Metadata: metadata, IfNoneMatch: '*' }));
    } catch (err) {
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      // 412 Precondition Failed: the key exists; 409: a concurrent conditional write is in progress.
      if (status === 412 || status === 409) return undefined;
      throw s3Error(err, `upload ${this.uri(key)}`);
    }
    return this.head(key);
  }

  async putFile(key: string, file: string, options: PutOptions = {}): Promise<ObjectInfo> {
    const { size } = await stat(file);
    // Small files go in one PutObject with a known length; large ones stream as multipart.
    if (size <= PART_SIZE) {
      const { readFile } = await import('node:fs/promises');
      return this.put(key, await readFile(file), options);
    }
    return this.put(key, createReadStream(file), options);
  }

  async get(key: string): Promise<Readable> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return out.Body as Readable;
    } catch (err) {
      throw s3Error(err, `read ${this.uri(key)}`);
    }
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return { key, size: out.ContentLength ?? 0, lastModified: out.LastModified ?? new Date(0), sha256: out.Metadata?.sha256 };
    } catch (err) {
      const status = (err as S3ServiceException).$metadata?.httpStatusCode;
      if (status === 404 || (err as Error).name === 'NotFound' || (err as Error).name === 'NoSuchKey') return undefined;
      throw s3Error(err, `stat ${this.uri(key)}`);
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    let token: string | undefined;
    do {
      let out;
      try {
        out = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }));
      } catch (err) {
        throw s3Error(err, `list s3://${this.bucket}/${prefix}`);
      }
      for (const o of out.Contents ?? []) {
        if (o.Key) yield { key: o.Key, size: o.Size ?? 0, lastModified: o.LastModified ?? new Date(0) };
      }
      token = out.IsTruncated ? out.NextContinuationToken : undefined;
      if (out.IsTruncated && !token) throw new StorageError(`listing s3://${this.bucket}/${prefix} is truncated but gave no continuation token`);
    } while (token);
  }

  async delete(keys: string[]): Promise<DeleteResult> {
    const result: DeleteResult = { deleted: [], errors: [] };
    for (let i = 0; i < keys.length; i += DELETE_BATCH) {
      const batch = keys.slice(i, i + DELETE_BATCH);
      try {
        const out = await this.client.send(
          new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: false } }),
        );
        for (const d of out.Deleted ?? []) if (d.Key) result.deleted.push(d.Key);
        for (const e of out.Errors ?? []) result.errors.push({ key: e.Key ?? '?', message: e.Message ?? e.Code ?? 'error' });
      } catch (err) {
        throw s3Error(err, `delete ${batch.length} objects from s3://${this.bucket}`);
      }
    }
    return result;
  }

  /**
   * The bucket's versioning state (GetBucketVersioning): `Enabled` or `Suspended` keep noncurrent
   * versions (S3 User Guide, "Retaining multiple versions of objects"); an endpoint that does not
   * implement versioning (501 NotImplemented, e.g. s3rver) keeps none.
   */
  async retainedVersions(): Promise<RetainedVersions> {
    try {
      const out = await this.client.send(new GetBucketVersioningCommand({ Bucket: this.bucket }));
      if (out.Status === 'Enabled' || out.Status === 'Suspended') return { kind: 'versions', setting: `S3 bucket versioning: ${out.Status}`, deletable: true };
      return { kind: 'none', setting: 'S3 bucket versioning: never enabled', deletable: true };
    } catch (err) {
      const e = err as S3ServiceException;
      const status = e.$metadata?.httpStatusCode;
      if (e.name === 'NotImplemented' || status === 501) return { kind: 'none', setting: 'the S3 endpoint does not implement bucket versioning', deletable: true };
      if (status === 403) return { kind: 'unknown', setting: 'S3 bucket versioning unreadable: GetBucketVersioning refused (s3:GetBucketVersioning permission)', deletable: false };
      throw s3Error(err, `read the versioning state of s3://${this.bucket}`);
    }
  }

  /** ListObjectVersions of each key, then DeleteObjects with `VersionId` for its noncurrent versions and delete markers. */
  async deleteOldVersions(keys: readonly string[]): Promise<number> {
    const doomed: { Key: string; VersionId: string }[] = [];
    for (const key of keys) {
      let keyMarker: string | undefined;
      let versionMarker: string | undefined;
      do {
        let out;
        try {
          out = await this.client.send(new ListObjectVersionsCommand({ Bucket: this.bucket, Prefix: key, KeyMarker: keyMarker, VersionIdMarker: versionMarker }));
        } catch (err) {
          throw s3Error(err, `list the versions of ${this.uri(key)}`);
        }
        for (const v of out.Versions ?? []) if (v.Key === key && v.VersionId && !v.IsLatest) doomed.push({ Key: key, VersionId: v.VersionId });
        for (const m of out.DeleteMarkers ?? []) if (m.Key === key && m.VersionId) doomed.push({ Key: key, VersionId: m.VersionId });
        keyMarker = out.IsTruncated ? out.NextKeyMarker : undefined;
        versionMarker = out.IsTruncated ? out.NextVersionIdMarker : undefined;
      } while (keyMarker);
    }
    for (let i = 0; i < doomed.length; i += DELETE_BATCH) {
      const batch = doomed.slice(i, i + DELETE_BATCH);
      let out;
      try {
        out = await this.client.send(new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch, Quiet: false } }));
      } catch (err) {
        throw s3Error(err, `delete ${batch.length} old versions from s3://${this.bucket}`);
      }
      const refused = out.Errors ?? [];
      if (refused.length) {
        throw new StorageError(`cannot delete ${refused.length} old versions of objects in s3://${this.bucket} (first: ${refused[0]!.Code ?? 'error'}: ${(refused[0]!.Message ?? '').slice(0, 120)})`, {
          hint: 'watt needs s3:DeleteObjectVersion; versions under S3 Object Lock retention cannot be deleted before it ends',
        });
      }
    }
    return doomed.length;
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}

/** An endpoint without any user-info part (never print credentials embedded in a URL). */
function safeEndpoint(endpoint: string): string {
  try {
    const u = new URL(endpoint);
    u.username = '';
    u.password = '';
    return u.origin;
  } catch {
    return 'the configured endpoint';
  }
}

/** Map an SDK error to a one-line StorageError (exit 3) or UsageError (exit 2). */
export function s3Error(err: unknown, what: string): Error {
  if (err instanceof StorageError || err instanceof UsageError) return err;
  const e = err as S3ServiceException & { code?: string };
  const status = e.$metadata?.httpStatusCode;
  const name = e.name || e.code || 'Error';
  if (name === 'CredentialsProviderError' || /credential/i.test(e.message ?? '')) {
    return new UsageError(`cannot ${what}: no AWS credentials found`, {
      hint: 'set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE',
      cause: err,
    });
  }
  if (/region is missing/i.test(e.message ?? '')) {
    return new UsageError(`cannot ${what}: no AWS region`, { hint: 'pass --region or set AWS_REGION', cause: err });
  }
  let why: string;
  if (status === 403) why = 'access denied (403): check the credentials and the bucket policy';
  else if (status === 404 || name === 'NoSuchBucket' || name === 'NotFound') why = 'not found (404): check the bucket name and region';
  else if (e.code === 'ECONNREFUSED' || name === 'ECONNREFUSED' || /ECONNREFUSED/.test(e.message ?? '')) why = 'connection refused: is the endpoint up?';
  else if (/ENOTFOUND|EAI_AGAIN/.test(`${e.code} ${e.message}`)) why = 'host not found: check the endpoint or region';
  else if (/ETIMEDOUT|TimeoutError/.test(`${e.code} ${name}`)) why = 'timed out';
  else why = `${name}${status ? ` (${status})` : ''}: ${(e.message ?? '').split('\n')[0]!.slice(0, 160)}`;
  return new StorageError(`cannot ${what}: ${why}`, { cause: err });
}
