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
