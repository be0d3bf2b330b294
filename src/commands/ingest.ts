import { statSync } from 'node:fs';
import { Command, Option } from 'commander';
import { DataError } from '../errors.js';
import { interruptSignal } from '../signals.js';
import { lakeOptions, printJson } from './options.js';
import { recordRunMetrics } from '../metrics.js';

/**
 * `watt ingest`: validate a CSV of meter readings against a JSON Schema, pseudonymise personal
 * columns and land it in a lake, with a manifest, a run log and a catalog record.
 * Exit codes: 0 ok or already ingested, 1 invalid data, 2 usage (also: key id differs from the
 * lake's), 3 storage, 4 lock held, 130 SIGINT, 143 SIGTERM.
 */
export function registerIngest(program: Command): Command {
  const command = program
    .command('ingest')
    .description('validate, pseudonymise and land a CSV of meter readings in the data lake')
    .option('--source <file>', 'CSV file to ingest (default: the shipped samples/sample_energy_consumption.csv)')
    .option('--schema <file>', 'JSON Schema of one row (default: schemas/energy_consumption.schema.json)');
  for (const option of lakeOptions()) command.addOption(option);
  return command
    .addOption(new Option('--layout <layout>', 'partition layout: plain (YYYY/MM/DD) or hive (year=/month=/day=)').choices(['plain', 'hive']).default('plain'))
    .option('--date <YYYY-MM-DD>', 'partition date, for backfills (default: today, UTC)')
    .addOption(new Option('--format <format>', 'data object format: csv (canonical values) or parquet (typed, Snappy)').choices(['csv', 'parquet']).default('csv'))
    .option('--partition-by <column>', "partition rows by the UTC day of this date-time column of the schema (default: the ingest date, or --date)")
    .addOption(new Option('--extra-columns <policy>', 'columns the schema does not declare: keep (as text, with a warning), drop, or reject the file').choices(['keep', 'drop', 'reject']).default('keep'))
    .option('--dry-run', 'validate and show the key, write nothing to the lake')
    .option('--force', 'ingest again a file already ingested to the same destination')
    .option('--quarantine', 'land valid rows, set rejected rows aside in <prefix>/_rejects/, exit 1')
    .option('--new-key', "rotate the pseudonymisation key on purpose: land although the lake's manifests carry another key id")
    .option('--json', 'print one JSON object with the outcome on stdout')
    .option('--verbose', 'show debug lines and stack traces')
    .action(async (flags: Record<string, string | boolean | undefined>) => {
      const { runIngest, DEFAULT_SOURCE } = await import('../ingest/index.js');
      const json = Boolean(flags.json);
      const progress = !json && process.stderr.isTTY ? await progressLine() : undefined;
      let result;
      try {
        result = await runIngest({
          ...(flags as object),
          quiet: json && !flags.verbose,
          signal: interruptSignal(),
          onProgress: progress?.update,
        });
      } finally {
        progress?.stop();
      }
      recordRunMetrics({ status: result.status, rows_landed: result.status === 'dry_run' ? 0 : result.rows, rows_rejected: result.rejected, bytes: statSync(String(flags.source ?? DEFAULT_SOURCE), { throwIfNoEntry: false })?.size });
      const summary = {
        run_id: result.run_id,
        status: result.status,
        rows: result.rows,
        rejected: result.rejected,
        destination: result.destination,
        format: result.format,
        objects: result.objects,
        manifest: result.manifest,
        log: result.log,
        key_id: result.key_id,
      };
      if (json) printJson(result.status === 'skipped' ? { ...summary, previous_run_id: result.previous_run_id } : summary);
      else if (result.status === 'dry_run') process.stdout.write(`dry run: would write ${result.destination} (${result.rows} rows)\n`);
      else if (result.status === 'skipped') process.stdout.write(`already ingested by run ${result.previous_run_id}: ${result.destination}\n`);
      else process.stdout.write(`${result.destination} (${result.rows} rows, run ${result.run_id})\n`);
      if (result.status === 'rejected') {
        throw new DataError(`${result.rejected} rows rejected and quarantined, ${result.rows} rows landed (run ${result.run_id})`);
      }
    });
}

/** A cli-progress bar on stderr, for TTYs only. */
async function progressLine() {
  const { SingleBar, Presets } = await import('cli-progress');
  const bar = new SingleBar(
    { format: 'ingest [{bar}] {percentage}% | {rows} rows | {eta_formatted} left', stream: process.stderr, hideCursor: true, clearOnComplete: true },
    Presets.shades_classic,
  );
  let started = false;
  return {
    update: (p: { rows: number; bytes: number; totalBytes: number }) => {
      if (!started) {
        bar.start(p.totalBytes, 0, { rows: 0 });
        started = true;
      }
      bar.update(p.bytes, { rows: p.rows });
    },
    stop: () => {
      if (started) bar.stop();
    },
  };
}
