#!/usr/bin/env node
// npm run bench:audit [-- --runs N]: times `watt audit-rgpd` on this repository with the real CLI
// (node startup included), N runs (default 11) after one warm-up, and prints the median, min and
// max wall time, plus the median of the audit's own duration (summary.durationMs of --format json).
// The default run scans every commit reachable from HEAD for secrets; the same is then timed with
// --no-history (tree only) to show what the history pass costs.
//
// npm run bench:audit -- --repo <git work tree> [--runs N]: the history targets of issue 18 on a
// large repository (e.g. a clone of babel/babel, 18,609 commits): the audit cold (no cache of
// scanned commits, tree findings or removed data files: .watt/audit-*.json removed), then warm after
// one new commit changing one tracked file (made on a throw-away branch, removed after), N warm
// runs. Wall time and, on Linux, CPU seconds of watt and its git processes (what to compare on a
// loaded machine). The repository's own findings do not matter.
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoArg = process.argv.indexOf('--repo');
/** CPU seconds (user + sys) of the children this process has waited for (Linux: /proc/self/stat cutime + cstime); undefined elsewhere. */
const childCpu = () => {
  try {
    const fields = readFileSync('/proc/self/stat', 'utf8').replace(/^.*\) /, '').split(' ');
    return (Number(fields[13]) + Number(fields[14])) / 100; // clock ticks (USER_HZ = 100 on Linux)
  } catch {
    return undefined;
  }
};
if (repoArg > 0) {
  const repo = path.resolve(process.argv[repoArg + 1]);
  const bin = path.join(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..'), 'bin', 'watt.js');
  const runsArg = process.argv.indexOf('--runs');
  const runs = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 3;
  const git = (...args) => spawnSync('git', args, { cwd: repo, encoding: 'utf8' });
  const audit = () => {
    const cpu0 = childCpu();
    const t = process.hrtime.bigint();
    const r = spawnSync(process.execPath, [bin, 'audit-rgpd', '--format', 'json', '--fail-on', 'never'], { cwd: repo, encoding: 'utf8', maxBuffer: 1 << 28 });
    const ms = Number(process.hrtime.bigint() - t) / 1e6;
    const cpu1 = childCpu();
    if (r.status !== 0) throw new Error(`watt audit-rgpd exited ${r.status}: ${r.stderr.trim()}`);
    const report = JSON.parse(r.stdout);
    return { ms, cpu: cpu0 === undefined ? undefined : cpu1 - cpu0, secrets: report.findings.filter((f) => f.ruleId === 'rgpd/no-secrets').length, findings: report.findings.length };
  };
  const cpuText = (s) => (s === undefined ? '' : `, ${s.toFixed(1)} CPU-s (user+sys, watt and its git processes)`);
  const commits = git('rev-list', '--count', 'HEAD').stdout.trim();
  const files = spawnSync('git', ['ls-files'], { cwd: repo, encoding: 'utf8', maxBuffer: 1 << 28 }).stdout.split('\n').filter(Boolean).length;
  console.log(`watt audit-rgpd on ${repo}: ${commits} commits, ${files} tracked files`);
  console.log(`machine: Node ${process.versions.node}, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown CPU'}); load average before ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  // Cold: no cache at all (scanned commits, tree findings, removed data files).
  const wattDir = path.join(repo, '.watt');
  if (existsSync(wattDir)) for (const f of readdirSync(wattDir)) if (/^audit-.*\.json$/.test(f)) rmSync(path.join(wattDir, f), { force: true });
  const cold = audit();
  console.log(`cold (whole history and tree, no cache): ${(cold.ms / 1000).toFixed(1)} s${cpuText(cold.cpu)}, ${cold.findings} finding(s), ${cold.secrets} secret(s); load average ${os.loadavg()[0].toFixed(1)}`);
  const head = git('rev-parse', '--abbrev-ref', 'HEAD').stdout.trim();
  git('checkout', '-q', '-b', 'watt-bench-warm');
  try {
    const warm = [];
    // Warm: one new commit changing one tracked file (a line appended), the caches of the run before.
    const changed = spawnSync('git', ['ls-files', '--', '*.md'], { cwd: repo, encoding: 'utf8' }).stdout.split('\n').find(Boolean) ?? 'README.md';
    for (let i = 0; i < runs; i++) {
      appendFileSync(path.join(repo, changed), `\nbench line ${i}\n`);
      git('-c', 'user.email=bench@example.invalid', '-c', 'user.name=bench', 'commit', '-q', '-a', '-m', `bench ${i}`);
      warm.push(audit());
    }
    const ms = warm.map((w) => w.ms).sort((a, b) => a - b);
    const cpu = warm.map((w) => w.cpu).filter((c) => c !== undefined).sort((a, b) => a - b);
    console.log(
      `warm (one new commit changing ${changed}, caches of the run before): median ${(ms[(ms.length - 1) >> 1] / 1000).toFixed(2)} s (min ${(ms[0] / 1000).toFixed(2)}, max ${(ms[ms.length - 1] / 1000).toFixed(2)})${cpu.length ? `, median ${cpu[(cpu.length - 1) >> 1].toFixed(2)} CPU-s` : ''}, ${runs} run(s); load average ${os.loadavg()[0].toFixed(1)}`,
    );
  } finally {
    git('checkout', '-q', '-f', head);
    git('branch', '-q', '-D', 'watt-bench-warm');
  }
  process.exit(0);
}

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
