import { createHash } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { filterErasedSubjects } from '../../src/ingest/erased-subjects.js';
import type { TransformOutcome } from '../../src/ingest/transform-plan.js';
import { readSpoolFile } from '../../src/spool-crypto.js';
import { scratchDirsRemovedAfterAll } from '../helpers/cli.js';

const newDir = scratchDirsRemovedAfterAll('watt-erased-subjects-');

describe('filterErasedSubjects (subjects erased while a run transformed)', () => {
  it('an object staged in plaintext in a local lake: the kept rows go to an encrypted copy beside it, the staged file is removed', async () => {
    const dir = newDir();
    const staged = path.join(dir, '1234-abcdef');
    const header = 'record_id,customer_id,kwh\n';
    const rows = Array.from({ length: 3000 }, (_, i) => `R${i},P${i % 7},${i}\n`);
    const body = header + rows.join('');
    writeFileSync(staged, body, { mode: 0o600 });
    const outcome = {
      rows: rows.length,
      partitions: [{ date: '2026-01-02', file: staged, rows: rows.length, bytes: Buffer.byteLength(body), sha256: createHash('sha256').update(body).digest('hex'), cipher: undefined }],
    } as unknown as TransformOutcome;

    const removed = await filterErasedSubjects(outcome, 'csv', ['customer_id'], ['P3']);

    const kept = header + rows.filter((r) => !r.includes(',P3,')).join('');
    expect(removed).toBe(rows.length - (kept.split('\n').length - 2));
    expect(outcome.rows).toBe(rows.length - removed);
    const p = outcome.partitions[0]!;
    expect(p.file).toBe(`${staged}.erased`);
    expect(p.cipher).toBeDefined(); // the filtered copy is an encrypted spool again
    expect((await readSpoolFile(p.file, p.cipher!)).toString()).toBe(kept);
    expect(p.sha256).toBe(createHash('sha256').update(kept).digest('hex'));
    expect(existsSync(staged)).toBe(false);
  });
});
