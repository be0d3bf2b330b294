import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { logDir, wattHome } from '../config.js';
import { newRunId } from '../run-id.js';
import { intParser, numberParser, printJson } from './options.js';
import { recordRunMetrics } from '../metrics.js';

/**
 * `watt train`: build the ignition history (simulated from real weather, or `--data`), evaluate on
 * held-out winters and cities, fit, save under `<WATT_HOME>/models/<version>/` and record in the
 * catalog. Exit codes: 0 ok, 1 invalid history rows, 2 usage, 3 storage.
 */
export function registerTrain(program: Command): Command {
  return program
    .command('train')
    .description('learn when to light the pellet stove, from a simulated or recorded ignition history')
    .option('--synthetic', 'simulate every heating-season night of samples/weather.csv for every DPE class (default without --data)')
    .option('--data <file>', "one house's ignition history CSV (schemas/ignition_history.schema.json): calibrates that house (H, τ, start-up delay) and scores its newest 20 % of nights")
    .option('--export-history <file>', 'write the ignition history used as CSV')
    .option('--seed <n>', 'seed of the synthetic target and power draws', intParser('--seed', 0, 2 ** 31 - 1), 42)
    .option('--variants <n>', 'synthetic draws per night and class (5 gives ~57,000 nights)', intParser('--variants', 1, 20), 1)
    .option('--weather <file>', 'daily weather CSV for --synthetic (location,date,temp_max,temp_min)')
    .option('--margin-quantile <q>', 'quantile of the training residuals used as safety margin', numberParser('--margin-quantile', 0.5, 0.999), 0.9)
    .option('--house <id>', 'with --data: save the model in the registry for this house id (1-64 of A-Z a-z 0-9 - _; a pseudonymous key, never a name): watt predict --house and POST /v1/predict with house_id use it, the default model is untouched')
    .option('--accept-poor', 'with --data: save a model that fails the quality gate, marked quality: poor (predict and serve then answer with a warning)')
    .option('--no-save', 'evaluate and print, but do not save the model')
    .option('--json', 'print one JSON object (version, metrics, timings) on stdout')
    .option('--verbose', 'show debug lines and stack traces')
    .action(async (flags: { synthetic?: boolean; data?: string; exportHistory?: string; seed: number; variants: number; weather?: string; marginQuantile: number; save: boolean; json?: boolean; verbose?: boolean; house?: string; acceptPoor?: boolean }) => {
      if (flags.synthetic && flags.data) throw new UsageError('--synthetic and --data are exclusive', { hint: 'pass one history source' });
      if ((flags.house !== undefined || flags.acceptPoor) && !flags.data) throw new UsageError(`${flags.house !== undefined ? '--house' : '--accept-poor'} only applies to --data (one house's history)`);
      if (flags.house !== undefined) (await import('../model/registry.js')).checkHouseId(flags.house);
      if (flags.data && flags.weather) throw new UsageError('--weather only applies to --synthetic');
      const [{ train }, { evaluationTable, seasonTargets, houseReport }, { createRunLogger }] = await Promise.all([
        import('../model/train.js'),
        import('../model/report.js'),
        import('../log.js'),
      ]);
      const runId = newRunId();
      const logger = createRunLogger({ fileStem: 'train', runId, dir: logDir(), quiet: Boolean(flags.json), verbose: flags.verbose, defaultMeta: { command: 'train', run_id: runId } });
      try {
        const result = await train({
          houseId: flags.house,
          acceptPoor: flags.acceptPoor,
          dataFile: flags.data,
          seed: flags.seed,
          variants: flags.variants,
          weatherFile: flags.weather,
          exportHistory: flags.exportHistory,
          marginQuantile: flags.marginQuantile,
          home: wattHome(),
          save: flags.save,
          logger,
        }).catch((err: unknown) => {
          // the quality gate refused the model: print its report (the figures), then exit 1
          const r = (err as { result?: { model: import('../model/house-model.js').HouseModel } }).result;
          if (r && !flags.json) process.stdout.write(houseReport(r.model));
          throw err;
        });
        recordRunMetrics({ rows_landed: result.rows });
        if ('heating' in result.model) {
          const m = result.model;
          if (flags.json) {
            printJson({
              version: m.version,
              model: result.saved?.modelFile ?? null,
              rows: result.rows,
              timings_s: result.timings,
              house_id: m.house_id ?? null,
              house: { dpe_class: m.dpe_class, h_w_per_k: m.heating.h_w_per_k, tau_min: m.heating.tau_min, delay_min: m.heating.delay_min, temp_min_weight: m.heating.temp_min_weight ?? null, structure_choice: m.heating.structure_choice ?? null, kept_on_nights: m.heating.kept_on_nights ?? 0, cooldown: m.cooldown, margin: m.margin },
              evaluation: m.evaluation,
              quality: m.quality ?? null,
              warnings: result.warnings,
            });
            return;
          }
          process.stdout.write(houseReport(m));
          const t = result.timings;
          process.stdout.write(`history ${t.history_s.toFixed(2)} s, evaluation ${t.evaluate_s.toFixed(2)} s, calibration on ${result.rows} nights ${t.fit_s.toFixed(2)} s\n`);
          process.stdout.write(result.saved ? `model ${m.version}${m.house_id ? ` of house ${m.house_id}` : ''} saved to ${result.saved.dir}\n` : `model ${m.version} not saved (--no-save)\n`);
          return;
        }
        const targets = seasonTargets(result.model.metrics);
        if (flags.json) {
          printJson({
            version: result.model.version,
            model: result.saved?.modelFile ?? null,
            rows: result.rows,
            infeasible_nights: result.infeasibleNights,
            timings_s: result.timings,
            targets_met: targets?.met ?? null,
            metrics: result.model.metrics,
            warnings: result.warnings,
          });
          return;
        }
        process.stdout.write(evaluationTable(result.model.metrics));
        if (targets) process.stdout.write(`${targets.text}\n`);
        const t = result.timings;
        process.stdout.write(`history ${t.history_s.toFixed(2)} s, evaluation ${t.evaluate_s.toFixed(2)} s, final fit on ${result.rows} nights ${t.fit_s.toFixed(2)} s\n`);
        process.stdout.write(result.saved ? `model ${result.model.version} saved to ${result.saved.dir}\n` : `model ${result.model.version} not saved (--no-save)\n`);
      } finally {
        await logger.close();
      }
    });
}
