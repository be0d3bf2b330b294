/**
 * Worker-thread entry of `watt ingest`: transforms one byte range of the source (see
 * transform.ts) and posts progress, then the outcome or the error, to the main thread.
 * workerData: { job: RangeJob, schemaFile: string, key: Uint8Array }.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { WattError } from '../errors.js';
import { loadSchema } from '../records/schema.js';
import { transformRange, type RangeJob } from './transform.js';

const { job, schemaFile, key } = workerData as { job: RangeJob; schemaFile: string; key: Uint8Array };
try {
  const outcome = await transformRange(job, loadSchema(schemaFile), key, undefined, (rows, bytes) => parentPort!.postMessage({ type: 'progress', rows, bytes }));
  parentPort!.postMessage({ type: 'done', outcome });
} catch (err) {
  const e = err as Error;
  parentPort!.postMessage({
    type: 'error',
    error: { name: e.name, message: e.message, exitCode: err instanceof WattError ? err.exitCode : undefined, hint: err instanceof WattError ? err.hint : undefined },
  });
}
