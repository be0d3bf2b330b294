import { open, truncate, type FileHandle } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { createHash, type Hash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

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
 */
export class LiveJoin {
  private cancelled = false;
  private secondDone = false;
  /** Bytes of the second spool appended (after its header line). */
  appended = 0;
  /** sha256 of the first spool and the appended bytes, not digested. */
  hash: Hash | undefined;
  private readonly task: Promise<boolean>;

  /**
   * @param first the first range's spool file and its size in bytes
   * @param second the second range's spool file (it may not exist yet), whose first `lead` bytes
   * (the CSV header line) are skipped
   * @param secondEnded settles when the second range has ended (its spool is then complete)
   */
  constructor(
    readonly first: { file: string; bytes: number },
    readonly second: { file: string; lead: number },
    secondEnded: Promise<unknown>,
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

  /** The join is the one wanted: the second part is this spool, `bytes` long, header included. */
  matches(part: { file: string; bytes: number; lead: number }): boolean {
    return part.file === this.second.file && part.lead === this.second.lead && part.bytes - part.lead === this.appended && this.hash !== undefined;
  }

  /** Give the first spool back its own bytes (after {@link finished}). */
  async undo(): Promise<void> {
    if (this.appended > 0) await truncate(this.first.file, this.first.bytes);
    this.appended = 0;
    this.hash = undefined;
  }

  private async run(): Promise<boolean> {
    const hash = createHash('sha256');
    for await (const chunk of createReadStream(this.first.file, { highWaterMark: 1 << 20, end: this.first.bytes - 1 }) as AsyncIterable<Buffer>) hash.update(chunk);
    let input: FileHandle | undefined;
    const output = await open(this.first.file, 'a');
    const buf = Buffer.allocUnsafe(1 << 20);
    let offset = this.second.lead;
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
          const bytes = buf.subarray(0, bytesRead);
          hash.update(bytes);
          await output.write(bytes);
          offset += bytesRead;
          this.appended += bytesRead;
          continue;
        }
        if (ended) break;
        await sleep(POLL_MS);
      }
    } finally {
      await input?.close();
      await output.close();
    }
    this.hash = hash;
    return true;
  }
}

/** How long the join waits for the second range to write more, ms. */
const POLL_MS = 15;
