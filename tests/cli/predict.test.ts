import path from 'node:path';
import { runWatt, scratchDir, type CliResult } from '../helpers/cli.js';

/** The `watt:` error lines of a run. */
const errorLines = (r: CliResult) => r.stderr.split('\n').filter((l) => l.startsWith('watt:'));

describe('watt predict, end to end', () => {
  const cwd = scratchDir();
  const env = { WATT_HOME: path.join(cwd, 'home') };

  it('prints the ignition time and the lead with the shipped model, with no training step', async () => {
    const r = await runWatt(['predict', '--dpe', 'C', '--temp', '4'], { cwd, env });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^light the stove at (\d\d):(\d\d) \((\d+ h )?\d+ min before 07:00\) to reach 19 °C\n/);
    expect(r.stdout).toMatch(/model default-[0-9a-f]{8} \(shipped default\)/);
    expect(r.stderr).toBe('');
  });

  it('prints one JSON object with --json, inputs echoed', async () => {
    const r = await runWatt(['predict', '--dpe', 'c', '--temp', '4', '--indoor', '16', '--target', '20', '--at', '6:30', '--power', '10', '--json'], { cwd, env });
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({
      feasible: true,
      model_version: expect.stringMatching(/^default-/),
      inputs: { dpe_class: 'C', outdoor_temp_c: 4, indoor_temp_c: 16, target_temp_c: 20, target_time: '06:30', stove_power_kw: 10 },
    });
    expect(Number.isInteger(out.lead_time_min)).toBe(true);
    const [h, m] = out.ignition_time.split(':').map(Number);
    expect((h * 60 + m + out.lead_time_min) % 1440).toBe(6 * 60 + 30);
  });

  it('exits 1 with a plain sentence when the night is infeasible', async () => {
    const r = await runWatt(['predict', '--dpe', 'G', '--temp', '-10'], { cwd, env });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(errorLines(r)).toHaveLength(1);
    expect(errorLines(r)[0]).toMatch(/^watt: a class G home at -10 °C outdoors with a 8 kW stove .* cannot be reached/);
    const j = await runWatt(['predict', '--dpe', 'G', '--temp', '-10', '--json'], { cwd, env });
    expect(j.code).toBe(1);
    expect(JSON.parse(j.stdout)).toMatchObject({ feasible: false, lead_time_min: null, ignition_time: null });
  });

  it('exits 1 with a plain sentence for a class G home at -8 °C (default indoor estimate), which the simulator finds out of reach', async () => {
    const r = await runWatt(['predict', '--dpe', 'G', '--temp', '-8', '--power', '8'], { cwd, env });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(errorLines(r)).toHaveLength(1);
    expect(errorLines(r)[0]).toMatch(/^watt: a class G home at -8 °C outdoors with a 8 kW stove .* cannot be reached/);
  });

  it('exits 1 when the stove tops out just above the target, since the night gets colder by morning', async () => {
    const r = await runWatt(['predict', '--dpe', 'G', '--temp', '0'], { cwd, env });
    expect(r.code).toBe(1);
    expect(errorLines(r)).toHaveLength(1);
    expect(errorLines(r)[0]).toMatch(/^watt: a class G home at 0 °C outdoors .* nights like this get colder by morning, and 19 °C cannot be reached by 07:00/);
    const j = await runWatt(['predict', '--dpe', 'G', '--temp', '0', '--json'], { cwd, env });
    expect(j.code).toBe(1);
    expect(JSON.parse(j.stdout)).toMatchObject({ feasible: false, lead_time_min: null, reason: expect.stringMatching(/colder by morning/) });
  });

  it('answers hard frost with a big stove no shorter than the simulator needs (class D, -15 °C, 10 kW: 270 min)', async () => {
    const r = await runWatt(['predict', '--dpe', 'D', '--temp', '-15', '--power', '10', '--json'], { cwd, env });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).lead_time_min).toBeGreaterThanOrEqual(270 - 10);
  });

  it('answers a mild night for the worst class', async () => {
    const r = await runWatt(['predict', '--dpe', 'G', '--temp', '10'], { cwd, env });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^light the stove at \d\d:\d\d \(/);
  });

  it.each([
    [['--dpe', 'H', '--temp', '4'], /--dpe must be a DPE class A to G, got "H"/],
    [['--dpe', 'C', '--temp', 'abc'], /--temp must be a number, got "abc"/],
    [['--dpe', 'C', '--temp', '50'], /--temp must be between -40 and 45 °C/],
    [['--dpe', 'C', '--temp', '-41'], /--temp must be between -40 and 45 °C/],
    [['--dpe', 'C', '--temp', '4', '--indoor', '20', '--target', '19'], /target 19 °C is below the indoor temperature 20 °C/],
    [['--dpe', 'C', '--temp', '4', '--at', '25:00'], /--at must be a time HH:MM/],
    [['--dpe', 'C', '--temp', '4', '--model', 'nope.json'], /model not found: nope.json/],
    [['--dpe', 'C', '--temp', '4', '--power', '20'], /a 20 kW stove: model default-\w+ learnt from stoves of 3 to 15 kW: outside the model's range/],
    [['--dpe', 'C', '--temp', '4', '--power', '1.5'], /a 1.5 kW stove: .* outside the model's range/],
    [['--dpe', 'C', '--temp', '-38'], /-38 °C outdoors: model default-\w+ learnt from nights down to -\d+(\.\d+)? °C: outside the model's range/],
  ])('exits 2 with a one-line error for %j', async (args, message) => {
    const r = await runWatt(['predict', ...args], { cwd, env });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(errorLines(r)).toHaveLength(1);
    expect(errorLines(r)[0]).toMatch(message);
  });

  it('exits 2 when --dpe or --temp is missing', async () => {
    const r = await runWatt(['predict', '--temp', '4'], { cwd, env });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--dpe/);
  });
});
