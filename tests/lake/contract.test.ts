/**
 * One contract, three lakes: the local folder, S3 (s3rver) and Azure Blob (Azurite), all real.
 */
import { mkdtempSync, existsSync, readdirSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { openLake, type Lake } from '../../src/store/index.js';
import { LocalLake } from '../../src/store/local.js';
import { resolveLakeConfig } from '../../src/config.js';
import { UsageError } from '../../src/errors.js';
import { startS3, startAzurite, type S3Server, type AzureServer } from '../helpers/servers.js';

async function text(stream: Readable): Promise<string> {
  let out = '';
  for await (const c of stream) out += Buffer.from(c).toString();
  return out;
}

let s3: S3Server;
let az: AzureServer;
beforeAll(async () => {
  [s3, az] = await Promise.all([startS3(['contract']), startAzurite(['contract'])]);
  // The S3 client takes credentials from the standard AWS chain, here the environment.
  process.env.AWS_ACCESS_KEY_ID = 'S3RVER';
  process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER';
});
afterAll(async () => {
  await Promise.all([s3?.stop(), az?.stop()]);
});

const lakes: [string, () => Promise<Lake>][] = [
  ['local', () => openLake(resolveLakeConfig({ bucket: 'contract' }, { WATT_LAKE_ROOT: mkdtempSync(path.join(os.tmpdir(), 'watt-lake-')) }))],
  ['s3', () => openLake(resolveLakeConfig({ provider: 's3', bucket: 'contract' }, s3.env))],
  ['azure', () => openLake(resolveLakeConfig({ provider: 'azure', bucket: 'contract' }, az.env))],
];

describe.each(lakes)('%s lake', (name, open) => {
  let lake: Lake;
  beforeAll(async () => {
    lake = await open();
  });
  afterAll(async () => {
    await lake?.close();
  });

  it('putIfAbsent: of writers racing for one key exactly one wins, and a present key is never replaced', async () => {
    const key = 'race/_delta_log/00000000000000000000.json';
    if (name === 's3') {
      // s3rver ignores conditional writes (AWS S3 honours If-None-Match since 2024-08, as do MinIO
      // and R2): check that every putIfAbsent sends the precondition, and stop there.
      const seen: unknown[] = [];
      const client = (lake as unknown as { client: { middlewareStack: { add: (m: unknown, o: unknown) => void } } }).client;
      client.middlewareStack.add(
        (next: (a: unknown) => unknown) => async (args: { request: { method?: string; headers?: Record<string, string> } }) => {
          if (args.request.method === 'PUT') seen.push(args.request.headers?.['if-none-match']);
          return next(args);
        },
        { step: 'finalizeRequest', name: 'seeIfNoneMatch' },
      );
      await lake.putIfAbsent(key, 'x\n');
      expect(seen).toEqual(['*']);
      return;
    }
    const results = await Promise.all(['a', 'b', 'c', 'd'].map((w) => lake.putIfAbsent(key, `{"writer":"${w}"}\n`)));
    const winners = results.filter((r) => r !== undefined);
    expect(winners).toHaveLength(1);
    const body = await text(await lake.get(key));
    expect(body).toMatch(/^\{"writer":"[abcd]"\}\n$/);
    expect(await lake.putIfAbsent(key, 'other\n')).toBeUndefined();
    expect(await text(await lake.get(key))).toBe(body);
    expect(await lake.putIfAbsent('race/_delta_log/00000000000000000001.json', 'next\n')).toMatchObject({ key: 'race/_delta_log/00000000000000000001.json', size: 5 });
  });

  it('puts a stream, a buffer and a file, and reads them back with sizes and sha256 metadata', async () => {
    const a = await lake.put('p/2025/01/01/a.csv', Readable.from(['x,y\n', '1,2\n']), { sha256: 'aa'.repeat(32) });
    expect(a).toMatchObject({ key: 'p/2025/01/01/a.csv', size: 8 });
    await lake.put('p/_manifests/m.json', '{"ok":true}\n');
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'watt-f-')), 'f.csv');
    writeFileSync(file, 'hello\n');
    await lake.putFile('p/2025/01/02/f.csv', file, { sha256: 'bb'.repeat(32) });
    expect(existsSync(file)).toBe(true); // not consumed unless asked
    expect(await text(await lake.get('p/2025/01/01/a.csv'))).toBe('x,y\n1,2\n');
    expect(await text(await lake.get('p/2025/01/02/f.csv'))).toBe('hello\n');
    const head = await lake.head('p/2025/01/01/a.csv');
    expect(head?.size).toBe(8);
    if (name !== 'local') expect(head?.sha256).toBe('aa'.repeat(32));
    expect(await lake.head('p/nope.csv')).toBeUndefined();
  });

  it('lists by prefix, in key order, and only under the prefix', async () => {
    await lake.put('other/x.csv', 'x');
    const keys: string[] = [];
    for await (const o of lake.list('p/')) keys.push(o.key);
    expect(keys).toEqual(['p/2025/01/01/a.csv', 'p/2025/01/02/f.csv', 'p/_manifests/m.json']);
  });

  it('deletes in batches, counting keys already gone as deleted', async () => {
    const result = await lake.delete(['p/2025/01/01/a.csv', 'p/_manifests/m.json', 'p/never-was.csv']);
    expect(result.errors).toEqual([]);
    expect(result.deleted.sort()).toEqual(['p/2025/01/01/a.csv', 'p/_manifests/m.json', 'p/never-was.csv']);
    const keys: string[] = [];
    for await (const o of lake.list('p/')) keys.push(o.key);
    expect(keys).toEqual(['p/2025/01/02/f.csv']);
  });
});

