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
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
// A bundle of an earlier build never outlives it (bin/watt.js would run it).
rmSync(path.join(root, 'dist', 'bundle'), { recursive: true, force: true });
const r = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
if (r.status === 0) await bundleStartup();
if (r.status === 0) {
  // The build named in Parquet footers (`created_by`: `watt version X.Y.Z (build <commit>)`, the
  // shape parquet-java's VersionParser reads): the git commit built, when built from a checkout.
  const git = spawnSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: root, encoding: 'utf8' });
  const commit = git.status === 0 && /^[0-9a-f]+$/.test(git.stdout.trim()) ? git.stdout.trim() : undefined;
  writeFileSync(path.join(root, 'dist', 'build-info.json'), JSON.stringify({ commit }) + '\n');
}
process.exit(r.status ?? 1);

/**
 * The start-up bundle, dist/bundle/ (bin/watt.js runs it when it is at least as new as dist/):
 * dist/cli.js and the ingest worker (dist/ingest/transform-worker.js) with the packages every
 * command loads at start-up (commander, chalk, winston, ajv, csv-parse, dotenv and what they
 * require) in a few ES modules instead of ~250 files, which Node 20 resolves, reads and compiles
 * one by one: `watt --version` and the start of an ingest ~0.1 s sooner on the reference machine
 * (docs/benchmarks.md, "Unordered exports: the serial phases"). Every other package (the cloud SDKs, the server, native
 * addons, the Parquet reader) stays in node_modules and loads on first use, as before; watt's own
 * lazily loaded modules become chunks loaded the same way. Built with esbuild when it is installed
 * (a dev dependency); without it, bin/watt.js runs dist/ as compiled.
 */
async function bundleStartup() {
  let esbuild;
  try {
    esbuild = await import(createRequire(path.join(root, 'package.json')).resolve('esbuild'));
  } catch {
    return;
  }
  const bundled = startupPackages(['commander', 'chalk', 'winston', 'ajv', 'ajv-formats', 'csv-parse', 'dotenv']);
  const keepExternal = {
    name: 'start-up packages only',
    setup(build) {
      build.onResolve({ filter: /^[^./#]/ }, (args) => {
        if (args.path.startsWith('node:')) return { external: true };
        const name = args.path.startsWith('@') ? args.path.split('/').slice(0, 2).join('/') : args.path.split('/')[0];
        return bundled.has(name) ? undefined : { external: true };
      });
    },
  };
  await esbuild.build({
    entryPoints: { cli: path.join(root, 'dist', 'cli.js'), 'transform-worker': path.join(root, 'dist', 'ingest', 'transform-worker.js') },
    outdir: path.join(root, 'dist', 'bundle'),
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    // CommonJS packages inside the bundle call require(): give ES modules one.
    banner: { js: "import { createRequire as __wattRequire } from 'node:module'; const require = __wattRequire(import.meta.url);" },
    plugins: [keepExternal],
    logLevel: 'warning',
  });
}

/** `names` and every package they depend on, transitively (their package.json files, found as Node finds packages). */
function startupPackages(names) {
  const found = new Set();
  const manifestOf = (name, fromDir) => {
    for (let dir = fromDir; ; dir = path.dirname(dir)) {
      const file = path.join(dir, 'node_modules', name, 'package.json');
      if (existsSync(file)) return { dir: path.dirname(file), manifest: JSON.parse(readFileSync(file, 'utf8')) };
      if (path.dirname(dir) === dir) return undefined;
    }
  };
  const visit = (name, fromDir) => {
    if (found.has(name)) return;
    const m = manifestOf(name, fromDir);
    if (!m) return;
    found.add(name);
    for (const dep of Object.keys(m.manifest.dependencies ?? {})) visit(dep, m.dir);
  };
  for (const name of names) visit(name, root);
  return found;
}
