/**
 * Cron-friendly output and metrics of batch runs, as cron and node_exporter see them: the real
 * CLI spawned; the metrics textfile read back by an independent Prometheus text parser.
 */
import { describe, expect, test } from '@jest/globals';
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import parsePrometheus, { type PromFamily } from 'parse-prometheus-text-format';
import { ROOT, runWatt, scratchDir } from '../helpers/cli.js';

const KEY = { WATT_PSEUDONYMISATION_KEY: 'test-key-0123456789abcdef0123456789abcdef' };

/** The sample with one row whose consumption is not a number. */
function badCsv(dir: string): string {
  const lines = readFileSync(path.join(ROOT, 'samples', 'sample_energy_consumption.csv'), 'utf8').trimEnd().split('\n');
  lines[2] = lines[2]!.replace(/,17\.8,/, ',17;8,');
  const file = path.join(dir, 'bad.csv');
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

function metric(families: PromFamily[], name: string, labels: Record<string, string> = {}): number | undefined {
  const family = families.find((f) => f.name === name);
  const sample = family?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  return sample?.value === undefined ? undefined : Number(sample.value);
}

describe('--quiet', () => {
  test('a successful ingest off a terminal prints nothing at all; a failed one prints its error', async () => {
    const cwd = scratchDir();
    const ok = await runWatt(['ingest', '--quiet'], { cwd, env: KEY });
    expect(ok).toEqual({ code: 0, stdout: '', stderr: '' });
    const verbose = await runWatt(['ingest', '--force'], { cwd, env: KEY });
    expect(verbose.stderr.split('\n').filter(Boolean).length).toBeGreaterThan(1); // what --quiet removes
    const bad = await runWatt(['ingest', '--quiet', '--source', badCsv(cwd)], { cwd, env: KEY });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^watt: .*rejected|invalid/m);
    expect(bad.stderr).not.toMatch(/^info/m);
  });

  test('audit-rgpd, predict and runs are silent too on success', async () => {
    const cwd = scratchDir();
    for (const args of [['audit-rgpd', '--dir', ROOT], ['predict', '--dpe', 'C', '--temp', '4'], ['runs']]) {
      const r = await runWatt([...args, '--quiet'], { cwd });
      expect(r).toEqual({ code: 0, stdout: '', stderr: '' });
    }
  });

  test('a failed audit with --quiet still shows its report (the findings are the errors)', async () => {
    const cwd = scratchDir();
    const r = await runWatt(['audit-rgpd', '--quiet'], { cwd });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/rgpd\//);
    expect(r.stderr).toMatch(/^watt: GDPR audit failed/m);
  });
});

describe('--json also on failure', () => {
  test('a usage error, a missing source and an invalid file each give one object with error and exit_code', async () => {
    const cwd = scratchDir();
    const usage = await runWatt(['ingest', '--layout', 'flat', '--json'], { cwd, env: KEY });
    expect(usage.code).toBe(2);
    expect(JSON.parse(usage.stdout)).toEqual({ error: expect.stringMatching(/--layout/), exit_code: 2 });
    const missing = await runWatt(['ingest', '--source', 'nope.csv', '--json'], { cwd, env: KEY });
    expect(missing.code).toBe(2);
    expect(JSON.parse(missing.stdout)).toMatchObject({ error: expect.stringMatching(/not found/), exit_code: 2 });
    const strict = await runWatt(['ingest', '--source', badCsv(cwd), '--json'], { cwd, env: KEY });
    expect(strict.code).toBe(1);
    expect(JSON.parse(strict.stdout)).toMatchObject({ error: expect.any(String), exit_code: 1 });
  });

  test("a quarantined ingest: the verb's own object, with error and exit_code added", async () => {
    const cwd = scratchDir();
    const r = await runWatt(['ingest', '--source', badCsv(cwd), '--quarantine', '--json'], { cwd, env: KEY });
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ status: 'rejected', rows: 4, rejected: 1, run_id: expect.any(String), error: expect.stringMatching(/1 rows rejected/), exit_code: 1 });
  });
});

