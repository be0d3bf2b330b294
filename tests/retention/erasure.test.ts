/** Streaming helpers of erasure (src/retention/erasure.ts). */
import { Readable } from 'node:stream';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { rewriteCsv, streamContains } from '../../src/retention/erasure.js';

const P = 'a'.repeat(64);
const Q = 'b'.repeat(64);

describe('rewriteCsv', () => {
  it('drops the rows of the subject and keeps the others byte for byte, quoting as ingest does', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'watt-erase-'));
    const out = path.join(dir, 'out.csv');
    const input = `record_id,customer_id,note\nR1,${P},x\nR2,${Q},"has, comma"\nR3,${P},y\nR4,${Q},"quote ""q"""\n`;
    const r = await rewriteCsv(Readable.from([Buffer.from(input)]), 'customer_id', P, out);
    expect(r).toMatchObject({ rowsIn: 4, kept: 2, removed: 2 });
    expect(readFileSync(out, 'utf8')).toBe(`record_id,customer_id,note\nR2,${Q},"has, comma"\nR4,${Q},"quote ""q"""\n`);
    rmSync(dir, { recursive: true, force: true });
  });

  it('matches only the named column', async () => {
    const r = await rewriteCsv(Readable.from([`record_id,customer_id,meter_id\nR1,${Q},${P}\n`]), 'customer_id', P);
    expect(r).toMatchObject({ removed: 0, kept: 1 });
  });
});

describe('streamContains', () => {
  it('finds a needle split across chunks, and nothing when absent', async () => {
    const chunks = ['xxxx' + P.slice(0, 30), P.slice(30, 50), P.slice(50) + 'yyyy'].map((s) => Buffer.from(s));
    expect(await streamContains(Readable.from(chunks), Buffer.from(P))).toBe(true);
    expect(await streamContains(Readable.from(chunks), Buffer.from(Q))).toBe(false);
  });
});
