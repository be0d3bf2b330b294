/**
 * The run history as cron leaves it and `watt runs` shows it: every verb records a run (also a
 * failure before the source is opened, and a bad flag), `watt runs RUN_ID` shows one run in full,
 * a purge answered "no" is `cancelled`, row and object counts are apart, metrics textfiles are
 * one per verb and prefix; and migration 5 on a catalog written before it.
 */
import { afterAll, describe, expect, test } from '@jest/globals';
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import parsePrometheus from 'parse-prometheus-text-format';
import { spawn } from 'node:child_process';
import { BIN, runWatt, scratchDir } from '../helpers/cli.js';
import { Catalog, MIGRATIONS, migrationSql } from '../../src/catalog/catalog.js';
import { runPurge } from '../../src/retention/index.js';
import { wattEnv } from '../retention/helpers.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function setup(): { cwd: string; env: Record<string, string> } {
  const cwd = scratchDir('watt-runs-');
  dirs.push(cwd);
  return { cwd, env: wattEnv(cwd) };
}

const daysAgo = (days: number) => new Date(Date.now() - days * 86_400_000).toISOString().slice(0, 10);

interface Run {
  run_id: string;
  verb: string;
  status: string;
  prefix: string | null;
  source: string | null;
  rows_in: number | null;
  rows: number | null;
  rejected: number | null;
  objects: number | null;
  exit_code: number | null;
  error: string | null;
}

async function runs(cwd: string, env: Record<string, string>, args: string[] = []): Promise<Run[]> {
  const r = await runWatt(['runs', '--json', '--limit', '100', ...args], { cwd, env });
  expect(r.code).toBe(0);
  return (JSON.parse(r.stdout) as { runs: Run[] }).runs;
}

