import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import Database from 'better-sqlite3';
import { runWatt, scratchDir, ROOT } from '../helpers/cli.js';

const FIXTURES = path.join(ROOT, 'tests', 'fixtures', 'model');
const errorLines = (r: { stderr: string }) => r.stderr.split('\n').filter((l) => l.startsWith('watt:'));

describe('watt train, end to end', () => {
  const cwd = scratchDir();
  const env = { WATT_HOME: path.join(cwd, 'home'), WATT_LOG_DIR: path.join(cwd, 'logs') };
  let version = '';

  it('simulates a small synthetic history, prints the evaluation table, saves and records the model', async () => {
    const r = await runWatt(['train', '--weather', path.join(FIXTURES, 'weather-small.csv'), '--export-history', 'history.csv'], { cwd, env });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^split\s+test nights\s+MAE min.*infeasible refused\s+false refusals\s+at ignition\n/);
    expect(r.stdout).toMatch(/\nseason\s+\d+\s+\d+\.\d/);
    expect(r.stdout).toMatch(/\ncity\s+\d+\s+\d+\.\d/);
    const m = /model (\d{8}T\d{6}Z-[a-z0-9]{10}) saved to (.*)\n/.exec(r.stdout);
    expect(m).not.toBeNull();
    version = m![1]!;
    const dir = path.join(env.WATT_HOME, 'models', version);
    expect(m![2]).toBe(dir);
    const model = JSON.parse(readFileSync(path.join(dir, 'model.json'), 'utf8'));
    expect(model).toMatchObject({ format: 'watt-lead-model/1', version, training: { source: 'synthetic', seed: 42 } });
    expect(model.training.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(model.feasibility.min_margin_k).toBeGreaterThanOrEqual(0);
    expect(model.metrics[0]).toHaveProperty('infeasible_recall');
    expect(model.metrics[0].false_refusal_rate).toBeGreaterThanOrEqual(0);
    expect(readFileSync(path.join(dir, 'model_card.md'), 'utf8')).toContain('## Risques et usages interdits');
    const db = new Database(path.join(env.WATT_HOME, 'catalog.db'), { readonly: true });
    const row = db.prepare('SELECT * FROM models WHERE version = ?').get(version) as { training_sha256: string; metrics: string };
    db.close();
    expect(row.training_sha256).toBe(model.training.sha256);
    expect(JSON.parse(row.metrics)).toHaveLength(2);
    expect(readFileSync(path.join(cwd, 'history.csv'), 'utf8')).toMatch(/^date,dpe_class,outdoor_temp_c,indoor_start_temp_c,target_temp_c,lead_time_min,stove_power_kw,target_time,location\n2013-01-/);
  });

  it('makes watt predict use the newest trained model', async () => {
    const r = await runWatt(['predict', '--dpe', 'D', '--temp', '2', '--json'], { cwd, env });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ model_version: version, model_origin: 'watt-home' });
  });

  it('refuses a history of several houses (the synthetic export: 7 classes, 2 cities) with exit 1', async () => {
    const r = await runWatt(['train', '--data', 'history.csv', '--no-save'], { cwd, env });
    expect(r.code).toBe(1);
    expect(errorLines(r)[0]).toMatch(/^watt: history.csv holds \d+ houses \(DPE class \/ location: .*line \d+ starts another\): watt train --data calibrates one house/);
  });

  it('exits 1 on invalid history rows, with the first error, and saves nothing', async () => {
    const r = await runWatt(['train', '--data', path.join(FIXTURES, 'history-bad.csv'), '--no-save'], { cwd, env });
    expect(r.code).toBe(1);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('watt:'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^watt: 3 invalid rows in history-bad.csv, nothing was trained \(first: line 3, column dpe_class: "H" /);
  });

  it('exits 2 for a missing history file or --synthetic with --data', async () => {
    expect((await runWatt(['train', '--data', 'missing.csv'], { cwd, env })).code).toBe(2);
    expect((await runWatt(['train', '--synthetic', '--data', 'history.csv'], { cwd, env })).code).toBe(2);
  });

  it('rebuilds the shipped default model byte for byte (npm run model:default)', () => {
    const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'build-default-model.mjs'), '--check'], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});
