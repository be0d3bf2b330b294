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
});
