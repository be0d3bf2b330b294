import { Command, Option } from 'commander';
import { DataError, InterruptedError, WattError, oneLine } from '../errors.js';
import { interruptSignal } from '../signals.js';
import { lakeOptions } from './options.js';
import { recordRunMetrics, type RunMetricValues } from '../metrics.js';
import { jsonLinesOutput } from './run-output.js';
import type { IngestResult } from '../ingest/run.js';
import type { Logger } from '../log.js';
import type { BatchOutcome, FileOutcome } from '../ingest/sources.js';
import { describeFaults } from '../ingest/run-report.js';

/**
 * `watt ingest`: validate CSVs of meter readings against a JSON Schema, pseudonymise personal
 * columns and land each in a lake, with a manifest, a run log and a catalog record per file.
 * `--source` (repeatable): a file, a folder (its *.csv files), a quoted glob, or `-` for stdin.
 * Exit codes per file: 0 ok or already ingested, 1 invalid data (also quarantined rows), 2 usage
 * (also: key id differs from the lake's), 3 storage, 4 lock held, 130 SIGINT, 143 SIGTERM. The
 * command's: an interruption stops the batch and wins; otherwise the worst file by
 * 3 > 4 > 2 > 1 > 0 (src/ingest/sources.ts).
 */
export function registerIngest(program: Command): Command {
  const command = program
    .command('ingest')
    .description('validate, pseudonymise and land CSVs of meter readings in the data lake, one run per file')
    .addHelpText(
      'after',
      `
Sources: --source FILE, a FOLDER (its regular *.csv files, not recursive, hidden files and
symlinks skipped, in name order), a quoted GLOB ('inbox/**/*.csv'), or - for stdin (recorded as
"stdin"); repeat --source for several. Each file is its own run (run_id, log, manifest); a failed
file does not stop the next ones, SIGINT/SIGTERM stops the batch. --json prints one JSON object
per file, one a line.
Exit code: 130/143 if interrupted; else the worst file's by 3 (storage) > 4 (lock) > 2 (usage)
> 1 (data) > 0 (ok or already ingested). A folder without CSV, a glob matching nothing: 2.`,
    )
    .option('--source <path>', 'CSV file, folder, quoted glob or - (stdin); repeatable (default: the shipped samples/sample_energy_consumption.csv)', collect)
    .option('--schema <file>', 'JSON Schema of one row (default: schemas/energy_consumption.schema.json)');
  for (const option of lakeOptions()) command.addOption(option);
  return command
    .addOption(new Option('--layout <layout>', 'partition layout: plain (YYYY/MM/DD) or hive (year=/month=/day=)').choices(['plain', 'hive']).default('plain'))
    .option('--date <YYYY-MM-DD>', 'partition date, for backfills (default: today, UTC)')
    .addOption(new Option('--format <format>', 'data object format: csv (canonical values) or parquet (typed, Zstandard)').choices(['csv', 'parquet']).default('csv'))
    .option('--partition-by <column>', "partition rows by the UTC day of this date-time column of the schema (default: the ingest date, or --date)")
    .addOption(new Option('--extra-columns <policy>', 'columns the schema does not declare: keep (as text, with a warning), drop, or reject the file').choices(['keep', 'drop', 'reject']).default('keep'))
    .option('--dry-run', 'validate and show the key, write nothing to the lake')
    .option('--force', 'ingest again a file already ingested to the same destination')
    .option('--quarantine', 'land valid rows, set rejected rows aside in <prefix>/_rejects/, exit 1')
    .option('--delimiter <char>', "CSV delimiter for this run: , ; tab or | (over the schema's x-dialect)")
    .option('--encoding <name>', "source encoding for this run: utf-8, windows-1252 or latin-1 (over the schema's x-dialect)")
    .option('--timezone <zone>', "IANA time zone of date-times written without an offset, e.g. Europe/Paris (over the schema's x-timezone)")
    .option('--allow-expired', 'with --partition-by: land rows in partitions already past the retention period (the next purge deletes them)')
    .option('--new-key', "rotate the pseudonymisation key on purpose: land although the lake's manifests carry another key id (a rotation lands pseudonym scheme v2 unless --pseudonym-scheme says otherwise)")
    .addOption(new Option('--pseudonym-scheme <scheme>', 'pseudonyms of a new lake prefix, or of a --new-key rotation: v2 (128-bit HMAC, 22 base64url characters, the default) or v1 (64 hex characters); a prefix with runs keeps its own').choices(['v1', 'v2', 'hmac-sha256', 'hmac-sha256-128-b64url']))
    .option('--json', 'print one JSON object per file on stdout, one a line (NDJSON)')
    .option('--verbose', 'show debug lines and stack traces')
    .action(async (flags: Record<string, unknown>) => {
      const [{ runIngestSources }, { createRunLogger }] = await Promise.all([import('../ingest/sources.js'), import('../log.js')]);
      const json = Boolean(flags.json);
      // Console lines of the command itself (not of a run): text or JSON per --log-format.
      const log = createRunLogger({ quiet: json && !flags.verbose, verbose: Boolean(flags.verbose), defaultMeta: { command: 'ingest' } });
      if (json) jsonLinesOutput();
      const progress = !json && process.stderr.isTTY ? await progressLine() : undefined;
      let several = false;
      let batch;
      try {
        batch = await runIngestSources({
          ...(flags as object),
          sources: flags.source as string[] | undefined,
          quiet: json && !flags.verbose,
          signal: interruptSignal(),
          onProgress: progress?.update,
          onStart: (files, skipped) => {
            several = files > 1;
            if (skipped.length) log.warn(`skipped ${skipped.length} ${skipped.length > 1 ? 'entries that are' : 'entry that is'} not a regular file (symlinks are not followed in folders and globs)`, { skipped: skipped.length });
          },
          onFile: (file) => {
            progress?.stop();
            printFile(file, json, several, log);
          },
        });
      } finally {
        progress?.stop();
        await log.close();
      }
      recordRunMetrics(batchMetrics(batch.files));
      if (several && !json) process.stdout.write(batchLine(batch) + '\n');
      if (batch.interrupted) throw batch.interrupted;
      if (batch.exit_code === 0) return;
      // One file: its own error (message, hint, class), as before several sources existed.
      if (batch.files.length === 1) throw fileError(batch.files[0]!);
      const failed = batch.files.filter((f) => f.exit_code !== 0).length;
      throw new WattError(`${failed} of ${batch.files.length} files failed (exit ${batch.exit_code})${failed < batch.files.length ? '; the others ran' : ''}`, batch.exit_code, { hint: 'see the line of each file above, and its run log' });
    });
}

