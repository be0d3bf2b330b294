import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { LakeConfig } from '../config.js';
import { StorageError } from '../errors.js';
import type { Lake } from './types.js';

export type { Lake, ObjectInfo, PutOptions, DeleteResult } from './types.js';

/**
 * Open the lake a configuration names. The S3 and Azure SDKs are loaded here, with
 * `await import()`, only when that provider is used.
 * @throws UsageError for missing credentials/configuration, StorageError when unreachable.
 */
export async function openLake(config: LakeConfig): Promise<Lake> {
  switch (config.provider) {
    case 'local': {
      const { LocalLake } = await import('./local.js');
      return new LocalLake(config.localRoot, config.bucket);
    }
    case 's3': {
      const { S3Lake } = await import('./s3.js');
      return S3Lake.open(config);
    }
    case 'azure': {
      const { AzureLake } = await import('./azure.js');
      return AzureLake.open(config);
    }
  }
}

/** URI of a key in the lake a config names, e.g. `s3://watt-lake/<key>`, `az://account/container/<key>`, `file:///abs/<bucket>/<key>`. Never holds secrets. */
export function objectUri(config: LakeConfig, key: string): string {
  switch (config.provider) {
    case 'local':
      return pathToFileURL(path.join(config.localRoot, config.bucket, key)).href;
    case 's3':
      return `s3://${config.bucket}/${key}`;
    case 'azure':
      return `az://${azureAccountName(config) ?? 'account'}/${config.bucket}/${key}`;
  }
}

/** URI of the destination folder of a lake config (bucket + prefix), e.g. `s3://watt-lake/watt-about-it/raw`. */
export function destinationUri(config: LakeConfig): string {
  return objectUri(config, config.prefix);
}

/** The storage account name from a connection string or account URL (not a secret). */
export function azureAccountName(config: LakeConfig): string | undefined {
  const fromCs = /AccountName=([^;]+)/i.exec(config.azureConnectionString ?? '')?.[1];
  if (fromCs) return fromCs;
  if (config.azureAccountUrl) {
    try {
      const url = new URL(config.azureAccountUrl);
      return url.hostname.split('.')[0] === '127' || url.hostname === 'localhost' ? url.pathname.split('/')[1] : url.hostname.split('.')[0];
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/**
 * The whole body of a small lake object (a manifest, a trail anchor, a schema), read into memory.
 * Not for data objects: stream those.
 * @throws StorageError (3) when the store cannot serve it (other errors are wrapped, message cut
 * to 160 characters).
 */
export async function readObject(lake: Lake, key: string): Promise<Buffer> {
  try {
    const chunks: Buffer[] = [];
    for await (const chunk of await lake.get(key)) chunks.push(Buffer.from(chunk as Buffer));
    return Buffer.concat(chunks);
  } catch (err) {
    if (err instanceof StorageError) throw err;
    throw new StorageError(`cannot read ${lake.uri(key)}: ${(err as Error).message.slice(0, 160)}`, { cause: err });
  }
}
