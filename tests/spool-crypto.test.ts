/**
 * The one encrypted spool writer and reader (src/spool-crypto.ts): what is written reads back whole
 * and from any offset, across segments; nothing of the plaintext is on disk; a byte changed, a
 * file cut short or grown fails every whole read (exit 1, DataError); an undone append drops its
 * segment.
 */
import { appendFileSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DataError } from '../src/errors.js';
import { appendSpool, encryptingStream, newSpoolCipher, newSpoolSecret, readSpoolFile, readSpoolRangeSync, readSpoolStream, sha256Spool, spoolChunksSync, SpoolWriter, truncateSpool } from '../src/spool-crypto.js';
import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { createWriteStream } from 'node:fs';

const dir = mkdtempSync(path.join(os.tmpdir(), 'watt-spool-crypto-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const text = (n: number, tag: string) => Array.from({ length: n }, (_, i) => `${tag}-${String(i).padStart(7, '0')},CUST-PLAIN-${i % 97},12.5\n`).join('');

async function readAll(s: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

describe('spool files', () => {
  it('read back whole and from any offset across segments; no plaintext on disk', async () => {
    const file = path.join(dir, 'a.csv');
    const first = text(20_000, 'ROW');
    const w = SpoolWriter.create(file, newSpoolSecret());
    for (let at = 0; at < first.length; at += 70_001) w.write(first.slice(at, at + 70_001));
    const cipher = w.close();
    const other = path.join(dir, 'b.csv');
    const second = text(5_000, 'TWO');
    const w2 = SpoolWriter.create(other);
    w2.write(second);
    await appendSpool(other, w2.close(), file, cipher, 100);
    const plain = Buffer.from(first + second.slice(100));
    expect(cipher.segments).toHaveLength(2);
    const disk = readFileSync(file);
    expect(disk.length).toBe(plain.length);
    expect(disk.includes('CUST-PLAIN-')).toBe(false);
    expect((await readSpoolFile(file, cipher)).equals(plain)).toBe(true);
    expect(await sha256Spool(file, cipher)).toBe(createHash('sha256').update(plain).digest('hex'));
    expect(Buffer.concat([...spoolChunksSync(file, cipher, 4096)]).equals(plain)).toBe(true);
    for (const [start, length] of [[0, 1], [15, 2], [16, 33], [1_000_001 % plain.length, 5000], [Buffer.byteLength(first) - 7, 20], [plain.length - 3, 3]] as const) {
      expect(readSpoolRangeSync(file, cipher, start, length).equals(plain.subarray(start, start + length))).toBe(true);
      expect((await readAll(readSpoolStream(file, cipher, { start, end: start + length - 1 }))).equals(plain.subarray(start, start + length))).toBe(true);
    }
  });

  it('writes of any size around the 64 KiB crypto slice read back the same bytes as one write (GCM tag included)', async () => {
    const plain = Buffer.from(text(30_000, 'SLICE')); // ~1.3 MB
    const sizes = [4_093, 65_535, 65_536, 65_537, 131_072, 262_144 + 3, 1 << 20];
    const whole = path.join(dir, 'whole.csv');
    const ww = SpoolWriter.create(whole);
    ww.write(plain);
    expect((await readSpoolFile(whole, ww.close())).equals(plain)).toBe(true);
    for (const size of sizes) {
      const file = path.join(dir, `slices-${size}.csv`);
      const w = SpoolWriter.create(file);
      for (let at = 0; at < plain.length; at += size) w.write(plain.subarray(at, at + size));
      expect(w.written).toBe(plain.length);
      const cipher = w.close();
      expect(readFileSync(file).length).toBe(plain.length);
      expect((await readSpoolFile(file, cipher)).equals(plain)).toBe(true);
      expect(Buffer.concat([...spoolChunksSync(file, cipher)]).equals(plain)).toBe(true);
    }
  });

  it('a changed byte, a file cut short or grown: every whole read fails with DataError', async () => {
    const file = path.join(dir, 'c.csv');
    const w = SpoolWriter.create(file);
    w.write(text(10_000, 'ROW'));
    const cipher = w.close();
    const good = readFileSync(file);
    const bad = Buffer.from(good);
    bad[12_345]! ^= 0x20;
    writeFileSync(file, bad);
    await expect(readSpoolFile(file, cipher)).rejects.toThrow(DataError);
    expect(() => [...spoolChunksSync(file, cipher)]).toThrow(DataError);
    writeFileSync(file, good);
    truncateSync(file, good.length - 1);
    await expect(sha256Spool(file, cipher)).rejects.toThrow(DataError);
    writeFileSync(file, good);
    appendFileSync(file, 'x');
    await expect(readSpoolFile(file, cipher)).rejects.toThrow(DataError);
    expect(() => [...spoolChunksSync(file, cipher)]).toThrow(DataError);
    writeFileSync(file, good);
    expect((await readSpoolFile(file, cipher)).toString()).toBe(text(10_000, 'ROW'));
  });

  it('a stream copy (stdin) is one sealed segment; an undone append drops its segment', async () => {
    const file = path.join(dir, 'stdin');
    const body = text(3_000, 'IN');
    const cipher = newSpoolCipher();
    await pipeline(Readable.from([Buffer.from(body)]), encryptingStream(cipher), createWriteStream(file));
    expect(cipher.segments).toHaveLength(1);
    expect((await readSpoolFile(file, cipher)).toString()).toBe(body);
    const w = SpoolWriter.append(file, cipher);
    w.write('MORE\n');
    w.close();
    expect((await readSpoolFile(file, cipher)).toString()).toBe(body + 'MORE\n');
    truncateSpool(file, cipher, Buffer.byteLength(body));
    expect(cipher.segments).toHaveLength(1);
    expect((await readSpoolFile(file, cipher)).toString()).toBe(body);
  });
});
