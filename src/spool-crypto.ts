import { appendFileSync, closeSync, createReadStream, openSync, readSync, statSync, truncateSync, writeFileSync, writeSync, writevSync } from 'node:fs';
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes, type Cipher, type CipherGCM, type Decipher, type DecipherGCM } from 'node:crypto';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform, Writable, type Readable, type TransformCallback } from 'node:stream';
import { DataError } from './errors.js';

/**
 * Nothing raw outlives a process on disk (issue 22, item 2). Every spool file a run writes under
 * `WATT_HOME/tmp` (the copy of standard input, of a FIFO, a character device or a socket; the
 * partition spools of each byte range, CSV or Parquet, and the joined object of each partition
 * day before it is uploaded; the Parquet sink's per-day `.rows` spools; the quarantine file before
 * upload; erasure's copies of lake objects) goes through the one writer and reader of this module:
 *
 * - AES-256-GCM (NIST SP 800-38D) under a key and 96-bit IV that live only in the process's
 *   memory (handed to its own worker threads as plain data), never on disk: a run killed by
 *   SIGKILL or a power cut leaves bytes nobody can read, which the next run's recovery deletes as
 *   before (src/table/recover.ts).
 * - Integrity: GCM's 128-bit authentication tag over each segment, computed while writing and
 *   checked by every read that covers a whole segment (the source scan, the sha256 of an object,
 *   the join of parts, the upload, the replay of a row spool), so a spool changed behind the run's
 *   back fails it (exit 1) instead of landing other bytes than those hashed.
 * - Framing: a file is a list of segments (in memory, not in the file), each with its own key and
 *   IV. A writer that creates a file opens its first segment; a later append (a join of parts, a
 *   Parquet footer) opens a new segment with fresh random keys, so no key stream ever covers two
 *   different plaintexts, even after a truncation (a join undone). A segment holds at most
 *   {@link MAX_SEGMENT_BYTES} (GCM's 2^32 counter blocks).
 * - Keys: fresh random bytes from the OS's CSPRNG per segment, or, for files that worker
 *   threads create while the main thread follows them (the live join of CSV ranges), derived
 *   with HKDF-SHA256 (RFC 5869) from a random 256-bit secret per byte-range job and the file's
 *   name; a job re-run gets a new secret, and a job creates each of its files once.
 *
 * GCM encrypts in counter mode: byte i of the plaintext is byte i of the file, so readers can start
 * anywhere (parallel ranges of a spooled standard input) with AES-256-CTR from GCM's counter
 * block for byte i (IV || 2 + i / 16); such partial reads are not authenticated, whole reads are.
 * AES-256-GCM rather than CTR + HMAC-SHA256: 5-7 times less CPU on this machine (AES-NI, VAES
 * and carry-less multiply): docs/benchmarks.md "Spool encryption everywhere".
 */

/** One segment of a spool file: the bytes from `start` to the next segment's start (or the end). */
export interface SpoolSegment {
  /** Plaintext (= file) offset of the segment's first byte. */
  start: number;
  /** AES-256 key, 32 bytes. */
  key: Uint8Array;
  /** GCM IV (nonce), 12 bytes. */
  iv: Uint8Array;
  /** GCM authentication tag of the segment, 16 bytes, set when its writer closes. */
  tag?: Uint8Array;
  /** Bytes in the segment, set when its writer closes. */
  length?: number;
}

/**
 * What a reader needs to decrypt one spool file: its segments in order. Plain data (crosses to
 * worker threads); never written to disk, never logged.
 */
export interface SpoolCipher {
  segments: SpoolSegment[];
}

/** A fresh, empty cipher for a file (segments are added by {@link SpoolWriter}). */
export function newSpoolCipher(): SpoolCipher {
  return { segments: [] };
}

/** A random 256-bit secret from which a job's spool keys are derived ({@link derivedSegment}). */
export function newSpoolSecret(): Uint8Array {
  return new Uint8Array(randomBytes(32));
}

/** Most bytes in one segment: GCM counts 2^32 - 2 blocks of 16 bytes under one IV. */
export const MAX_SEGMENT_BYTES = (2 ** 32 - 2) * 16;

