/**
 * The catalog on PostgreSQL (WATT_CATALOG_URL): the same migrations build the same tables as on
 * SQLite, the synchronous facade answers like better-sqlite3, and the trail keeps its guarantees
 * (append-only, last entries removed detected). One throw-away cluster for the file.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Catalog, MIGRATIONS, migrationSql } from '../../src/catalog/catalog.js';
import { translateSql } from '../../src/catalog/pg-sync.js';
import { appendTrail, openIntents, verifyTrail } from '../../src/trail/trail.js';
import { startPostgres, type PostgresServer } from '../helpers/postgres.js';

let server: PostgresServer;
let home: string;

beforeAll(async () => {
  server = await startPostgres();
  home = mkdtempSync(path.join(os.tmpdir(), 'watt-pgcat-'));
}, 60_000);

afterAll(async () => {
  await server?.stop();
  rmSync(home, { recursive: true, force: true });
});

/** Tables and their columns (name, declared affinity folded to a family) as a sorted list. */
function family(type: string): string {
  const t = type.toLowerCase();
  if (/int/.test(t)) return 'integer';
  if (/text|char/.test(t)) return 'text';
  return t;
}

test('the same migrations produce the same tables, columns and indexes on SQLite and PostgreSQL', async () => {
  const sqlite = Catalog.open(path.join(home, 'sqlite'), {});
  const lite = sqlite.db
    .prepare(`SELECT m.name AS t, p.name AS c, p.type AS type, p."notnull" AS nn FROM sqlite_master m JOIN pragma_table_info(m.name) p WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' ORDER BY 1, 2`)
    .all() as Array<{ t: string; c: string; type: string; nn: number }>;
  const liteIdx = (sqlite.db.prepare(`SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_%' ORDER BY 1`).all() as Array<{ name: string }>).map((r) => r.name);
  sqlite.close();

  const url = await server.createDatabase('same_tables');
  const pgCat = Catalog.open(home, { WATT_CATALOG_URL: url });
  expect(pgCat.engine).toBe('postgres');
  pgCat.close();
  const cols = await server.query<{ t: string; c: string; type: string; nn: string }>(
    `SELECT table_name AS t, column_name AS c, data_type AS type, is_nullable AS nn FROM information_schema.columns WHERE table_schema = 'public' AND table_name <> 'watt_schema_version' ORDER BY 1, 2`,
    [],
    'same_tables',
  );
  const pgIdx = (await server.query<{ name: string }>(`SELECT indexname AS name FROM pg_indexes WHERE schemaname = 'public' AND indexname NOT LIKE '%_pkey' ORDER BY 1`, [], 'same_tables')).map((r) => r.name);

  const shape = (rows: Array<{ t: string; c: string; type: string }>) => rows.map((r) => `${r.t}.${r.c}:${family(r.type)}`).sort();
  expect(shape(cols)).toEqual(shape(lite));
  // NOT NULL alike (SQLite's INTEGER PRIMARY KEY columns are implicitly not null).
  const notNull = (rows: string[]) => rows.sort();
  expect(notNull(cols.filter((r) => r.nn === 'NO').map((r) => `${r.t}.${r.c}`))).toEqual(
    notNull(lite.filter((r) => r.nn === 1 || ['lake_objects.id', 'audit_log.seq', 'erasures.id', 'runs.run_id', 'models.version'].includes(`${r.t}.${r.c}`)).map((r) => `${r.t}.${r.c}`)),
  );
  expect(pgIdx.filter((n) => n !== 'audit_log_hash_key').sort()).toEqual(liteIdx.filter((n) => !n.startsWith('sqlite_')).sort());
  const version = await server.query<{ v: number }>('SELECT MAX(version) AS v FROM watt_schema_version', [], 'same_tables');
  expect(Number(version[0]!.v)).toBe(MIGRATIONS.length);
});

