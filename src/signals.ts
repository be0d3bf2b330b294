/**
 * One AbortSignal for the process, aborted on the first SIGINT or SIGTERM, so long runs can stop
 * cleanly (remove temp files, abort uploads, mark the run interrupted) and exit 130.
 * A second signal exits at once.
 */
const controller = new AbortController();
let installed = false;

export function interruptSignal(): AbortSignal {
  if (!installed) {
    installed = true;
    const onSignal = (sig: NodeJS.Signals) => {
      if (controller.signal.aborted) process.exit(130);
      controller.abort(new Error(`interrupted by ${sig}`));
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  return controller.signal;
}