/**
 * Most bytes given to one cipher `update` call (see {@link updateSlices}).
 */
const CRYPTO_SLICE_BYTES = 64 * 1024;

/**
 * `aes.update(bytes)` fed at most {@link CRYPTO_SLICE_BYTES} at a time: the outputs, in order (GCM
 * and CTR give one output byte per input byte, so they concatenate to the one-call output). Each
 * call allocates its output; glibc serves outputs over 128 KiB from fresh mmap(2) pages until its
 * threshold adapts, so a process's first megabytes through 256 KiB or 1 MiB calls ran at
 * 0.4 GB/s, and at 2.5 GB/s in 64 KiB slices (docs/benchmarks.md, "Unordered exports: the serial phases").
 */
function updateSlices(aes: Cipher | Decipher, bytes: Uint8Array): Buffer[] {
  if (bytes.length <= CRYPTO_SLICE_BYTES) return [aes.update(bytes)];
  const out: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += CRYPTO_SLICE_BYTES) out.push(aes.update(bytes.subarray(at, Math.min(at + CRYPTO_SLICE_BYTES, bytes.length))));
  return out;
}

/** Append every buffer of `parts` to `file`, whole: one writev(2), then plain writes for whatever it left. */
function appendAllSync(file: string, parts: readonly Uint8Array[]): void {
  const fd = openSync(file, 'a');
  try {
    let done = writevSync(fd, parts as Uint8Array[]);
    for (const part of parts) {
      if (done >= part.length) {
        done -= part.length;
        continue;
      }
      for (let at = done; at < part.length; ) at += writeSync(fd, part, at, part.length - at);
      done = 0;
    }
  } finally {
    closeSync(fd);
  }
}

function randomSegment(start: number): SpoolSegment {
  return { start, key: new Uint8Array(randomBytes(32)), iv: new Uint8Array(randomBytes(12)) };
}

/**
 * The first segment of `file` created by a job holding `secret`: key and IV from
 * HKDF-SHA256(secret, info = the file's base name). Any thread holding the secret can read the
 * file while it grows.
 */
export function derivedSegment(secret: Uint8Array, file: string): SpoolSegment {
  const okm = Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), `watt spool v2 ${path.basename(file)}`, 44));
  return { start: 0, key: new Uint8Array(okm.subarray(0, 32)), iv: new Uint8Array(okm.subarray(32, 44)) };
}

/**
 * GCM's counter block for byte `offset` of a segment: with a 96-bit IV, J0 = IV || 1 and plaintext
 * block i is encrypted under IV || (2 + i) (NIST SP 800-38D §7.1, inc32).
 */
function counterAt(iv: Uint8Array, offset: number): Buffer {
  const block = Buffer.alloc(16);
  block.set(iv, 0);
  block.writeUInt32BE((2 + Math.floor(offset / 16)) >>> 0, 12);
  return block;
}

/** An AES-256-CTR decipher positioned at byte `offset` of a GCM `segment` (not authenticated). */
function ctrAt(segment: SpoolSegment, offset: number): Decipher {
  const aes = createDecipheriv('aes-256-ctr', segment.key, counterAt(segment.iv, offset));
  if (offset % 16) aes.update(Buffer.alloc(offset % 16)); // advance within the first block
  return aes;
}

/** An AES-256-GCM decipher of a whole sealed segment: its `final()` throws when the tag does not match. */
function gcmDecipher(segment: SpoolSegment): DecipherGCM {
  const d = createDecipheriv('aes-256-gcm', segment.key, segment.iv);
  d.setAuthTag(segment.tag!);
  return d;
}

/** `final()` of a GCM decipher: a tag mismatch is the run's integrity failure. */
function gcmCheck(d: DecipherGCM): void {
  try {
    d.final();
  } catch {
    throw tampered();
  }
}

/** The integrity failure every reader reports (exit 1: nothing is committed). */
function tampered(): DataError {
  return new DataError('a spool file of this run was changed on disk while the run used it (its GCM tag does not match); nothing was committed', { hint: 'check who else writes to WATT_HOME/tmp, then run again' });
}

