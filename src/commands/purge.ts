import type { Command } from 'commander';
import { DataError } from '../errors.js';
import { interruptSignal } from '../signals.js';
import { intParser, lakeOptions, printJson } from './options.js';
import { recordRunMetrics } from '../metrics.js';
import type { AgePlanSummary, PurgeResult } from '../retention/index.js';

/**
 * `watt purge`: retention by age (GDPR Art. 5(1)(e)), erasure of one data subject (Art. 17), and
 * verification of the hash-chained audit trail. Quiet under cron: without a terminal, a successful
 * run prints nothing unless --json or --dry-run.
 * Exit codes: 0 ok, 1 broken trail, 2 usage, 3 storage, 4 another purge of the lake runs, 130.
 */
export function registerPurge(program: Command): Command {
  const command = program
    .command('purge')
    .description('delete lake data past its retention period, erase one data subject, or verify the audit trail')
    .option('--days <n>', 'retention period in days for lake objects, run logs and catalog rows (default: the retention policy)', intParser('--days', 1, 36500));
  for (const option of lakeOptions()) command.addOption(option);
  return command
    .option('--subject <id>', "erase this data subject's rows (GDPR Art. 17); '-' reads the identifier from stdin")
    .option('--column <name>', 'personal column holding the subject (with --subject)', undefined)
    .option('--verify-trail', 'check the hash chain of the audit trail; exit 1 naming the first broken entry')
    .option('--dry-run', 'show what would be deleted or rewritten, change nothing')
    .option('--accept-retained-copies', 'go on when the store keeps copies of deleted data that watt cannot delete (Azure soft delete; a versioning state it cannot read); recorded in the trail and the manifests')
    .option('--yes', 'do not ask for confirmation on a terminal')
    .option('--json', 'print one JSON object with the outcome on stdout')
    .option('--verbose', 'show debug lines and stack traces')
    .action(async (flags: Record<string, string | number | boolean | undefined>) => {
      const { runPurge } = await import('../retention/index.js');
      const json = Boolean(flags.json);
      const interactive = Boolean(process.stdin.isTTY && process.stderr.isTTY);
      const subject = flags.subject === '-' ? await readStdinLine() : (flags.subject as string | undefined);
      const result = await runPurge({
        ...(flags as object),
        subject,
        quiet: json || !process.stderr.isTTY,
        signal: interruptSignal(),
        confirm: interactive && !flags.yes && !json && flags.subject === undefined ? confirm : undefined,
      });
      if (result.mode !== 'verify-trail') recordRunMetrics(result.mode === 'age' ? { status: result.dry_run ? 'dry_run' : 'succeeded', objects_deleted: result.dry_run ? 0 : result.deleted, bytes: result.dry_run ? 0 : result.bytes_freed } : { status: result.dry_run ? 'dry_run' : 'succeeded', objects_deleted: result.dry_run ? 0 : result.objects_deleted, rows_landed: 0 });
      if (json) printJson(result);
      // An erasure always says what it searched and removed, even 0 rows (never a silent success).
      else if (process.stdout.isTTY || flags.dryRun || flags.verbose || result.mode === 'verify-trail') process.stdout.write(render(result));
      else if (result.mode === 'subject') process.stdout.write(render(result, false));
      if (result.mode === 'verify-trail' && !result.ok) {
        throw new DataError(result.problem ?? `audit trail broken at entry ${result.broken!.seq}: ${result.broken!.reason}`, { hint: 'the catalog was altered outside watt; restore it from a backup and investigate' });
      }
    });
}

