import { Option, type Command } from 'commander';
import { wattHome } from '../config.js';
import { intParser, printJson } from './options.js';

const STATUSES = ['running', 'succeeded', 'failed', 'rejected', 'skipped', 'interrupted'] as const;

/**
 * `watt runs`: the run history recorded in the catalog (`<WATT_HOME>/catalog.db`, read-only):
 * verb, status, start, duration, rows, rejected, destination, run_id. Runs of `ingest` and
 * `purge` are recorded; `train` records its models instead.
 * Exit codes: 0 (also with no run), 2 usage, 3 unreadable catalog.
 */
export function registerRuns(program: Command): Command {
  return program
    .command('runs')
    .description('list past runs from the catalog, newest first')
    .option('--limit <n>', 'runs to show at most', intParser('--limit', 1, 100_000), 20)
    .option('--verb <verb>', 'only runs of this verb (ingest, purge...)')
    .addOption(new Option('--status <status>', 'only runs with this status').choices(STATUSES))
    .option('--json', 'print one JSON object {catalog, runs: [...]} on stdout')
    .action(async (flags: { limit: number; verb?: string; status?: (typeof STATUSES)[number]; json?: boolean }) => {
      const { listRuns } = await import('../catalog/runs.js');
      const { catalog, runs } = listRuns(wattHome(), { limit: flags.limit, verb: flags.verb, status: flags.status });
      if (flags.json) {
        printJson({ catalog: catalog ?? null, runs });
        return;
      }
      if (!catalog) {
        process.stdout.write(`no runs: no catalog in ${wattHome()} (set WATT_HOME, or run watt ingest first)\n`);
        return;
      }
      if (runs.length === 0) {
        process.stdout.write('no runs match\n');
        return;
      }
      const header = ['STARTED', 'VERB', 'STATUS', 'DURATION', 'ROWS', 'REJECTED', 'DESTINATION', 'RUN_ID'];
      const rows = runs.map((r) => [
        r.started_at.replace(/\.\d+Z$/, 'Z'),
        r.verb,
        r.status,
        r.duration_s === null ? '-' : `${r.duration_s.toFixed(1)}s`,
        r.rows === null ? '-' : String(r.rows),
        r.rejected === null ? '-' : String(r.rejected),
        r.destination ?? '-',
        r.run_id,
      ]);
      const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
      const fmt = (row: string[]) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ');
      process.stdout.write([fmt(header), ...rows.map(fmt)].join('\n') + '\n');
    });
}
