/**
 * One AbortSignal for the process, aborted on the first SIGINT or SIGTERM, so long runs can stop
 * cleanly (remove temp files, abort uploads, mark the run interrupted) and exit 130 (SIGINT) or
 * 143 (SIGTERM).
 * A second signal exits at once.
 */
const controller = new AbortController();
let installed = false;
let received: NodeJS.Signals | undefined;

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
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  return controller.signal;
}
