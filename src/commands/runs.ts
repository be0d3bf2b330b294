import { Option, type Command } from 'commander';
import { wattHome } from '../config.js';
import { UsageError } from '../errors.js';
import { intParser, printJson } from './options.js';
import type { RunDetail, RunSummary } from '../catalog/runs.js';

const STATUSES = ['running', 'succeeded', 'failed', 'rejected', 'skipped', 'interrupted', 'cancelled'] as const;

/**
 * `watt runs [RUN_ID]`: the run history recorded in the catalog (`<WATT_HOME>/catalog.db`,
 * read-only). Without a run id, the latest runs of every verb (ingest, purge, erasure, verify,
 * train, audit-rgpd, serve): start, verb, status, duration, source (redacted), prefix, rows in /
 * landed / rejected, objects, run_id. With one, that run in full: its objects with their
 * partitions, manifest, log file, rejects by column and reason, audit-trail entries, error and hint.
 * Exit codes: 0 (also with no run), 2 usage or unknown run id, 3 unreadable catalog.
 */
export function registerRuns(program: Command): Command {
  return program
    .command('runs')
    .description('list past runs from the catalog, newest first; or show one run in full')
    .argument('[run_id]', 'show this run in full: objects, partitions, manifest, log, rejects, trail entries')
    .option('--limit <n>', 'runs to show at most', intParser('--limit', 1, 100_000), 20)
    .option('--verb <verb>', 'only runs of this verb (ingest, purge, erasure, verify, train, audit-rgpd, serve...)')
    .option('--prefix <prefix>', 'only runs on this lake prefix')
    .addOption(new Option('--status <status>', 'only runs with this status').choices(STATUSES))
    .option('--json', 'print one JSON object on stdout: {catalog, runs: [...]}, or {catalog, run} for one run')
    .action(async (runId: string | undefined, flags: { limit: number; verb?: string; prefix?: string; status?: (typeof STATUSES)[number]; json?: boolean }) => {
      const { listRuns, showRun } = await import('../catalog/runs.js');
      if (runId !== undefined) {
        if (!/^[0-9A-Za-z_-]{1,80}$/.test(runId)) throw new UsageError(`not a run id: "${runId.slice(0, 40)}"`, { hint: 'watt runs lists the run ids' });
        const { catalog, run } = showRun(wattHome(), runId);
        if (!run) throw new UsageError(catalog ? `no run ${runId} in ${catalog}` : `no run ${runId}: no catalog in ${wattHome()}`, { hint: 'watt runs lists the run ids (old runs go with the retention period)' });
        if (flags.json) printJson({ catalog, run });
        else process.stdout.write(renderDetail(run));
        return;
      }
      const { catalog, runs } = listRuns(wattHome(), { limit: flags.limit, verb: flags.verb, status: flags.status, prefix: flags.prefix });
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
      process.stdout.write(renderTable(runs));
    });
}

const dash = (v: number | string | null | undefined): string => (v === null || v === undefined ? '-' : String(v));

function renderTable(runs: RunSummary[]): string {
  const header = ['STARTED', 'VERB', 'STATUS', 'DURATION', 'SOURCE', 'PREFIX', 'ROWS_IN', 'LANDED', 'REJECTED', 'OBJECTS', 'RUN_ID'];
  const rows = runs.map((r) => [
    r.started_at.replace(/\.\d+Z$/, 'Z'),
    r.verb,
    r.status,
    r.duration_s === null ? '-' : `${r.duration_s.toFixed(1)}s`,
    dash(r.source),
    dash(r.prefix),
    dash(r.rows_in),
    dash(r.rows),
    dash(r.rejected),
    dash(r.objects),
    r.run_id,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const fmt = (row: string[]) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ');
  return [fmt(header), ...rows.map(fmt)].join('\n') + '\n';
}

function renderDetail(r: RunDetail): string {
  const lines = [
    `run ${r.run_id}`,
    `  verb        ${r.verb}`,
    `  status      ${r.status}${r.exit_code !== null ? ` (exit ${r.exit_code})` : ''}`,
    `  started     ${r.started_at}`,
    `  finished    ${dash(r.finished_at)}${r.duration_s !== null ? ` (${r.duration_s.toFixed(1)} s)` : ''}`,
  ];
  if (r.source) lines.push(`  source      ${r.source}${r.source_sha256 ? ` (sha256 ${r.source_sha256.slice(0, 16)}…)` : ''}`);
  if (r.prefix) lines.push(`  prefix      ${r.prefix}`);
  if (r.destination) lines.push(`  destination ${r.destination}`);
  if (r.rows_in !== null) lines.push(`  rows        ${r.rows_in} in, ${dash(r.rows)} landed, ${dash(r.rejected)} rejected`);
  else if (r.rows !== null) lines.push(`  rows        ${r.rows}`);
  if (r.objects !== null) lines.push(`  objects     ${r.objects}`);
  if (r.key_id) lines.push(`  key id      ${r.key_id}`);
  lines.push(`  manifest    ${dash(r.manifest)}`);
  lines.push(`  log         ${dash(r.log)}${r.log && !r.log_present ? ' (gone: removed by retention)' : ''}`);
  if (r.detail) lines.push(`  figures     ${Object.entries(r.detail).map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join(' ')}`);
  if (r.error) lines.push(`  error       ${r.error}`);
  if (r.hint) lines.push(`  hint        ${r.hint}`);
  if (r.objects_list.length) {
    lines.push('', 'objects:');
    for (const o of r.objects_list) lines.push(`  ${o.kind.padEnd(8)} ${(o.partition_date ?? '-').padEnd(10)} ${dash(o.rows).padStart(8)} rows ${dash(o.bytes).padStart(10)} B  ${o.key}${o.deleted_at ? `  (deleted ${o.deleted_at})` : ''}`);
  }
  if (r.rejects) {
    lines.push('', `rejected rows: ${r.rejects.rows}${r.rejects.listed < r.rejects.rows ? ` (the log lists the first ${r.rejects.listed})` : ''}`);
    for (const b of r.rejects.by) lines.push(`  ${String(b.count).padStart(6)}  ${b.column ?? '(row)'}: ${b.reason}`);
  }
  if (r.trail.length) {
    lines.push('', 'audit trail:');
    for (const t of r.trail) lines.push(`  #${t.seq} ${t.at} ${t.action} ${t.count}${t.key ? ` ${t.key}` : ''}`);
  }
  return lines.join('\n') + '\n';
}
