// Preloaded with `node -r`: prints the process's peak resident set size on exit (process.resourceUsage().maxRSS, KiB)
// and the CPU time of all its threads (user + system, ms): CPU time varies less than wall time on a shared machine.
process.on('exit', () => {
  const u = process.resourceUsage();
  process.stderr.write(`peak_rss_kb=${u.maxRSS}\ncpu_ms=${Math.round((u.userCPUTime + u.systemCPUTime) / 1000)}\n`);
});
