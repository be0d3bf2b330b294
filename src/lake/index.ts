import type { LakeConfig } from '../config.js';
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

/** URI of the destination folder of a lake config, e.g. `s3://watt-lake/watt-about-it/raw`. Never holds secrets. */
export function destinationUri(config: LakeConfig): string {
  switch (config.provider) {
    case 'local':
      return `file://${config.localRoot}/${config.bucket}/${config.prefix}`;
    case 's3':
      return `s3://${config.bucket}/${config.prefix}`;
    case 'azure':
      return `az://${azureAccountName(config) ?? 'account'}/${config.bucket}/${config.prefix}`;
  }
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
