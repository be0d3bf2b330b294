/** The `audit-trail` check of watt audit-rgpd (src/audit/checks/audit-trail.ts) on real catalogs. */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import auditTrail from '../../src/audit/checks/audit-trail.js';
import { createContext } from '../../src/audit/context.js';
import { Catalog } from '../../src/catalog/catalog.js';
import { appendTrail } from '../../src/trail/trail.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function repoWithTrail(): { root: string; catalog: Catalog } {
  const root = mkdtempSync(path.join(os.tmpdir(), 'watt-audit-trail-'));
  dirs.push(root);
  const catalog = Catalog.open(path.join(root, '.watt'));
  appendTrail(catalog.db, [1, 2, 3].map((i) => ({ action: 'retention.delete' as const, lake: 'file:///l', key: `k${i}`, count: 1, run_id: 'r' })));
  return { root, catalog };
}

describe('audit-trail check', () => {
  it('passes without a catalog and with an intact trail', async () => {
    const empty = mkdtempSync(path.join(os.tmpdir(), 'watt-audit-trail-'));
    dirs.push(empty);
    expect(await auditTrail.run({}, createContext(empty, []))).toEqual([]);
    const { root, catalog } = repoWithTrail();
    catalog.close();
    expect(await auditTrail.run({}, createContext(root, []))).toEqual([]);
  });

  it('reports the first broken entry of an edited trail', async () => {
    const { root, catalog } = repoWithTrail();
    catalog.db.exec('DROP TRIGGER audit_log_no_update');
    catalog.db.prepare("UPDATE audit_log SET key = 'other' WHERE seq = 2").run();
    catalog.close();
    expect(await auditTrail.run({}, createContext(root, []))).toEqual([
      { file: '.watt/catalog.db', message: expect.stringMatching(/^audit trail broken at entry 2: hash mismatch/) },
    ]);
  });
});
