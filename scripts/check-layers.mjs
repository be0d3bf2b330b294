#!/usr/bin/env node
/**
 * Check the floors of src/ (README "Layout", ../shared/ARCHITECTURE.md "Layers"): each file imports
 * only files of its own folder or of a lower floor. Prints each arrow that runs back up, one per
 * line (`from (floor) -> to (floor)`), then the count; exits 1 when there is one.
 *
 * Floors, bottom-up: base (src/*.ts) < catalog < records < formats < store < trail < table <
 * pipelines (ingest, retention, model, audit: they may import one another) < serve < face
 * (src/cli.ts, src/commands/).
 */
import { execSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The checkout to check: the first argument, else this script's repository. */
const root = process.argv[2] ? path.resolve(process.argv[2]) : path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const FLOORS = { catalog: 1, records: 2, formats: 3, store: 4, trail: 5, table: 6, ingest: 7, retention: 7, model: 7, audit: 7, serve: 8, commands: 9 };
const PIPELINES = 7;

/** [folder, floor] of a file under src/ (`base` for src/*.ts, `commands` for src/cli.ts). */
function floorOf(file) {
  const rel = file.replace(/^src\//, '');
  if (rel === 'cli.ts') return ['commands', FLOORS.commands];
  if (!rel.includes('/')) return ['base', 0];
  const folder = rel.split('/')[0];
  return [folder, FLOORS[folder] ?? -1];
}

const files = execSync('git ls-files src', { cwd: root, encoding: 'utf8' }).split('\n').filter((f) => f.endsWith('.ts'));
const arrows = [];
for (const file of files) {
  const [from, fromFloor] = floorOf(file);
  if (fromFloor < 0) arrows.push(`${file} (unknown folder: add it to FLOORS)`);
  const text = fs.readFileSync(path.join(root, file), 'utf8');
  for (const m of text.matchAll(/(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g)) {
    const lineStart = text.lastIndexOf('\n', m.index) + 1;
    if (/^\s*(\*|\/\/)/.test(text.slice(lineStart, m.index))) continue; // a comment
    const target = path.normalize(path.join(path.dirname(file), m[1])).replace(/\.js$/, '.ts');
    const [to, toFloor] = floorOf(target);
    const sideways = toFloor === fromFloor && to !== from && fromFloor !== 0 && fromFloor !== PIPELINES;
    if (toFloor > fromFloor || sideways) arrows.push(`${file} (${from}) -> ${target} (${to})`);
  }
}
for (const a of arrows) console.log(a);
console.log(`${arrows.length} arrow(s) running back up`);
process.exit(arrows.length ? 1 : 0);
