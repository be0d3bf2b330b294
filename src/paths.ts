import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { readFileSync } from 'node:fs';

/**
 * Absolute path of the installed watt package (the folder holding package.json). What ships with
 * watt (schemas/, samples/, models/, src/audit/rules/) resolves from here, so `watt` works from
 * any working directory. Works from the sources (src/, under jest), from the build (dist/) and
 * from the start-up bundle (dist/bundle/, scripts/build.mjs): the nearest folder above this
 * module whose package.json is watt's.
 */
export const packageRoot: string = findPackageRoot(path.dirname(fileURLToPath(import.meta.url)));

function findPackageRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    try {
      if ((JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: unknown }).name === 'watt-rgpd') return dir;
    } catch {
      // no package.json here (or not JSON): look higher
    }
    if (path.dirname(dir) === dir) return path.resolve(from, '..');
  }
}

/** Path of a file shipped with watt, e.g. `assetPath('schemas', 'energy_consumption.schema.json')`. */
export function assetPath(...segments: string[]): string {
  return path.join(packageRoot, ...segments);
}

let cachedVersion: string | undefined;
/** watt's version, read from its package.json. */
export function wattVersion(): string {
  if (cachedVersion === undefined) {
    const pkg = JSON.parse(readFileSync(assetPath('package.json'), 'utf8')) as { version: string };
    cachedVersion = pkg.version;
  }
  return cachedVersion;
}