/**
 * The one writer of spool files: synchronous appends (worker threads and small buffers; no file
 * descriptor stays open between writes), encrypted into one segment of the file's
 * {@link SpoolCipher}. {@link close} seals the segment (its GCM tag and length).
 */
export class SpoolWriter {
  private readonly aes: CipherGCM;
  private readonly segment: SpoolSegment;
  /** Bytes written through this writer. */
  written = 0;
  private closed = false;

  private constructor(
    readonly file: string,
    readonly cipher: SpoolCipher,
    segment: SpoolSegment,
  ) {
    this.segment = segment;
    this.aes = createCipheriv('aes-256-gcm', segment.key, segment.iv);
    cipher.segments.push(segment);
  }

  /**
   * Create (or truncate) `file`, private (0600), with a first segment keyed from `secret` when
   * given ({@link derivedSegment}), else random.
   */
  static create(file: string, secret?: Uint8Array): SpoolWriter {
    writeFileSync(file, '', { mode: 0o600 });
    return new SpoolWriter(file, newSpoolCipher(), secret ? derivedSegment(secret, file) : randomSegment(0));
  }

  /**
   * Append to an existing spool file whose bytes are described by `cipher` (its segments): a new
   * segment with fresh random keys starts at the file's current size.
   */
  static append(file: string, cipher: SpoolCipher): SpoolWriter {
    return new SpoolWriter(file, cipher, randomSegment(statSync(file).size));
  }

  /** Encrypt and append `data` (a string is written as UTF-8). */
  write(data: Uint8Array | string): void {
    if (this.closed) throw new Error(`spool ${path.basename(this.file)} is closed`);
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    if (bytes.length === 0) return;
    if (this.written + bytes.length > MAX_SEGMENT_BYTES) throw new Error(`spool ${path.basename(this.file)} would pass ${MAX_SEGMENT_BYTES} bytes in one segment`);
    const out = updateSlices(this.aes, bytes);
    if (out.length === 1) appendFileSync(this.file, out[0]!);
    else appendAllSync(this.file, out);
    this.written += bytes.length;
  }

  /** Seal the segment: its GCM tag and length. Returns the file's cipher. Idempotent. */
  close(): SpoolCipher {
    if (!this.closed) {
      this.closed = true;
      const rest = this.aes.final(); // GCM: empty
      if (rest.length) {
        appendFileSync(this.file, rest);
        this.written += rest.length;
      }
      this.segment.tag = new Uint8Array(this.aes.getAuthTag());
      this.segment.length = this.written;
    }
    return this.cipher;
  }
}

/**
 * A Transform that encrypts what goes through it into a new first segment of `cipher` (for
 * streams written with back-pressure, e.g. standard input copied to its spool); the segment is
 * sealed when the stream ends.
 */
export function encryptingStream(cipher: SpoolCipher): Transform {
  const segment = randomSegment(0);
  cipher.segments.push(segment);
  const aes = createCipheriv('aes-256-gcm', segment.key, segment.iv);
  let length = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, callback: TransformCallback) {
      if (length + chunk.length > MAX_SEGMENT_BYTES) return callback(new Error(`a spool would pass ${MAX_SEGMENT_BYTES} bytes in one segment`));
      const out = aes.update(chunk);
      length += out.length;
      callback(null, out);
    },
    flush(callback: TransformCallback) {
      const out = aes.final();
      length += out.length;
      segment.tag = new Uint8Array(aes.getAuthTag());
      segment.length = length;
      callback(null, out.length ? out : undefined);
    },
  });
}

/** Index of the segment holding byte `offset`. */
function segmentAt(cipher: SpoolCipher, offset: number): number {
  const s = cipher.segments;
  let i = s.length - 1;
  while (i > 0 && s[i]!.start > offset) i--;
  return i;
}

/**
 * Decrypts ciphertext read from byte `offset` of a file, across segment boundaries; checks the
 * GCM tag of every segment it reads whole when `verify` is set.
 */