describe('--log-format json', () => {
  test('every stderr line is a JSON object, the final error too', async () => {
    const cwd = scratchDir();
    const ok = await runWatt(['ingest', '--log-format', 'json'], { cwd, env: KEY });
    expect(ok.code).toBe(0);
    const bad = await runWatt(['ingest', '--log-format', 'json', '--source', badCsv(cwd)], { cwd, env: KEY });
    expect(bad.code).toBe(1);
    for (const r of [ok, bad]) {
      const lines = r.stderr.split('\n').filter(Boolean);
      expect(lines.length).toBeGreaterThan(0);
      for (const line of lines) expect(JSON.parse(line)).toMatchObject({ level: expect.any(String), message: expect.any(String) });
    }
    expect(JSON.parse(bad.stderr.trim().split('\n').at(-1)!)).toMatchObject({ level: 'error', exit_code: 1 });
    const usage = await runWatt(['ingest', '--bogus', '--log-format', 'json'], { cwd, env: KEY });
    expect(usage.code).toBe(2);
    expect(usage.stderr.trim().split('\n').map((l) => JSON.parse(l) as unknown)).toEqual([expect.objectContaining({ level: 'error', message: "unknown option '--bogus'", exit_code: 2 })]);
  });
});

describe('--metrics-file and WATT_METRICS_DIR', () => {
  test('ingest: status, rows and duration; a failed run keeps the last success time; nothing half-written', async () => {
    const cwd = scratchDir();
    const file = path.join(cwd, 'textfile', 'ingest.prom');
    const ok = await runWatt(['ingest', '--metrics-file', file], { cwd, env: KEY });
    expect(ok.code).toBe(0);
    const first = parsePrometheus(readFileSync(file, 'utf8'));
    expect(metric(first, 'watt_run_last_success', { verb: 'ingest' })).toBe(1);
    expect(metric(first, 'watt_run_last_exit_code')).toBe(0);
    expect(metric(first, 'watt_run_last_status', { status: 'succeeded' })).toBe(1);
    expect(metric(first, 'watt_run_rows_landed')).toBe(5);
    expect(metric(first, 'watt_run_rows_rejected')).toBe(0);
    expect(metric(first, 'watt_run_bytes')).toBe(statSync(path.join(ROOT, 'samples', 'sample_energy_consumption.csv')).size);
    expect(metric(first, 'watt_run_duration_seconds')).toBeGreaterThan(0);
    const successAt = metric(first, 'watt_run_last_success_timestamp_seconds')!;
    expect(Math.abs(successAt - Date.now() / 1000)).toBeLessThan(120);

    const bad = await runWatt(['ingest', '--metrics-file', file, '--source', badCsv(cwd)], { cwd, env: KEY });
    expect(bad.code).toBe(1);
    const second = parsePrometheus(readFileSync(file, 'utf8'));
    expect(metric(second, 'watt_run_last_success')).toBe(0);
    expect(metric(second, 'watt_run_last_exit_code')).toBe(1);
    expect(metric(second, 'watt_run_last_status', { status: 'failed' })).toBe(1);
    expect(metric(second, 'watt_run_last_success_timestamp_seconds')).toBe(successAt);
    expect(metric(second, 'watt_run_last_timestamp_seconds')).toBeGreaterThanOrEqual(successAt);
    expect(readdirSync(path.dirname(file))).toEqual(['ingest.prom']); // no temp file left
  });

  test('WATT_METRICS_DIR: one file per verb and prefix, audit findings by severity, purge deletions', async () => {
    const cwd = scratchDir();
    const dir = path.join(cwd, 'metrics');
    const env = { ...KEY, WATT_METRICS_DIR: dir };
    expect((await runWatt(['audit-rgpd', '--dir', ROOT], { cwd, env })).code).toBe(0);
    expect((await runWatt(['audit-rgpd', '--dir', cwd], { cwd, env })).code).toBe(1);
    const audit = parsePrometheus(readFileSync(path.join(dir, 'watt_audit_rgpd.prom'), 'utf8'));
    expect(metric(audit, 'watt_audit_findings', { severity: 'error' })).toBeGreaterThan(0);
    expect(metric(audit, 'watt_run_last_success')).toBe(0);
    expect((await runWatt(['ingest', '--date', '2020-01-02'], { cwd, env })).code).toBe(0);
    expect((await runWatt(['purge', '--days', '30', '--yes'], { cwd, env })).code).toBe(0);
    const purge = parsePrometheus(readFileSync(path.join(dir, 'watt_purge_watt_about_it_raw.prom'), 'utf8'));
    expect(metric(purge, 'watt_run_last_success', { verb: 'purge', prefix: 'watt-about-it/raw' })).toBe(1);
    expect(metric(purge, 'watt_run_objects_deleted')).toBeGreaterThanOrEqual(2); // the data object and its manifest
    expect(metric(purge, 'watt_run_bytes')).toBeGreaterThan(0);
    expect(readdirSync(dir).sort()).toEqual(['watt_audit_rgpd.prom', 'watt_ingest_watt_about_it_raw.prom', 'watt_purge_watt_about_it_raw.prom']);
  });

  test('a metrics file name the collector would ignore is a usage error, before anything runs', async () => {
    const cwd = scratchDir();
    const r = await runWatt(['ingest', '--metrics-file', path.join(cwd, 'm.txt')], { cwd, env: KEY });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/must end in \.prom/);
    expect(readdirSync(cwd)).not.toContain('m.txt');
  });
});

