/**
 * Failpoints for crash-consistency tests, after TiKV's fail-rs: when the environment variable
 * `WATT_FAILPOINT` names a step (e.g. `ingest:after-object`), watt kills itself with SIGKILL the
 * moment it reaches that step, so a test can provoke a real crash at an exact point and then
 * check what the next run does. Off (one string comparison) when the variable is unset.
 *
 * Names are `<verb>:<step>`; each call site documents its own.
 */
export function failpoint(name: string): void {
  const wanted = process.env.WATT_FAILPOINT;
  if (wanted !== undefined && wanted === name) process.kill(process.pid, 'SIGKILL');
}

/**
 * Pause points, for tests that must act on a run at an exact step (swap a file, send a signal):
 * when `WATT_PAUSEPOINT` names the step, watt writes `paused at <name>` on stderr and waits
 * until the file named by `WATT_PAUSEPOINT_RESUME` exists, then goes on. Off when unset.
 */
export async function pausepoint(name: string): Promise<void> {
  if (process.env.WATT_PAUSEPOINT !== name) return;
  const resume = process.env.WATT_PAUSEPOINT_RESUME;
  process.stderr.write(`paused at ${name} (WATT_PAUSEPOINT)\n`);
  const { existsSync } = await import('node:fs');
  while (resume && !existsSync(resume)) await new Promise((r) => setTimeout(r, 50));
}
