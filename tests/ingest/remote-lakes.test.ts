import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { S3Client, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import {
  BlobServiceClient,
  StorageSharedKeyCredential,
  generateAccountSASQueryParameters,
  AccountSASPermissions,
  AccountSASResourceTypes,
  AccountSASServices,
} from '@azure/storage-blob';
import { startS3, startAzurite, AZURITE_ACCOUNT, AZURITE_KEY, type S3Server, type AzureServer } from '../helpers/servers.js';
import { runWatt, scratchDir, ROOT } from '../helpers/cli.js';
import { readParquetRowGroups } from '../../src/formats/parquet.js';

const KEY = { WATT_PSEUDONYMISATION_KEY: 'test-key-0123456789abcdef0123456789abcdef' };
const SAMPLE = path.join(ROOT, 'samples', 'sample_energy_consumption.csv');

async function text(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks).toString('utf8');
}
const sha256 = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');

async function bytes(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

/** 3 days of readings, shuffled: 4, 5 and 6 rows on 1, 2 and 3 March 2025. */
function threeDays(dir: string): string {
  const file = path.join(dir, 'days.csv');
  const rows: string[] = [];
  for (const [day, n] of [[1, 4], [2, 5], [3, 6]] as const) for (let i = 0; i < n; i++) rows.push(`REC-${day}-${i},CUST-${i},METER-${i},2025-03-0${day}T1${i}:00:00Z,${i}.5,0.18,true`);
  rows.sort((a, b) => (sha256(a) < sha256(b) ? -1 : 1));
  writeFileSync(file, ['record_id,customer_id,meter_id,reading_ts,consumption_kwh,tariff_eur_kwh,is_peak', ...rows].join('\n') + '\n');
  return file;
}

/** Rows of a Parquet object's bytes, read with hyparquet (through a temporary file). */
async function parquetRows(dir: string, body: Buffer): Promise<unknown[][]> {
  const file = path.join(dir, `object-${sha256(body).slice(0, 8)}.parquet`);
  writeFileSync(file, body);
  const rows: unknown[][] = [];
  for await (const g of readParquetRowGroups(file)) rows.push(...g.rows);
  return rows;
}

/** A source big enough for a multipart upload (> 8 MiB of output). */
function bigSource(dir: string, rows: number): string {
  const file = path.join(dir, 'big_readings.csv');
  const lines = ['record_id,customer_id,meter_id,reading_ts,consumption_kwh,tariff_eur_kwh,is_peak'];
  for (let i = 0; i < rows; i++) lines.push(`REC-${i},CUST-${i % 500},METER-${i % 500},2025-01-01T08:00:00Z,${(i % 97) / 10},0.18,${i % 2 === 0}`);
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

describe('ingest to S3 (s3rver on 127.0.0.1)', () => {
  let s3: S3Server;
  let client: S3Client;
  beforeAll(async () => {
    s3 = await startS3(['watt-lake']);
    client = new S3Client({ endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
  });
  afterAll(async () => {
    client?.destroy();
    await s3?.stop();
  });

  it('uploads the pseudonymised object with its sha256 in metadata, and the manifest last', async () => {
    const cwd = scratchDir();
    const r = await runWatt(['ingest', '--date', '2025-01-03', '--json'], { cwd, env: { ...KEY, ...s3.env } });
    // A backfill into a day past the raw-data retention says so (issue 17), nothing else on stderr.
    expect(r.stderr.split('\n').filter((l) => l && !/rows land in partitions before .* past the 30-day retention/.test(l))).toEqual([]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.destination).toMatch(/^s3:\/\/watt-lake\/watt-about-it\/raw\/2025\/01\/03\/sample_energy_consumption_.*\.csv$/);
    const key = out.destination.replace('s3://watt-lake/', '');
    const body = await text((await client.send(new GetObjectCommand({ Bucket: 'watt-lake', Key: key }))).Body as Readable);
    const head = await client.send(new HeadObjectCommand({ Bucket: 'watt-lake', Key: key }));
    const manifest = JSON.parse(await text((await client.send(new GetObjectCommand({ Bucket: 'watt-lake', Key: out.manifest.replace('s3://watt-lake/', '') }))).Body as Readable));
    expect(head.Metadata?.sha256).toBe(sha256(body));
    expect(manifest.objects).toMatchObject([{ key, sha256: sha256(body), rows: 5 }]);
    expect(body.trim().split('\n')).toHaveLength(6);
    expect(body).not.toMatch(/CUST-|METER-/);
  });

  it('streams a large file as a multipart upload and it arrives byte for byte', async () => {
    const cwd = scratchDir();
    const src = bigSource(cwd, 120_000); // ~11 MiB once pseudonymised (22-character v2 pseudonyms): past the 8 MiB part size
    const r = await runWatt(['ingest', '--source', src, '--json', '--prefix', 'big'], { cwd, env: { ...KEY, ...s3.env } });
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    const key = out.destination.replace('s3://watt-lake/', '');
    const body = await text((await client.send(new GetObjectCommand({ Bucket: 'watt-lake', Key: key }))).Body as Readable);
    const manifest = JSON.parse(await text((await client.send(new GetObjectCommand({ Bucket: 'watt-lake', Key: out.manifest.replace('s3://watt-lake/', '') }))).Body as Readable));
    expect(Buffer.byteLength(body)).toBeGreaterThan(8 * 1024 * 1024);
    expect(sha256(body)).toBe(manifest.objects[0].sha256);
    expect(manifest.rows).toBe(120_000);
    expect(body.trimEnd().split('\n')).toHaveLength(120_001);
  });

  it('stores the schema once beside the data, named by its sha256, and the manifest points to it', async () => {
    const schemaBytes = readFileSync(path.join(ROOT, 'schemas', 'energy_consumption.schema.json'));
    const schemaKey = `schemas-test/_schemas/${sha256(schemaBytes.toString('utf8'))}.json`;
    const cwd = scratchDir();
    const first = await runWatt(['ingest', '--prefix', 'schemas-test', '--json'], { cwd, env: { ...KEY, ...s3.env } });
    expect(first.code).toBe(0);
    const stored = await text((await client.send(new GetObjectCommand({ Bucket: 'watt-lake', Key: schemaKey }))).Body as Readable);
    expect(Buffer.from(stored).equals(schemaBytes)).toBe(true);
    expect((await client.send(new HeadObjectCommand({ Bucket: 'watt-lake', Key: schemaKey }))).Metadata?.sha256).toBe(sha256(stored));
    const manifestOf = async (uri: string) => JSON.parse(await text((await client.send(new GetObjectCommand({ Bucket: 'watt-lake', Key: uri.replace('s3://watt-lake/', '') }))).Body as Readable));
    expect((await manifestOf(JSON.parse(first.stdout).manifest)).schema).toMatchObject({ key: schemaKey, sha256: sha256(stored), primary_key: ['record_id'] });

    // Mark the stored copy: a second run must leave it as it is.
    await client.send(new PutObjectCommand({ Bucket: 'watt-lake', Key: schemaKey, Body: schemaBytes, Metadata: { sha256: sha256(stored), marker: 'first' } }));
    const src = path.join(cwd, 'second.csv');
    writeFileSync(src, 'record_id,customer_id,meter_id,reading_ts,consumption_kwh,tariff_eur_kwh,is_peak\nR-9,C,M,2025-01-01T08:00:00Z,1,0.1,true\n');
    const second = await runWatt(['ingest', '--source', src, '--prefix', 'schemas-test', '--json'], { cwd, env: { ...KEY, ...s3.env } });
    expect(second.code).toBe(0);
    expect((await client.send(new HeadObjectCommand({ Bucket: 'watt-lake', Key: schemaKey }))).Metadata?.marker).toBe('first');
    expect((await manifestOf(JSON.parse(second.stdout).manifest)).schema.key).toBe(schemaKey);

    // A copy that does not hold the bytes its name promises is written again.
    await client.send(new PutObjectCommand({ Bucket: 'watt-lake', Key: schemaKey, Body: schemaBytes.subarray(0, 100) }));
    const third = await runWatt(['ingest', '--source', src, '--prefix', 'schemas-test', '--force'], { cwd, env: { ...KEY, ...s3.env } });
    expect(third.code).toBe(0);
    expect(third.stderr).toMatch(/does not hold the schema its name promises \(100 bytes/);
    const repaired = await text((await client.send(new GetObjectCommand({ Bucket: 'watt-lake', Key: schemaKey }))).Body as Readable);
    expect(sha256(repaired)).toBe(sha256(stored));
    const listed = await client.send(new ListObjectsV2Command({ Bucket: 'watt-lake', Prefix: 'schemas-test/_schemas/' }));
    expect(listed.KeyCount).toBe(1);
  });

  it('--format parquet --partition-by: one Parquet object per day (content type, sha256 metadata), one manifest', async () => {
    const cwd = scratchDir();
    const r = await runWatt(['ingest', '--source', threeDays(cwd), '--format', 'parquet', '--partition-by', 'reading_ts', '--allow-expired', '--layout', 'hive', '--prefix', 'pq', '--json'], { cwd, env: { ...KEY, ...s3.env } });
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    const listed = (await client.send(new ListObjectsV2Command({ Bucket: 'watt-lake', Prefix: 'pq/' }))).Contents!.map((o) => o.Key!);
    const data = listed.filter((k) => k.endsWith('.parquet')).sort();
    expect(data.map((k) => /year=\d+\/month=\d+\/day=\d+/.exec(k)![0])).toEqual(['year=2025/month=3/day=1', 'year=2025/month=3/day=2', 'year=2025/month=3/day=3']);
    const manifest = JSON.parse(await text((await client.send(new GetObjectCommand({ Bucket: 'watt-lake', Key: out.manifest.replace('s3://watt-lake/', '') }))).Body as Readable));
    expect(manifest.objects.map((o: { key: string }) => o.key)).toEqual(data);
    for (const [i, key] of data.entries()) {
      const got = await client.send(new GetObjectCommand({ Bucket: 'watt-lake', Key: key }));
      expect(got.ContentType).toBe('application/vnd.apache.parquet');
      const body = await bytes(got.Body as Readable);
      expect(got.Metadata?.sha256).toBe(sha256(body));
      expect(manifest.objects[i]).toMatchObject({ sha256: sha256(body), rows: 4 + i, partition_date: `2025-03-0${i + 1}`, format: 'parquet' });
      expect(await parquetRows(cwd, body)).toHaveLength(4 + i);
    }
  });

  it('writes nothing to the bucket when a row is invalid', async () => {
    const cwd = scratchDir();
    const src = path.join(cwd, 'bad.csv');
    writeFileSync(src, 'record_id,customer_id,meter_id,reading_ts,consumption_kwh,tariff_eur_kwh,is_peak\nR,C,M,2025-01-01T08:00:00Z,-1,0.1,true\n');
    const r = await runWatt(['ingest', '--source', src, '--prefix', 'bad'], { cwd, env: { ...KEY, ...s3.env } });
    expect(r.code).toBe(1);
    const listed = await client.send(new ListObjectsV2Command({ Bucket: 'watt-lake', Prefix: 'bad/' }));
    expect(listed.KeyCount ?? 0).toBe(0);
  });

  it('fails with exit 3 and one line when the endpoint is unreachable', async () => {
    const cwd = scratchDir();
    const r = await runWatt(['ingest', '--source', SAMPLE], { cwd, env: { ...KEY, ...s3.env, AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9' } });
    expect(r.code).toBe(3);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('watt:'));
    expect(lines).toEqual([expect.stringMatching(/cannot reach bucket s3:\/\/watt-lake at http:\/\/127\.0\.0\.1:9: connection refused/)]);
    expect(r.stderr).not.toContain('S3RVER');
  });

  it('fails with exit 2 and a hint when no AWS credentials are found', async () => {
    const cwd = scratchDir();
    const { AWS_ACCESS_KEY_ID: _id, AWS_SECRET_ACCESS_KEY: _secret, ...noCredentials } = s3.env;
    const r = await runWatt(['ingest'], { cwd, env: { ...KEY, ...noCredentials, HOME: cwd } });
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n').filter((l) => l.startsWith('watt:'))).toEqual([expect.stringMatching(/no AWS credentials found \(set AWS_ACCESS_KEY_ID/)]);
  });

  it('fails with exit 3 when the bucket does not exist', async () => {
    const cwd = scratchDir();
    const r = await runWatt(['ingest', '--bucket', 'no-such-bucket'], { cwd, env: { ...KEY, ...s3.env } });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/watt: cannot reach bucket s3:\/\/no-such-bucket .*not found/);
  });
});

describe('ingest to Azure Blob (Azurite on 127.0.0.1)', () => {
  let az: AzureServer;
  beforeAll(async () => {
    az = await startAzurite(['watt-lake']);
  });
  afterAll(async () => {
    await az?.stop();
  });

  it('uploads the object with its sha256 in metadata, and the manifest', async () => {
    const cwd = scratchDir();
    const r = await runWatt(['ingest', '--layout', 'hive', '--date', '2025-01-03', '--json'], { cwd, env: { ...KEY, ...az.env } });
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.destination).toMatch(new RegExp(`^az://${AZURITE_ACCOUNT}/watt-lake/watt-about-it/raw/year=2025/month=1/day=3/sample_energy_consumption_.*\\.csv$`));
    const container = BlobServiceClient.fromConnectionString(az.connectionString).getContainerClient('watt-lake');
    const key = out.destination.replace(`az://${AZURITE_ACCOUNT}/watt-lake/`, '');
    const blob = container.getBlobClient(key);
    const body = await text((await blob.download()).readableStreamBody as Readable);
    const props = await blob.getProperties();
    expect(props.metadata?.sha256).toBe(sha256(body));
    const manifest = JSON.parse(await text((await container.getBlobClient(out.manifest.replace(`az://${AZURITE_ACCOUNT}/watt-lake/`, '')).download()).readableStreamBody as Readable));
    expect(manifest).toMatchObject({ rows: 5, objects: [{ key, sha256: sha256(body) }], partition: { layout: 'hive', date: '2025-01-03' } });
  });

  it('stores the schema beside the data, byte for byte, under its sha256', async () => {
    const schemaBytes = readFileSync(path.join(ROOT, 'schemas', 'energy_consumption.schema.json'));
    const cwd = scratchDir();
    const r = await runWatt(['ingest', '--prefix', 'schemas-az', '--json'], { cwd, env: { ...KEY, ...az.env } });
    expect(r.code).toBe(0);
    const container = BlobServiceClient.fromConnectionString(az.connectionString).getContainerClient('watt-lake');
    const manifest = JSON.parse(await text((await container.getBlobClient(JSON.parse(r.stdout).manifest.replace(`az://${AZURITE_ACCOUNT}/watt-lake/`, '')).download()).readableStreamBody as Readable));
    expect(manifest.schema.key).toBe(`schemas-az/_schemas/${sha256(schemaBytes.toString('utf8'))}.json`);
    const stored = await text((await container.getBlobClient(manifest.schema.key).download()).readableStreamBody as Readable);
    expect(Buffer.from(stored).equals(schemaBytes)).toBe(true);
  });

  it('--format parquet --partition-by: one Parquet object per day, one manifest', async () => {
    const cwd = scratchDir();
    const r = await runWatt(['ingest', '--source', threeDays(cwd), '--format', 'parquet', '--partition-by', 'reading_ts', '--allow-expired', '--prefix', 'pq', '--json'], { cwd, env: { ...KEY, ...az.env } });
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    const container = BlobServiceClient.fromConnectionString(az.connectionString).getContainerClient('watt-lake');
    const data: string[] = [];
    for await (const b of container.listBlobsFlat({ prefix: 'pq/' })) if (b.name.endsWith('.parquet')) data.push(b.name);
    data.sort();
    expect(data.map((k) => k.split('/').slice(1, 4).join('-'))).toEqual(['2025-03-01', '2025-03-02', '2025-03-03']);
    const manifest = JSON.parse(await text((await container.getBlobClient(out.manifest.replace(`az://${AZURITE_ACCOUNT}/watt-lake/`, '')).download()).readableStreamBody as Readable));
    expect(manifest.objects.map((o: { key: string }) => o.key)).toEqual(data);
    for (const [i, key] of data.entries()) {
      const blob = container.getBlobClient(key);
      const body = await bytes((await blob.download()).readableStreamBody as Readable);
      const props = await blob.getProperties();
      expect(props.contentType).toBe('application/vnd.apache.parquet');
      expect(props.metadata?.sha256).toBe(sha256(body));
      expect(await parquetRows(cwd, body)).toHaveLength(4 + i);
    }
  });

  it('fails with exit 3 and never prints the key when the account key is wrong', async () => {
    const cwd = scratchDir();
    const wrongKey = Buffer.from('not-the-right-key-at-all-0123456789').toString('base64');
    const cs = az.connectionString.replace(/AccountKey=[^;]+/, `AccountKey=${wrongKey}`);
    const r = await runWatt(['ingest'], { cwd, env: { ...KEY, ...az.env, AZURE_STORAGE_CONNECTION_STRING: cs } });
    expect(r.code).toBe(3);
    expect(r.stderr.split('\n').filter((l) => l.startsWith('watt:'))).toEqual([expect.stringMatching(/authentication failed \(403\)/)]);
    expect(r.stderr + r.stdout).not.toContain(wrongKey);
  });

  it('authenticates with an account URL and a SAS token instead of a connection string', async () => {
    const endpoint = /BlobEndpoint=([^;]+);/.exec(az.connectionString)![1]!;
    const sas = generateAccountSASQueryParameters(
      {
        expiresOn: new Date(Date.now() + 3600_000),
        permissions: AccountSASPermissions.parse('rwdlc'),
        resourceTypes: AccountSASResourceTypes.parse('sco').toString(),
        services: AccountSASServices.parse('b').toString(),
      },
      new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY),
    ).toString();
    const cwd = scratchDir();
    const r = await runWatt(['ingest', '--json', '--prefix', 'sas'], {
      cwd,
      env: { ...KEY, DATA_LAKE_PROVIDER: 'azure', AZURE_STORAGE_ACCOUNT_URL: endpoint, AZURE_STORAGE_SAS_TOKEN: sas },
    });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).destination).toMatch(new RegExp(`^az://${AZURITE_ACCOUNT}/watt-lake/sas/`));
    expect(r.stderr + r.stdout).not.toContain(sas);
  });

  it('fails with exit 2 without Azure credentials', async () => {
    const cwd = scratchDir();
    const r = await runWatt(['ingest', '--provider', 'azure'], { cwd, env: KEY });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/watt: no Azure credentials/);
  });
});
