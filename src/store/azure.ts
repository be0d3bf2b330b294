import type { Readable } from 'node:stream';
import { createReadStream } from 'node:fs';
import { BlobServiceClient, type ContainerClient, type RestError } from '@azure/storage-blob';
import type { LakeConfig } from '../config.js';
import { StorageError, UsageError } from '../errors.js';
import type { DeleteResult, Lake, ObjectInfo, PutOptions, RetainedVersions } from './types.js';

/** uploadStream buffer size (4 MiB blocks) and blocks in flight. */
const BLOCK_SIZE = 4 * 1024 * 1024;
const UPLOAD_CONCURRENCY = 4;
/** Deletes in flight (Azure has no multi-object delete outside blob batch). */
const DELETE_CONCURRENCY = 32;

/**
 * An Azure Blob Storage container. `uploadStream` stages blocks and commits the block list last,
 * so a blob is visible whole or not at all. The sha256 is stored in the blob's metadata.
 * Auth: AZURE_STORAGE_CONNECTION_STRING, or AZURE_STORAGE_ACCOUNT_URL plus AZURE_STORAGE_SAS_TOKEN.
 */
export class AzureLake implements Lake {
  readonly provider = 'azure' as const;
  readonly bucket: string;
  readonly container: ContainerClient;
  private readonly account: string;
  private readonly service: BlobServiceClient;

  private constructor(service: BlobServiceClient, container: ContainerClient, bucket: string, account: string) {
    this.service = service;
    this.container = container;
    this.bucket = bucket;
    this.account = account;
  }

  /** @throws UsageError without credentials, StorageError if the container is unreachable or refuses them. */
  static async open(config: LakeConfig): Promise<AzureLake> {
    let service: BlobServiceClient;
    try {
      if (config.azureConnectionString) {
        service = BlobServiceClient.fromConnectionString(config.azureConnectionString, { retryOptions: { maxTries: 3, retryDelayInMs: 200 } });
      } else if (config.azureAccountUrl) {
        const sas = (config.azureSasToken ?? '').replace(/^\?/, '');
        const url = sas ? `${config.azureAccountUrl.replace(/\/$/, '')}?${sas}` : config.azureAccountUrl;
        service = new BlobServiceClient(url, undefined, { retryOptions: { maxTries: 3, retryDelayInMs: 200 } });
      } else {
        throw new UsageError('no Azure credentials: set AZURE_STORAGE_CONNECTION_STRING, or AZURE_STORAGE_ACCOUNT_URL and AZURE_STORAGE_SAS_TOKEN');
      }
    } catch (err) {
      if (err instanceof UsageError) throw err;
      throw new UsageError('invalid AZURE_STORAGE_CONNECTION_STRING: it could not be parsed', { cause: err });
    }
    const container = service.getContainerClient(config.bucket);
    const lake = new AzureLake(service, container, config.bucket, service.accountName);
    try {
      const exists = await container.exists();
      if (!exists) throw new StorageError(`container az://${service.accountName}/${config.bucket} does not exist`, { hint: 'create it first' });
    } catch (err) {
      throw azureError(err, `reach container az://${service.accountName}/${config.bucket}`);
    }
    return lake;
  }

  uri(key: string): string {
    return `az://${this.account}/${this.bucket}/${key}`;
  }

  async put(key: string, body: Readable | Buffer | string, options: PutOptions = {}): Promise<ObjectInfo> {
    const blob = this.container.getBlockBlobClient(key);
    const metadata = { ...(options.metadata ?? {}), ...(options.sha256 ? { sha256: options.sha256 } : {}) };
    const blobHTTPHeaders = options.contentType ? { blobContentType: options.contentType } : undefined;
    try {
      if (typeof body === 'string' || Buffer.isBuffer(body)) {
        const buf = typeof body === 'string' ? Buffer.from(body) : body;
        await blob.upload(buf, buf.length, { metadata, blobHTTPHeaders });
      } else {
        await blob.uploadStream(body, BLOCK_SIZE, UPLOAD_CONCURRENCY, { metadata, blobHTTPHeaders });
      }
    } catch (err) {
      throw azureError(err, `upload ${this.uri(key)}`);
    }
    const info = await this.head(key);
    if (!info) throw new StorageError(`upload of ${this.uri(key)} reported success but the blob is missing`);
    return info;
  }

  async putIfAbsent(key: string, body: Buffer | string, options: PutOptions = {}): Promise<ObjectInfo | undefined> {
    const blob = this.container.getBlockBlobClient(key);
    const metadata = { ...(options.metadata ?? {}), ...(options.sha256 ? { sha256: options.sha256 } : {}) };
    const blobHTTPHeaders = options.contentType ? { blobContentType: options.contentType } : undefined;
    const buf = typeof body === 'string' ? Buffer.from(body) : body;
    try {
      await blob.upload(buf, buf.length, { metadata, blobHTTPHeaders, conditions: { ifNoneMatch: '*' } });
    } catch (err) {
      const status = (err as RestError).statusCode;
      if (status === 409 || status === 412) return undefined;
      throw azureError(err, `upload ${this.uri(key)}`);
    }
    return this.head(key);
  }

