/**
 * Real storage servers for integration tests, on 127.0.0.1 with an OS-chosen port:
 * - s3rver (in process, or as a child process with `--openssl-legacy-provider` for listings past
 *   1,000 keys: its continuation tokens use a cipher Node >= 17 refuses otherwise);
 * - Azurite's blob service (`azurite-blob --inMemoryPersistence`, a child process).
 * Each returns the environment variables a watt command needs, and a stop function.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export interface S3Server {
  endpoint: string;
  /** Variables for a watt process using this server (provider, endpoint, region, fake credentials). */
  env: Record<string, string>;
  stop(): Promise<void>;
}

/** Fake credentials: s3rver accepts S3RVER/S3RVER. */
// s3rver ignores If-None-Match: declared, so that watt does not probe and warn on every ingest
// (tests/table/several-machines.test.ts checks the probe with `auto`).
const S3_ENV = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1', WATT_S3_CONDITIONAL_WRITES: 'off' };

/** Start s3rver in this process with the given buckets. */
export async function startS3(buckets: string[] = ['watt-lake']): Promise<S3Server> {
  const S3rver = require('s3rver');
  const directory = mkdtempSync(path.join(os.tmpdir(), 'watt-s3rver-'));
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    configureBuckets: buckets.map((name) => ({ name })),
  });
  const address = (await server.run()) as { port: number };
  const endpoint = `http://127.0.0.1:${address.port}`;
  return {
    endpoint,
    env: { ...S3_ENV, DATA_LAKE_PROVIDER: 's3', AWS_ENDPOINT_URL_S3: endpoint },
    async stop() {
      await server.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

/** Start s3rver as a child process under `--openssl-legacy-provider` (paginated listings work). */
export async function startS3Child(buckets: string[] = ['watt-lake']): Promise<S3Server> {
  const directory = mkdtempSync(path.join(os.tmpdir(), 'watt-s3rver-'));
  const script = `
    const S3rver = require(${JSON.stringify(require.resolve('s3rver'))});
    new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: ${JSON.stringify(directory)},
      configureBuckets: ${JSON.stringify(buckets.map((name) => ({ name })))} })
      .run().then((a) => console.log('PORT=' + a.port));`;
  const child = spawn(process.execPath, ['--openssl-legacy-provider', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await readPort(child, /PORT=(\d+)/);
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    env: { ...S3_ENV, DATA_LAKE_PROVIDER: 's3', AWS_ENDPOINT_URL_S3: endpoint },
    async stop() {
      await kill(child);
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

export interface AzureServer {
  /** Connection string for the emulator's well-known development account. */
  connectionString: string;
  env: Record<string, string>;
  stop(): Promise<void>;
}

/** Azurite's documented development account (public, not a secret). */
export const AZURITE_ACCOUNT = 'devstoreaccount1';
export const AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

/** Start Azurite's blob service in memory and create the given containers. */
export async function startAzurite(containers: string[] = ['watt-lake']): Promise<AzureServer> {
  const bin = path.join(path.dirname(require.resolve('azurite/package.json')), 'dist', 'src', 'blob', 'main.js');
  const workdir = mkdtempSync(path.join(os.tmpdir(), 'watt-azurite-'));
  const child = spawn(
    process.execPath,
    [bin, '--blobHost', '127.0.0.1', '--blobPort', '0', '--inMemoryPersistence', '--skipApiVersionCheck', '--disableTelemetry'],
    { stdio: ['ignore', 'pipe', 'pipe'], cwd: workdir },
  );
  const port = await readPort(child, /listens on http:\/\/127\.0\.0\.1:(\d+)/);
  const connectionString =
    `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};` +
    `BlobEndpoint=http://127.0.0.1:${port}/${AZURITE_ACCOUNT};`;
  const { BlobServiceClient } = await import('@azure/storage-blob');
  const service = BlobServiceClient.fromConnectionString(connectionString);
  for (const name of containers) await service.getContainerClient(name).createIfNotExists();
  return {
    connectionString,
    env: { DATA_LAKE_PROVIDER: 'azure', AZURE_STORAGE_CONNECTION_STRING: connectionString },
    async stop() {
      await kill(child);
      rmSync(workdir, { recursive: true, force: true });
    },
  };
}

function readPort(child: ChildProcess, pattern: RegExp): Promise<number> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`server did not start: ${out}`)), 20000);
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const m = pattern.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}: ${out}`));
    });
  });
}

function kill(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 3000).unref();
  });
}

/** A started lake server: the environment a watt command needs to reach it, and its stop. */
export interface LakeServer {
  env: Record<string, string>;
  stop(): Promise<void>;
}

/** A lake back end for `describe.each`: its name, and how to start its server (none for local). */
export type LakeProvider = [name: string, start: () => Promise<LakeServer | undefined>];

export const LOCAL_LAKE: LakeProvider = ['local', async () => undefined];
export const S3_LAKE: LakeProvider = ['s3 (s3rver)', () => startS3(['watt-lake'])];
export const AZURE_LAKE: LakeProvider = ['azure (Azurite)', () => startAzurite(['watt-lake'])];

/**
 * Start the provider's server before the enclosing describe block's tests and stop it after.
 * @returns a getter of the server's environment (`{}` for the local lake), valid inside tests.
 */
export function useLakeServer(start: LakeProvider[1]): () => Record<string, string> {
  let server: LakeServer | undefined;
  beforeAll(async () => {
    server = await start();
  });
  afterAll(async () => {
    await server?.stop();
  });
  return () => server?.env ?? {};
}
