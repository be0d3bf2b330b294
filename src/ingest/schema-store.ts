import { createHash } from 'node:crypto';
import type { Lake } from '../store/index.js';
import { schemaKey } from '../table/layout.js';
import type { Logger } from '../log.js';
import type { CompiledSchema, SchemaSource } from '../records/schema.js';
import type { ExtraColumnsPolicy, Manifest } from '../table/manifest.js';

/**
 * The schema beside the data (issue 11, item 4): every run stores the JSON Schema it checked its
 * rows against once in the lake, content-addressed, at `<prefix>/_schemas/<sha256>.json`, and its
 * manifest names that key in `schema.key`. An analyst (or `watt verify`) can then read, for any
 * data object, the exact column types, personal columns and primary key it was landed under,
 * without the machine that ran the ingest.
 *
 * - The stored bytes are the schema file's bytes exactly as read ({@link SchemaSource.bytes}), so
 *   `sha256(object) === manifest.schema.sha256` and the key's name is that same hash. (A source
 *   built in memory, without bytes, is stored as its compact JSON and keyed by the hash of that.)
 * - Stored once: a run that finds the key already present with the same size (and sha256
 *   metadata, when the store kept it) writes nothing.
 * - Shared and never garbage: several runs (and lakes) reference one schema object, so a failed
 *   run never deletes it, `watt verify` never reports `_schemas/` objects as orphans, and
 *   retention never deletes them. A schema holds column names and rules, no personal data; a
 *   schema object left by a run that failed before its manifest is harmless and is reused by the
 *   next run with the same schema.
 */

/** The bytes a schema source is stored as, and their hex sha256. */
export function schemaObject(source: SchemaSource): { bytes: Buffer; sha256: string } {
  const bytes = source.bytes ? Buffer.from(source.bytes.buffer, source.bytes.byteOffset, source.bytes.byteLength) : Buffer.from(JSON.stringify(source.json));
  const sha256 = source.bytes ? source.sha256 : createHash('sha256').update(bytes).digest('hex');
  return { bytes, sha256 };
}

/**
 * Store the run's schema beside the data unless the lake already holds it. Call it before the
 * manifest, and do not list its key among the run's objects to remove on failure (it is shared).
 * @returns the schema object's key, and whether this run wrote it.
 * @throws StorageError (3) from the lake.
 */
export async function storeSchema(lake: Lake, prefix: string, source: SchemaSource, logger: Logger): Promise<{ key: string; written: boolean }> {
  const { bytes, sha256 } = schemaObject(source);
  const key = schemaKey(prefix, sha256);
  const present = await lake.head(key);
  if (present && present.size === bytes.length && (!present.sha256 || present.sha256 === sha256)) {
    logger.debug(`schema already stored at ${lake.uri(key)}`, { step: 'schema', key });
    return { key, written: false };
  }
  // Content-addressed: rewriting an object that does not hold these bytes (a truncated copy) can only repair it.
  if (present) logger.warn(`${lake.uri(key)} does not hold the schema its name promises (${present.size} bytes, expected ${bytes.length}): writing it again`, { step: 'schema', key });
  await lake.put(key, bytes, { sha256, contentType: 'application/schema+json' });
  logger.info(`stored schema ${lake.uri(key)} (${bytes.length} bytes)`, { step: 'schema', key });
  return { key, written: true };
}

/**
 * The `schema` entry of a run's manifest: id and sha256 of the schema file, where it is stored
 * beside the data, its primary key (when it declares one) and the extra-columns policy applied.
 */
export function manifestSchema(schema: CompiledSchema, key: string | undefined, extraColumns: { policy: ExtraColumnsPolicy; columns: string[] } | undefined): Manifest['schema'] {
  return {
    id: schema.id,
    sha256: schema.sha256,
    ...(key ? { key } : {}),
    ...(schema.primaryKey.length ? { primary_key: [...schema.primaryKey] } : {}),
    ...(extraColumns ? { extra_columns: extraColumns } : {}),
    // Columns declared not personal on purpose ("x-personal-data": false), with their x-reason (issue 17).
    ...(schema.notPersonal.size ? { not_personal: [...schema.notPersonal].map(([column, reason]) => ({ column, reason })) } : {}),
  };
}