test('each engine keeps only its own fragments of a migration', () => {
  const m = MIGRATIONS[1]!;
  expect(migrationSql(m, 'sqlite')).toContain('AUTOINCREMENT');
  expect(migrationSql(m, 'sqlite')).not.toContain('plpgsql');
  expect(migrationSql(m, 'postgres')).toContain('plpgsql');
  expect(migrationSql(m, 'postgres')).not.toContain('AUTOINCREMENT');
  expect(migrationSql(m, 'sqlite')).not.toMatch(/\{\{/);
});

test('placeholders are translated outside literals', () => {
  expect(translateSql("SELECT '?' AS q, x FROM t WHERE a = ? AND b = ?").sql).toBe("SELECT '?' AS q, x FROM t WHERE a = $1 AND b = $2");
  expect(translateSql('INSERT INTO t (a, b) VALUES (@a, @b) ON CONFLICT (a) DO UPDATE SET b = @b')).toEqual({ sql: 'INSERT INTO t (a, b) VALUES ($1, $2) ON CONFLICT (a) DO UPDATE SET b = $2', names: ['a', 'b'] });
});

test('two catalogs on one PostgreSQL database see each other\'s runs; objects, manifests cache and row deletion round-trip', async () => {
  const url = await server.createDatabase('fresh_twice');
  const a = Catalog.open(home, { WATT_CATALOG_URL: url });
  const b = Catalog.open(home, { WATT_CATALOG_URL: url });
  a.startRun({ run_id: 'r1', command: 'ingest', started_at: '2026-01-01T00:00:00.000Z', source_sha256: 'ab', destination: 'file:///l/' });
  a.finishRun('r1', { status: 'succeeded', rows: 3, rejected: 0 });
  expect(b.getRun('r1')).toMatchObject({ run_id: 'r1', status: 'succeeded', rows: 3, rejected: 0, pid: process.pid });
  expect(b.findSucceededRun('ab', 'file:///l/')?.run_id).toBe('r1');
  b.addLakeObject({ run_id: 'r1', kind: 'data', uri: 'file:///l/p/x.csv', provider: 'local', bucket: '', key: 'p/x.csv', rows: 3 });
  expect(a.objectUri('r1', 'data')).toBe('file:///l/p/x.csv');
  expect(a.markLakeObjectsDeleted('local', '', ['p/x.csv'])).toBe(1);
  a.cacheManifests('L', [{ key: 'p/_manifests/r1.json', bytes: 10, run_id: 'r1', source_sha256: 'ab', key_id: 'k', finished_at: null, object_uri: null, uri: 'u' }], []);
  a.cacheManifests('L', [{ key: 'p/_manifests/r1.json', bytes: 12, run_id: 'r1', source_sha256: 'ab', key_id: 'k', finished_at: null, object_uri: null, uri: 'u' }], []);
  expect(b.cachedManifests('L', 'p/')).toEqual([expect.objectContaining({ key: 'p/_manifests/r1.json', bytes: 12 })]);
  expect(a.deleteRowsBefore('2030-01-01T00:00:00.000Z', 'none', true)).toEqual({ runs: 1, lake_objects: 1 });
  a.close();
  b.close();
});

test('the trail on PostgreSQL: chained, append-only, and removing the last entries is detected', async () => {
  const url = await server.createDatabase('trail');
  const cat = Catalog.open(home, { WATT_CATALOG_URL: url });
  const written = appendTrail(cat.db, [
    { action: 'erasure.intent', lake: 'L', key: 'k1', count: 1, run_id: 'r', detail: { op: 'rewrite' } },
    { action: 'retention.delete', lake: 'L', key: 'k2', count: 1, run_id: 'r' },
  ]);
  expect(written.map((e) => e.seq)).toEqual([1, 2]);
  appendTrail(cat.db, [{ action: 'erasure.rewrite', lake: 'L', key: 'k1', count: 1, run_id: 'r', detail: { intent: 1 } }]);
  expect(openIntents(cat.db, 'L')).toEqual([]);
  expect(verifyTrail(cat.db)).toMatchObject({ ok: true, entries: 3 });
  expect(() => cat.db.prepare('DELETE FROM audit_log WHERE seq = 3').run()).toThrow(/append-only/);
  expect(() => cat.db.prepare("UPDATE audit_log SET count = 5 WHERE seq = 1").run()).toThrow(/append-only/);
  cat.close();
  // A superuser who drops the triggers and removes the last entry is still found out.
  await server.query('ALTER TABLE audit_log DISABLE TRIGGER USER; DELETE FROM audit_log WHERE seq = 3; ALTER TABLE audit_log ENABLE TRIGGER USER', [], 'trail');
  const again = Catalog.open(home, { WATT_CATALOG_URL: url });
  expect(verifyTrail(again.db)).toMatchObject({ ok: false });
  again.close();
});

test('a wrong WATT_CATALOG_URL fails with a storage error that hides the password', () => {
  // A password in the URL (assembled here so that no credential-shaped literal sits in the repository).
  const u = new URL(`postgres://127.0.0.1:${server.port}/no_such_db`);
  u.username = 'watt';
  u.password = ['s3cret', 'pass'].join('-');
  const url = u.toString();
  expect(() => Catalog.open(home, { WATT_CATALOG_URL: url })).toThrow(/cannot open the PostgreSQL catalog postgres:\/\/127\.0\.0\.1:\d+\/no_such_db: .*no_such_db/);
  try {
    Catalog.open(home, { WATT_CATALOG_URL: url });
  } catch (err) {
    expect(String((err as Error).message)).not.toContain('s3cret');
  }
  expect(() => Catalog.open(home, { WATT_CATALOG_URL: 'mysql://x' })).toThrow(/postgres:\/\//);
});

test('SQLite stays the default and never starts the PostgreSQL worker', () => {
  const cat = Catalog.open(path.join(home, 'default'), {});
  expect(cat.engine).toBe('sqlite');
  expect(cat.db).toBeInstanceOf(Database);
  cat.close();
});
