import { InterruptedError } from './errors.js';

/**
 * One AbortSignal for the process, aborted on the first SIGINT or SIGTERM, so long runs can stop
 * cleanly (remove temp files, abort uploads, mark the run interrupted) and exit 130 (SIGINT) or
 * 143 (SIGTERM).
 * A second signal exits at once. If the clean stop takes longer than {@link STOP_DEADLINE_MS} (a
 * store that does not answer, a long CPU-bound step), the process exits anyway with the same code:
 * every verb is crash-safe (the next run finishes the cleanup, see src/table/recover.ts), and lock
 * files are removed on exit (src/lock.ts).
 */
const controller = new AbortController();
let installed = false;
let received: NodeJS.Signals | undefined;

/** Longest clean stop after SIGINT/SIGTERM, ms: the process ends within 2 s of the signal. */
export const STOP_DEADLINE_MS = 1700;

/** Exit code of a signal: 130 for SIGINT, 143 for SIGTERM (128 + signal number). */
export function exitCodeOf(sig: NodeJS.Signals | undefined): 130 | 143 {
  return sig === 'SIGTERM' ? 143 : 130;
}

/** Exit code for an interruption of this process: 143 after SIGTERM, 130 otherwise. */
export function interruptExitCode(): 130 | 143 {
  return exitCodeOf(received);
}

export function interruptSignal(): AbortSignal {
  if (!installed) {
    installed = true;
    const onSignal = (sig: NodeJS.Signals) => {
      if (controller.signal.aborted) process.exit(interruptExitCode());
      received = sig;
      controller.abort(Object.assign(new Error(`interrupted by ${sig}`), { signal: sig }));
      setTimeout(() => {
        process.stderr.write(`watt: interrupted by ${sig}: the clean stop took over ${STOP_DEADLINE_MS} ms, exiting now (the next run finishes the cleanup)\n`);
        process.exit(interruptExitCode());
      }, STOP_DEADLINE_MS).unref();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  return controller.signal;
}

/**
 * The InterruptedError for an aborted signal, with exit code 143 when SIGTERM aborted it (from
 * {@link interruptSignal}), else 130.
 */
export function interruptedError(signal: AbortSignal | undefined, message: string): InterruptedError {
  const sig = (signal?.reason as { signal?: NodeJS.Signals } | undefined)?.signal;
  return new InterruptedError(sig ? `${message} (${sig})` : message, { exitCode: exitCodeOf(sig) });
}
