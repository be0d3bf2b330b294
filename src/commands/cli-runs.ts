import path from 'node:path';
import { wattHome, type Env } from '../config.js';
import { oneLine } from '../errors.js';
import { newRunId } from '../run-id.js';
import { jsonLogs, recordedVerb, runLake } from './run-output.js';
import { Catalog, runsStartedInProcess, type RunStatus } from '../catalog/catalog.js';

/**
 * The CLI's side of the run history: every verb that changes or checks something records a run
 * in the catalog, whether its core did (ingest, purge, erasure: one run each, completed here with
 * the exit code and lake prefix) or not (train, audit-rgpd, verify, purge --verify-trail, serve,
 * and any verb that failed before its source was opened: a missing file, a bad flag, a lock held).
 * What is recorded is what `watt runs` and the dashboard show: verb, status, times, exit code,
 * the one-line error and hint (WattError messages carry no personal data), and the verb's figures
 * from its metrics (audit findings, rows...). Dry runs record nothing, as in the cores.
 */

/** Verbs whose runs are recorded. `predict` and `runs` only read. */
export const RECORDED_VERBS = ['ingest', 'purge', 'verify', 'train', 'audit-rgpd', 'serve'] as const;

/** What the CLI knows of one invocation. */
export interface CliInvocation {
  /** Command name as typed (`purge`), or undefined when commander failed before any action. */
  verb: string;
  flags: Record<string, unknown>;
  startedAt: Date;
}


function isRecorded(invocation: CliInvocation): boolean {
  return (RECORDED_VERBS as readonly string[]).includes(invocation.verb) && !invocation.flags.dryRun;
}


/** Status of a run the CLI records itself, from its exit code. */
export function statusOfExit(exitCode: number, cancelled = false): RunStatus {
  if (exitCode === 0) return 'succeeded';
  if (cancelled) return 'cancelled';
  if (exitCode === 130 || exitCode === 143) return 'interrupted';
  return 'failed';
}

let serveRun: { runId: string; home: string } | undefined;

/**
 * `watt serve` records its start (status `running`) when it starts; {@link recordCliRun} records
 * its stop. A catalog that cannot be written only costs a warning.
 */
export function recordServeStart(invocation: CliInvocation, env: Env = process.env): void {
  const home = wattHome(env);
  const runId = newRunId(invocation.startedAt);
  try {
    const catalog = Catalog.open(home);
    try {
      catalog.recordRun({ run_id: runId, command: 'serve', status: 'running', started_at: invocation.startedAt.toISOString() });
      serveRun = { runId, home };
    } finally {
      catalog.close();
    }
  } catch (err) {
    warn(`cannot record the run of serve in the catalog: ${oneLine((err as Error).message)}`);
  }
}

/**
 * At the end of a verb (src/cli.ts, after the output is flushed): complete the runs its core
 * recorded, or record one run for it. Never throws: a catalog that cannot be written prints one
 * warning line on stderr and leaves the exit code alone.
 */
export async function recordCliRun(
  invocation: CliInvocation,
  outcome: { exitCode: number; failure?: { message: string; hint?: string }; cancelled?: boolean; detail?: Record<string, unknown> },
  env: Env = process.env,
): Promise<void> {
  if (!isRecorded(invocation)) return;
  // After SIGINT/SIGTERM the core has recorded its runs as interrupted already: stop at once
  // (a process asked to stop should not linger for an exit code column).
  if (runsStartedInProcess.length && invocation.verb !== 'serve' && (outcome.exitCode === 130 || outcome.exitCode === 143)) return;
  const home = wattHome(env);
  const where = runLake(invocation.verb, invocation.flags, env);
  const prefix = where.prefix || null;
  const error = outcome.failure ? withoutSourcePaths(invocation, oneLine(outcome.failure.message)).slice(0, 500) : null;
  const hint = outcome.failure?.hint ? withoutSourcePaths(invocation, oneLine(outcome.failure.hint)).slice(0, 300) : null;
  const detail = outcome.detail && Object.keys(outcome.detail).length ? JSON.stringify(outcome.detail) : null;
  let catalog: Catalog | undefined;
  try {
    catalog = Catalog.open(home);
    const status = statusOfExit(outcome.exitCode, outcome.cancelled);
    if (serveRun && invocation.verb === 'serve') {
      catalog.finishRun(serveRun.runId, { status, exit_code: outcome.exitCode, error, hint });
      return;
    }
    if (runsStartedInProcess.length) {
      const db = catalog.db;
      const update = db.prepare(
        `UPDATE runs SET
           exit_code = COALESCE(exit_code, CASE WHEN status IN ('succeeded', 'skipped') THEN 0 WHEN status = 'rejected' AND @exit_code = 0 THEN 0 ELSE @exit_code END),
           prefix = COALESCE(prefix, @prefix),
           destination = COALESCE(destination, @destination),
           hint = CASE WHEN status IN ('failed', 'interrupted', 'cancelled') THEN COALESCE(hint, @hint) ELSE hint END
         WHERE run_id = @run_id`,
      );
      db.transaction(() => {
        for (const runId of runsStartedInProcess) update.run({ run_id: runId, exit_code: outcome.exitCode, prefix, destination: where.destination ?? null, hint });
      })();
      return;
    }
    catalog.recordRun({
      run_id: newRunId(invocation.startedAt),
      command: recordedVerb(invocation.verb, invocation.flags),
      status,
      started_at: invocation.startedAt.toISOString(),
      finished_at: new Date().toISOString(),
      prefix,
      destination: where.destination ?? null,
      exit_code: outcome.exitCode,
      error,
      hint,
      detail,
    });
  } catch (err) {
    warn(`cannot record the run in the catalog ${path.join(home, 'catalog.db')}: ${oneLine((err as Error).message)}`);
  } finally {
    catalog?.close();
  }
}

/**
 * A source's path or name can carry a raw identifier (`export_CUST-000777.csv`): before a source
 * is read, its name cannot be redacted against the schema (ingest does that once the cells are
 * known), so an error that quotes a source the user named keeps `<source>` in its place in the
 * catalog (the console line is unchanged).
 */
export function withoutSourcePaths(invocation: Pick<CliInvocation, 'verb' | 'flags'>, text: string, argv: readonly string[] = process.argv): string {
  if (invocation.verb !== 'ingest') return text;
  const given = [...argv.slice(3).filter((a) => !a.startsWith('-')), ...[invocation.flags.source].flat().filter((v): v is string => typeof v === 'string')];
  const forms = new Set<string>();
  for (const g of given) {
    if (g.length < 3) continue;
    forms.add(path.resolve(g));
    forms.add(g);
    if (path.basename(g).length >= 3) forms.add(path.basename(g));
  }
  let out = text;
  for (const f of [...forms].sort((a, b) => b.length - a.length)) out = out.split(f).join('<source>');
  return out;
}

function warn(message: string): void {
  process.stderr.write(jsonLogs() ? JSON.stringify({ timestamp: new Date().toISOString(), level: 'warn', message }) + '\n' : `watt: warning: ${message}\n`);
}
