/**
 * One AbortSignal for the process, aborted on the first SIGINT or SIGTERM, so long runs can stop
 * cleanly (remove temp files, abort uploads, mark the run interrupted) and exit 130 (SIGINT) or
 * 143 (SIGTERM).
 * A second signal exits at once. If the clean stop takes longer than {@link STOP_DEADLINE_MS} (a
 * store that does not answer, a long CPU-bound step), the process exits anyway with the same code:
 * every verb is crash-safe (the next run finishes the cleanup, see src/lake/recover.ts), and lock
 * files are removed on exit (src/lock.ts).
 */
const controller = new AbortController();
let installed = false;
let received: NodeJS.Signals | undefined;

/** Longest clean stop after SIGINT/SIGTERM, ms: the process ends within 2 s of the signal. */
export const STOP_DEADLINE_MS = 1700;

/** Exit code for an interruption: 143 (128 + 15) after SIGTERM, 130 (128 + 2) after SIGINT. */
export function interruptExitCode(): number {
  return received === 'SIGTERM' ? 143 : 130;
}

export function interruptSignal(): AbortSignal {
  if (!installed) {
    installed = true;
    const onSignal = (sig: NodeJS.Signals) => {
      if (controller.signal.aborted) process.exit(interruptExitCode());
      received = sig;
      controller.abort(new Error(`interrupted by ${sig}`));
      setTimeout(() => {
        process.stderr.write(`watt: interrupted by ${sig}; stopped before the clean stop finished (the next run completes it)\n`);
        process.exit(interruptExitCode());
      }, STOP_DEADLINE_MS).unref();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  return controller.signal;
}
