import { InterruptedError } from './errors.js';

/**
 * One AbortSignal for the process, aborted on the first SIGINT or SIGTERM, so long runs can stop
 * cleanly (remove temp files, abort uploads, mark the run interrupted) and exit 130 (SIGINT) or
 * 143 (SIGTERM). A second signal exits at once; and if the clean stop has not ended the process
 * {@link STOP_GRACE_MS} after the first one, it exits anyway ('exit' handlers, such as lock
 * release, still run).
 */
const controller = new AbortController();
let installed = false;

/** Longest clean stop after a signal, milliseconds, before the process exits regardless. */
export const STOP_GRACE_MS = 1800;

/** Exit code of a signal: 130 for SIGINT, 143 for SIGTERM (128 + signal number). */
export function exitCodeOf(sig: NodeJS.Signals | undefined): 130 | 143 {
  return sig === 'SIGTERM' ? 143 : 130;
}

export function interruptSignal(): AbortSignal {
  if (!installed) {
    installed = true;
    const onSignal = (sig: NodeJS.Signals) => {
      const code = exitCodeOf(sig);
      if (controller.signal.aborted) process.exit(code);
      controller.abort(Object.assign(new Error(`interrupted by ${sig}`), { signal: sig }));
      setTimeout(() => {
        process.stderr.write(`watt: interrupted by ${sig}: the clean stop took over ${STOP_GRACE_MS} ms, exiting now (the next run finishes the cleanup)\n`);
        process.exit(code);
      }, STOP_GRACE_MS).unref();
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
