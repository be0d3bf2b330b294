import type { Command } from 'commander';
import { DataError, UsageError } from '../errors.js';
import { wattHome } from '../config.js';
import { numberParser, printJson } from './options.js';

/**
 * `watt predict`: when to light the stove. Loads a model (`--model`, else the newest under
 * `<WATT_HOME>/models/`, else the shipped default) and does arithmetic: no simulator, no regression
 * library, no logger, no cloud SDK, so that it answers in well under 250 ms.
 * Exit codes: 0 ok, 1 infeasible night, 2 bad input or model.
 */
export function registerPredict(program: Command): Command {
  return program
    .command('predict')
    .description('when to light the pellet stove to reach the target temperature at the target time')
    .option('--dpe <class>', 'DPE class of the home, A to G (required with the shipped class model; a model of your house from watt train --data knows it)', parseDpe)
    .requiredOption('--temp <°C>', 'outdoor temperature around the ignition time, i.e. the early-morning forecast', numberParser('--temp', -40, 45, ' °C'))
    .option('--indoor <°C>', 'indoor temperature now (default: estimated after the night cool-down)', numberParser('--indoor', -10, 35, ' °C'))
    .option('--target <°C>', "target indoor temperature (default 19, or your house model's usual one)", numberParser('--target', 5, 30, ' °C'))
    .option('--at <HH:MM>', "target time (default 07:00, or your house model's usual one)", parseClock)
    .option('--power <kW>', "stove nominal power (default 8, or your house model's stove)", numberParser('--power', 1, 50, ' kW'))
    .option('--temp-min <°C>', 'forecast minimum outdoor temperature before the target time: the lead is then at least the one at the mean of --temp and --temp-min (fixes the late spring nights of small stoves)', numberParser('--temp-min', -40, 45, ' °C'))
    .option('--model <path>', 'model.json (or its folder) written by watt train')
    .option('--house <id>', "the newest model of this house in the registry (watt train --data FILE --house ID)")
    .option('--json', 'print one JSON object on stdout')
    .action(async (flags: { dpe?: string; temp: number; tempMin?: number; indoor?: number; target?: number; at?: string; power?: number; model?: string; house?: string; json?: boolean }) => {
      if (flags.house !== undefined && flags.model !== undefined) throw new UsageError('--house and --model are exclusive', { hint: 'pass one model source' });
      const [{ resolveModel, predictDefaults }, { predictLead, formatDuration }] = await Promise.all([import('../model/model-file.js'), import('../model/predict.js')]);
      const { model, file, origin } = flags.house !== undefined ? (await import('../model/registry.js')).resolveHouseModel(wattHome(), flags.house) : resolveModel(flags.model, wattHome());
      const defaults = predictDefaults(model);
      flags.target ??= defaults.target_temp_c;
      flags.at ??= defaults.target_time;
      flags.power ??= defaults.stove_power_kw;
      const p = predictLead(model, {
        dpeClass: flags.dpe as never,
        outdoorC: flags.temp,
        tempMinC: flags.tempMin,
        indoorC: flags.indoor,
        targetC: flags.target,
        at: flags.at,
        powerKw: flags.power,
      });
      if (flags.json) printJson({ ...p, model_file: file, model_origin: origin });
      if (!p.feasible) throw new DataError(p.reason, { hint: 'try a lower --target, a higher --power, or keep a low heat all night' });
      if (flags.json) return;
      const target = `${flags.target} °C`;
      const head =
        p.lead_time_min === 0
          ? `no need to light the stove before ${p.inputs.target_time}: the room should already be at ${target}`
          : `light the stove at ${p.ignition_time} (${formatDuration(p.lead_time_min)} before ${p.inputs.target_time}) to reach ${target}`;
      const house = 'heating' in model;
      const indoor = p.indoor_estimated
        ? `~${p.indoor_at_ignition_c} °C indoors at ignition (estimated: ${house ? "your house's calibrated cool-down" : `stove off at ${model.cooldown.stove_off} from ${model.cooldown.evening_air_temp_c} °C`}; pass --indoor to measure)`
        : `${p.indoor_at_ignition_c} °C indoors`;
      const who = house ? `your house (class ${p.inputs.dpe_class})` : `class ${flags.dpe}`;
      const extra = (p.extrapolated ? `beyond your history (${p.extrapolation.join('; ')}): answered from the calibrated physics with a wider margin\n` : '') + (p.warning ? `warning: ${p.warning}\n` : '');
      // one write: a reader that stops after the first line (| head -1) gets no EPIPE
      process.stdout.write(`${head}\n${who}, ${flags.temp} °C outdoors, ${indoor}, ${flags.power} kW stove; model ${model.version}${origin === 'shipped' ? ' (shipped default)' : ''}\n${extra}`);
    });
}

function parseDpe(value: string): string {
  const v = value.trim().toUpperCase();
  if (!/^[A-G]$/.test(v)) throw new UsageError(`--dpe must be a DPE class A to G, got "${value.slice(0, 20)}"`);
  return v;
}

function parseClock(value: string): string {
  const m = /^([01]?\d|2[0-3]):([0-5]\d)$/.exec(value.trim());
  if (!m) throw new UsageError(`--at must be a time HH:MM between 00:00 and 23:59, got "${value.slice(0, 20)}"`);
  return `${m[1]!.padStart(2, '0')}:${m[2]}`;
}
