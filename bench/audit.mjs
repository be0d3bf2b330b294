#!/usr/bin/env node
// npm run bench:audit [-- --runs N]: times `watt audit-rgpd` on this repository with the real CLI
// (node startup included), N runs (default 11) after one warm-up, and prints the median, min and
// max wall time, plus the median of the audit's own duration (summary.durationMs of --format json).
// The default run scans every commit reachable from HEAD for secrets; the same is then timed with
// --no-history (tree only) to show what the history pass costs.
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = path.join(root, 'bin', 'watt.js');
const runsArg = process.argv.indexOf('--runs');
const runs = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 11;

function once(extra = []) {
  const t = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [bin, 'audit-rgpd', '--format', 'json', '--fail-on', 'never', ...extra], { cwd: root, encoding: 'utf8', maxBuffer: 1 << 26 });
  const wallMs = Number(process.hrtime.bigint() - t) / 1e6;
  if (r.status !== 0) throw new Error(`watt audit-rgpd exited ${r.status}: ${r.stderr.trim()}`);
  const report = JSON.parse(r.stdout);
  return { wallMs, auditMs: report.summary.durationMs, report };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

once(); // warm-up (file system cache)
const samples = Array.from({ length: runs }, once);
const wall = samples.map((s) => s.wallMs);
const audit = samples.map((s) => s.auditMs);
const { summary } = samples[0].report;
const tracked = spawnSync('git', ['ls-files'], { cwd: root, encoding: 'utf8' }).stdout.split('\n').filter(Boolean).length;
const commits = Number(spawnSync('git', ['rev-list', '--count', 'HEAD'], { cwd: root, encoding: 'utf8' }).stdout.trim());
const diffBytes = spawnSync('git', ['log', '-p', '-U0', '--format=%H', 'HEAD'], { cwd: root, encoding: 'buffer', maxBuffer: 1 << 30 }).stdout.length;
const treeOnly = Array.from({ length: runs }, () => once(['--no-history']));

console.log(`watt audit-rgpd on ${root} (${tracked} tracked files, ${commits} commits, ${(diffBytes / 1e6).toFixed(1)} MB of history diffs, ${summary.rules} rules, ${summary.errors} errors, ${summary.warnings} warnings)`);
console.log(`machine: Node ${process.versions.node}, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown CPU'}), ${os.platform()} ${os.release()}`);
console.log(`runs: ${runs} (after 1 warm-up); load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')} (other processes share the cores)`);
console.log(`wall time, CLI end to end: median ${median(wall).toFixed(0)} ms (min ${Math.min(...wall).toFixed(0)}, max ${Math.max(...wall).toFixed(0)})`);
console.log(`audit itself (summary.durationMs): median ${median(audit).toFixed(0)} ms`);
const wallTree = treeOnly.map((x) => x.wallMs);
console.log(`--no-history (tree only): wall median ${median(wallTree).toFixed(0)} ms (min ${Math.min(...wallTree).toFixed(0)}, max ${Math.max(...wallTree).toFixed(0)}), audit median ${median(treeOnly.map((x) => x.auditMs)).toFixed(0)} ms`);
console.log(`whole history in < 2 s: ${Math.max(...wall) < 2000 ? 'yes' : 'NO'} (max ${Math.max(...wall).toFixed(0)} ms)`);