class SpoolDecipher extends Transform {
  private index: number;
  private pos: number;
  private aes: Decipher | undefined;
  /** Set while the current segment is read whole under GCM (its tag checked at its end). */
  private gcm: DecipherGCM | undefined;

  constructor(
    private readonly cipher: SpoolCipher,
    offset: number,
    private readonly verify: boolean,
  ) {
    super();
    this.pos = offset;
    this.index = segmentAt(cipher, offset);
  }

  /** Where the current segment ends (Infinity for the last one while it is open). */
  private segmentEnd(): number {
    const s = this.cipher.segments;
    const next = s[this.index + 1];
    if (next) return next.start;
    const seg = s[this.index]!;
    return seg.length !== undefined ? seg.start + seg.length : Infinity;
  }

  private open(): void {
    const seg = this.cipher.segments[this.index]!;
    this.gcm = this.verify && this.pos === seg.start && seg.tag ? gcmDecipher(seg) : undefined;
    this.aes = this.gcm ?? ctrAt(seg, this.pos - seg.start);
  }

  private check(): void {
    if (this.gcm) gcmCheck(this.gcm);
    this.gcm = undefined;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
    try {
      let at = 0;
      while (at < chunk.length) {
        if (this.index >= this.cipher.segments.length) throw new DataError('a spool file of this run is longer than the run wrote it; nothing was committed', { hint: 'check who else writes to WATT_HOME/tmp, then run again' });
        if (!this.aes) this.open();
        const end = this.segmentEnd();
        const n = Math.min(chunk.length - at, end - this.pos);
        if (n <= 0) throw new DataError('a spool file of this run is longer than the run wrote it; nothing was committed', { hint: 'check who else writes to WATT_HOME/tmp, then run again' });
        const piece = chunk.subarray(at, at + n);
        for (const out of updateSlices(this.aes!, piece)) this.push(out);
        at += n;
        this.pos += n;
        if (this.pos === end) {
          this.check();
          this.aes = undefined;
          this.index++;
        }
      }
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    // A verified read that stops inside a segment it started whole: the file is shorter than written.
    if (this.gcm) return callback(tampered());
    callback();
  }
}

/**
 * Read `file` from `start` to `end` (inclusive, like fs.createReadStream), decrypted when
 * `cipher` is given. With `verify`, the GCM tag of every segment read from its start to its end is
 * checked (a read of the whole file checks them all); a mismatch fails the stream with a
 * DataError (exit 1).
 */
export function readSpoolStream(file: string, cipher: SpoolCipher | undefined, options: { start?: number; end?: number; highWaterMark?: number; signal?: AbortSignal; verify?: boolean } = {}): Readable {
  const raw = createReadStream(file, { start: options.start, end: options.end, highWaterMark: options.highWaterMark ?? 1 << 20 });
  if (!cipher) return raw;
  const out = new SpoolDecipher(cipher, options.start ?? 0, options.verify === true);
  raw.on('error', (err) => out.destroy(err));
  options.signal?.addEventListener('abort', () => raw.destroy(), { once: true });
  return raw.pipe(out);
}

/** Decrypt `bytes` read at file offset `start` (CTR: no integrity check; whole reads verify). */
export function decryptAt(cipher: SpoolCipher, start: number, bytes: Buffer): Buffer {
  if (!cipher.segments.length) return bytes;
  const out = Buffer.allocUnsafe(bytes.length);
  let at = 0;
  let i = segmentAt(cipher, start);
  while (at < bytes.length) {
    const seg = cipher.segments[i]!;
    const next = cipher.segments[i + 1];
    const pos = start + at;
    const n = next ? Math.min(bytes.length - at, next.start - pos) : bytes.length - at;
    ctrAt(seg, pos - seg.start).update(bytes.subarray(at, at + n)).copy(out, at);
    at += n;
    i++;
  }
  return out;
}

/** `length` bytes of `file` from `start`, decrypted when `cipher` is given (synchronous; small or random reads). */
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
    return cipher ? decryptAt(cipher, start, bytes) : bytes;
  } finally {
    closeSync(fd);
  }
}

