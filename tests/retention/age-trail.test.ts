/**
 * The trail is written ahead of every deletion. A store that refuses a delete cannot be provoked
 * for real here (root ignores file modes; s3rver and Azurite accept every delete), so this test
 * wraps a real local lake and makes it refuse one key: the one fault a stand-in is allowed for.
 */
import { mkdtempSync, utimesSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LocalLake } from '../../src/store/local.js';
import { Catalog } from '../../src/catalog/catalog.js';
import { purgeByAge } from '../../src/retention/age.js';
import { verifyTrail } from '../../src/trail/trail.js';
import { StorageError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import type { Lake } from '../../src/store/types.js';

describe('purge by age writes the trail ahead of the deletes', () => {
  it('records every deletion, and a refused one as failed, with the chain intact', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'watt-age-'));
    const local = new LocalLake(path.join(dir, 'lake'), 'b');
    await local.put('p/2020/01/01/a_20200101T000000Z-aaaaaa.csv', 'x\n');
    await local.put('p/2020/01/02/b_20200102T000000Z-bbbbbb.csv', 'y\n');
    const refused = 'p/2020/01/02/b_20200102T000000Z-bbbbbb.csv';
    // Runs without a manifest are judged by the store's timestamp (issue 21): make them old there too.
    for (const key of ['p/2020/01/01/a_20200101T000000Z-aaaaaa.csv', refused]) utimesSync(path.join(dir, 'lake', 'b', key), new Date('2020-01-03'), new Date('2020-01-03'));
    const lake: Lake = Object.assign(Object.create(local), {
      delete: async (keys: string[]) => {
        const result = await local.delete(keys.filter((k) => k !== refused));
        return { deleted: result.deleted, errors: keys.includes(refused) ? [{ key: refused, message: 'AccessDenied' }] : [] };
      },
    });
    const catalog = Catalog.open(path.join(dir, '.watt'));
    await expect(
      purgeByAge({
        lake,
        prefix: 'p',
        destination: 'file:///lake/b/p',
        runId: 'r1',
        dryRun: false,
        catalog,
        logger: silentLogger,
        now: new Date('2026-01-01T00:00:00Z'),
        periods: { raw_data: 30, run_logs: 90, catalog_rows: 90 },
        basis: 'days',
        logDir: path.join(dir, 'logs'),
        home: path.join(dir, '.watt'),
      }),
    ).rejects.toThrow(StorageError);
    const entries = catalog.db.prepare("SELECT action, key FROM audit_log WHERE action LIKE 'retention.delete%' ORDER BY seq").all();
    expect(entries).toEqual([
      { action: 'retention.delete', key: 'p/2020/01/01/a_20200101T000000Z-aaaaaa.csv' },
      { action: 'retention.delete', key: refused },
      { action: 'retention.delete_failed', key: refused },
    ]);
    expect(verifyTrail(catalog.db).ok).toBe(true);
    expect(await local.head(refused)).toBeDefined();
    catalog.close();
  });
});
