import path from 'node:path';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { UsageError } from './errors.js';

/**
 * Prometheus metrics of batch runs (`ingest`, `purge`, `train`, `audit-rgpd`), written as a
 * textfile for node_exporter's textfile collector: `--metrics-file PATH` or
 * `<WATT_METRICS_DIR>/watt_<verb>[_<prefix>].prom` (one file per verb and lake prefix, so purging
 * two prefixes keeps both), replaced atomically (temp file in the same folder, then rename), so
 * the collector never reads half a file. Every series carries the labels `verb`, `lake` (the
 * bucket or folder URI, no prefix) and `prefix` (empty for verbs without a lake); `watt serve`'s
 * `/metrics` exposes the same names from the catalog (src/serve/dashboard/run-metrics.ts). Metric values come from prom-client,
 * loaded only when a file is asked for.
 *
 * A command reports what its run did through {@link recordRunMetrics}, the CLI adds the status,
 * exit code and duration, and writes the file whether the run succeeded or failed.
 */

/** What a verb's run did, for its metrics (all optional: only what the verb knows). */
export interface RunMetricValues {
  /** Outcome of a run that completed: succeeded, rejected, skipped, dry_run... */
  status?: string;
  /** Rows written to the lake (ingest) or erased (purge --subject). */
  rows_landed?: number;
  /** Rows rejected by validation. */
  rows_rejected?: number;
  /** Bytes processed: the source file's size (ingest), bytes freed (purge). */
  bytes?: number;
  /** Lake objects, files or rows deleted (purge). */
  objects_deleted?: number;
  /** Files of the command by status (ingest of several sources): succeeded, skipped, failed... */
  files?: Record<string, number>;
  /** Audit findings by severity (audit-rgpd). */
  findings?: { error: number; warning: number; info: number };
}

let recorded: RunMetricValues = {};

/** Called by a command with its run's figures (a hook: one line in the command file). */
export function recordRunMetrics(values: RunMetricValues): void {
  recorded = { ...recorded, ...values };
}

/** The figures recorded so far in this process. */
export function recordedRunMetrics(): RunMetricValues {
  return recorded;
}

/** Verbs that write a metrics file. */
export const METRICS_VERBS = ['ingest', 'purge', 'train', 'audit-rgpd'] as const;

/** Labels of a run's series: the verb, the lake (bucket or folder URI) and the key prefix. */
export interface RunLabels {
  verb: string;
  lake: string;
  prefix: string;
}

/** The `lake` label from a destination URI (`s3://bucket/a/b`) and its prefix (`a/b`): `s3://bucket`. */
export function lakeLabel(destination: string, prefix: string): string {
  const d = destination.replace(/\/+$/, '');
  return d.endsWith(`/${prefix}`) ? d.slice(0, -prefix.length - 1) : d;
}

/** The prefix as part of a file name: letters, digits, `_` (others become `_`). */
export function prefixSlug(prefix: string): string {
  return prefix.replace(/[^A-Za-z0-9]+/g, '_').replace(/^_+|_+$/g, '').slice(0, 100);
}

/**
 * Where the metrics of `verb` go: `--metrics-file`, else
 * `<WATT_METRICS_DIR>/watt_<verb>[_<prefix>].prom` (the prefix of a verb working on a lake), else
 * nowhere.
 * @throws UsageError for a file name not ending in `.prom` (the collector would ignore it).
 */
export function metricsTarget(verb: string, flag: string | undefined, env: Record<string, string | undefined> = process.env, prefix?: string): string | undefined {
  const stem = `watt_${verb.replace(/-/g, '_')}${prefix ? `_${prefixSlug(prefix)}` : ''}`;
  const file = flag ? path.resolve(flag) : env.WATT_METRICS_DIR ? path.resolve(env.WATT_METRICS_DIR, `${stem}.prom`) : undefined;
  if (file && !file.endsWith('.prom')) {
    throw new UsageError(`--metrics-file ${flag}: the name must end in .prom`, { hint: "node_exporter's textfile collector reads *.prom files only" });
  }
  return file;
}

export interface RunOutcome {
  verb: string;
  /** Lake and prefix of the run (empty strings for verbs without a lake). */
  lake?: string;
  prefix?: string;
  exitCode: number;
  /** Start and end of the run (ms since the epoch). */
  startedAt: number;
  endedAt: number;
  values: RunMetricValues;
}

