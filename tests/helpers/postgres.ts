/**
 * A throw-away PostgreSQL cluster for the catalog tests: `initdb` in a temporary folder, `postgres`
 * on 127.0.0.1 and a free port with its socket in that folder, durability off (tests only). As root
 * the cluster runs as `nobody` (PostgreSQL refuses root), the folder owned by that user. No Docker.
 * Binaries: Debian's /usr/lib/postgresql/<version>/bin (`.ci/run` installs the package when missing).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

export interface PostgresServer {
  /** postgres://watt@127.0.0.1:<port>/<database> */
  url: string;
  port: number;
  /** A URL to a fresh, empty database of this cluster (one per test that needs a blank catalog). */
  createDatabase(name: string): Promise<string>;
  /** Run one statement as the superuser on `database` (default: the test database). */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[], database?: string): Promise<T[]>;
  stop(): Promise<void>;
}

function binDir(): string {
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const versions = readdirSync(root).filter((v) => existsSync(path.join(root, v, 'bin', 'postgres'))).sort((a, b) => Number(b) - Number(a));
    if (versions[0]) return path.join(root, versions[0], 'bin');
  }
  throw new Error('PostgreSQL binaries not found under /usr/lib/postgresql: apt-get install postgresql (.ci/run does)');
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** Start a cluster; call `stop()` in afterAll (the folder is removed). */
export async function startPostgres(): Promise<PostgresServer> {
  const bin = binDir();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'watt-pg-'));
  const data = path.join(dir, 'data');
  const asRoot = process.getuid?.() === 0;
  const nobody = asRoot ? { uid: Number(spawnSync('id', ['-u', 'nobody'], { encoding: 'utf8' }).stdout.trim()), gid: Number(spawnSync('id', ['-g', 'nobody'], { encoding: 'utf8' }).stdout.trim()) } : undefined;
  if (nobody) chownSync(dir, nobody.uid, nobody.gid);
  const run = (cmd: string, args: string[]) => (nobody ? { cmd: 'setpriv', args: [`--reuid=${nobody.uid}`, `--regid=${nobody.gid}`, '--clear-groups', '--', cmd, ...args] } : { cmd, args });
  const init = run(path.join(bin, 'initdb'), ['-D', data, '-U', 'watt', '--auth=trust', '-E', 'UTF8', '--no-sync', '--no-instructions']);
  const r = spawnSync(init.cmd, init.args, { encoding: 'utf8', cwd: dir });
  if (r.status !== 0) throw new Error(`initdb failed: ${r.stderr || r.stdout}`);
  const port = await freePort();
  const start = run(path.join(bin, 'postgres'), ['-D', data, '-k', dir, '-h', '127.0.0.1', '-p', String(port), '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', 'max_connections=60']);
  const child: ChildProcess = spawn(start.cmd, start.args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (c: Buffer) => (log = (log + c.toString()).slice(-4000)));
  const base = `postgres://watt@127.0.0.1:${port}`;
  const connect = async (database: string) => {
    const c = new pg.Client({ connectionString: `${base}/${database}` });
    await c.connect();
    return c;
  };
  for (let i = 0; ; i++) {
    try {
      const c = await connect('postgres');
      await c.query('CREATE DATABASE watt_test');
      await c.end();
      break;
    } catch (err) {
      if (child.exitCode !== null || i > 200) throw new Error(`postgres did not start: ${(err as Error).message}\n${log}`);
      await new Promise((res) => setTimeout(res, 100));
    }
  }
  const url = `${base}/watt_test`;
  return {
    url,
    port,
    async createDatabase(name) {
      const c = await connect('postgres');
      try {
        await c.query(`CREATE DATABASE ${name}`);
      } finally {
        await c.end();
      }
      return `${base}/${name}`;
    },
    async query(sql, params, database = 'watt_test') {
      const c = await connect(database);
      try {
        return (await c.query(sql, params)).rows;
      } finally {
        await c.end();
      }
    },
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((res) => child.once('exit', res));
        child.kill('SIGINT'); // fast shutdown
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
