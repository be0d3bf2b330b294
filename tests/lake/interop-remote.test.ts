/**
 * S3 and Azure get the same formats and partitioning (issue 11, targets): the real CLI ingests
 * `--format parquet --partition-by reading_ts` into s3rver and Azurite, in both layouts (and
 * canonical CSV, hive); the
 * objects are then listed and downloaded with the stores' own SDKs (AWS SDK, Azure SDK: never
 * watt's Lake code), and DuckDB reads the downloaded files. Checks: one object per run and UTC
 * day of the readings, under the layout's keys; the version 2 manifest names exactly those
 * objects, with their sha256, size and row count; DuckDB types and values equal the sources
 * (csv-parse). Needs the build (dist/): the CLI is spawned.
 */
import path from 'node:path';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'csv-parse/sync';
import { runWatt, scratchDir } from '../helpers/cli.js';
import { useDuckDb } from '../helpers/duckdb.js';
import { AZURE_LAKE, S3_LAKE, useLakeServer } from '../helpers/servers.js';
import { wattEnv } from '../retention/helpers.js';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'interop');
const SOURCES = ['clean.csv', 'messy.csv'];
const BUCKET = 'watt-lake';

interface SourceRow {
  record_id: string;
  ms: number;
  consumption_kwh: number;
  is_peak: boolean;
}
function sourceRows(file: string): SourceRow[] {
  return (parse(readFileSync(path.join(FIXTURES, file), 'utf8'), { columns: true }) as Record<string, string>[]).map((r) => ({
    record_id: r.record_id!,
    ms: Date.parse(r.reading_ts!.toUpperCase()),
    consumption_kwh: Number(r.consumption_kwh),
    is_peak: r.is_peak!.toLowerCase() === 'true',
  }));
}
const utcDay = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

/** Every object under `prefix/` of the store, downloaded with the store's SDK: key -> bytes. */
async function download(provider: string, env: Record<string, string>, prefix: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  if (provider.startsWith('s3')) {
    const { S3Client, ListObjectsV2Command, GetObjectCommand } = await import('@aws-sdk/client-s3');
    const s3 = new S3Client({
      endpoint: env.AWS_ENDPOINT_URL_S3,
      region: env.AWS_REGION,
      forcePathStyle: true,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID!, secretAccessKey: env.AWS_SECRET_ACCESS_KEY! },
    });
    let token: string | undefined;
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix + '/', ContinuationToken: token }));
      for (const o of page.Contents ?? []) {
        const body = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: o.Key! }));
        out.set(o.Key!, Buffer.from(await body.Body!.transformToByteArray()));
      }
      token = page.NextContinuationToken;
    } while (token);
    s3.destroy();
  } else {
    const { BlobServiceClient } = await import('@azure/storage-blob');
    const container = BlobServiceClient.fromConnectionString(env.AZURE_STORAGE_CONNECTION_STRING!).getContainerClient(BUCKET);
    for await (const b of container.listBlobsFlat({ prefix: prefix + '/' })) out.set(b.name, await container.getBlobClient(b.name).downloadToBuffer());
  }
  return out;
}

