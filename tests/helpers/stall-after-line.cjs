/**
 * Test hook, preloaded into a spawned process with `node --require <this file>`: right after the
 * process writes to stderr the first line matching WATT_TEST_STALL_AFTER (a regular expression),
 * its main thread stops for WATT_TEST_STALL_MS ms (Atomics.wait: no JavaScript runs, no event is
 * handled), as when a loaded host's scheduler sets the process aside just after that write (the
 * reader the write woke runs first). Signals still arrive meanwhile: a handled one waits for the
 * event loop, one without a handler kills the process at once, as without the hook.
 */
const pattern = process.env.WATT_TEST_STALL_AFTER ? new RegExp(process.env.WATT_TEST_STALL_AFTER) : undefined;
const ms = Number(process.env.WATT_TEST_STALL_MS ?? 1000);
if (pattern) {
  const write = process.stderr.write.bind(process.stderr);
  let done = false;
  process.stderr.write = (chunk, ...rest) => {
    const written = write(chunk, ...rest);
    if (!done && pattern.test(String(chunk))) {
      done = true;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
    }
    return written;
  };
}
