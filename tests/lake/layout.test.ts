import { dataKey, erasedKey, isDataKey, manifestKey, rejectsKey, partitionDateOf, parsePartitionDate, sourceStem, runIdOf } from '../../src/table/layout.js';
import { normalisePrefix, resolveLakeConfig } from '../../src/config.js';
import { UsageError } from '../../src/errors.js';
import { newRunId, isRunId } from '../../src/run-id.js';
import { assetPath } from '../../src/paths.js';
import { existsSync } from 'node:fs';

describe('lake key layout', () => {
  const runId = '20250103T120000Z-abc123';
  it('builds the seed layout <prefix>/<YYYY>/<MM>/<DD>/<stem>_<run_id>.csv', () => {
    expect(dataKey('watt-about-it/raw', 'plain', '2025-01-03', 'sample_energy_consumption', runId)).toBe(
      'watt-about-it/raw/2025/01/03/sample_energy_consumption_20250103T120000Z-abc123.csv',
    );
  });
  it('builds the hive layout year=/month=/day=', () => {
    expect(dataKey('p', 'hive', '2024-12-31', 's', runId)).toBe('p/year=2024/month=12/day=31/s_20250103T120000Z-abc123.csv');
  });
  it('places manifests and rejects beside the partitions', () => {
    expect(manifestKey('p/q', runId)).toBe('p/q/_manifests/20250103T120000Z-abc123.json');
    expect(rejectsKey('p/q', runId)).toBe('p/q/_rejects/20250103T120000Z-abc123.jsonl');
  });
  it('reads the partition date back from either layout, and nothing from other keys', () => {
    expect(partitionDateOf('p', dataKey('p', 'plain', '2025-02-28', 's', runId))).toBe('2025-02-28');
    expect(partitionDateOf('p', dataKey('p', 'hive', '2025-02-28', 's', runId))).toBe('2025-02-28');
    expect(partitionDateOf('p', manifestKey('p', runId))).toBeUndefined();
    expect(partitionDateOf('p', 'p/2025/02/30/x.csv')).toBeUndefined();
    expect(runIdOf(manifestKey('p', runId))).toBe(runId);
  });
  it('rejects impossible partition dates', () => {
    expect(() => parsePartitionDate('2025-13-01')).toThrow(UsageError);
    expect(() => parsePartitionDate('2025-02-29')).toThrow(/calendar day/);
    expect(parsePartitionDate('2024-02-29')).toBe('2024-02-29');
  });
  it('reduces a source name to a safe stem', () => {
    expect(sourceStem('/data/../x/meter readings (1).csv')).toBe('meter_readings_1_');
    expect(sourceStem('..csv')).toBe('data');
  });
});

describe('prefix safety', () => {
  it.each(['../etc', 'a/../b', '/abs', 'a\u0000b', 'a\nb', '', 'a//b', 'a\\b', './a'])('refuses %j', (prefix) => {
    expect(() => normalisePrefix(prefix)).toThrow(UsageError);
  });
  it('accepts nested prefixes and drops a trailing slash', () => {
    expect(normalisePrefix('watt-about-it/raw/')).toBe('watt-about-it/raw');
  });
  it('refuses an unknown provider with a usage error', () => {
    expect(() => resolveLakeConfig({ provider: 'gcs' }, {})).toThrow(/unknown lake provider "gcs"/);
  });
  it('takes flags over environment over defaults', () => {
    const env = { DATA_LAKE_BUCKET: 'env-bucket', DATA_LAKE_PREFIX: 'env/prefix' };
    expect(resolveLakeConfig({}, env)).toMatchObject({ provider: 'local', bucket: 'env-bucket', prefix: 'env/prefix' });
    expect(resolveLakeConfig({ bucket: 'flag' }, env).bucket).toBe('flag');
    expect(resolveLakeConfig({}, {})).toMatchObject({ bucket: 'watt-lake', prefix: 'watt-about-it/raw' });
  });
});

describe('run_id', () => {
  it('is the UTC time plus a random suffix, unique across many calls in the same second', () => {
    const now = new Date('2026-11-21T08:15:02.123Z');
    const ids = new Set(Array.from({ length: 10000 }, () => newRunId(now)));
    expect(ids.size).toBe(10000);
    const one = [...ids][0]!;
    expect(one.startsWith('20261121T081502Z-')).toBe(true);
    expect(isRunId(one)).toBe(true);
  });
  it('resolves shipped files from the package root', () => {
    expect(existsSync(assetPath('package.json'))).toBe(true);
  });
});

describe('erasedKey (an erasure never rewrites an object in place)', () => {
  const key = 'p/raw/year=2025/month=3/day=1/my_file.v2_20250301T000000Z-aaaaaa.parquet';
  it('names the copy after the erasure run, in the same folder, and keeps the landing run_id last', () => {
    const copy = erasedKey(key, '20250401T120000Z-bbbbbbbbbb');
    expect(copy).toBe('p/raw/year=2025/month=3/day=1/my_file.v2.erasure-20250401T120000Z-bbbbbbbbbb_20250301T000000Z-aaaaaa.parquet');
    expect(runIdOf(copy)).toBe('20250301T000000Z-aaaaaa');
    expect(isDataKey('p/raw', copy)).toBe(true);
    expect(partitionDateOf('p/raw', copy)).toBe('2025-03-01');
    // A second erasure replaces the marker instead of stacking it.
    expect(erasedKey(copy, '20250501T000000Z-cccccccccc')).toBe('p/raw/year=2025/month=3/day=1/my_file.v2.erasure-20250501T000000Z-cccccccccc_20250301T000000Z-aaaaaa.parquet');
  });
  it('refuses a key that is not a data object of a run', () => {
    expect(() => erasedKey('p/raw/_manifests/20250301T000000Z-aaaaaa.json', '20250401T120000Z-bbbbbbbbbb')).toThrow(UsageError);
  });
});
