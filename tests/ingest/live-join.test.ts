import { createHash } from 'node:crypto';
import { appendFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { LiveJoin } from '../../src/ingest/live-join.js';

const HEADER = 'a,b\n';

function spools() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'watt-live-join-'));
  const first = path.join(dir, 'r0.csv');
  const second = path.join(dir, 'r1.csv');
  const firstBody = HEADER + Array.from({ length: 50_000 }, (_, i) => `x${i},${i}\n`).join('');
  writeFileSync(first, firstBody);
  return { first, second, firstBody };
}

describe('LiveJoin (a second range spool appended while it is written)', () => {
  it('follows a spool created late and written in bursts, then ends with both files joined and hashed', async () => {
    const { first, second, firstBody } = spools();
    let end!: () => void;
    const ended = new Promise<void>((resolve) => (end = resolve));
    const join = new LiveJoin({ file: first, bytes: Buffer.byteLength(firstBody) }, { file: second, lead: HEADER.length }, ended);
    await sleep(40); // the second range has not created its spool yet
    writeFileSync(second, HEADER);
    let written = '';
    for (let burst = 0; burst < 20; burst++) {
      const rows = Array.from({ length: 3_000 }, (_, i) => `y${burst}-${i},${i}\n`).join('');
      appendFileSync(second, rows);
      written += rows;
      await sleep(5);
    }
    end();
    expect(await join.finished()).toBe(true);
    const joined = readFileSync(first);
    expect(joined.toString()).toBe(firstBody + written);
    expect(join.matches({ file: second, bytes: HEADER.length + Buffer.byteLength(written), lead: HEADER.length })).toBe(true);
    expect(join.hash!.digest('hex')).toBe(createHash('sha256').update(joined).digest('hex'));
  });

  it('undo gives the first spool its own bytes back; a different final part does not match', async () => {
    const { first, second, firstBody } = spools();
    writeFileSync(second, HEADER + 'z,1\nz,2\n');
    const join = new LiveJoin({ file: first, bytes: Buffer.byteLength(firstBody) }, { file: second, lead: HEADER.length }, Promise.resolve());
    expect(await join.finished()).toBe(true);
    expect(readFileSync(first, 'utf8')).toBe(firstBody + 'z,1\nz,2\n');
    // The range was re-run and wrote another spool: the live join is not the one wanted.
    expect(join.matches({ file: second, bytes: HEADER.length + 4, lead: HEADER.length })).toBe(false);
    await join.undo();
    expect(readFileSync(first, 'utf8')).toBe(firstBody);
  });

  it('ends without joining when the second range wrote no spool, and stops when cancelled', async () => {
    const { first, second, firstBody } = spools();
    const none = new LiveJoin({ file: first, bytes: Buffer.byteLength(firstBody) }, { file: second, lead: HEADER.length }, Promise.reject(new Error('range failed')));
    expect(await none.finished()).toBe(false);
    const never = new LiveJoin({ file: first, bytes: Buffer.byteLength(firstBody) }, { file: second, lead: HEADER.length }, new Promise(() => undefined));
    never.cancel();
    expect(await never.finished()).toBe(false);
    expect(readFileSync(first, 'utf8')).toBe(firstBody);
  });
});
