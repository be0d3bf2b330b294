/**
 * Worker-thread entry of `watt ingest`: transforms one byte range of the source (see
 * transform.ts) and posts progress, then the outcome or the error, to the main thread.
 * workerData: { job: RangeJob, schema: SchemaSource, key: Uint8Array }: the schema and the key the run
 * loaded, passed in; the worker never reads the schema file or the key file.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { WattError } from '../errors.js';
import { compileSchema, type SchemaSource } from '../records/schema.js';
import { transformRange, type RangeJob } from './transform.js';

const { job, schema, key } = workerData as { job: RangeJob; schema: SchemaSource; key: Uint8Array };
try {
  const outcome = await transformRange(job, compileSchema(schema, { validated: true }), key, undefined, (rows, bytes) => parentPort!.postMessage({ type: 'progress', rows, bytes }));
  // The primary-key table moves to the main thread (transferred, not copied).
  parentPort!.postMessage({ type: 'done', outcome }, outcome.keys ? [outcome.keys.slots.buffer as ArrayBuffer, ...(outcome.keys.order ? [outcome.keys.order.buffer as ArrayBuffer, outcome.keys.words!.buffer as ArrayBuffer] : [])] : []);
} catch (err) {
  const e = err as Error;
  parentPort!.postMessage({
    type: 'error',
    error: { name: e.name, message: e.message, exitCode: err instanceof WattError ? err.exitCode : undefined, hint: err instanceof WattError ? err.hint : undefined },
  });
}