/** The outcome as text; `detail` false: an erasure's summary lines only (one line per object left out). */
function render(r: PurgeResult, detail = true): string {
  if (r.mode === 'verify-trail') {
    const anchors = r.anchors ? `, ${r.anchors.checked} anchor${r.anchors.checked === 1 ? '' : 's'} in the lake match${r.anchors.foreign ? ` (${r.anchors.foreign} of other catalogs)` : ''}` : '';
    return r.ok ? `audit trail ok: ${r.entries} entries, head ${r.head}${anchors}\n` : `audit trail BROKEN: ${r.problem ?? `entry ${r.broken!.seq}`} (${r.entries} entries read)\n`;
  }
  const verb = r.dry_run ? 'would' : '';
  if (r.mode === 'subject') {
    const lines = detail ? r.objects.map((o) => `${r.dry_run ? 'would ' : ''}${o.action === 'deleted' ? 'delete' : 'rewrite'} ${o.key} (-${o.rows_removed} rows, ${o.rows_left} left)`) : [];
    for (const k of r.keys ?? []) lines.push(`key ${k.key_id}: pseudonym ${k.pseudonym_prefix}… (${k.manifests} manifests)`);
    if (r.manifests_without_key_id) lines.push(`${r.manifests_without_key_id} manifests carry no key id (written before key ids): erased under the current key`);
    const columns = r.columns ?? [r.column];
    const keyIds = (r.keys ?? []).map((k) => k.key_id);
    const who = `subject ${r.pseudonym_prefix}…${keyIds.length ? ` (key id ${keyIds.join(', ')})` : ''}`;
    if (r.rows_removed === 0) {
      lines.push(`${who}: not found in ${r.objects_scanned} objects, column${columns.length === 1 ? '' : 's'} ${columns.join(', ') || '(none: no run has landed)'}; nothing ${verb ? 'would be ' : ''}removed (identifiers match exactly: case and inner spaces count)${r.recovered ? `; completed ${r.recovered} interrupted steps` : ''}`);
    } else {
      const per = columns.map((c) => `${c} ${r.rows_removed_by_column?.[c] ?? 0}`).join(', ');
      lines.push(`${who}: searched ${r.objects_scanned} objects, column${columns.length === 1 ? '' : 's'} ${columns.join(', ')}; ${verb ? 'would remove' : 'removed'} ${r.rows_removed} rows (${per}) from ${r.objects.length} objects: ${r.objects_rewritten} rewritten, ${r.objects_deleted} deleted${r.recovered ? `; completed ${r.recovered} interrupted steps` : ''}`);
    }
    lines.push(...storeVersionsLines(r));
    if (r.trail_anchor) lines.push(`trail anchored at entry ${r.trail_anchor.seq} in ${r.trail_anchor.key}`);
    return lines.join('\n') + '\n';
  }
  const lines = r.dry_run ? (r.keys ?? []).map((k) => `would delete ${k}`) : [];
  // Runs spanning the cutoff (--partition-by) keep their manifest, rewritten without the expired objects.
  for (const m of r.manifests_rewritten ?? []) lines.push(`${r.dry_run ? 'would rewrite' : 'rewrote'} ${m} without its expired objects`);
  const parts = r.categories.map((c) => `${c.id} ${c.items}${c.bytes ? ` (${c.bytes} bytes)` : ''} [${c.days} d]`);
  lines.push(`${r.dry_run ? 'dry run, would delete' : 'deleted'}: ${parts.join(', ')}; ${r.bytes_freed} bytes from ${r.lake}`);
  lines.push(...storeVersionsLines(r));
  return lines.join('\n') + '\n';
}

/** One line on the store's own copies, when it keeps any. */
function storeVersionsLines(r: { store_versions?: { setting: string; action: string; days?: number; versions_deleted: number } }): string[] {
  const v = r.store_versions;
  if (!v || v.action === 'none') return [];
  if (v.action === 'old-versions-deleted') return [`store: ${v.setting}; ${v.versions_deleted} old versions deleted`];
  return [`store: ${v.setting}; its copies accepted with --accept-retained-copies${v.days !== undefined ? ` (recoverable ${v.days} days)` : ''}`];
}

async function confirm(plan: AgePlanSummary): Promise<boolean> {
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`delete ${plan.objects} objects (${plan.bytes} bytes) from ${plan.lake}, ${plan.logs} run logs, ${plan.catalog_rows} catalog rows, ${plan.models} models? [y/N] `);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

async function readStdinLine(): Promise<string> {
  let text = '';
  for await (const chunk of process.stdin) text += String(chunk);
  return text.split(/\r?\n/)[0] ?? '';
}
