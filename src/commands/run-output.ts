import { oneLine } from '../errors.js';
import { configureConsole } from '../console-settings.js';
import { METRICS_VERBS, lakeLabel, metricsTarget, recordedRunMetrics, writeRunMetrics } from '../metrics.js';
import { resolveLakeConfig } from '../config.js';
import { objectUri } from '../store/index.js';

/**
 * Cron-friendly output, the same for every verb (wired by src/cli.ts around each command):
 *
 * - `--quiet`: nothing but errors. The console log shows errors only; what the verb prints on
 *   stdout is held back and dropped when the run succeeds, printed when it fails (the report of a
 *   failed audit, the counts of a rejected ingest) so that cron mails exactly the failed runs.
 * - `--log-format json`: log lines on stderr as JSON objects, one a line (the final error too).
 * - `--json`: stdout holds one JSON object, also on failure: the verb's own object with `error`
 *   and `exit_code` added, or `{"error", "exit_code"}` when it printed none.
 * - `--metrics-file PATH` / `WATT_METRICS_DIR` (ingest, purge, train, audit-rgpd): the run's
 *   Prometheus textfile, written at the end whatever the outcome (src/metrics.ts).
 */
export interface RunOutputFlags {
  quiet?: boolean;
  logFormat?: 'text' | 'json';
  json?: boolean;
  metricsFile?: string;
}

/**
 * The name a run is recorded and measured under: `purge --subject` is an `erasure`,
 * `purge --verify-trail` a `verify-trail`; other verbs keep their name.
 */
export function recordedVerb(verb: string, flags: Record<string, unknown>): string {
  if (verb === 'purge' && flags.verifyTrail) return 'verify-trail';
  if (verb === 'purge' && flags.subject !== undefined) return 'erasure';
  return verb;
}

/** Lake label and prefix of a verb with lake flags (ingest, purge, verify); empty when none or invalid. */
export function runLake(verb: string, flags: Record<string, unknown>, env: Record<string, string | undefined> = process.env): { lake: string; prefix: string; destination?: string } {
  if (!['ingest', 'purge', 'verify'].includes(verb)) return { lake: '', prefix: '' };
  try {
    const config = resolveLakeConfig(flags as Parameters<typeof resolveLakeConfig>[0], env);
    const destination = objectUri(config, config.prefix);
    return { lake: lakeLabel(destination, config.prefix), prefix: config.prefix, destination };
  } catch {
    return { lake: '', prefix: '' };
  }
}

interface ActiveRun {
  verb: string;
  /** Verb, lake and prefix labels of the run's metrics. */
  labels: { verb: string; lake: string; prefix: string };
  flags: RunOutputFlags;
  startedAt: number;
  metricsFile?: string;
  held?: string[];
  restore?: () => void;
  /** The verb prints JSON lines that carry their own `error`/`exit_code` (see {@link jsonLinesOutput}). */
  jsonLines?: boolean;
}

let active: ActiveRun | undefined;

/** Whether `--log-format json` was given (the CLI formats its final error line by it). */
export function jsonLogs(argv: readonly string[] = process.argv): boolean {
  const i = argv.indexOf('--log-format');
  return (i >= 0 && argv[i + 1] === 'json') || argv.includes('--log-format=json');
}

/**
 * Start a run of `verb` (commander's preAction hook): console settings, stdout held back for
 * `--quiet` and `--json`, metrics target resolved.
 * @throws UsageError for a metrics file name not ending in `.prom`.
 */
export function beginRun(verb: string, flags: RunOutputFlags, env: Record<string, string | undefined> = process.env): void {
  const measured = (METRICS_VERBS as readonly string[]).includes(verb);
  const where = measured ? runLake(verb, flags as Record<string, unknown>, env) : { lake: '', prefix: '' };
  const labels = { verb: recordedVerb(verb, flags as Record<string, unknown>), lake: where.lake, prefix: where.prefix };
  const metricsFile = measured ? metricsTarget(labels.verb, flags.metricsFile, env, labels.prefix || undefined) : undefined;
  configureConsole({ format: flags.logFormat === 'json' ? 'json' : 'text', errorsOnly: Boolean(flags.quiet) });
  active = { verb, labels, flags, startedAt: Date.now(), metricsFile };
  if (flags.quiet || flags.json) {
    const held: string[] = [];
    const original = process.stdout.write;
    process.stdout.write = function (chunk: unknown, encoding?: unknown, callback?: unknown): boolean {
      held.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString(typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8'));
      const cb = typeof encoding === 'function' ? encoding : callback;
      if (typeof cb === 'function') queueMicrotask(() => (cb as () => void)());
      return true;
    } as typeof process.stdout.write;
    active.held = held;
    active.restore = () => {
      process.stdout.write = original;
    };
  }
}

/**
 * Declare that this run's `--json` output is JSON lines, one object per item (ingest of several
 * files), each failed item carrying its own `error` and `exit_code`: on failure it is printed as
 * it is, not folded into one object. (Without any output, the failure is still one object.)
 */
export function jsonLinesOutput(): void {
  if (active) active.jsonLines = true;
}

/**
 * End the run: release or drop held stdout, add `error` and `exit_code` to `--json` output on
 * failure, write the metrics file. Returns the exit code (3 when the metrics file of an otherwise
 * successful run cannot be written).
 */
export async function endRun(exitCode: number, failure?: { message: string; hint?: string }): Promise<number> {
  const run = active;
  active = undefined;
  if (!run) {
    // failed before the verb started (a usage error): `--json` still gets its one object
    if (exitCode !== 0 && process.argv.includes('--json')) process.stdout.write(JSON.stringify(withError('', exitCode, failure), null, 2) + '\n');
    return exitCode;
  }
  run.restore?.();
  const out = run.held?.join('') ?? '';
  if (run.flags.json) {
    if (exitCode === 0 || (run.jsonLines && out.trim() !== '')) process.stdout.write(out);
    else process.stdout.write(JSON.stringify(withError(out, exitCode, failure), null, 2) + '\n');
  } else if (run.flags.quiet && exitCode !== 0) {
    process.stdout.write(out);
  }
  if (run.metricsFile) {
    try {
      await writeRunMetrics(run.metricsFile, { ...run.labels, exitCode, startedAt: run.startedAt, endedAt: Date.now(), values: recordedRunMetrics() });
    } catch (err) {
      const message = `cannot write metrics file ${run.metricsFile}: ${(err as NodeJS.ErrnoException).code ?? oneLine((err as Error).message)}`;
      process.stderr.write(jsonLogs() ? JSON.stringify({ timestamp: new Date().toISOString(), level: 'error', message, exit_code: 3 }) + '\n' : `watt: ${message} (check the folder exists and is writable)\n`);
      if (exitCode === 0) return 3;
    }
  }
  return exitCode;
}

/** The one JSON object of a failed `--json` run. */
function withError(out: string, exitCode: number, failure?: { message: string; hint?: string }): Record<string, unknown> {
  const error = { error: failure ? oneLine(failure.message) : `exit code ${exitCode}`, exit_code: exitCode, ...(failure?.hint ? { hint: oneLine(failure.hint) } : {}) };
  const text = out.trim();
  if (text === '') return error;
  try {
    const parsed = JSON.parse(text) as unknown;
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return { ...(parsed as Record<string, unknown>), ...error };
  } catch {
    // not one JSON object: keep it as text
  }
  return { ...error, output: text };
}
