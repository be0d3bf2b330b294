// What a PostgreSQL catalog (WATT_CATALOG_URL) adds to one ingest's commit, beside the SQLite
// catalog: the catalog writes of a run (start, key id, two objects, finish, manifests cache), plus
// on PostgreSQL the shared prefix lock, the erasures look-up, the claim row and its commit. Also the
// one-off cost of opening the catalog (worker thread, connection, migration check). Prints figures.
// Usage: npm run bench:commit-pg [-- <commits, default 200>]
// Uses WATT_BENCH_CATALOG_URL when set, else starts a throw-away cluster (Debian's binaries; as root it runs as nobody).
import { spawn, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Catalog } from '../dist/catalog/catalog.js';
import { LocalLake } from '../dist/store/local.js';
import { claimSourcePg, commitClaimPg, lockPrefix } from '../dist/table/pg-claim.js';

const commits = Number(process.argv[2] ?? 200);
const dir = mkdtempSync(path.join(os.tmpdir(), 'watt-bench-pg-'));
const logger = { debug() {}, info() {}, warn() {}, error() {} };

async function cluster() {
  const root = '/usr/lib/postgresql';
  const version = readdirSync(root).filter((v) => existsSync(path.join(root, v, 'bin', 'postgres'))).sort((a, b) => b - a)[0];
  const bin = path.join(root, version, 'bin');
  const asRoot = process.getuid() === 0;
  const id = (f) => Number(spawnSync('id', [f, 'nobody'], { encoding: 'utf8' }).stdout.trim());
  if (asRoot) chownSync(dir, id('-u'), id('-g'));
  const wrap = (cmd, args) => (asRoot ? ['setpriv', [`--reuid=${id('-u')}`, `--regid=${id('-g')}`, '--clear-groups', '--', cmd, ...args]] : [cmd, args]);
  const [c1, a1] = wrap(path.join(bin, 'initdb'), ['-D', path.join(dir, 'data'), '-U', 'watt', '--auth=trust', '--no-sync']);
  if (spawnSync(c1, a1).status !== 0) throw new Error('initdb failed');
  const port = await new Promise((res) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => res(p));
    });
  });
  // Durable settings (fsync on): the figure a real server gives, not the tests' shortcut.
  const [c2, a2] = wrap(path.join(bin, 'postgres'), ['-D', path.join(dir, 'data'), '-k', dir, '-h', '127.0.0.1', '-p', String(port)]);
  const child = spawn(c2, a2, { stdio: 'ignore' });
  const url = `postgres://watt@127.0.0.1:${port}/postgres`;
  for (let i = 0; i < 200; i++) {
    try {
      Catalog.open(dir, { WATT_CATALOG_URL: url }).close();
      return { url, stop: () => new Promise((res) => (child.once('exit', res), child.kill('SIGINT'))) };
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error('postgres did not start');
}

/** The catalog work of one ingest's commit (what both engines do). */
function runWrites(catalog, i) {
  const runId = `20250101T000000Z-b${String(i).padStart(7, '0')}`;
  catalog.startRun({ run_id: runId, command: 'ingest', started_at: new Date().toISOString(), source_sha256: `sha${i}`, destination: 'file:///bench/' });
  catalog.finishRun(runId, { status: 'running', finished_at: null, key_id: 'k' });
  catalog.addLakeObject({ run_id: runId, kind: 'data', uri: `file:///bench/p/${i}.csv`, provider: 'local', bucket: 'b', key: `p/${i}.csv`, rows: 10 });
  catalog.addLakeObject({ run_id: runId, kind: 'manifest', uri: `file:///bench/p/_manifests/${runId}.json`, provider: 'local', bucket: 'b', key: `p/_manifests/${runId}.json` });
  catalog.cacheManifests('file:///bench/', [{ key: `p/_manifests/${runId}.json`, bytes: 100, run_id: runId, source_sha256: `sha${i}`, key_id: 'k', finished_at: null, object_uri: null, uri: 'u' }], []);
  catalog.finishRun(runId, { status: 'succeeded', rows: 10, rejected: 0 });
  return runId;
}

const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const p95 = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length * 0.95)];
let server;
try {
  const url = process.env.WATT_BENCH_CATALOG_URL || (server = await cluster()).url;
  const lake = new LocalLake(path.join(dir, 'lake'), 'watt-lake');
  const sqlite = Catalog.open(path.join(dir, 'home'), {});
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const pgOpen = [];
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    Catalog.open(dir, { WATT_CATALOG_URL: url }).close();
    pgOpen.push(performance.now() - t);
  }
  const pg = Catalog.open(dir, { WATT_CATALOG_URL: url });
  const lite = [];
  const onPg = [];
  for (let i = 0; i < commits; i++) {
    let t = performance.now();
    runWrites(sqlite, i);
    lite.push(performance.now() - t);
    t = performance.now();
    const release = await lockPrefix(pg, 'file:///bench/', 'p', 'shared', 'bench');
    pg.erasedSince('file:///bench/', 'p', 'k', new Date(Date.now() - 60_000).toISOString());
    const runId = runWrites(pg, i);
    const claim = { lakeId: 'file:///bench/', prefix: 'p', sourceSha256: `sha${i}`, keyId: 'k', runId };
    const c = await claimSourcePg({ ...claim, catalog: pg, lake, logger, graceMs: 3600_000, waitMs: 0 });
    if (!c.won) throw new Error('claim lost');
    commitClaimPg(pg, claim);
    release();
    onPg.push(performance.now() - t);
  }
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  pg.close();
  sqlite.close();
  console.log(`catalog work of one commit over ${commits} commits: SQLite median ${median(lite).toFixed(2)} ms (p95 ${p95(lite).toFixed(2)}), PostgreSQL with lock + erasures + claim median ${median(onPg).toFixed(2)} ms (p95 ${p95(onPg).toFixed(2)})`);
  console.log(`PostgreSQL adds ${(median(onPg) - median(lite)).toFixed(2)} ms per commit (median); opening the PostgreSQL catalog (worker, connection, migration check): median ${median(pgOpen).toFixed(1)} ms, once per process`);
  console.log(`this process: wall ${(wall / 1000).toFixed(2)} s, CPU ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s (user+sys; the server's own CPU not included); load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  console.log(`machine: ${os.cpus().length} x ${os.cpus()[0]?.model ?? '?'}, node ${process.version}, PostgreSQL on 127.0.0.1 ${process.env.WATT_BENCH_CATALOG_URL ? '(given)' : '(throw-away cluster, fsync on)'}`);
} finally {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
}
