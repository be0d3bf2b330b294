/** The audit trail's hash chain (src/trail/trail.ts) on a real catalog file. */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Catalog } from '../../src/catalog/catalog.js';
import { GENESIS_HASH, appendTrail, entryHash, openIntents, verifyTrail } from '../../src/trail/trail.js';

let home: string;
let catalog: Catalog;
beforeEach(() => {
  home = mkdtempSync(path.join(os.tmpdir(), 'watt-trail-'));
  catalog = Catalog.open(home);
});
afterEach(() => {
  catalog.close();
  rmSync(home, { recursive: true, force: true });
});

const entry = (i: number) => ({ action: 'retention.delete' as const, lake: 's3://b/p', key: `p/2020/01/0${i}/x.csv`, count: 1, run_id: 'r1', detail: { bytes: i } });

describe('audit trail', () => {
  it('chains entries from the genesis hash and verifies them', () => {
    expect(verifyTrail(catalog.db)).toEqual({ ok: true, entries: 0, head: GENESIS_HASH });
    const first = appendTrail(catalog.db, [entry(1), entry(2)], 'alice');
    const [third] = appendTrail(catalog.db, [entry(3)], 'alice');
    expect(first.map((e) => e.seq)).toEqual([1, 2]);
    expect(first[0]!.prev_hash).toBe(GENESIS_HASH);
    expect(first[1]!.prev_hash).toBe(first[0]!.hash);
    expect(third!.prev_hash).toBe(first[1]!.hash);
    const { hash, prev_hash, ...fields } = third!;
    expect(entryHash(prev_hash, fields)).toBe(hash);
    expect(verifyTrail(catalog.db)).toEqual({ ok: true, entries: 3, head: third!.hash });
  });

  it('is append-only: UPDATE and DELETE are refused by triggers', () => {
    appendTrail(catalog.db, [entry(1)]);
    expect(() => catalog.db.prepare("UPDATE audit_log SET actor = 'mallory'").run()).toThrow(/append-only/);
    expect(() => catalog.db.prepare('DELETE FROM audit_log').run()).toThrow(/append-only/);
  });

  it('names the first entry that was edited, removed in the middle, or cut off at the end', () => {
    appendTrail(catalog.db, [1, 2, 3, 4, 5].map(entry));
    catalog.db.exec('DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;');
    catalog.db.prepare("UPDATE audit_log SET key = 'p/other.csv' WHERE seq = 4").run();
    expect(verifyTrail(catalog.db)).toMatchObject({ ok: false, broken: { seq: 4, reason: expect.stringMatching(/edited/) } });
    catalog.db.prepare('DELETE FROM audit_log WHERE seq = 2').run();
    expect(verifyTrail(catalog.db)).toMatchObject({ ok: false, broken: { seq: 2, reason: expect.stringMatching(/missing/) } });
  });

  it('detects removal of the last entries through sqlite_sequence', () => {
    appendTrail(catalog.db, [1, 2, 3].map(entry));
    catalog.db.exec('DROP TRIGGER audit_log_no_delete;');
    catalog.db.prepare('DELETE FROM audit_log WHERE seq = 3').run();
    expect(verifyTrail(catalog.db)).toMatchObject({ ok: false, broken: { seq: 3, reason: expect.stringMatching(/last entries were removed/) } });
  });

  it('keeps erasure intents open until an entry closes them', () => {
    const [intent] = appendTrail(catalog.db, [{ action: 'erasure.intent', lake: 'L', key: 'k', count: 2, run_id: 'r', detail: { op: 'rewrite' } }]);
    appendTrail(catalog.db, [{ action: 'erasure.intent', lake: 'other', key: 'k', count: 1, run_id: 'r' }]);
    expect(openIntents(catalog.db, 'L').map((e) => e.seq)).toEqual([intent!.seq]);
    appendTrail(catalog.db, [{ action: 'erasure.rewrite', lake: 'L', key: 'k', count: 2, run_id: 'r', detail: { intent: intent!.seq } }]);
    expect(openIntents(catalog.db, 'L')).toEqual([]);
  });
});
