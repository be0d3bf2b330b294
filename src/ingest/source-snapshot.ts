import { close, closeSync, constants, createReadStream, open, openSync, type BigIntStats } from 'node:fs';
import { stat } from 'node:fs/promises';
import net from 'node:net';
import type { Readable } from 'node:stream';
import { DataError, UsageError } from '../errors.js';
import { interruptedError } from '../signals.js';

/**
 * Sources are snapshots (issue 22, item 1): what a run hashes is exactly what it reads.
 *
 * - A regular file is read in place (once to hash and find split points, then in parallel
 *   ranges), so it must not change while the run reads it: its identity (device, inode), size
 *   and modification time (nanoseconds) are taken before the first read and compared after the
 *   hash and again after the last read. A difference fails the run with "source changed while it
 *   was read" (exit 1) before anything reaches the lake: an export still being written is not
 *   landed half, and a later run of the finished file does not land its first rows twice.
 * - Anything else that can be opened (a FIFO, a character device, a UNIX socket) is a stream:
 *   {@link openStreamSource} opens it without blocking the event loop, so that SIGINT/SIGTERM
 *   are honoured while it waits for a writer, and the caller copies it to the spool like
 *   standard input (src/ingest/sources.ts), then ingests the copy.
 */

/** What identifies the bytes of a regular file at one moment. */
export interface SourceSnapshot {
  dev: bigint;
  ino: bigint;
  /** Bytes. */
  size: number;
  /** Modification time, nanoseconds since the epoch. */
  mtimeNs: bigint;
}

/** The snapshot of a stat(2) result. */
export function snapshotOf(s: BigIntStats): SourceSnapshot {
  return { dev: s.dev, ino: s.ino, size: Number(s.size), mtimeNs: s.mtimeNs };
}

/**
 * Check that `file` is still the file of `before` (same device, inode, size, modification time)
 * and, when given, that `bytesRead` (what the hash covered) is its size.
 * @param label how messages call the source (its sha256 label or `source`: the path may hold a name)
 * @throws DataError (exit 1) "source changed while it was read", naming what changed;
 *   UsageError (2) if the file can no longer be read (removed, replaced by a folder).
 */
export async function assertSourceUnchanged(file: string, before: SourceSnapshot, label: string, bytesRead?: number): Promise<void> {
  let now: SourceSnapshot;
  try {
    now = snapshotOf(await stat(file, { bigint: true }));
  } catch (err) {
    throw new UsageError(`${label}: source changed while it was read (it can no longer be read: ${(err as NodeJS.ErrnoException).code ?? 'error'}); nothing was committed`, {
      hint: 'ingest a file once it is complete (write it elsewhere, then move it into place)',
    });
  }
  const changes: string[] = [];
  if (now.dev !== before.dev || now.ino !== before.ino) changes.push('replaced by another file');
  if (now.size !== before.size) changes.push(`size ${before.size} -> ${now.size} bytes`);
  if (now.mtimeNs !== before.mtimeNs) changes.push('modification time changed');
  if (bytesRead !== undefined && bytesRead !== before.size) changes.push(`${bytesRead} bytes read of ${before.size}`);
  if (changes.length) {
    throw new DataError(`${label}: source changed while it was read (${changes.join(', ')}); nothing was committed`, {
      hint: 'ingest a file once it is complete (write it elsewhere, then move it into place), or pipe a finished copy with --source -',
    });
  }
}

/** Kind of a source that is not a regular file nor a folder, or undefined for a regular file. */
export function streamKind(s: { isFIFO(): boolean; isCharacterDevice(): boolean; isSocket(): boolean }): 'fifo' | 'character device' | 'socket' | undefined {
  return s.isFIFO() ? 'fifo' : s.isCharacterDevice() ? 'character device' : s.isSocket() ? 'socket' : undefined;
}

/**
 * Open a FIFO, a character device or a UNIX socket for reading, as a stream, without ever
 * blocking the event loop, and give up when `signal` aborts:
 * - a FIFO's open(2) blocks until a writer opens it: it runs in libuv's thread pool, and on abort
 *   watt opens the FIFO for writing itself (O_NONBLOCK) and closes it at once, which ends the
 *   wait; the stream is then read through the event loop (a pipe handle), so a writer that stays
 *   silent never holds a thread;
 * - a character device is read with fs streams (reads of /dev/zero-like devices do not block);
 * - a socket is connected to (connect(2) on its path).
 * @throws InterruptedError (130/143) when `signal` aborts while waiting for a writer;
 *   UsageError (2) when it cannot be opened.
 */
export async function openStreamSource(file: string, kind: 'fifo' | 'character device' | 'socket', signal?: AbortSignal): Promise<Readable> {
  if (signal?.aborted) throw interruptedError(signal, 'interrupted before the source was opened');
  if (kind === 'socket') {
    return await new Promise<Readable>((resolve, reject) => {
      const socket = net.createConnection({ path: file });
      const onAbort = () => socket.destroy(interruptedError(signal, 'interrupted while connecting to the source socket'));
      signal?.addEventListener('abort', onAbort, { once: true });
      socket.once('connect', () => {
        signal?.removeEventListener('abort', onAbort);
        socket.end(); // read only
        resolve(socket);
      });
      socket.once('error', (err: NodeJS.ErrnoException) => {
        signal?.removeEventListener('abort', onAbort);
        reject(signal?.aborted ? interruptedError(signal, 'interrupted while connecting to the source socket') : new UsageError(`cannot connect to source socket ${file}: ${err.code ?? err.message}`));
      });
    });
  }
  const unblock = () => {
    // A reader blocked in open(2) is released when a writer opens the FIFO; the writer closes at
    // once, so the reader sees end of file (and the run, being aborted, stops).
    try {
      closeSync(openSync(file, constants.O_WRONLY | constants.O_NONBLOCK));
    } catch {
      // no reader waiting (ENXIO) or not a FIFO: nothing to release
    }
  };
  if (kind === 'fifo') signal?.addEventListener('abort', unblock, { once: true });
  let fd: number;
  try {
    fd = await new Promise<number>((resolve, reject) => open(file, 'r', (err, d) => (err ? reject(err) : resolve(d))));
  } catch (err) {
    throw signal?.aborted ? interruptedError(signal, 'interrupted while waiting for a writer') : new UsageError(`cannot open source ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  } finally {
    signal?.removeEventListener('abort', unblock);
  }
  if (signal?.aborted) {
    close(fd, () => undefined);
    throw interruptedError(signal, 'interrupted while waiting for a writer');
  }
  if (kind === 'fifo') {
    // A pipe handle: reads go through epoll, so a silent writer holds no thread and abort is immediate.
    // The socket owns the descriptor from now on (closed when the stream ends or is destroyed).
    const socket = new net.Socket({ fd, readable: true, writable: false });
    return socket;
  }
  return createReadStream(file, { fd, highWaterMark: 1 << 20 });
}
