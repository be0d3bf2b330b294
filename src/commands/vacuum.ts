import type { Command } from 'commander';
import { interruptSignal } from '../signals.js';
import { StorageError } from '../errors.js';
import { intParser, lakeOptions, printJson } from './options.js';
import type { VacuumRunResult } from '../retention/index.js';

/**
 * `watt vacuum`: delete the old objects that erasures replaced, once the erasure grace has passed
 * (`WATT_ERASURE_GRACE_MINUTES`, default 10; src/table/vacuum.ts). Every `watt purge` does the
 * same at its end; cron this every few minutes to bound how long an erased row stays in the store.
 * Exit codes: 0 ok (also nothing to do), 2 usage, 3 storage, 4 a purge or ingest of the lake runs, 130.
 */
export function registerVacuum(program: Command): Command {
  const command = program.command('vacuum').description('delete the objects erasures replaced once the erasure grace has passed (readers of older table versions had their time)');
  for (const option of lakeOptions()) command.addOption(option);
  return command
    .option('--grace <minutes>', 'keep replaced objects younger than this [env WATT_ERASURE_GRACE_MINUTES, default 10]', intParser('--grace', 0, 1440))
    .option('--accept-retained-copies', 'go on when the store keeps copies of deleted data that watt cannot delete (Azure soft delete); recorded in the trail')
    .option('--dry-run', 'list what would be deleted, delete nothing')
    .option('--json', 'print one JSON object with the outcome on stdout')
    .option('--verbose', 'show debug lines and stack traces')
    .action(async (flags: Record<string, string | number | boolean | undefined>) => {
      const { runVacuum } = await import('../retention/index.js');
      const json = Boolean(flags.json);
      const result = await runVacuum({ ...(flags as object), grace: flags.grace as number | undefined, quiet: json || !process.stderr.isTTY, signal: interruptSignal() });
      if (json) printJson(result);
      // Quiet under cron: a successful run prints nothing without a terminal (the trail records each delete).
      else if (process.stdout.isTTY || flags.dryRun || flags.verbose) process.stdout.write(render(result));
      if (result.failed.length) throw new StorageError(`${result.failed.length} replaced object${result.failed.length > 1 ? 's' : ''} could not be deleted from ${result.lake} (first ${result.failed[0]!.key})`, { hint: 'check the store permissions, then run watt vacuum again' });
    });
}

function render(r: VacuumRunResult): string {
  const lines = r.deleted.map((k) => `deleted ${k}`);
  for (const p of r.pending) lines.push(`${r.dry_run && p.reason === 'dry run' ? 'would delete' : 'kept'} ${p.key}: ${p.reason}`);
  for (const f of r.failed) lines.push(`FAILED ${f.key}: ${f.message}`);
  lines.push(`${r.lake}: ${r.deleted.length} replaced objects deleted, ${r.pending.length} left (erasure grace ${r.grace_minutes} min)`);
  return lines.join('\n') + '\n';
}
