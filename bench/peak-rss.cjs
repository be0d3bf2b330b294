// Preloaded with `node -r`: prints the process's peak resident set size on exit (process.resourceUsage().maxRSS, KiB).
process.on('exit', () => process.stderr.write(`peak_rss_kb=${process.resourceUsage().maxRSS}\n`));
