// Preloaded with `node -r`: prints the process's peak resident set size on exit (process.resourceUsage().maxRSS, KiB)
// and the CPU time of all its threads: user and system in µs, and their sum in ms (cpu_ms). CPU time varies less than
// wall time on a shared machine.
process.on('exit', () => {
  const u = process.resourceUsage();
  process.stderr.write(`peak_rss_kb=${u.maxRSS} cpu_user_us=${u.userCPUTime} cpu_system_us=${u.systemCPUTime}\ncpu_ms=${Math.round((u.userCPUTime + u.systemCPUTime) / 1000)}\n`);
});