const dirs: string[] = [];
const { rows } = useDuckDb();
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe.each([S3_LAKE, AZURE_LAKE])('partitioned by reading_ts, on %s', (provider, start) => {
  const serverEnv = useLakeServer(start);

  it.each([
    ['parquet', 'plain'],
    ['parquet', 'hive'],
    ['csv', 'hive'],
  ] as const)('%s, %s layout: one object per run and day, all named by the v2 manifests, read back by DuckDB from the SDK download', async (format, layout) => {
    const dir = scratchDir('watt-interop-remote-');
    dirs.push(dir);
    const prefix = `remote-${format}-${layout}/raw`;
    const env = wattEnv(dir, { ...serverEnv(), DATA_LAKE_PREFIX: prefix });
    for (const f of SOURCES) {
      const r = await runWatt(['ingest', '--source', path.join(FIXTURES, f), '--format', format, '--layout', layout, '--partition-by', 'reading_ts', '--allow-expired', '--json'], { cwd: dir, env });
      expect({ file: f, code: r.code, stderr: r.stderr }).toEqual({ file: f, code: 0, stderr: expect.any(String) });
    }

    const objects = await download(provider, env, prefix);
    const local = path.join(dir, 'download');
    for (const [key, bytes] of objects) {
      mkdirSync(path.dirname(path.join(local, key)), { recursive: true });
      writeFileSync(path.join(local, key), bytes);
    }
    const other = format === 'parquet' ? '.csv' : '.parquet';
    const dataKeys = [...objects.keys()].filter((k) => k.endsWith(`.${format}`)).sort();
    expect([...objects.keys()].filter((k) => k.endsWith(other))).toEqual([]);

    // Keys: one per source file and UTC day of its readings, in the layout's form.
    const expectedKeys = SOURCES.flatMap((f) => {
      const stem = f.replace(/\.csv$/, '');
      return [...new Set(sourceRows(f).map((s) => utcDay(s.ms)))].map((day) => {
        const [y, m, d] = day.split('-');
        return `${prefix}/${layout === 'hive' ? `year=${y}/month=${Number(m)}/day=${Number(d)}` : `${y}/${m}/${d}`}/${stem}_`;
      });
    }).sort();
    expect(dataKeys.map((k) => k.replace(/[^/]*$/, (name) => name.replace(/_[^_]*\.(?:csv|parquet)$/, '_')))).toEqual(expectedKeys);

    // The manifests (version 2) name exactly the data objects, with their sha256, size and rows.
    const manifests = [...objects.keys()].filter((k) => k.startsWith(`${prefix}/_manifests/`));
    expect(manifests).toHaveLength(SOURCES.length);
    const named: string[] = [];
    for (const k of manifests) {
      const m = JSON.parse(objects.get(k)!.toString('utf8')) as { manifest_version: number; format: string; partition: { by?: string; layout: string }; objects: { key: string; sha256: string; bytes: number; rows: number; format: string }[] };
      expect(m.manifest_version).toBe(2);
      expect(m.format).toBe(format);
      expect(m.partition).toMatchObject({ by: 'reading_ts', layout });
      for (const o of m.objects) {
        const bytes = objects.get(o.key);
        expect(bytes).toBeDefined();
        expect({ key: o.key, sha256: createHash('sha256').update(bytes!).digest('hex'), bytes: bytes!.length, format: o.format }).toEqual({ key: o.key, sha256: o.sha256, bytes: o.bytes, format });
        const n = (await rows(`SELECT count(*) AS n FROM ${format === 'parquet' ? 'read_parquet' : 'read_csv'}('${path.join(local, o.key)}')`))[0]!.n;
        expect(n).toBe(o.rows);
        named.push(o.key);
      }
    }
    expect(named.sort()).toEqual(dataKeys);

    // DuckDB over the downloaded lake: types and values equal the sources.
    const relation = `${format === 'parquet' ? 'read_parquet' : 'read_csv'}('${local}/${prefix}/**/*.${format}', hive_partitioning = ${layout === 'hive'})`;
    const types = Object.fromEntries((await rows(`DESCRIBE SELECT * FROM ${relation}`)).map((r) => [r.column_name, r.column_type]));
    expect(types).toMatchObject({ reading_ts: 'TIMESTAMP WITH TIME ZONE', consumption_kwh: format === 'parquet' ? 'DECIMAL(18,6)' : 'DOUBLE', is_peak: 'BOOLEAN', record_id: 'VARCHAR' });
    if (layout === 'hive') expect([types.year, types.month, types.day]).toEqual(['BIGINT', 'BIGINT', 'BIGINT']);
    const got = await rows(`SELECT record_id, epoch_ms(reading_ts) AS ms, CAST(consumption_kwh AS DOUBLE) AS consumption_kwh, is_peak FROM ${relation} ORDER BY record_id`);
    expect(got).toEqual(SOURCES.flatMap(sourceRows).sort((a, b) => (a.record_id < b.record_id ? -1 : 1)));
  });
});
