import path from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import { UsageError } from './errors.js';
import { assetPath } from './paths.js';

/**
 * Configuration: flags > environment > `.env` > defaults, resolved and validated once per command.
 * Core modules receive the typed result and never read `process.env` themselves.
 */

export type Env = Record<string, string | undefined>;

let dotenvLoaded = false;
/**
 * Load `./.env` into `process.env` if the file exists (never overriding variables already set).
 * Called once by the CLI before any command reads its configuration.
 */
export async function loadDotenv(cwd: string = process.cwd()): Promise<void> {
  if (dotenvLoaded) return;
  dotenvLoaded = true;
  const file = path.join(cwd, '.env');
  if (!existsSync(file)) return;
  const loaded = await import('dotenv');
  // A CommonJS package: Node's import names its exports and gives them as `default` too; the
  // start-up bundle (esbuild, scripts/build.mjs) gives them as `default` only.
  const dotenv = loaded.default ?? loaded;
  dotenv.config({ path: file, quiet: true, override: false });
}

/** Folder of watt's state (catalog.db, pseudonymisation key, locks): WATT_HOME, default `./.watt`. */
export function wattHome(env: Env = process.env): string {
  return path.resolve(env.WATT_HOME || '.watt');
}

/** Folder of run logs: WATT_LOG_DIR, default `./logs`. */
export function logDir(env: Env = process.env): string {
  return path.resolve(env.WATT_LOG_DIR || 'logs');
}

/** Root folder of the local lake: WATT_LAKE_ROOT, default `./lake`. Buckets are sub-folders. */
export function lakeRoot(env: Env = process.env): string {
  return path.resolve(env.WATT_LAKE_ROOT || 'lake');
}

export type LakeProvider = 'local' | 's3' | 'azure';
export const LAKE_PROVIDERS: readonly LakeProvider[] = ['local', 's3', 'azure'];
export const DEFAULT_BUCKET = 'watt-lake';
/** The seed project's prefix (Watt about it, ingest script). */
export const DEFAULT_PREFIX = 'watt-about-it/raw';

/** Where a lake lives and how to reach it. Secrets stay in here and are never logged. */
export interface LakeConfig {
  provider: LakeProvider;
  /** S3 bucket, Azure container, or folder under `localRoot`. */
  bucket: string;
  /** Key prefix, validated by `assertSafePrefix` (no `..`, no leading `/`, no control characters). */
  prefix: string;
  /** Local lake root (absolute). */
  localRoot: string;
  /** S3 region (AWS_REGION), default us-east-1 when an endpoint is given. */
  region?: string;
  /** S3-compatible endpoint URL (AWS_ENDPOINT_URL_S3). */
  endpoint?: string;
  /** Azure: full connection string (AZURE_STORAGE_CONNECTION_STRING)... */
  azureConnectionString?: string;
  /** ...or account URL (AZURE_STORAGE_ACCOUNT_URL) plus SAS token (AZURE_STORAGE_SAS_TOKEN). */
  azureAccountUrl?: string;
  azureSasToken?: string;
}

/** Flags common to every command that touches a lake (ingest, purge). */
export interface LakeFlags {
  provider?: string;
  bucket?: string;
  prefix?: string;
  region?: string;
  endpoint?: string;
}

/**
 * Resolve the lake from flags and environment.
 * @throws UsageError for an unknown provider, an empty bucket or an unsafe prefix.
 */
export function resolveLakeConfig(flags: LakeFlags, env: Env = process.env): LakeConfig {
  const provider = (flags.provider || env.DATA_LAKE_PROVIDER || 'local').toLowerCase();
  if (!LAKE_PROVIDERS.includes(provider as LakeProvider)) {
    throw new UsageError(`unknown lake provider "${provider.slice(0, 40)}": use local, s3 or azure`);
  }
  const bucket = flags.bucket || env.DATA_LAKE_BUCKET || DEFAULT_BUCKET;
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/.test(bucket) || bucket.includes('..')) {
    throw new UsageError(`invalid bucket name "${printable(bucket)}": use letters, digits, '.', '_' and '-'`);
  }
  const prefix = normalisePrefix(flags.prefix ?? env.DATA_LAKE_PREFIX ?? DEFAULT_PREFIX);
  return {
    provider: provider as LakeProvider,
    bucket,
    prefix,
    localRoot: lakeRoot(env),
    region: flags.region || env.AWS_REGION || env.AWS_DEFAULT_REGION || undefined,
    endpoint: flags.endpoint || env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || undefined,
    azureConnectionString: env.AZURE_STORAGE_CONNECTION_STRING || undefined,
    azureAccountUrl: env.AZURE_STORAGE_ACCOUNT_URL || undefined,
    azureSasToken: env.AZURE_STORAGE_SAS_TOKEN || undefined,
  };
}

/**
 * Validate a key prefix and drop trailing slashes.
 * @throws UsageError when the prefix contains `..`, starts with `/` or `\`, holds a backslash or a
 * control character, or is empty.
 */
export function normalisePrefix(raw: string): string {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(raw)) throw new UsageError('unsafe prefix: it contains control characters');
  if (raw.startsWith('/') || raw.startsWith('\\')) throw new UsageError(`unsafe prefix "${raw}": it must not start with '/'`);
  if (raw.includes('\\')) throw new UsageError(`unsafe prefix "${raw}": use '/' as separator, not '\\'`);
  const prefix = raw.replace(/\/+$/, '');
  if (prefix.split('/').some((part) => part === '..' || part === '.')) {
    throw new UsageError(`unsafe prefix "${raw}": it must not contain '..' or '.' segments`);
  }
  if (prefix.includes('..')) throw new UsageError(`unsafe prefix "${raw}": it must not contain '..'`);
  if (prefix === '' || prefix.split('/').some((part) => part === '')) {
    throw new UsageError(`unsafe prefix "${raw}": it must be non-empty with no empty segment`);
  }
  return prefix;
}

function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f]/g, '?').slice(0, 60);
}

/** A retention category and its period, from the project's retention policy (GDPR Art. 5(1)(e)). */
export interface RetentionCategory {
  /** Stable id, e.g. `raw_data`. */
  id: string;
  /** French label as written in docs/retention_policy.md, e.g. "Données brutes". */
  label: string;
  /** Retention period in days. */
  days: number;
}

/**
 * watt's retention policy: `src/retention/policy.json` shipped with watt (raw data 30 days,
 * transformed data 6 months, technical logs 90 days, trained models 12 months, from the seed's
 * retention policy), overridden by `WATT_RETENTION_POLICY` (path of a JSON file of the same shape).
 * @throws UsageError if the file is unreadable or malformed.
 */
export function retentionPolicy(env: Env = process.env): RetentionCategory[] {
  const file = env.WATT_RETENTION_POLICY ? path.resolve(env.WATT_RETENTION_POLICY) : assetPath('src', 'retention', 'policy.json');
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new UsageError(`cannot read retention policy ${file}: ${(err as Error).message.split('\n')[0]}`);
  }
  const categories = (parsed as { categories?: unknown }).categories;
  if (!Array.isArray(categories) || categories.some((c) => typeof c?.id !== 'string' || !Number.isInteger(c?.days) || c.days < 0)) {
    throw new UsageError(`retention policy ${file} must be {"categories": [{"id", "label", "days"}...]} with whole days >= 0`);
  }
  return categories as RetentionCategory[];
}
