#!/usr/bin/env node
// npm run bench:purge [-- --objects N] [-- --runs R]: starts s3rver on 127.0.0.1 as a child process
// (under --openssl-legacy-provider, so ListObjectsV2 pages past 1,000 keys), puts N small objects
// (default 10,000) in old partitions, then times `watt purge --days 30` with the real CLI (Node
// start-up, paginated listing, DeleteObjects batches of 1,000, one audit-trail entry per key) and
// prints objects/s. Target: >= 1,000 objects/s.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// The SDK's notice about future versions needing Node 22 is noise here (as in src/store/s3.ts).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const { S3Client, PutObjectCommand, ListObjectsV2Command } = await import('@aws-sdk/client-s3');

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const objects = arg('--objects', 10_000);
const runs = arg('--runs', 1);
const bucket = 'watt-bench';
const prefix = 'bench/raw';

async function startS3rver(directory) {
  const script = `
    const S3rver = require(${JSON.stringify(require.resolve('s3rver'))});
    new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: ${JSON.stringify(directory)},
      configureBuckets: [{ name: ${JSON.stringify(bucket)} }] }).run().then((a) => console.log('PORT=' + a.port));`;
  const child = spawn(process.execPath, ['--openssl-legacy-provider', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (c) => {
      out += c;
      const m = /PORT=(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`s3rver exited ${code}`)));
  });
  return { child, endpoint: `http://127.0.0.1:${port}` };
}

const creds = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1' };
Object.assign(process.env, creds);

async function populate(client, n) {
  const keys = Array.from({ length: n }, (_, i) => {
    const month = String(1 + (i % 12)).padStart(2, '0');
    const day = String(1 + (i % 28)).padStart(2, '0');
    return `${prefix}/2020/${month}/${day}/readings_${String(i).padStart(6, '0')}_20200101T000000Z-bench${String(i % 10)}.csv`;
  });
  let next = 0;
  const body = 'record_id,customer_id\nR1,' + 'a'.repeat(64) + '\n';
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (next < keys.length) {
        const key = keys[next++];
        await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
      }
    }),
  );
}

/** Objects under the prefix, trail anchors (`_audit/`, kept by retention) aside. */
async function count(client) {
  let n = 0;
  let token;
  do {
    const out = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix + '/', ContinuationToken: token }));
    n += (out.Contents ?? []).filter((o) => !o.Key.startsWith(`${prefix}/_audit/`)).length;
    token = out.IsTruncated ? out.NextContinuationToken : undefined;
  } while (token);
  return n;
}

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'watt-bench-s3-'));
const work = mkdtempSync(path.join(os.tmpdir(), 'watt-bench-purge-'));
const { child, endpoint } = await startS3rver(dataDir);
const client = new S3Client({ endpoint, forcePathStyle: true, region: 'us-east-1', requestChecksumCalculation: 'WHEN_REQUIRED' });
console.log(`machine: ${os.cpus().length} x ${os.cpus()[0].model}, Node ${process.version}, ${os.platform()} ${os.release()}`);
console.log('objects | listing + delete + trail (s) | objects/s');
try {
  for (let r = 0; r < runs; r++) {
    await populate(client, objects);
    const present = await count(client);
    if (present !== objects) throw new Error(`expected ${objects} objects, found ${present}`);
    const env = { ...process.env, ...creds, WATT_HOME: path.join(work, `.watt-${r}`), WATT_LOG_DIR: path.join(work, 'logs'), AWS_ENDPOINT_URL_S3: endpoint };
    const t = process.hrtime.bigint();
    const res = spawnSync(process.execPath, [path.join(root, 'bin', 'watt.js'), 'purge', '--days', '30', '--provider', 's3', '--bucket', bucket, '--prefix', prefix, '--json'], { env, encoding: 'utf8', maxBuffer: 1 << 26 });
    const seconds = Number(process.hrtime.bigint() - t) / 1e9;
    if (res.status !== 0) throw new Error(`watt purge exited ${res.status}: ${res.stderr}`);
    const deleted = JSON.parse(res.stdout).key_count;
    const left = await count(client);
    if (deleted !== objects || left !== 0) throw new Error(`purge deleted ${deleted} of ${objects}, ${left} left`);
    console.log(`${String(objects).padStart(7)} | ${seconds.toFixed(2).padStart(29)} | ${Math.round(deleted / seconds)}`);
  }
} finally {
  client.destroy();
  child.kill('SIGTERM');
  rmSync(work, { recursive: true, force: true });
  setTimeout(() => rmSync(dataDir, { recursive: true, force: true }), 500);
}