describe('watt runs', () => {
  test('lists the catalog history newest first, with filters, as a table and as JSON', async () => {
    const cwd = scratchDir();
    const none = await runWatt(['runs'], { cwd });
    expect(none.code).toBe(0);
    expect(none.stdout).toMatch(/^no runs: no catalog/);
    expect((await runWatt(['ingest'], { cwd, env: KEY })).code).toBe(0);
    expect((await runWatt(['ingest', '--source', badCsv(cwd), '--quarantine'], { cwd, env: KEY })).code).toBe(1);
    const all = await runWatt(['runs', '--json'], { cwd });
    const parsed = JSON.parse(all.stdout) as { catalog: string; runs: Array<Record<string, unknown>> };
    expect(parsed.catalog).toBe(path.join(cwd, '.watt', 'catalog.db'));
    expect(parsed.runs).toHaveLength(2);
    expect(parsed.runs[0]).toMatchObject({ verb: 'ingest', status: 'rejected', rows: 4, rejected: 1, destination: expect.stringMatching(/^file:\/\//), duration_s: expect.any(Number) });
    expect(parsed.runs[1]).toMatchObject({ verb: 'ingest', status: 'succeeded', rows: 5, rejected: 0 });
    expect(Date.parse(parsed.runs[0]!.started_at as string)).toBeGreaterThanOrEqual(Date.parse(parsed.runs[1]!.started_at as string));
    const rejected = JSON.parse((await runWatt(['runs', '--json', '--status', 'rejected'], { cwd })).stdout) as { runs: unknown[] };
    expect(rejected.runs).toHaveLength(1);
    expect((JSON.parse((await runWatt(['runs', '--json', '--verb', 'purge'], { cwd })).stdout) as { runs: unknown[] }).runs).toEqual([]);
    expect((JSON.parse((await runWatt(['runs', '--json', '--limit', '1'], { cwd })).stdout) as { runs: Array<{ status: string }> }).runs.map((r) => r.status)).toEqual(['rejected']);
    const table = await runWatt(['runs'], { cwd });
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^STARTED\s+VERB\s+STATUS\s+DURATION\s+SOURCE\s+PREFIX\s+ROWS_IN\s+LANDED\s+REJECTED\s+OBJECTS\s+RUN_ID$/);
    expect(lines).toHaveLength(3);
    expect(lines[1]).toContain(parsed.runs[0]!.run_id as string);
    expect((await runWatt(['runs', '--status', 'done'], { cwd })).code).toBe(2);
  });
});
