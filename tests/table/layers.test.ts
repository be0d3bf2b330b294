/** The floors of src/ (README "Layout"): scripts/check-layers.mjs on this checkout and on a bad one. */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from '../helpers/cli.js';

const SCRIPT = path.join(ROOT, 'scripts', 'check-layers.mjs');

describe('layers', () => {
  it('no file of src/ imports a higher floor (stores know no manifest, the table knows no pipeline)', () => {
    const r = spawnSync(process.execPath, [SCRIPT], { encoding: 'utf8' });
    expect(r.stdout).toContain('0 arrow(s) running back up');
    expect(r.status).toBe(0);
  });

  it('names an arrow that runs back up and exits 1', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'watt-layers-'));
    try {
      mkdirSync(path.join(dir, 'src', 'store'), { recursive: true });
      mkdirSync(path.join(dir, 'src', 'table'), { recursive: true });
      writeFileSync(path.join(dir, 'src', 'table', 'manifest.ts'), 'export const m = 1;\n');
      writeFileSync(path.join(dir, 'src', 'store', 'local.ts'), "import { m } from '../table/manifest.js';\nexport const x = m;\n");
      spawnSync('git', ['init', '-q'], { cwd: dir });
      spawnSync('git', ['add', '.'], { cwd: dir });
      const r = spawnSync(process.execPath, [SCRIPT, dir], { encoding: 'utf8' });
      expect(r.stdout).toContain('src/store/local.ts (store) -> src/table/manifest.ts (table)');
      expect(r.status).toBe(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
