/**
 * Worker-thread entry of `watt ingest`: compiles the run's schema as soon as it starts (while the
 * main thread still scans the source), then transforms the one byte range it is sent (see
 * transform.ts) and posts progress, then the outcome or the error, to the main thread.
 * workerData: { schema: SchemaSource }; then one message { job: RangeJob, key: Uint8Array }: the
 * schema and the key the run loaded, passed in; the worker never reads the schema file or the key file.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { WattError } from '../errors.js';
import { compileSchema, type CompiledSchema, type SchemaSource } from '../records/schema.js';
import { transformRange, type RangeJob } from './transform.js';

const { schema } = workerData as { schema: SchemaSource };
let compiled: CompiledSchema | Error;
try {
  // The main thread compiled this schema already: no second check against the meta-schema.
  compiled = compileSchema(schema, { validated: true });
} catch (err) {
  compiled = err as Error;
}

parentPort!.once('message', async ({ job, key }: { job: RangeJob; key: Uint8Array }) => {
  try {
    if (compiled instanceof Error) throw compiled;
    const outcome = await transformRange(job, compiled, key, undefined, (rows, bytes) => parentPort!.postMessage({ type: 'progress', rows, bytes }));
    // The primary-key table or log moves to the main thread (transferred, not copied).
    const keys = outcome.keys;
    parentPort!.postMessage({ type: 'done', outcome }, keys ? [keys.slots.buffer as ArrayBuffer, ...(keys.order ? [keys.order.buffer as ArrayBuffer, keys.words!.buffer as ArrayBuffer] : [])] : []);
  } catch (err) {
    const e = err as Error;
    parentPort!.postMessage({
      type: 'error',
      error: { name: e.name, message: e.message, exitCode: err instanceof WattError ? err.exitCode : undefined, hint: err instanceof WattError ? err.hint : undefined },
    });
  }
});