  async putFile(key: string, file: string, options: PutOptions = {}): Promise<ObjectInfo> {
    return this.put(key, createReadStream(file), options);
  }

  async get(key: string): Promise<Readable> {
    try {
      const out = await this.container.getBlobClient(key).download();
      return out.readableStreamBody as Readable;
    } catch (err) {
      throw azureError(err, `read ${this.uri(key)}`);
    }
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    try {
      const p = await this.container.getBlobClient(key).getProperties();
      return { key, size: p.contentLength ?? 0, lastModified: p.lastModified ?? new Date(0), sha256: p.metadata?.sha256 };
    } catch (err) {
      if ((err as RestError).statusCode === 404) return undefined;
      throw azureError(err, `stat ${this.uri(key)}`);
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    try {
      for await (const page of this.container.listBlobsFlat({ prefix }).byPage({ maxPageSize: 5000 })) {
        for (const b of page.segment.blobItems) {
          yield { key: b.name, size: b.properties.contentLength ?? 0, lastModified: b.properties.lastModified };
        }
      }
    } catch (err) {
      throw azureError(err, `list ${this.uri(prefix)}`);
    }
  }

  async delete(keys: string[]): Promise<DeleteResult> {
    const result: DeleteResult = { deleted: [], errors: [] };
    let next = 0;
    const worker = async () => {
      while (next < keys.length) {
        const key = keys[next++]!;
        try {
          await this.container.getBlobClient(key).deleteIfExists();
          result.deleted.push(key);
        } catch (err) {
          result.errors.push({ key, message: azureError(err, `delete ${this.uri(key)}`).message });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(DELETE_CONCURRENCY, keys.length) }, worker));
    return result;
  }

  /**
   * Soft delete for blobs (Get Blob Service Properties, `DeleteRetentionPolicy`) keeps deleted data
   * recoverable for its days, and watt cannot remove it through the data plane; blob versioning
   * (seen as `versionId` on listed blobs: the setting itself is on the management plane) keeps
   * previous versions, which watt deletes.
   */
  async retainedVersions(): Promise<RetainedVersions> {
    try {
      const props = await this.service.getProperties();
      const policy = props.deleteRetentionPolicy;
      if (policy?.enabled) return { kind: 'soft-delete', setting: `Azure soft delete for blobs: on, ${policy.days ?? '?'} days`, days: policy.days, deletable: false };
    } catch (err) {
      if ((err as RestError).statusCode === 403) return { kind: 'unknown', setting: 'Azure blob service properties unreadable (403): soft delete unknown (a container SAS cannot read them)', deletable: false };
      throw azureError(err, `read the blob service properties of ${this.account}`);
    }
    try {
      for await (const page of this.container.listBlobsFlat({ includeVersions: true }).byPage({ maxPageSize: 1 })) {
        if (page.segment.blobItems.some((b) => b.versionId)) return { kind: 'versions', setting: 'Azure blob versioning: on', deletable: true };
        break;
      }
    } catch (err) {
      throw azureError(err, `list the versions in ${this.uri('')}`);
    }
    return { kind: 'none', setting: 'Azure: no soft delete, no blob versions', deletable: true };
  }

  /** Each key's versions (`include=versions`) other than the current one, deleted with `versionid`. */
  async deleteOldVersions(keys: readonly string[]): Promise<number> {
    let deleted = 0;
    for (const key of keys) {
      try {
        for await (const b of this.container.listBlobsFlat({ prefix: key, includeVersions: true })) {
          if (b.name !== key || !b.versionId || b.isCurrentVersion) continue;
          await this.container.getBlobClient(key).withVersion(b.versionId).delete();
          deleted++;
        }
      } catch (err) {
        throw azureError(err, `delete the old versions of ${this.uri(key)}`);
      }
    }
    return deleted;
  }

  async close(): Promise<void> {}
}

/** Map an Azure SDK error to a one-line StorageError (exit 3); never echoes keys or SAS tokens. */
export function azureError(err: unknown, what: string): Error {
  if (err instanceof StorageError || err instanceof UsageError) return err;
  const e = err as RestError & { code?: string };
  const status = e.statusCode;
  let why: string;
  if (status === 403) why = 'authentication failed (403): check the account key or SAS token';
  else if (status === 404) why = 'not found (404): check the container name';
  else if (/ECONNREFUSED/.test(`${e.code} ${e.message}`)) why = 'connection refused: is the endpoint up?';
  else if (/ENOTFOUND|EAI_AGAIN/.test(`${e.code} ${e.message}`)) why = 'host not found: check the account URL';
  else why = `${e.code ?? e.name ?? 'error'}${status ? ` (${status})` : ''}`;
  return new StorageError(`cannot ${what}: ${why}`, { cause: err });
}
