/**
 * Materialise audit fixtures: a fixture repository under tests/fixtures/audit/, changed as a rule
 * example says (overlay, remove, edit, write, track), in a fresh temporary git repository.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RuleExample } from '../../src/audit/types.js';

export const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'audit');

const made: string[] = [];

/** A temporary git repository (files staged, not committed) built from `example`. */
export function materialise(example: RuleExample): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'watt-audit-'));
  made.push(dir);
  cpSync(path.join(FIXTURES, example.fixture), dir, { recursive: true });
  if (example.overlay) cpSync(path.join(FIXTURES, example.overlay), dir, { recursive: true });
  for (const file of example.remove ?? []) rmSync(path.join(dir, file), { recursive: true, force: true });
  for (const [file, edits] of Object.entries(example.edit ?? {})) {
    let text = readFileSync(path.join(dir, file), 'utf8');
    for (const [search, replacement] of Object.entries(edits)) {
      if (!text.includes(search)) throw new Error(`example edit: ${JSON.stringify(search)} not found in ${file}`);
      text = text.replace(search, replacement);
    }
    writeFileSync(path.join(dir, file), text);
  }
  for (const [file, content] of Object.entries(example.write ?? {})) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), content);
  }
  const git = (...args: string[]) => execFileSync('git', args, { cwd: dir, stdio: 'pipe' });
  git('-c', 'init.defaultBranch=main', 'init', '-q');
  git('add', '-A');
  if (example.track?.length) git('add', '-f', '--', ...example.track);
  return dir;
}

/** Remove every folder made by `materialise`. */
export function cleanup(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}
