// Preloaded with `node -r`: prints the process's peak resident set size (process.resourceUsage().maxRSS, KiB) and its
// CPU time, user and system, of all threads (µs), on exit.
process.on('exit', () => {
  const u = process.resourceUsage();
  process.stderr.write(`peak_rss_kb=${u.maxRSS} cpu_user_us=${u.userCPUTime} cpu_system_us=${u.systemCPUTime}\n`);
});