describe('every verb records a run', () => {
  test('early failures, ingest with rejects, purge, erasure, verify, audit-rgpd; the table and one run in full', async () => {
    const { cwd, env } = setup();
    // a cron ingest whose export is missing: no source was opened
    const missing = await runWatt(['ingest', '--source', path.join(cwd, 'export-2026-12-06.csv')], { cwd, env });
    expect(missing.code).toBe(2);
    const bogus = await runWatt(['ingest', '--bogus'], { cwd, env });
    expect(bogus.code).toBe(2);
    let all = await runs(cwd, env);
    expect(all.map((r) => [r.verb, r.status, r.exit_code])).toEqual([
      ['ingest', 'failed', 2],
      ['ingest', 'failed', 2],
    ]);
    expect(all[1]!.error).toBe('source file not found: <source>');
    expect(all[0]!.error).toMatch(/unknown option '--bogus'/);
    expect(JSON.stringify(all)).not.toContain('export-2026-12-06'); // the file name may name a person: never recorded

    const bad = path.join(cwd, 'bad.csv');
    const sample = readFileSync(path.join(process.cwd(), 'samples', 'sample_energy_consumption.csv'), 'utf8').trim().split('\n');
    writeFileSync(bad, [...sample, 'REC-099,CUST-009,METER-09,not-a-date,1.0,0.18,false', 'REC-098,CUST-009,METER-09,2025-01-01T09:00:00Z,-5,0.18,false'].join('\n') + '\n');
    expect((await runWatt(['ingest', '--source', bad, '--quarantine', '--date', daysAgo(400)], { cwd, env })).code).toBe(1);
    expect((await runWatt(['ingest', '--date', daysAgo(2)], { cwd, env })).code).toBe(0);
    expect((await runWatt(['purge', '--days', '365', '--yes'], { cwd, env })).code).toBe(0);
    expect((await runWatt(['purge', '--subject', 'CUST-001', '--yes'], { cwd, env })).code).toBe(0);
    expect((await runWatt(['verify'], { cwd, env })).code).toBe(0);
    expect((await runWatt(['purge', '--verify-trail'], { cwd, env })).code).toBe(0);
    expect((await runWatt(['audit-rgpd', '--dir', cwd], { cwd, env })).code).toBe(1);
    expect((await runWatt(['purge', '--dry-run'], { cwd, env })).code).toBe(0); // a dry run records nothing

    all = await runs(cwd, env);
    expect(all.map((r) => [r.verb, r.status])).toEqual([
      ['audit-rgpd', 'failed'],
      ['verify-trail', 'succeeded'],
      ['verify', 'succeeded'],
      ['erasure', 'succeeded'],
      ['purge', 'succeeded'],
      ['ingest', 'succeeded'],
      ['ingest', 'rejected'],
      ['ingest', 'failed'],
      ['ingest', 'failed'],
    ]);
    const [audit, , verify, erasure, purge, ingestOk, ingestRejected] = all as [Run, Run, Run, Run, Run, Run, Run];
    expect(audit.exit_code).toBe(1);
    expect(verify).toMatchObject({ prefix: 'watt-about-it/raw', exit_code: 0 });
    expect(ingestRejected).toMatchObject({ source: 'bad.csv', prefix: 'watt-about-it/raw', rows_in: 7, rows: 5, rejected: 2, objects: 1, exit_code: 1 });
    expect(ingestOk).toMatchObject({ rows_in: 5, rows: 5, rejected: 0, objects: 1, exit_code: 0 });
    // the purge deleted the 400-day-old data object and its manifest (and the quarantine file): objects, not rows
    expect(purge).toMatchObject({ rows: null, objects: expect.any(Number), exit_code: 0 });
    expect(purge.objects).toBeGreaterThanOrEqual(2);
    expect(erasure).toMatchObject({ rows: expect.any(Number), objects: 1, prefix: 'watt-about-it/raw' });
    expect(erasure.rows).toBeGreaterThan(0);

    const table = await runWatt(['runs', '--verb', 'ingest'], { cwd, env });
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^STARTED\s+VERB\s+STATUS\s+DURATION\s+SOURCE\s+PREFIX\s+ROWS_IN\s+LANDED\s+REJECTED\s+OBJECTS\s+RUN_ID$/);
    expect(lines[2]).toMatch(/ingest\s+rejected\s+\S+\s+bad\.csv\s+watt-about-it\/raw\s+7\s+5\s+2\s+1\s+/);

    // one run in full
    const detail = await runWatt(['runs', ingestRejected.run_id], { cwd, env });
    expect(detail.code).toBe(0);
    expect(detail.stdout).toMatch(/status\s+rejected \(exit 1\)/);
    expect(detail.stdout).toMatch(/rows\s+7 in, 5 landed, 2 rejected/);
    expect(detail.stdout).toMatch(/manifest\s+file:\/\/.*_manifests\//);
    expect(detail.stdout).toMatch(/log\s+.*ingestion_.*\.log/);
    expect(detail.stdout).toMatch(/rejected rows: 2/);
    expect(detail.stdout).toMatch(/1\s+reading_ts: /);
    expect(detail.stdout).toMatch(/1\s+consumption_kwh: /);
    expect(detail.stdout).toMatch(/data\s+\d{4}-\d{2}-\d{2}\s+5 rows/);
    expect(detail.stdout).not.toContain('CUST-009');
    const json = JSON.parse((await runWatt(['runs', erasure.run_id, '--json'], { cwd, env })).stdout) as { run: { trail: Array<{ action: string }>; objects_list: unknown[] } };
    expect(json.run.trail.length).toBeGreaterThan(0);
    expect(JSON.stringify(json)).not.toContain('CUST-001');
    const unknown = await runWatt(['runs', '20200101T000000Z-nosuchrun0'], { cwd, env });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/no run 20200101T000000Z-nosuchrun0/);
  }, 180_000);

  test('a purge answered "no" at its prompt is cancelled, not failed, and deleted nothing', async () => {
    const { cwd, env } = setup();
    expect((await runWatt(['ingest', '--date', daysAgo(400)], { cwd, env })).code).toBe(0);
    const before = readdirSync(path.join(cwd, 'lake'), { recursive: true }).length;
    await expect(runPurge({ days: 30, confirm: async () => false, quiet: true }, env)).rejects.toThrow(/purge cancelled/);
    expect(readdirSync(path.join(cwd, 'lake'), { recursive: true }).length).toBe(before);
    const all = await runs(cwd, env, ['--verb', 'purge']);
    expect(all.map((r) => r.status)).toEqual(['cancelled']);
    expect((await runs(cwd, env, ['--status', 'cancelled'])).length).toBe(1);
  }, 60_000);
});

