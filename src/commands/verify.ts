import type { Command } from 'commander';
import { DataError } from '../errors.js';
import { interruptSignal } from '../signals.js';
import { intParser, lakeOptions, printJson } from './options.js';
import type { VerifyResult } from '../table/verify.js';

/**
 * `watt verify`: check a lake folder against its manifests (objects without a manifest, manifests
 * whose object is missing or whose sha256 differs) and the audit trail against the lake's anchors.
 * Exit codes: 0 all good, 1 something is wrong, 2 usage, 3 storage, 4 a purge or ingest runs
 * (`--repair`), 130/143 interrupted.
 */
export function registerVerify(program: Command): Command {
  const command = program.command('verify').description('check a lake against its manifests and the audit trail against its anchors; exit 1 if anything is wrong');
  for (const option of lakeOptions()) command.addOption(option);
  return command
    .option('--repair', 'delete objects of unfinished runs (no manifest), with an audit-trail entry each')
    .option('--grace <minutes>', 'objects of unknown runs younger than this are left alone (a writer on another machine) [env WATT_RECOVERY_GRACE_MINUTES, default 60]', intParser('--grace', 0, 525600))
    .option('--json', 'print one JSON object with the findings on stdout')
    .option('--verbose', 'show debug lines and stack traces')
    .action(async (flags: Record<string, string | number | boolean | undefined>) => {
      const { runVerify } = await import('../table/verify-run.js');
      const result = await runVerify({ ...(flags as object), grace: flags.grace as number | undefined, quiet: Boolean(flags.json), signal: interruptSignal() });
      if (flags.json) printJson(result);
      else process.stdout.write(render(result));
      if (!result.ok) {
        const failing = result.findings.filter((f) => f.kind !== 'pending' && !f.repaired);
        throw new DataError(`${result.lake}: ${failing.length} problem${failing.length > 1 ? 's' : ''} (${[...new Set(failing.map((f) => f.kind))].join(', ')})`, {
          hint: failing.some((f) => f.kind === 'orphan') ? 'run watt verify --repair to delete objects of unfinished runs' : 'see the findings above',
        });
      }
    });
}

function render(r: VerifyResult): string {
  const lines = r.findings.map((f) => `${f.repaired ? 'repaired' : f.kind === 'pending' ? 'note' : 'FAIL'} ${f.kind} ${f.key}: ${f.detail}`);
  lines.push(`${r.lake}: ${r.manifests} manifests, ${r.data_objects} data objects, ${r.rejects} quarantine files; ${r.objects_hashed} objects re-hashed (${r.bytes_hashed} bytes)`);
  const t = r.trail;
  if (t.status === 'skipped') lines.push(`audit trail: not checked (${t.reason}); ${t.anchors} anchors in the lake`);
  else lines.push(`audit trail: ${t.status === 'ok' ? 'ok' : 'BROKEN'}, ${t.entries} entries, ${t.anchors_checked} of ${t.anchors} anchors checked${t.anchors_foreign ? ` (${t.anchors_foreign} of other catalogs)` : ''}`);
  lines.push(r.ok ? 'verify: ok' : 'verify: FAILED');
  return lines.join('\n') + '\n';
}
