import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { LiveJoin } from '../../src/ingest/live-join.js';
import { newSpoolSecret, readSpoolFile, SpoolWriter, type SpoolCipher } from '../../src/spool-crypto.js';
import { scratchDirsRemovedAfterAll } from '../helpers/cli.js';

/** Spool folders of this file, removed after its tests (they hold only encrypted test rows). */
const newDir = scratchDirsRemovedAfterAll('watt-live-join-');

const HEADER = 'a,b\n';

/** Both spools encrypted as ingest writes them (src/spool-crypto.ts); the second keyed from its job's secret. */
function spools() {
  const dir = newDir();
  const first = path.join(dir, 'r0.csv');
  const second = path.join(dir, 'r1.csv');
  const firstBody = HEADER + Array.from({ length: 50_000 }, (_, i) => `x${i},${i}\n`).join('');
  const w = SpoolWriter.create(first);
  w.write(firstBody);
  const firstSpool = { file: first, bytes: Buffer.byteLength(firstBody), cipher: w.close() };
  const secret = newSpoolSecret();
  return { first, second, firstBody, firstSpool, secret, dir };
}

const plain = (file: string, cipher: SpoolCipher) => readSpoolFile(file, cipher);

/** A promise the test settles itself: the end of the second range. */
function rangeEnd(): { ended: Promise<void>; end: () => void } {
  let end!: () => void;
  const ended = new Promise<void>((resolve) => (end = resolve));
  return { ended, end };
}

/** The second range writing its spool in bursts (header first), as a worker does: the rows written and the sealed cipher. */
async function writeInBursts(file: string, secret: Uint8Array, bursts: number, rowsPerBurst: number, tag: string): Promise<{ written: string; cipher: SpoolCipher }> {
  const w = SpoolWriter.create(file, secret);
  w.write(HEADER);
  let written = '';
  for (let burst = 0; burst < bursts; burst++) {
    const rows = Array.from({ length: rowsPerBurst }, (_, i) => `${tag}${burst}-${i},${i}\n`).join('');
    w.write(rows);
    written += rows;
    await sleep(5);
  }
  return { written, cipher: w.close() };
}

describe('LiveJoin (a second range spool appended while it is written)', () => {
  it('follows a spool created late and written in bursts, then ends with both files joined and hashed', async () => {
    const { first, second, firstBody, firstSpool, secret } = spools();
    const { ended, end } = rangeEnd();
    const join = new LiveJoin(firstSpool, { file: second, lead: HEADER.length, secret }, ended);
    await sleep(40); // the second range has not created its spool yet
    const { written, cipher: secondCipher } = await writeInBursts(second, secret, 20, 3_000, 'y');
    end();
    expect(await join.finished()).toBe(true);
    expect(readFileSync(first).includes('y1-2999,2999')).toBe(false); // still encrypted
    const joined = await plain(first, firstSpool.cipher);
    expect(joined.toString()).toBe(firstBody + written);
    expect(join.matches({ file: second, bytes: HEADER.length + Buffer.byteLength(written), lead: HEADER.length, cipher: secondCipher })).toBe(true);
    expect(join.hash!.digest('hex')).toBe(createHash('sha256').update(joined).digest('hex'));
  });

  it('undo gives the first spool its own bytes back; a different final part does not match', async () => {
    const { first, second, firstBody, firstSpool, secret } = spools();
    const w = SpoolWriter.create(second, secret);
    w.write(HEADER + 'z,1\nz,2\n');
    const secondCipher = w.close();
    const join = new LiveJoin(firstSpool, { file: second, lead: HEADER.length, secret }, Promise.resolve());
    expect(await join.finished()).toBe(true);
    expect((await plain(first, firstSpool.cipher)).toString()).toBe(firstBody + 'z,1\nz,2\n');
    // The range was re-run and wrote another spool: the live join is not the one wanted.
    expect(join.matches({ file: second, bytes: HEADER.length + 4, lead: HEADER.length, cipher: secondCipher })).toBe(false);
    await join.undo();
    expect(firstSpool.cipher.segments).toHaveLength(1);
    expect((await plain(first, firstSpool.cipher)).toString()).toBe(firstBody);
  });

  it('a second spool changed on disk behind the run does not match its sealed HMAC', async () => {
    const { second, firstSpool, secret } = spools();
    const w = SpoolWriter.create(second, secret);
    w.write(HEADER + 'z,1\nz,2\n');
    const secondCipher = w.close();
    const bytes = readFileSync(second);
    bytes[bytes.length - 2]! ^= 1;
    writeFileSync(second, bytes);
    const join = new LiveJoin(firstSpool, { file: second, lead: HEADER.length, secret }, Promise.resolve());
    expect(await join.finished()).toBe(true);
    expect(join.matches({ file: second, bytes: HEADER.length + 8, lead: HEADER.length, cipher: secondCipher })).toBe(false);
  });

  it('staged: builds the joined object in plaintext in the given file (0600) and leaves the first spool as it was', async () => {
    const { first, second, firstBody, firstSpool, secret, dir } = spools();
    const before = readFileSync(first);
    const staged = path.join(dir, 'staged');
    const { ended, end } = rangeEnd();
    const join = new LiveJoin(firstSpool, { file: second, lead: HEADER.length, secret }, ended, staged);
    const { written, cipher: secondCipher } = await writeInBursts(second, secret, 10, 2_000, 's');
    end();
    expect(await join.finished()).toBe(true);
    const object = readFileSync(staged);
    expect(object.toString()).toBe(firstBody + written);
    expect(statSync(staged).mode & 0o777).toBe(0o600);
    expect(join.matches({ file: second, bytes: HEADER.length + Buffer.byteLength(written), lead: HEADER.length, cipher: secondCipher })).toBe(true);
    expect(join.hash!.digest('hex')).toBe(createHash('sha256').update(object).digest('hex'));
    expect(join.appended).toBe(Buffer.byteLength(written));
    // The first spool keeps its own bytes and its one segment (the fallback join still has it).
    expect(readFileSync(first).equals(before)).toBe(true);
    expect(firstSpool.cipher.segments).toHaveLength(1);
    await join.undo();
    expect(existsSync(staged)).toBe(false);
  });

  it('staged: a path that already exists is not overwritten, and the join reports it did not happen', async () => {
    const { second, firstSpool, secret, dir } = spools();
    const w = SpoolWriter.create(second, secret);
    w.write(HEADER + 'z,1\n');
    w.close();
    const staged = path.join(dir, 'taken');
    writeFileSync(staged, 'someone else');
    const join = new LiveJoin(firstSpool, { file: second, lead: HEADER.length, secret }, Promise.resolve(), staged);
    expect(await join.finished()).toBe(false);
    await join.undo();
    expect(readFileSync(staged, 'utf8')).toBe('someone else');
  });

  it('ends without joining when the second range wrote no spool, and stops when cancelled', async () => {
    const { first, second, firstBody, firstSpool, secret } = spools();
    const none = new LiveJoin(firstSpool, { file: second, lead: HEADER.length, secret }, Promise.reject(new Error('range failed')));
    expect(await none.finished()).toBe(false);
    const never = new LiveJoin(firstSpool, { file: second, lead: HEADER.length, secret }, new Promise(() => undefined));
    never.cancel();
    expect(await never.finished()).toBe(false);
    expect((await plain(first, firstSpool.cipher)).toString()).toBe(firstBody);
  });
});
