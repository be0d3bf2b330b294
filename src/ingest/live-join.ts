import { open, rm, type FileHandle } from 'node:fs/promises';
import { createDecipheriv, createHash, type DecipherGCM, type Hash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { derivedSegment, readSpoolStream, SpoolWriter, truncateSpool, type SpoolCipher } from '../spool-crypto.js';

/**
 * Joins the CSV spool of the second of two ranges onto the first while the second is still being
 * written: once the first range has ended (it is given a little less of the file, scan.ts, so it
 * usually ends first), its spool is hashed, then the second range's spool is followed as it grows
 * (its bytes, once written, never change: the spool is append-only) and appended to the first's,
 * hashing as it goes. When the second range ends, only its last bytes are left to copy: the
 * object and its sha256 are ready a few milliseconds later instead of after a full copy.
 *
 * The join is only kept if it matches the range's final outcome (see {@link LiveJoin.matches});
 * otherwise {@link LiveJoin.undo} truncates the first spool back and the caller joins as usual.
 *
 * Both spools are encrypted (src/spool-crypto.ts): the second one is decrypted (AES-256-GCM, from
 * its first byte) with the keys derived from its job's secret while it grows, and its GCM tag,
 * sealed when the range ends, is checked in {@link matches}; the appended bytes are a new segment
 * of the first spool's cipher (fresh keys), dropped again by {@link undo}.
 *
 * With a `staged` file (a local lake's {@link Lake.stagingFile}), the join is written there in
 * plaintext instead, both spools decrypted into it: the object is then built in the lake while
 * the second range runs, and its upload is one rename (no copy of the joined object after the
 * ranges). The first spool is left as it was; {@link undo} deletes the staged file.
 */
export class LiveJoin {
  private cancelled = false;
  private secondDone = false;
  /** Bytes of the second spool appended (after its header line). */
  appended = 0;
  /** sha256 of the first spool and the appended bytes, not digested. */
  hash: Hash | undefined;
  /** The GCM decipher of the second spool (from byte 0): its tag is checked by {@link matches}. */
  private gcm: DecipherGCM | undefined;
  /** The staged file was created by this join (an existing file at that path is never touched). */
  private stagedCreated = false;
  private readonly task: Promise<boolean>;

  /**
   * @param first the first range's spool file, its size in bytes and its cipher (extended by the join)
   * @param second the second range's spool file (it may not exist yet), whose first `lead` bytes
   * (the CSV header line) are skipped, and the secret its job's keys derive from
   * @param secondEnded settles when the second range has ended (its spool is then complete)
   */
  constructor(
    readonly first: { file: string; bytes: number; cipher: SpoolCipher },
    readonly second: { file: string; lead: number; secret: Uint8Array },
    secondEnded: Promise<unknown>,
    /** Where to build the joined object in plaintext (created here, 0600), instead of appending to the first spool. */
    readonly staged?: string,
  ) {
    secondEnded.then(
      () => (this.secondDone = true),
      () => (this.secondDone = true),
    );
    this.task = this.run().catch(() => false);
  }

  /** Stop following the second spool (a range failed). */
  cancel(): void {
    this.cancelled = true;
  }

  /** Wait for the join: true when the whole second spool was appended and hashed. */
  finished(): Promise<boolean> {
    return this.task;
  }

  /**
   * The join is the one wanted: the second part is this spool, `bytes` long, header included, and
   * the bytes read match its sealed GCM tag (one segment, as its writer sealed it).
   */
  matches(part: { file: string; bytes: number; lead: number; cipher: SpoolCipher }): boolean {
    if (!(part.file === this.second.file && part.lead === this.second.lead && part.bytes - part.lead === this.appended && this.hash !== undefined && this.gcm)) return false;
    const seg = part.cipher.segments;
    if (seg.length !== 1 || !seg[0]!.tag) return false;
    const gcm = this.gcm;
    this.gcm = undefined;
    try {
      gcm.setAuthTag(seg[0]!.tag);
      gcm.final();
      return true;
    } catch {
      return false;
    }
  }

  /** Give the first spool back its own bytes, or delete the staged file (after {@link finished}). */
  async undo(): Promise<void> {
    if (this.staged) {
      if (this.stagedCreated) await rm(this.staged, { force: true });
    } else if (this.appended > 0) truncateSpool(this.first.file, this.first.cipher, this.first.bytes);
    this.appended = 0;
    this.hash = undefined;
    this.gcm = undefined;
  }

  private async run(): Promise<boolean> {
    const hash = createHash('sha256');
    const staged = this.staged ? await open(this.staged, 'wx', 0o600) : undefined;
    this.stagedCreated = staged !== undefined;
    try {
      for await (const chunk of readSpoolStream(this.first.file, this.first.cipher, { end: this.first.bytes - 1, verify: true }) as AsyncIterable<Buffer>) {
        hash.update(chunk);
        if (staged) await writeAll(staged, chunk);
      }
      return await this.follow(hash, staged);
    } finally {
      await staged?.close();
    }
  }

  /** Follow the second spool to its end, appending its bytes (after its header line). */
  private async follow(hash: Hash, staged: FileHandle | undefined): Promise<boolean> {
    let input: FileHandle | undefined;
    const keys = derivedSegment(this.second.secret, this.second.file);
    const gcm = createDecipheriv('aes-256-gcm', keys.key, keys.iv);
    let output: SpoolWriter | undefined;
    const buf = Buffer.allocUnsafe(1 << 20);
    let offset = 0;
    try {
      for (;;) {
        if (this.cancelled) return false;
        // Ended before this read: a read that finds nothing more has reached the true end.
        const ended = this.secondDone;
        if (!input) {
          input = await open(this.second.file, 'r').catch(() => undefined);
          if (!input) {
            if (ended) return false; // the second range wrote no row
            await sleep(POLL_MS);
            continue;
          }
        }
        const { bytesRead } = await input.read(buf, 0, buf.length, offset);
        if (bytesRead > 0) {
          const plain = gcm.update(buf.subarray(0, bytesRead));
          // The header line (the first `lead` bytes) is authenticated, not appended.
          const skip = Math.max(0, Math.min(plain.length, this.second.lead - offset));
          const bytes = plain.subarray(skip);
          offset += bytesRead;
          if (bytes.length) {
            hash.update(bytes);
            if (staged) await writeAll(staged, bytes);
            else {
              output ??= SpoolWriter.append(this.first.file, this.first.cipher);
              output.write(bytes);
            }
            this.appended += bytes.length;
          }
          continue;
        }
        if (ended) break;
        await sleep(POLL_MS);
      }
    } finally {
      await input?.close();
      output?.close();
    }
    this.hash = hash;
    this.gcm = gcm;
    return true;
  }
}

/** Write all of `bytes` at the end of `file` (a write may take fewer bytes than given). */
async function writeAll(file: FileHandle, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.length; ) at += (await file.write(bytes, at, bytes.length - at)).bytesWritten;
}

/** How long the join waits for the second range to write more, ms. */
const POLL_MS = 15;
