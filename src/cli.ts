import { Command, CommanderError } from 'commander';
import { ExitCode, WattError, oneLine } from './errors.js';
import { wattVersion } from './paths.js';
import { loadDotenv } from './config.js';
import { registerIngest } from './commands/ingest.js';
import { registerTrain } from './commands/train.js';
import { registerPredict } from './commands/predict.js';
import { registerAudit } from './commands/audit-rgpd.js';
import { registerPurge } from './commands/purge.js';
import { registerServe } from './commands/serve.js';

/**
 * The root program: registers the verbs and maps every error to one line on stderr and an exit
 * code (ARCHITECTURE.md). Only this file sets `process.exitCode`.
 */
const program = new Command('watt')
  .description('Household energy data under the GDPR: ingest, train, predict, audit-rgpd, purge, serve.')
  .version(wattVersion(), '-V, --version')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();

for (const register of [registerIngest, registerTrain, registerPredict, registerAudit, registerPurge, registerServe]) {
  const command = register(program);
  command.exitOverride();
  command.showHelpAfterError('(run with --help for usage)');
}

const verbose = process.argv.includes('--verbose');

// A reader that stops early (`watt ... | head -1`) closes the pipe: stop quietly, as cat does.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
    throw err;
  });
}

try {
  await loadDotenv();
  await program.parseAsync(process.argv);
} catch (err) {
  process.exitCode = report(err);
}

function report(err: unknown): number {
  if (err instanceof CommanderError) {
    // help and version "errors" are successes; commander already printed the message.
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return ExitCode.OK;
    return ExitCode.USAGE;
  }
  if (err instanceof WattError) {
    const hint = err.hint ? ` (${oneLine(err.hint)})` : '';
    process.stderr.write(`watt: ${oneLine(err.message)}${hint}\n`);
    if (verbose && err.stack) process.stderr.write(`${err.stack}\n`);
    return err.exitCode;
  }
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`watt: internal error: ${oneLine(message)} (rerun with --verbose and report it)\n`);
  if (verbose && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  return ExitCode.DATA;
}
