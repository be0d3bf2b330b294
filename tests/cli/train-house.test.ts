import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runWatt, scratchDir } from '../helpers/cli.js';
import { heatingSeasonNights, loadDailyWeather } from '../../src/model/weather.js';
import { HOUSE_ONE, testHistory } from '../../src/model/test-houses.js';
import { HISTORY_COLUMNS, historyToCsv, type IgnitionRecord } from '../../src/model/history.js';

/**
 * `watt train --data` on one house's history, end to end (the real CLI): calibration, the honest
 * hold-out, predict with the house model (extrapolation flagged), and every history sanity case
 * with its exit code and message.
 */
const errorLines = (r: { stderr: string }) => r.stderr.split('\n').filter((l) => l.startsWith('watt:'));
const nights = testHistory(HOUSE_ONE, heatingSeasonNights(loadDailyWeather())).nights.map((n) => n.record);

describe('watt train --data: one house', () => {
  const cwd = scratchDir();
  const env = { WATT_HOME: path.join(cwd, 'home'), WATT_LOG_DIR: path.join(cwd, 'logs') };
  const write = (name: string, records: readonly IgnitionRecord[]) => {
    writeFileSync(path.join(cwd, name), historyToCsv(records));
    return name;
  };

  it('calibrates the house, scores the newest 20 % apart, and predict answers from it', async () => {
    write('house.csv', nights.slice(0, 300));
    const r = await runWatt(['train', '--data', 'house.csv', '--json'], { cwd, env });
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.evaluation).toMatchObject({ split: 'newest-20pct', train_nights: 240, test_nights: 60 });
    expect(out.evaluation.answered + out.evaluation.refused).toBe(60);
    expect(out.evaluation.learning_curve.map((p: { train_nights: number }) => p.train_nights)).toEqual([10, 30, 100]);
    for (const v of [out.evaluation.mae_min, out.evaluation.p90_abs_err_min, out.evaluation.late_rate]) expect(Number.isFinite(v)).toBe(true);
    expect(out.evaluation.mae_min).toBeLessThan(10);
    expect(out.house.h_w_per_k.sd).toBeGreaterThan(0);
    const card = readFileSync(path.join(path.dirname(out.model), 'model_card.md'), 'utf8');
    expect(card).toMatch(/\| H, coefficient de déperdition \(W\/K\) \| \d+\.\d \| \d+\.\d \|/);
    // inside the history: not extrapolated; house defaults (19.5 °C, 9 kW) apply
    const p = await runWatt(['predict', '--temp', '2', '--indoor', '15', '--json'], { cwd, env });
    expect(p.code).toBe(0);
    expect(JSON.parse(p.stdout)).toMatchObject({ feasible: true, extrapolated: false, inputs: { target_temp_c: 19.5, stove_power_kw: 9, dpe_class: 'D' } });
    // colder, another target and a smaller stove: answered, flagged, and said in text mode
    const x = await runWatt(['predict', '--temp', '-16', '--indoor', '16', '--target', '20.5', '--power', '8', '--json'], { cwd, env });
    expect(x.code).toBe(0);
    const xo = JSON.parse(x.stdout);
    expect(xo).toMatchObject({ feasible: true, extrapolated: true });
    expect(xo.extrapolation.join('; ')).toMatch(/colder than any recorded night.*20.5 °C target.*8 kW stove/);
    const t = await runWatt(['predict', '--temp', '-16', '--indoor', '16', '--target', '20.5', '--power', '8'], { cwd, env });
    expect(t.stdout).toMatch(/\nbeyond your history \(.*\): answered from the calibrated physics with a wider margin\n$/);
    // what physics says cannot be reached: refused with exit 1
    const no = await runWatt(['predict', '--temp', '-15', '--target', '21', '--power', '2.5'], { cwd, env });
    expect(no.code).toBe(1);
    expect(errorLines(no)[0]).toMatch(/tops out near .* below the 21 °C target/);
  });

  const base = nights.slice(0, 40);
  const cases: [string, () => IgnitionRecord[], RegExp][] = [
    ['a duplicate date', () => [...base.slice(0, 20), { ...base[5]! }, ...base.slice(20)], /line 22 repeats the date \d{4}-\d\d-\d\d \(New York\) of line 7: .*copy would land in both the training and the test nights/],
    ['outdoor temperatures in °F', () => base.map((r) => ({ ...r, outdoor_temp_c: Math.round(r.outdoor_temp_c * 1.8 + 32) })), /outdoor_temp_c is at or above the indoor air on \d+ of 40 nights .*likely °F/],
    ['leads in hours', () => base.map((r) => ({ ...r, lead_time_min: Math.round((r.lead_time_min / 60) * 10) / 10 })), /lead_time_min is at most [\d.]+ on every night .*likely hours, not minutes/],
    ['all-zero leads', () => base.map((r) => ({ ...r, lead_time_min: 0 })), /lead_time_min is 0 on every night .*nothing to learn/],
    ['a constant lead', () => base.map((r) => ({ ...r, lead_time_min: 60 })), /lead_time_min is 60 on every night .*a fixed schedule/],
    ['a constant outdoor column', () => base.map((r) => ({ ...r, outdoor_temp_c: 5 })), /outdoor_temp_c is 5 on every night .*placeholder/],
    ['a power in W on some rows', () => base.map((r, i) => (i === 7 ? { ...r, stove_power_kw: 0.009 } : r)), /stove_power_kw jumps from 0.009 to 9 .*likely W instead of kW/],
  ];
  it.each(cases)('exits 1 for %s, naming the line and the likely cause', async (name, make, message) => {
    const file = write(`${name.replace(/\W+/g, '-')}.csv`, make());
    const r = await runWatt(['train', '--data', file, '--no-save'], { cwd, env });
    expect(r.code).toBe(1);
    expect(errorLines(r)).toHaveLength(1);
    expect(errorLines(r)[0]).toMatch(message);
    expect(r.stdout).not.toMatch(/NaN/);
  });

  it('exits 1 for a power in W beyond the schema, saying W instead of kW', async () => {
    const lines = historyToCsv(base).trimEnd().split('\n');
    const i = HISTORY_COLUMNS.indexOf('stove_power_kw');
    lines[3] = lines[3]!.split(',').map((c, j) => (j === i ? '9000' : c)).join(',');
    writeFileSync(path.join(cwd, 'watts.csv'), lines.join('\n') + '\n');
    const r = await runWatt(['train', '--data', 'watts.csv', '--no-save'], { cwd, env });
    expect(r.code).toBe(1);
    expect(errorLines(r)[0]).toMatch(/line 4, column stove_power_kw: "9000" must be <= 50 \(likely W instead of kW: 9000 W is 9 kW\)/);
  });

  it('accepts nights with the stove kept on (indoor at or above the target, positive lead): sets them aside with a count, never refuses the history', async () => {
    const file = write('one-odd.csv', base.map((r, i) => (i === 4 ? { ...r, indoor_start_temp_c: 20.5, lead_time_min: 20 } : r)));
    const r = await runWatt(['train', '--data', file, '--no-save', '--json'], { cwd, env });
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.house.kept_on_nights).toBe(1);
    expect(out.warnings.join('\n')).toMatch(/1 night with the stove kept on \(indoor_start_temp_c at or above target_temp_c with a positive lead, first line 6: 20.5 °C indoors.*set aside from the calibration/);
    // a third of the nights kept on: still trained, not refused
    const many = write('many-kept-on.csv', base.map((r, i) => (i % 3 ? r : { ...r, indoor_start_temp_c: 21, lead_time_min: 30 })));
    const r2 = await runWatt(['train', '--data', many, '--no-save', '--json', '--accept-poor'], { cwd, env });
    expect(r2.code).toBe(0);
    expect(JSON.parse(r2.stdout).house.kept_on_nights).toBe(14);
  });

  it('prints no NaN for a short history (no hold-out): says so', async () => {
    const file = write('short.csv', base.slice(0, 12));
    const r = await runWatt(['train', '--data', file, '--no-save'], { cwd, env });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/no held-out evaluation \(fewer than 25 nights\)/);
    expect(r.stdout).not.toMatch(/NaN/);
  });
  it('--house saves into the registry (the default model untouched); predict --house uses it; ids are checked', async () => {
    const home = path.join(cwd, 'home-registry');
    const e = { ...env, WATT_HOME: home };
    write('h1.csv', nights.slice(0, 120));
    const r = await runWatt(['train', '--data', 'h1.csv', '--house', 'maison-7', '--json'], { cwd, env: e });
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.house_id).toBe('maison-7');
    expect(out.model).toBe(path.join(home, 'models', 'houses', 'maison-7', out.version, 'model.json'));
    expect(out.quality.status).toBe('ok');
    // the default model is still the shipped one
    const d = await runWatt(['predict', '--dpe', 'C', '--temp', '4', '--json'], { cwd, env: e });
    expect(JSON.parse(d.stdout).model_origin).toBe('shipped');
    const p = await runWatt(['predict', '--house', 'maison-7', '--temp', '2', '--indoor', '15', '--json'], { cwd, env: e });
    expect(p.code).toBe(0);
    expect(JSON.parse(p.stdout)).toMatchObject({ model_version: out.version, model_origin: 'registry', inputs: { dpe_class: 'D', target_temp_c: 19.5 } });
    // a --dpe that contradicts the house: exit 2 naming both
    const c = await runWatt(['predict', '--house', 'maison-7', '--dpe', 'B', '--temp', '2'], { cwd, env: e });
    expect(c.code).toBe(2);
    expect(errorLines(c)[0]).toMatch(/DPE class B contradicts the house model .*calibrated as class D/);
    const u = await runWatt(['predict', '--house', 'maison-8', '--temp', '2'], { cwd, env: e });
    expect(u.code).toBe(2);
    expect(errorLines(u)[0]).toMatch(/no model for house maison-8/);
    for (const id of ['../evil', 'a/b', '-x']) {
      const bad = await runWatt(['train', '--data', 'h1.csv', '--house', id, '--no-save'], { cwd, env: e });
      expect(bad.code).toBe(2);
      expect(errorLines(bad)[0]).toMatch(/invalid house id/);
    }
  });

  it('the quality gate: a model worse than its baselines exits 1 with the figures and keeps the previous model; --accept-poor saves it marked poor', async () => {
    const home = path.join(cwd, 'home-gate');
    const e = { ...env, WATT_HOME: home };
    write('good.csv', nights.slice(0, 120));
    const g = await runWatt(['train', '--data', 'good.csv', '--json'], { cwd, env: e });
    expect(g.code).toBe(0);
    const good = JSON.parse(g.stdout).version;
    // the house changed in its newest nights (a clogged stove: leads 1.6 times longer): the hold-out is late
    const changed = nights.slice(0, 120).map((r, i) => (i >= 96 ? { ...r, lead_time_min: Math.min(540, Math.round(r.lead_time_min * 1.6)) } : r));
    write('changed.csv', changed);
    const bad = await runWatt(['train', '--data', 'changed.csv'], { cwd, env: e });
    expect(bad.code).toBe(1);
    expect(errorLines(bad)[0]).toMatch(/fails the quality gate \(.*late on [\d.]+ % of the answered nights.*hold-out of 24 nights: MAE [\d.]+ min, bias -[\d.]+ min, late [\d.]+ %; without margin MAE [\d.]+ min; lookup schedule MAE [\d.]+ min\): not saved, the previous model stays in use/);
    expect(bad.stdout).toMatch(/quality: poor/);
    const still = await runWatt(['predict', '--temp', '2', '--indoor', '15', '--json'], { cwd, env: e });
    expect(JSON.parse(still.stdout).model_version).toBe(good);
    const ok = await runWatt(['train', '--data', 'changed.csv', '--accept-poor', '--json'], { cwd, env: e });
    expect(ok.code).toBe(0);
    const saved = JSON.parse(ok.stdout);
    expect(saved.quality.status).toBe('poor');
    const p = await runWatt(['predict', '--temp', '2', '--indoor', '15', '--json'], { cwd, env: e });
    expect(JSON.parse(p.stdout)).toMatchObject({ model_version: saved.version, warning: expect.stringMatching(/failed its training's quality gate/) });
  });

  it('learns from temp_min_c when the history has it, and reports the margin by band and the baselines', async () => {
    write('with-min.csv', nights.slice(0, 200));
    expect(historyToCsv(nights.slice(0, 2)).split('\n')[0]).toMatch(/,temp_min_c$/);
    const r = await runWatt(['train', '--data', 'with-min.csv', '--no-save', '--json'], { cwd, env });
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.house.temp_min_weight.value).toBeGreaterThan(0);
    expect(out.house.temp_min_weight.value).toBeLessThanOrEqual(1);
    expect(out.house.margin.bands.factor).toHaveLength(4);
    expect(out.evaluation.baselines.lookup.mae_min).toBeGreaterThan(0);
    expect(out.evaluation.baselines.raw.mae_min).toBeLessThan(out.evaluation.baselines.lookup.mae_min);
    const t = await runWatt(['train', '--data', 'with-min.csv', '--no-save'], { cwd, env });
    expect(t.stdout).toMatch(/baselines on the same nights: without margin MAE [\d.]+ min.*lookup schedule by outdoor air MAE/);
    expect(t.stdout).toMatch(/\nquality: ok\n/);
  });
});