/**
 * The plaintext of a whole spool file, in order, read synchronously `chunkBytes` at a time (worker
 * threads that replay a spool), every segment's GCM tag checked at its end.
 * @throws DataError when a segment does not match its GCM tag or the file is shorter or longer than written
 */
export function* spoolChunksSync(file: string, cipher: SpoolCipher, chunkBytes = 1 << 20): Generator<Buffer> {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(chunkBytes);
    const segments = cipher.segments;
    let pos = 0;
    for (let i = 0; i < segments.length; i++) {
      const seg = segments[i]!;
      const end = segments[i + 1]?.start ?? seg.start + (seg.length ?? Infinity);
      const gcm = seg.tag ? gcmDecipher(seg) : undefined;
      const aes = gcm ?? ctrAt(seg, 0);
      while (pos < end) {
        const n = readSync(fd, buf, 0, Math.min(buf.length, end - pos), pos);
        if (n === 0) {
          if (end === Infinity) break;
          throw tampered();
        }
        const piece = buf.subarray(0, n);
        pos += n;
        yield aes.update(piece);
      }
      if (gcm) gcmCheck(gcm);
    }
    if (readSync(fd, buf, 0, 1, pos) !== 0) throw tampered();
  } finally {
    closeSync(fd);
  }
}

/**
 * Append the plaintext of spool `from` (without its first `skip` bytes; every segment it reads
 * whole verified) to spool `to`, as a new segment of `toCipher`.
 * @returns bytes appended
 */
export async function appendSpool(from: string, fromCipher: SpoolCipher, to: string, toCipher: SpoolCipher, skip = 0): Promise<number> {
  const writer = SpoolWriter.append(to, toCipher);
  try {
    for await (const chunk of readSpoolStream(from, fromCipher, { start: skip, verify: true }) as AsyncIterable<Buffer>) writer.write(chunk);
  } finally {
    writer.close();
  }
  return writer.written;
}

/** sha256 (hex) of a spool file's plaintext, every segment verified. */
export async function sha256Spool(file: string, cipher: SpoolCipher, signal?: AbortSignal): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(readSpoolStream(file, cipher, { verify: true }), hash, signal ? { signal } : {});
  return hash.digest('hex');
}

/**
 * The plaintext of a whole spool file in memory, verified (small files: the upload of an object
 * that fits one request).
 */
export async function readSpoolFile(file: string, cipher: SpoolCipher): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of readSpoolStream(file, cipher, { verify: true }) as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** Cut a spool file back to `length` bytes, dropping the segments that start at or after it. */
export function truncateSpool(file: string, cipher: SpoolCipher, length: number): void {
  truncateSync(file, length);
  cipher.segments = cipher.segments.filter((s) => s.start < length);
}

/**
 * A Writable over a new spool file (random keys): for pipelines that end in a file. Its cipher is
 * complete once the stream has finished.
 */
export function spoolWriteStream(file: string): { stream: Writable; cipher: SpoolCipher } {
  const writer = SpoolWriter.create(file);
  const stream = new Writable({
    write(chunk: Buffer, _enc, callback) {
      try {
        writer.write(chunk);
        callback();
      } catch (err) {
        callback(err as Error);
      }
    },
    final(callback) {
      writer.close();
      callback();
    },
  });
  return { stream, cipher: writer.cipher };
}

/**
 * A spool file as hyparquet's AsyncBuffer (random reads of the plaintext, CTR): for Parquet readers
 * of a spooled object. Random reads are not authenticated: check the file once with
 * {@link sha256Spool} (a whole, verified read) before trusting what they return.
 */
export function spoolAsyncBuffer(file: string, cipher: SpoolCipher): { byteLength: number; slice(start: number, end?: number): ArrayBuffer } {
  const byteLength = statSync(file).size;
  return {
    byteLength,
    slice(start: number, end = byteLength): ArrayBuffer {
      const bytes = readSpoolRangeSync(file, cipher, start, Math.max(0, end - start));
      return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) as ArrayBuffer;
    },
  };
}