describe('watt serve records its start and its stop', () => {
  test('running while it serves, succeeded with exit 0 after SIGTERM', async () => {
    const { cwd, env } = setup();
    const child = spawn(process.execPath, [BIN, 'serve', '--no-auth', '--port', '0'], { cwd, env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    await new Promise<void>((resolve, reject) => {
      child.stderr!.on('data', (c: Buffer) => {
        err += c.toString();
        if (err.includes('"msg":"listening"')) resolve();
      });
      child.on('exit', () => reject(new Error(err)));
    });
    expect((await runs(cwd, env)).map((r) => [r.verb, r.status])).toEqual([['serve', 'running']]);
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect((await runs(cwd, env)).map((r) => [r.verb, r.status, r.exit_code])).toEqual([['serve', 'succeeded', 0]]);
  }, 60_000);
});

describe('metrics keep every prefix', () => {
  test('two purges of two prefixes write two textfiles, each labelled by verb, lake and prefix', async () => {
    const { cwd, env } = setup();
    const dir = path.join(cwd, 'metrics');
    const menv = { ...env, WATT_METRICS_DIR: dir };
    for (const prefix of ['homes/north', 'homes/south']) {
      expect((await runWatt(['ingest', '--prefix', prefix, '--date', daysAgo(400)], { cwd, env: menv })).code).toBe(0);
      expect((await runWatt(['purge', '--prefix', prefix, '--days', '30', '--yes'], { cwd, env: menv })).code).toBe(0);
    }
    expect(readdirSync(dir).sort()).toEqual(['watt_ingest_homes_north.prom', 'watt_ingest_homes_south.prom', 'watt_purge_homes_north.prom', 'watt_purge_homes_south.prom']);
    for (const prefix of ['homes/north', 'homes/south']) {
      const families = parsePrometheus(readFileSync(path.join(dir, `watt_purge_${prefix.replace('/', '_')}.prom`), 'utf8')) as Array<{ name: string; metrics: Array<{ labels: Record<string, string>; value: string }> }>;
      const deleted = families.find((f) => f.name === 'watt_run_objects_deleted')!.metrics[0]!;
      expect(deleted.labels).toEqual({ verb: 'purge', prefix, lake: expect.stringMatching(/^file:\/\/.*\/lake\/watt-lake$/) });
      expect(Number(deleted.value)).toBeGreaterThanOrEqual(2);
    }
    expect((await runs(cwd, env, ['--prefix', 'homes/south'])).map((r) => r.verb)).toEqual(['purge', 'ingest']);
  }, 120_000);
});

describe('migration 5', () => {
  test('a catalog written before it keeps its runs; purge counts move to objects; a cancelled purge becomes cancelled', () => {
    const home = scratchDir('watt-migrate-');
    dirs.push(home);
    const db = new Database(path.join(home, 'catalog.db'));
    for (const [i, sql] of MIGRATIONS.slice(0, 4).entries()) {
      db.exec(migrationSql(sql, 'sqlite'));
      db.pragma(`user_version = ${i + 1}`);
    }
    const insert = db.prepare(`INSERT INTO runs (run_id, command, status, started_at, rows, error) VALUES (?, ?, ?, '2026-01-01T00:00:00Z', ?, ?)`);
    insert.run('a', 'ingest', 'succeeded', 5, null);
    insert.run('b', 'purge', 'succeeded', 3, null);
    insert.run('c', 'purge', 'failed', null, 'purge cancelled: nothing was deleted');
    db.prepare(`INSERT INTO lake_objects (run_id, kind, uri, provider, bucket, key, created_at) VALUES ('a', 'data', 'u', 'local', 'b', 'k', '2026-01-01T00:00:00Z')`).run();
    db.close();
    const catalog = Catalog.open(home);
    try {
      expect(catalog.db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
      expect(catalog.getRun('a')).toMatchObject({ rows: 5, objects: null });
      expect(catalog.getRun('b')).toMatchObject({ rows: null, objects: 3 });
      expect(catalog.getRun('c')).toMatchObject({ status: 'cancelled' });
      expect(catalog.db.pragma('foreign_key_check')).toEqual([]);
      expect(catalog.db.pragma('foreign_keys', { simple: true })).toBe(1);
      // the foreign key still holds after the rebuild
      expect(() => catalog.db.prepare(`INSERT INTO lake_objects (run_id, kind, uri, provider, bucket, key, created_at) VALUES ('zz', 'data', 'u', 'local', 'b', 'k2', 'x')`).run()).toThrow(/FOREIGN KEY/);
    } finally {
      catalog.close();
    }
  });
});
