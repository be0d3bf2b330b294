/**
 * Cost of encrypting the spool files (issue 22, item 2): a plain copy against an AES-256-GCM copy
 * (src/spool-crypto.ts; the stdin / FIFO path), plain synchronous appends of
 * 256 KiB against the SpoolWriter (the partition spools, Parquet parts, .rows spools), and a plain
 * read against a decrypting, tag-checking read, of a generated CSV. Prints MiB/s, fastest of 3,
 * and the CPU seconds (user + system) of the whole bench.
 * Usage: npm run bench:spool-crypto [-- --mib 32]
 */
import { appendFileSync, createReadStream, createWriteStream, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { encryptingStream, newSpoolCipher, readSpoolStream, SpoolWriter } from '../dist/spool-crypto.js';

const mibArg = process.argv.indexOf('--mib');
const mib = mibArg > 0 ? Number(process.argv[mibArg + 1]) : 32;
const dir = mkdtempSync(path.join(os.tmpdir(), 'watt-bench-crypto-'));
const src = path.join(dir, 'readings.csv');
const line = 'REC-000000,CUST-0001,METER-01,2025-01-01T08:00:00Z,12.4,0.18,false\n';
writeFileSync(src, line.repeat(Math.ceil((mib * 1048576) / line.length)));
const size = statSync(src).size / 1048576;
const best = { copy: Infinity, enc: Infinity, append: Infinity, spool: Infinity, read: Infinity, dec: Infinity };
const text = readFileSync(src);
const CHUNK = 256 * 1024;
const time = async (key, fn) => {
  const t = performance.now();
  await fn();
  best[key] = Math.min(best[key], (performance.now() - t) / 1000);
};
for (let i = 0; i < 3; i++) {
  const cipher = newSpoolCipher();
  await time('copy', () => pipeline(createReadStream(src, { highWaterMark: 1 << 20 }), createWriteStream(path.join(dir, 'plain'))));
  await time('enc', () => pipeline(createReadStream(src, { highWaterMark: 1 << 20 }), encryptingStream(cipher), createWriteStream(path.join(dir, 'enc'))));
  await time('append', () => {
    writeFileSync(path.join(dir, 'plain-a'), '');
    for (let at = 0; at < text.length; at += CHUNK) appendFileSync(path.join(dir, 'plain-a'), text.subarray(at, at + CHUNK));
  });
  await time('spool', () => {
    const w = SpoolWriter.create(path.join(dir, 'spool-a'));
    for (let at = 0; at < text.length; at += CHUNK) w.write(text.subarray(at, at + CHUNK));
    w.close();
  });
  await time('read', async () => {
    for await (const _ of createReadStream(path.join(dir, 'plain'), { highWaterMark: 1 << 20 }));
  });
  await time('dec', async () => {
    for await (const _ of readSpoolStream(path.join(dir, 'enc'), cipher, { highWaterMark: 1 << 20, verify: true }));
  });
}
rmSync(dir, { recursive: true, force: true });
const rate = (s) => `${(size / s).toFixed(0)} MiB/s`;
console.log(`machine: ${os.cpus().length} x ${os.cpus()[0]?.model ?? '?'}, Node ${process.version}; load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
console.log(`${size.toFixed(1)} MiB, fastest of 3: plain copy ${rate(best.copy)}, encrypted copy ${rate(best.enc)}; plain 256 KiB appends ${rate(best.append)}, SpoolWriter appends ${rate(best.spool)}; plain read ${rate(best.read)}, decrypting read + GCM tag ${rate(best.dec)}`);
const cpu = process.cpuUsage();
console.log(`CPU s of the whole bench (user + sys): ${((cpu.user + cpu.system) / 1e6).toFixed(2)}`);
