import { Option } from 'commander';
import { UsageError } from '../errors.js';

/**
 * Shared flag helpers for the command files. Parsers throw UsageError (exit 2) with one line.
 */

/** Parse a whole number within [min, max]. */
export function intParser(name: string, min: number, max: number) {
  return (value: string): number => {
    if (!/^-?\d+$/.test(value.trim())) throw new UsageError(`${name} must be a whole number, got "${value.slice(0, 40)}"`);
    const n = Number(value);
    if (n < min || n > max) throw new UsageError(`${name} must be between ${min} and ${max}, got ${n}`);
    return n;
  };
}

/** Parse a finite decimal number within [min, max]. */
export function numberParser(name: string, min: number, max: number, unit = '') {
  return (value: string): number => {
    const n = Number(value.trim());
    if (value.trim() === '' || !Number.isFinite(n)) throw new UsageError(`${name} must be a number, got "${value.slice(0, 40)}"`);
    if (n < min || n > max) throw new UsageError(`${name} must be between ${min} and ${max}${unit}, got ${n}${unit}`);
    return n;
  };
}

/** `--provider`, `--bucket`, `--prefix`, `--region`, `--endpoint`: the lake flags of ingest and purge. */
export function lakeOptions(): Option[] {
  return [
    new Option('--provider <name>', 'lake provider: local, s3 or azure [env DATA_LAKE_PROVIDER, default local]'),
    new Option('--bucket <name>', 'bucket (S3), container (Azure) or folder under WATT_LAKE_ROOT (local) [env DATA_LAKE_BUCKET, default watt-lake]'),
    new Option('--prefix <prefix>', 'key prefix [env DATA_LAKE_PREFIX, default watt-about-it/raw]'),
    new Option('--region <region>', 'S3 region [env AWS_REGION]'),
    new Option('--endpoint <url>', 'S3-compatible endpoint URL [env AWS_ENDPOINT_URL_S3]'),
  ];
}

/** Print a value as pretty JSON on stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}