/** Commander collector for a repeatable option. */
function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** The `--json` fields of a completed run (the same for one file and many). */
function summaryOf(result: IngestResult): Record<string, unknown> {
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
    ...(result.pseudonym_scheme ? { pseudonym_scheme: result.pseudonym_scheme } : {}),
    ...(result.rotated_from_scheme ? { rotated_from_scheme: result.rotated_from_scheme } : {}),
    ...(result.table_version !== undefined ? { table_version: result.table_version } : {}),

    expired_rows: result.expired_rows,
    ...(result.retention_cutoff ? { retention_cutoff: result.retention_cutoff } : {}),
    ...(result.rejects ? { rejects: result.rejects } : {}),
    ...(result.faults.length ? { faults: result.faults } : {}),
  };
  return result.status === 'skipped' ? { ...summary, previous_run_id: result.previous_run_id } : summary;
}

/** The error a file ended with: the run's own, or a DataError for quarantined rows. */
function fileError(file: FileOutcome): WattError | unknown {
  if (file.error !== undefined) return file.error;
  const r = file.result!;
  return new DataError(`${r.rejected} rows rejected and quarantined, ${r.rows} rows landed (run ${r.run_id})`);
}

/** One file's line: a JSON object (`--json`) or a line of text (in a batch, failures as error log lines on stderr). */
function printFile(file: FileOutcome, json: boolean, several: boolean, log: Logger): void {
  const failure = file.exit_code !== 0 ? fileError(file) : undefined;
  const error = failure === undefined ? undefined : { error: oneLine(failure instanceof Error ? failure.message : String(failure)), ...(failure instanceof WattError && failure.hint ? { hint: oneLine(failure.hint) } : {}), exit_code: file.exit_code };
  const r = file.result;
  if (json) {
    const status = r ? {} : { run_id: file.run_id, status: file.error instanceof InterruptedError ? 'interrupted' : 'failed', log: file.log ?? null };
    process.stdout.write(JSON.stringify({ source: file.source, ...(r ? summaryOf(r) : status), ...error }) + '\n');
    return;
  }
  const prefix = several ? `${file.source}: ` : '';
  if (r?.status === 'dry_run') process.stdout.write(`${prefix}dry run: would write ${r.destination ?? 'no data object'} (${r.rows} rows)\n`);
  else if (r?.status === 'skipped') process.stdout.write(`${prefix}already ingested by run ${r.previous_run_id}: ${r.destination}\n`);
  else if (r && r.destination === null) process.stdout.write(`${prefix}no row landed: ${r.rejected} rows rejected${r.rejects ? ` to ${r.rejects}` : ''} (run ${r.run_id}); fix the file and run it again\n`);
  else if (r) process.stdout.write(`${prefix}${r.destination}${r.objects.length > 1 ? ` and ${r.objects.length - 1} more objects` : ''} (${r.rows} rows, run ${r.run_id})\n`);
  // Quarantined rows: a validator's summary, by column and reason (stderr).
  if (r && r.status !== 'skipped' && r.faults.length) for (const line of describeFaults(r.faults, 10)) process.stderr.write(`${prefix}rejected ${line}\n`);
  if (r && r.expired_rows > 0) process.stderr.write(`${prefix}warning: ${r.expired_rows} rows in partitions before ${r.retention_cutoff} (past retention): the next watt purge deletes them\n`);
  // A single file's error is printed once, by the CLI; in a batch each failed file gets its line.
  if (error && several) log.error(`${file.source}: ${error.error}${error.hint ? ` (${error.hint})` : ''} [exit ${error.exit_code}, run ${file.run_id}]`, { source: file.source, run_id: file.run_id, exit_code: error.exit_code });
}

