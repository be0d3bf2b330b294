import { closeSync, createReadStream, openSync, readSync } from 'node:fs';
import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual, type Hmac } from 'node:crypto';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { DataError } from './errors.js';

/**
 * Nothing raw outlives a process on disk (issue 22, item 2): a spool file that holds raw input
 * (the copy of standard input, of a FIFO, a character device or a socket) is written encrypted
 * with AES-256-CTR (NIST SP 800-38A) under a random key and IV made for that file, kept only in
 * the process's memory (and handed to its own worker threads as plain data): a run killed by
 * SIGKILL or a power cut leaves bytes nobody can read, which the next run's recovery deletes as
 * before (src/table/recover.ts). Integrity: HMAC-SHA256 (RFC 2104) over the ciphertext, under a
 * second random key, computed while writing and checked by the first full read (the source
 * scan), so a spool changed behind the run's back fails it (exit 1).
 *
 * CTR keeps sizes and offsets: byte i of the plaintext is byte i of the file, so readers can
 * start anywhere (parallel ranges) by starting the counter at block i / 16.
 */

/** What a reader needs to decrypt one spool file: plain data (crosses to worker threads). */
export interface SpoolCipher {
  /** AES-256 key, 32 bytes. */
  key: Uint8Array;
  /** Initial counter block, 16 bytes. */
  iv: Uint8Array;
  /** HMAC-SHA256 key, 32 bytes. */
  macKey: Uint8Array;
  /** HMAC-SHA256 of the whole ciphertext, set when writing ends. */
  tag?: Uint8Array;
}

/** A fresh cipher for one file (random key, IV and MAC key from the OS's CSPRNG). */
export function newSpoolCipher(): SpoolCipher {
  return { key: new Uint8Array(randomBytes(32)), iv: new Uint8Array(randomBytes(16)), macKey: new Uint8Array(randomBytes(32)) };
}

/** The counter block for byte `offset`: the IV plus offset / 16, as a 128-bit big-endian number. */
function counterAt(iv: Uint8Array, offset: number): Buffer {
  const block = Buffer.from(iv);
  let carry = BigInt(Math.floor(offset / 16));
  for (let i = 15; i >= 0 && carry > 0n; i--) {
    const sum = BigInt(block[i]!) + (carry & 0xffn);
    block[i] = Number(sum & 0xffn);
    carry = (carry >> 8n) + (sum >> 8n);
  }
  return block;
}

/**
 * A Transform that encrypts what goes through it with `cipher` and sets `cipher.tag` when it ends.
 */
export function encryptingStream(cipher: SpoolCipher): Transform {
  const aes = createCipheriv('aes-256-ctr', cipher.key, cipher.iv);
  const mac = createHmac('sha256', cipher.macKey);
  return new Transform({
    transform(chunk: Buffer, _enc, callback: TransformCallback) {
      const out = aes.update(chunk);
      mac.update(out);
      callback(null, out);
    },
    flush(callback: TransformCallback) {
      const out = aes.final();
      if (out.length) mac.update(out);
      cipher.tag = new Uint8Array(mac.digest());
      callback(null, out.length ? out : undefined);
    },
  });
}

/** A decrypting Transform for ciphertext that starts at byte `offset` of the file. */
function decipherFrom(cipher: SpoolCipher, offset: number, mac?: Hmac): Transform {
  const aes = createDecipheriv('aes-256-ctr', cipher.key, counterAt(cipher.iv, offset));
  let skip = offset % 16;
  if (skip) aes.update(Buffer.alloc(skip)); // advance within the first block
  skip = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, callback: TransformCallback) {
      mac?.update(chunk);
      callback(null, aes.update(chunk));
    },
    flush(callback: TransformCallback) {
      if (mac && cipher.tag) {
        const got = mac.digest();
        if (!timingSafeEqual(got, Buffer.from(cipher.tag))) return callback(new DataError('a spool file of this run was changed on disk while the run read it (its HMAC does not match); nothing was committed', { hint: 'check who else writes to WATT_HOME/tmp, then run again' }));
      }
      callback();
    },
  });
}

/**
 * Read `file` from `start` to `end` (inclusive, like fs.createReadStream), decrypted when
 * `cipher` is given. With `verify` (a read of the whole file) the HMAC is checked at the end.
 */
export function readSpoolStream(file: string, cipher: SpoolCipher | undefined, options: { start?: number; end?: number; highWaterMark?: number; signal?: AbortSignal; verify?: boolean } = {}): Readable {
  const raw = createReadStream(file, options);
  if (!cipher) return raw;
  const whole = options.verify === true && (options.start ?? 0) === 0 && options.end === undefined;
  const out = decipherFrom(cipher, options.start ?? 0, whole ? createHmac('sha256', cipher.macKey) : undefined);
  raw.on('error', (err) => out.destroy(err));
  options.signal?.addEventListener('abort', () => raw.destroy(), { once: true });
  return raw.pipe(out);
}

/** `length` bytes of `file` from `start`, decrypted when `cipher` is given (synchronous; small reads). */
export function readSpoolRangeSync(file: string, cipher: SpoolCipher | undefined, start: number, length: number): Buffer {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(length);
    let got = 0;
    while (got < length) {
      const n = readSync(fd, buf, got, length - got, start + got);
      if (n === 0) break;
      got += n;
    }
    const bytes = buf.subarray(0, got);
    if (!cipher) return bytes;
    const aes = createDecipheriv('aes-256-ctr', cipher.key, counterAt(cipher.iv, start));
    if (start % 16) aes.update(Buffer.alloc(start % 16));
    return aes.update(bytes);
  } finally {
    closeSync(fd);
  }
}
