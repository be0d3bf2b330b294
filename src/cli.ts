import { Command, CommanderError, Option } from 'commander';
import { CancelledError, ExitCode, InterruptedError, WattError, oneLine } from './errors.js';
import { interruptExitCode } from './signals.js';
import { storageFaultOf } from './storage-fault.js';
import { wattVersion } from './paths.js';
import { loadDotenv } from './config.js';
import { beginRun, endRun, jsonLogs } from './commands/run-output.js';
import { METRICS_VERBS, recordedRunMetrics } from './metrics.js';
import { registerIngest } from './commands/ingest.js';
import { registerTrain } from './commands/train.js';
import { registerPredict } from './commands/predict.js';
import { registerAudit } from './commands/audit-rgpd.js';
import { registerPurge } from './commands/purge.js';
import { registerVerify } from './commands/verify.js';
import { registerVacuum } from './commands/vacuum.js';
import { registerServe } from './commands/serve.js';
import { registerRuns } from './commands/runs.js';
import { registerSchema } from './commands/schema.js';

/**
 * The root program: registers the verbs, adds the flags every batch verb shares (`--quiet`,
 * `--log-format`, `--metrics-file`; see run-output.ts), and maps every error to one line on stderr
 * and an exit code (ARCHITECTURE.md). Only this file sets `process.exitCode`.
 */
const program = new Command('watt')
  .description('Household energy data under the GDPR: ingest, train, predict, audit-rgpd, purge, verify, serve, runs.')
  .version(wattVersion(), '-V, --version')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride()
  // with --log-format json, a usage error is reported as one JSON line (below), not commander's text
  .configureOutput({ writeErr: (text) => (jsonLogs() ? undefined : process.stderr.write(text)) });

for (const register of [registerIngest, registerTrain, registerPredict, registerAudit, registerPurge, registerVacuum, registerVerify, registerRuns, registerServe, registerSchema]) {
  const command = register(program);
  command.exitOverride();
  command.showHelpAfterError('(run with --help for usage)');
  if (command.name() === 'serve') continue; // a server logs JSON lines already and has no "run" to end
  command.addOption(new Option('--quiet', 'print nothing when the run succeeds; errors only (and, on failure, what the run printed)'));
  command.addOption(new Option('--log-format <format>', 'log lines on stderr: text or json (one JSON object a line)').choices(['text', 'json']).default('text'));
  if ((METRICS_VERBS as readonly string[]).includes(command.name())) {
    command.addOption(new Option('--metrics-file <path>', 'write Prometheus metrics of the run to this .prom file, atomically [env WATT_METRICS_DIR: <dir>/watt_<verb>.prom]'));
  }
}
// The run history (src/catalog/cli-runs.ts): what was invoked, recorded at the end whatever the outcome.
let invoked: { verb: string; flags: Record<string, unknown>; startedAt: Date } | undefined;
program.hook('preAction', async (_program, action) => {
  invoked = { verb: action.name(), flags: action.opts(), startedAt: new Date() };
  beginRun(action.name(), action.opts());
  if (action.name() === 'serve') (await import('./commands/cli-runs.js')).recordServeStart(invoked);
});

const verbose = process.argv.includes('--verbose');

// A reader that stops early (`watt ... | head -1`) closes the pipe: stop quietly, as cat does.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
    throw err;
  });
}

let exitCode: number = ExitCode.OK;
let failure: { message: string; hint?: string } | undefined;
let cancelled = false;
try {
  await loadDotenv();
  await program.parseAsync(process.argv);
} catch (err) {
  exitCode = report(err);
}
process.exitCode = await endRun(exitCode, failure);
// A verb that failed while commander parsed its flags is recorded too (a cron job with a bad flag).
const verbTyped = process.argv[2];
if (!invoked && exitCode !== 0 && verbTyped && program.commands.some((c) => c.name() === verbTyped)) invoked = { verb: verbTyped, flags: {}, startedAt: new Date() };
if (invoked && !['runs', 'predict'].includes(invoked.verb)) {
  const { recordCliRun } = await import('./commands/cli-runs.js');
  await recordCliRun(invoked, { exitCode: process.exitCode ?? exitCode, failure, cancelled, detail: { ...recordedRunMetrics() } });
}

function report(err: unknown): number {
  // A file system or SQLite refusal (disk full, read-only, permission, quota) is exit 3 wherever it came from.
  err = storageFaultOf(err) ?? err;
  if (err instanceof CommanderError) {
    // help and version "errors" are successes; commander already printed the message.
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return ExitCode.OK;
    failure = { message: oneLine(err.message.replace(/^error: /, '')) };
    if (jsonLogs()) process.stderr.write(JSON.stringify({ timestamp: new Date().toISOString(), level: 'error', message: failure.message, exit_code: ExitCode.USAGE }) + '\n');
    return ExitCode.USAGE;
  }
  if (err instanceof WattError) {
    cancelled = err instanceof CancelledError;
    failure = { message: oneLine(err.message), hint: err.hint ? oneLine(err.hint) : undefined };
    line(failure.message, err.exitCode, failure.hint);
    if (verbose && err.stack) process.stderr.write(`${err.stack}\n`);
    return err instanceof InterruptedError ? interruptExitCode() : err.exitCode;
  }
  const message = err instanceof Error ? err.message : String(err);
  failure = { message: `internal error: ${oneLine(message)}`, hint: 'rerun with --verbose and report it' };
  line(failure.message, ExitCode.DATA, failure.hint);
  if (verbose && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  return ExitCode.DATA;
}

/** The one error line on stderr: `watt: what failed: why (what to do)`, or a JSON object with --log-format json. */
function line(message: string, code: number, hint?: string): void {
  if (jsonLogs()) process.stderr.write(JSON.stringify({ timestamp: new Date().toISOString(), level: 'error', message, exit_code: code, ...(hint ? { hint } : {}) }) + '\n');
  else process.stderr.write(`watt: ${message}${hint ? ` (${hint})` : ''}\n`);
}