/** `3 files: 2 landed, 1 failed (exit 1)`. */
function batchLine(batch: BatchOutcome): string {
  const counts = new Map<string, number>();
  const add = (what: string, n = 1) => counts.set(what, (counts.get(what) ?? 0) + n);
  for (const f of batch.files) {
    const s = f.result?.status;
    add(s === 'succeeded' ? 'landed' : s === 'rejected' ? 'landed with rows quarantined' : s === 'skipped' ? 'already ingested' : s === 'dry_run' ? 'checked (dry run)' : f.error instanceof InterruptedError ? 'interrupted' : 'failed');
  }
  if (batch.not_run) add('not run', batch.not_run);
  const total = batch.files.length + batch.not_run;
  return `${total} files: ${[...counts].map(([what, n]) => `${n} ${what}`).join(', ')} (exit ${batch.exit_code})`;
}

/**
 * Metrics of the command (one textfile per command): rows landed and rejected and source bytes
 * summed over its files, the status of the one file or, for several, the worst (failed >
 * rejected > succeeded > skipped > dry_run), and the number of files by status.
 */
function batchMetrics(files: FileOutcome[]): RunMetricValues {
  const statusOf = (f: FileOutcome) => f.result?.status ?? (f.error instanceof InterruptedError ? 'interrupted' : 'failed');
  const order = ['interrupted', 'failed', 'rejected', 'succeeded', 'skipped', 'dry_run'];
  const byStatus: Record<string, number> = {};
  for (const f of files) byStatus[statusOf(f)] = (byStatus[statusOf(f)] ?? 0) + 1;
  const worst = order.find((s) => byStatus[s]);
  return {
    // a failed file leaves the status to the exit code (src/metrics.ts statusOf)
    status: worst === 'failed' || worst === 'interrupted' ? undefined : worst,
    rows_landed: files.reduce((n, f) => n + (f.result && f.result.status !== 'dry_run' && f.result.status !== 'skipped' ? f.result.rows : 0), 0),
    rows_rejected: files.reduce((n, f) => n + (f.result?.rejected ?? 0), 0),
    bytes: files.reduce((n, f) => n + (f.bytes ?? 0), 0),
    files: byStatus,
  };
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
    /** Clear the bar; the next update starts a new one (the next file of a batch). */
    stop: () => {
      if (started) bar.stop();
      started = false;
    },
  };
}
