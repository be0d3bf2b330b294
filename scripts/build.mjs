#!/usr/bin/env node
/**
 * Build dist/ when TypeScript is installed (`prepare` after `npm ci`; `prepack --clean` before
 * `npm pack` / `npm publish`, which starts from an empty dist/ so no stale file ships).
 *
 * Without TypeScript (`npm ci --omit=dev`): nothing to build when dist/ is already there (an
 * installed package, or a Docker stage that copied the build); otherwise say so loudly, without
 * failing the install.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const clean = process.argv.includes('--clean');
let tsc;
try {
  tsc = createRequire(path.join(root, 'package.json')).resolve('typescript/bin/tsc');
} catch {
  tsc = undefined;
}
if (!tsc || !existsSync(path.join(root, 'src'))) {
  if (existsSync(path.join(root, 'dist', 'cli.js'))) process.exit(0);
  process.stderr.write('watt: dist/ is not built and TypeScript is not installed: run `npm ci` (with dev dependencies) to build watt, or install the published package\n');
  process.exit(clean ? 1 : 0);
}
if (clean) rmSync(path.join(root, 'dist'), { recursive: true, force: true });
const r = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
if (r.status === 0) {
  // The build named in Parquet footers (`created_by`: `watt version X.Y.Z (build <commit>)`, the
  // shape parquet-java's VersionParser reads): the git commit built, when built from a checkout.
  const git = spawnSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: root, encoding: 'utf8' });
  const commit = git.status === 0 && /^[0-9a-f]+$/.test(git.stdout.trim()) ? git.stdout.trim() : undefined;
  writeFileSync(path.join(root, 'dist', 'build-info.json'), JSON.stringify({ commit }) + '\n');
}
process.exit(r.status ?? 1);
