import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runAudit } from '../../src/audit/engine.js';
import { loadRules } from '../../src/audit/rules.js';
import { xlsxWorkbook } from '../helpers/xlsx.js';
import { cleanup, materialise } from './helpers.js';

/**
 * Workbooks committed to the repository: an .xlsx built here (a real OOXML zip) with a sheet of
 * customers (e-mails, PDLs) is an error naming the file, the sheet, the column and the detector,
 * never a value; a sheet of meter readings without people is not; a removed workbook is still
 * found in history.
 */
afterAll(cleanup);
const rules = (await loadRules()).filter((r) => r.id === 'rgpd/no-personal-data');

const customers = [
  ['Nom', 'Courriel', 'PDL', 'Ville'],
  ['Dupont', 'marie.dupont@example.fr', '12345678901234', 'Paris'],
  ['Martin', 'jean.martin@example.org', '98765432109876', 'Lyon'],
  ['Durand', 'paul.durand@example.net', '11122233344455', 'Nantes'],
];
const readings = [
  ['reading_ts', 'consumption_kwh'],
  ['2026-01-01T00:00:00Z', 0.42],
  ['2026-01-01T00:30:00Z', 0.38],
];

describe('XLSX data files', () => {
  it('names the file, the sheet, the column and the detector; values masked; a sheet without people passes', async () => {
    const dir = materialise({ fixture: 'compliant' });
    mkdirSync(path.join(dir, 'data'), { recursive: true });
    writeFileSync(path.join(dir, 'data', 'export.xlsx'), xlsxWorkbook([{ name: 'Relevés', rows: readings }, { name: 'Clients', rows: customers }]));
    execFileSync('git', ['add', '-A'], { cwd: dir });
    const r = await runAudit({ dir, rules, history: false });
    const found = r.findings.map((f) => `${f.file}: ${f.message}`);
    expect(found).toEqual([
      expect.stringMatching(/^data\/export\.xlsx: personal data in clear: sheet "Clients", column "Courriel" holds .*\(detector email: /),
      expect.stringMatching(/^data\/export\.xlsx: personal data in clear: sheet "Clients", column "PDL" holds .*\(detector pdl: /),
    ]);
    expect(found.some((m) => m.includes('Relevés'))).toBe(false);
    const text = JSON.stringify(r);
    for (const value of ['dupont@', 'martin@', '12345678901234', 'Dupont']) expect(text).not.toContain(value);
  });

  it('a workbook committed then removed is found in history; allowed fixtures are not', async () => {
    const dir = materialise({ fixture: 'compliant' });
    const git = (...args: string[]) => execFileSync('git', ['-c', 'user.email=dev@example.invalid', '-c', 'user.name=dev', ...args], { cwd: dir, encoding: 'utf8' }).trim();
    git('commit', '-qm', 'docs');
    writeFileSync(path.join(dir, 'clients.xlsx'), xlsxWorkbook([{ name: 'Feuil1', rows: customers }]));
    git('add', 'clients.xlsx');
    git('commit', '-qm', 'export');
    git('rm', '-q', 'clients.xlsx');
    git('commit', '-qm', 'oops');
    const removal = git('rev-parse', 'HEAD');
    const r = await runAudit({ dir, rules });
    expect(r.findings.map((f) => [f.file, f.commit])).toEqual([
      ['clients.xlsx', removal],
      ['clients.xlsx', removal],
    ]);
    expect(r.findings[0]!.message).toMatch(/sheet "Feuil1", column "Courriel" .*removed by commit/);
    writeFileSync(path.join(dir, 'watt-audit.toml'), '[personal_data]\nallow = ["clients.xlsx"]\n');
    expect((await runAudit({ dir, rules })).findings).toEqual([]);
  });
});