describe('local lake safety', () => {
  it('refuses keys that would leave its folder, and leaves no temp file behind', async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'watt-lake-'));
    const lake = new LocalLake(root, 'b');
    await expect(lake.put('../escape.csv', 'x')).rejects.toThrow(UsageError);
    await expect(lake.put('a/../../escape.csv', 'x')).rejects.toThrow(UsageError);
    await expect(lake.put('.watt-tmp/x', 'x')).rejects.toThrow(UsageError);
    await expect(lake.put('ok/ok.csv', Readable.from((async function* () {
      yield 'partial';
      throw new Error('source failed mid-stream');
    })()))).rejects.toThrow();
    expect(existsSync(path.join(root, 'b', 'ok', 'ok.csv'))).toBe(false);
    expect(readdirSync(path.join(root, 'b', '.watt-tmp'))).toEqual([]);
    expect(readdirSync(root)).toEqual(['b']);
  });

  it('recovery removes temp files of dead processes of this host at once, and those of another host only after the grace', async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'watt-lake-'));
    const lake = new LocalLake(root, 'b');
    const mine = await lake.stagingFile();
    const tmp = path.dirname(mine);
    expect(path.basename(mine)).toMatch(new RegExp(`^${process.pid}-h[0-9a-f]{8}-[0-9a-f]{12}$`));
    const hostTag = path.basename(mine).split('-')[1]!;
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!; // a pid that has exited
    const otherHost = hostTag === 'h00000000' ? 'h11111111' : 'h00000000';
    const files = {
      live: mine,
      deadHere: path.join(tmp, `${dead}-${hostTag}-aaaaaaaaaaaa`),
      deadHereErased: path.join(tmp, `${dead}-${hostTag}-aaaaaaaaaaaa.erased`),
      legacyDead: path.join(tmp, `${dead}-bbbbbbbbbbbb`),
      otherHost: path.join(tmp, `${dead}-${otherHost}-cccccccccccc`), // its pid means nothing here
    };
    for (const f of Object.values(files)) writeFileSync(f, 'rows');
    const left = () => Object.entries(files).filter(([, f]) => existsSync(f)).map(([k]) => k).sort();
    expect(await lake.removeStaleTemp(60 * 60 * 1000)).toBe(3);
    expect(left()).toEqual(['live', 'otherHost']);
    // Two hours later: another host's file is past the grace; this process's own file stays.
    expect(await lake.removeStaleTemp(60 * 60 * 1000, Date.now() + 2 * 60 * 60 * 1000)).toBe(1);
    expect(left()).toEqual(['live']);
  });
});