/** Status of a run from its exit code when the command did not report one. */
export function statusOf(outcome: Pick<RunOutcome, 'exitCode' | 'values'>): string {
  if (outcome.exitCode === 130 || outcome.exitCode === 143) return 'interrupted';
  if (outcome.exitCode === 4) return 'locked';
  if (outcome.exitCode !== 0 && (outcome.values.status === undefined || outcome.values.status === 'succeeded')) return 'failed';
  return outcome.values.status ?? 'succeeded';
}

/**
 * The Prometheus text of one run. `watt_run_last_success_timestamp_seconds` is carried over from
 * `previous` (the file being replaced) when this run failed, so an alert on "no success for 26 h"
 * keeps working across failures.
 */
export async function renderRunMetrics(outcome: RunOutcome, previous = ''): Promise<string> {
  const prom = await import('prom-client');
  const registry = new prom.Registry();
  const verb: Record<string, string> = { verb: outcome.verb, lake: outcome.lake ?? '', prefix: outcome.prefix ?? '' };
  const gauge = (name: string, help: string, labelNames: string[] = []) => new prom.Gauge({ name, help, labelNames: ['verb', 'lake', 'prefix', ...labelNames], registers: [registry] });
  const ok = outcome.exitCode === 0;
  const end = outcome.endedAt / 1000;
  gauge('watt_run_last_timestamp_seconds', 'End of the last run (Unix time, seconds)').set(verb, end);
  let lastSuccess = ok ? end : undefined;
  if (!ok) {
    const re = new RegExp(`^watt_run_last_success_timestamp_seconds\\{verb="${outcome.verb}"[^}]*\\} ([0-9.e+]+)$`, 'm');
    const m = re.exec(previous);
    if (m) lastSuccess = Number(m[1]);
  }
  if (lastSuccess !== undefined) gauge('watt_run_last_success_timestamp_seconds', 'End of the last successful run (Unix time, seconds)').set(verb, lastSuccess);
  gauge('watt_run_last_success', '1 if the last run succeeded (exit code 0), else 0').set(verb, ok ? 1 : 0);
  gauge('watt_run_last_exit_code', 'Exit code of the last run (0 ok, 1 data, 2 usage, 3 storage, 4 locked, 130 interrupted)').set(verb, outcome.exitCode);
  gauge('watt_run_last_status', 'Status of the last run (value 1; the status is the label)', ['status']).set({ ...verb, status: statusOf(outcome) }, 1);
  gauge('watt_run_duration_seconds', 'Wall time of the last run (seconds)').set(verb, (outcome.endedAt - outcome.startedAt) / 1000);
  const v = outcome.values;
  if (v.rows_landed !== undefined) gauge('watt_run_rows_landed', 'Rows written to the lake (ingest) or erased (purge --subject) by the last run').set(verb, v.rows_landed);
  if (v.rows_rejected !== undefined) gauge('watt_run_rows_rejected', 'Rows rejected by validation in the last run').set(verb, v.rows_rejected);
  if (v.bytes !== undefined) gauge('watt_run_bytes', 'Bytes processed by the last run (read by ingest, freed by purge)').set(verb, v.bytes);
  if (v.objects_deleted !== undefined) gauge('watt_run_objects_deleted', 'Lake objects, files and catalog rows deleted by the last run').set(verb, v.objects_deleted);
  if (v.files) {
    const g = gauge('watt_run_files', 'Files of the last run by status (ingest: one run per file)', ['status']);
    for (const [status, n] of Object.entries(v.files)) g.set({ ...verb, status }, n);
  }
  if (v.findings) {
    const g = gauge('watt_audit_findings', 'Findings of the last audit, by severity', ['severity']);
    for (const severity of ['error', 'warning', 'info'] as const) g.set({ ...verb, severity }, v.findings[severity]);
  }
  return registry.metrics();
}

/**
 * Write the metrics of a run to `file` atomically: `.<name>.<pid>.tmp` in the same folder (which
 * the collector ignores), then rename over `file`.
 * @throws Error from the file system (the CLI reports it as a storage error).
 */
export async function writeRunMetrics(file: string, outcome: RunOutcome): Promise<void> {
  const dir = path.dirname(file);
  await mkdir(dir, { recursive: true });
  const previous = await readFile(file, 'utf8').catch(() => '');
  const text = await renderRunMetrics(outcome, previous);
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.tmp`);
  try {
    await writeFile(tmp, text, { mode: 0o644 });
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
