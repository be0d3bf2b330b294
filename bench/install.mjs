#!/usr/bin/env node
/**
 * Install weight of a production install (issue 23, item 7): `npm pack` of this checkout, then in
 * an empty folder `npm install --omit=dev` of the tarball, with every native package compiled from
 * source (as on a machine that cannot fetch prebuilt binaries: offline, a locked-down CI, an
 * architecture without prebuilds). Prints, per native package, the seconds its install script
 * took (`npm rebuild <pkg> --foreground-scripts`, one at a time so the figures do not share the
 * cores), the download/unpack time of the rest, and whether watt runs with the optional re2
 * removed (the `--omit=optional` install).
 *
 * Prebuilt downloads are skipped on purpose: `npm_config_build_from_source=true` (prebuild-install:
 * better-sqlite3, zstd-napi) and `DEVELOPMENT_SKIP_GETTING_ASSET=1` (install-artifact-from-github:
 * re2). Needs a C++ tool chain and Node's headers (node-gyp; `npm config get nodedir`).
 *
 * Usage: npm run bench:install  (keeps nothing: the folder is removed at the end)
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const work = mkdtempSync(path.join(os.tmpdir(), 'watt-install-bench-'));
const env = { ...process.env, npm_config_build_from_source: 'true', DEVELOPMENT_SKIP_GETTING_ASSET: '1', npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' };

function run(cmd, args, cwd, label) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) {
    process.stderr.write(`${label}: exit ${r.status}\n${(r.stderr || '').slice(-2000)}\n`);
    throw new Error(`${label} failed`);
  }
  return { seconds, stdout: r.stdout };
}

try {
  const packed = run('npm', ['pack', '--pack-destination', work, '--json'], root, 'npm pack');
  const tarball = path.join(work, JSON.parse(packed.stdout)[0].filename);
  const app = path.join(work, 'app');
  const { version } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
  run('mkdir', ['-p', app], work, 'mkdir');
  writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'install-bench', private: true }) + '\n');
  const fetched = run('npm', ['install', '--omit=dev', '--ignore-scripts', '--no-package-lock', tarball], app, 'npm install --ignore-scripts');
  console.log(`watt ${version}, Node ${process.version}, ${os.cpus().length} x ${os.cpus()[0]?.model}`);
  console.log(`npm install --omit=dev --ignore-scripts (resolve, fetch from the npm cache, unpack): ${fetched.seconds.toFixed(1)} s`);
  const natives = ['zstd-napi', 'better-sqlite3', 're2'];
  let total = fetched.seconds;
  const perPackage = {};
  for (const pkg of natives) {
    if (!existsSync(path.join(app, 'node_modules', pkg))) {
      console.log(`${pkg}: not installed`);
      continue;
    }
    const r = run('npm', ['rebuild', pkg, '--foreground-scripts'], app, `npm rebuild ${pkg}`);
    total += r.seconds;
    perPackage[pkg] = r.seconds;
    console.log(`${pkg}: install script (compile from source) ${r.seconds.toFixed(1)} s`);
  }
  console.log(`total, every native package compiled: ${total.toFixed(1)} s`);
  // Without the optional re2: patterns run on the fallback (src/records/schema.ts).
  rmSync(path.join(app, 'node_modules', 're2'), { recursive: true, force: true });
  const bin = path.join(app, 'node_modules', '.bin', 'watt');
  Object.assign(env, { WATT_HOME: path.join(work, '.watt'), WATT_LAKE_ROOT: path.join(work, 'lake'), WATT_LOG_DIR: path.join(work, 'logs'), WATT_PSEUDONYMISATION_KEY: '0123456789abcdef'.repeat(4) });
  run(bin, ['ingest', '--source', path.join(app, 'node_modules', 'watt-rgpd', 'samples', 'sample_energy_consumption.csv'), '--json'], work, 'watt ingest without re2');
  console.log(`without re2 (an --omit=optional install, or a failed re2 build): watt ingest of the sample exits 0`);
  console.log(`total without re2: ${(total - (perPackage.re2 ?? 0)).toFixed(1)} s`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
