/**
 * What `npm pack` ships (the same list `npm publish` uploads), read from npm itself:
 * `npm pack --dry-run --json` (scripts ignored, so the test reads the current build).
 */
import { describe, expect, test } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from '../helpers/cli.js';

interface PackResult {
  name: string;
  files: Array<{ path: string }>;
}

const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { name: string; bin: Record<string, string>; license: string; dependencies: Record<string, string> };
const packed = (JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })) as PackResult[])[0]!;
const files = new Set(packed.files.map((f) => f.path));

/** Every `assetPath('a', 'b', ...)` with literal arguments in src/: what watt reads from its own package at run time. */
function assetPathsInSources(dir = path.join(ROOT, 'src')): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) found.push(...assetPathsInSources(full));
    else if (entry.name.endsWith('.ts')) {
      for (const m of readFileSync(full, 'utf8').matchAll(/assetPath\(((?:\s*'[^']+'\s*,?)+)\)/g)) {
        found.push([...m[1]!.matchAll(/'([^']+)'/g)].map((a) => a[1]).join('/'));
      }
    }
  }
  return found;
}

describe('npm pack contents', () => {
  test('a name of its own, the bin stays watt, MIT licence file', () => {
    expect(packed.name).toBe(pkg.name);
    expect(pkg.name).not.toBe('watt'); // the npm name watt belongs to an unrelated package
    expect(pkg.bin).toEqual({ watt: 'bin/watt.js' });
    expect(pkg.license).toBe('MIT');
    expect(files).toContain('LICENSE');
    expect(readFileSync(path.join(ROOT, 'LICENSE'), 'utf8')).toMatch(/^MIT License/);
  });

  test('ships the build, the bin, schemas, the default model, the samples and the data files the code reads', () => {
    for (const f of ['bin/watt.js', 'dist/cli.js', 'dist/serve/app.js', 'dist/metrics.js', 'package.json', 'README.md', 'scripts/build.mjs', 'schemas/energy_consumption.schema.json', 'models/default/model.json', 'samples/sample_energy_consumption.csv', 'samples/weather.csv']) {
      expect(files).toContain(f);
    }
    const assets = assetPathsInSources();
    expect(assets.length).toBeGreaterThan(5);
    for (const asset of assets) {
      const shipped = [...files].some((f) => f === asset || f.startsWith(`${asset}/`));
      expect({ asset, shipped }).toEqual({ asset, shipped: true });
    }
  });

  test('no tests, no state or run output, no TypeScript sources, no source maps', () => {
    for (const f of files) {
      expect(f).not.toMatch(/^(tests|bench|node_modules|lake|logs|\.watt|docs|types)\//);
      expect(f).not.toMatch(/\.ts$|\.map$/);
      expect(f).not.toMatch(/(^|\/)\.env$/);
    }
  });

  test('every dependency is imported by the code it ships (the secretlint packages are the audit work in progress)', () => {
    const sources = [...files].filter((f) => f.startsWith('dist/') && f.endsWith('.js')).map((f) => readFileSync(path.join(ROOT, f), 'utf8')).join('\n');
    const unused = Object.keys(pkg.dependencies).filter((dep) => !sources.includes(`'${dep}'`) && !sources.includes(`'${dep}/`) && !sources.includes(`"${dep}"`));
    expect(unused.filter((d) => !d.includes('secretlint'))).toEqual([]);
  });
});
