import { createHash } from 'node:crypto';
import type { Lake } from '../store/types.js';
import type { Logger } from '../log.js';
import type { DeltaAdd, DeltaMetaData, DeltaRemove, TableSnapshot } from './delta-log.js';

/**
 * Checkpoints of the table log (Delta Lake PROTOCOL.md "Checkpoints", V1 spec, classic naming):
 * every {@link CHECKPOINT_INTERVAL} versions, `_delta_log/<version, 20 digits>.checkpoint.parquet`
 * holds the replayed state of the table at that version, one action per row (`protocol`,
 * `metaData`, `add` for each live file, `remove` for each tombstone), each action a nullable struct
 * column as in the protocol's checkpoint schema; then `_delta_log/_last_checkpoint`
 * (`{"version": n, "size": rows}`) points readers to it, so that they replay only the JSON
 * commits after it. The checkpoint is written create-if-absent (two writers racing for it write
 * the same state; the first wins); `_last_checkpoint` is replaced, never moved back.
 *
 * Encoded with hyparquet-writer (watt's own column encoder writes flat columns only; a checkpoint
 * needs structs, maps and a list): the log stays small (one row per live file), so speed does not
 * matter here. Every JSON commit is kept: time travel to a version before a checkpoint replays
 * them from version 0.
 */

/** A checkpoint every this many versions (10: Delta Lake's default `delta.checkpointInterval`). */
export const CHECKPOINT_INTERVAL = 10;

/** Key of the checkpoint of `version`. */
export function checkpointKey(prefix: string, version: number): string {
  return `${prefix}/_delta_log/${String(version).padStart(20, '0')}.checkpoint.parquet`;
}

/** Key of the last-checkpoint pointer. */
export function lastCheckpointKey(prefix: string): string {
  return `${prefix}/_delta_log/_last_checkpoint`;
}

type Element = { name: string; type?: 'BYTE_ARRAY' | 'INT32' | 'INT64' | 'BOOLEAN'; converted_type?: 'UTF8' | 'MAP' | 'LIST'; repetition_type: 'OPTIONAL' | 'REQUIRED' | 'REPEATED'; num_children?: number };

const str = (name: string): Element[] => [{ name, type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' }];
const long = (name: string): Element[] => [{ name, type: 'INT64', repetition_type: 'OPTIONAL' }];
const int = (name: string): Element[] => [{ name, type: 'INT32', repetition_type: 'OPTIONAL' }];
const bool = (name: string): Element[] => [{ name, type: 'BOOLEAN', repetition_type: 'OPTIONAL' }];
/** map<string,string> (the Parquet MAP layout: a repeated key_value group). */
const map = (name: string): Element[] => [
  { name, repetition_type: 'OPTIONAL', converted_type: 'MAP', num_children: 1 },
  { name: 'key_value', repetition_type: 'REPEATED', num_children: 2 },
  { name: 'key', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' },
  { name: 'value', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
];
/** array<string> (the Parquet LIST layout). */
const list = (name: string): Element[] => [
  { name, repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
  { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
  { name: 'element', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
];
const struct = (name: string, fields: Element[][]): Element[] => [{ name, repetition_type: 'OPTIONAL', num_children: fields.length }, ...fields.flat()];

/** The checkpoint schema of PROTOCOL.md's appendix, for the actions watt writes (no txn, no deletion vectors). */
const SCHEMA: Element[][] = [
  struct('protocol', [int('minReaderVersion'), int('minWriterVersion')]),
  struct('metaData', [str('id'), str('name'), str('description'), struct('format', [str('provider'), map('options')]), str('schemaString'), list('partitionColumns'), long('createdTime'), map('configuration')]),
  struct('add', [str('path'), map('partitionValues'), long('size'), long('modificationTime'), bool('dataChange'), str('stats'), map('tags')]),
  struct('remove', [str('path'), long('deletionTimestamp'), bool('dataChange'), bool('extendedFileMetadata'), map('partitionValues'), long('size')]),
];

/** One checkpoint row: exactly one action set. */
interface Row {
  protocol?: { minReaderVersion: number; minWriterVersion: number };
  metaData?: Record<string, unknown>;
  add?: Record<string, unknown>;
  remove?: Record<string, unknown>;
}

const big = (n: number | undefined) => (n === undefined || n === null ? null : BigInt(Math.trunc(n)));

function rowsOf(snapshot: TableSnapshot): Row[] {
  const rows: Row[] = [];
  if (snapshot.protocol) rows.push({ protocol: snapshot.protocol });
  const m: DeltaMetaData | undefined = snapshot.metaData;
  if (m) {
    rows.push({
      metaData: {
        id: m.id,
        name: m.name ?? null,
        description: null,
        format: { provider: m.format.provider, options: m.format.options ?? {} },
        schemaString: m.schemaString,
        partitionColumns: m.partitionColumns ?? [],
        createdTime: big(m.createdTime),
        configuration: m.configuration ?? {},
      },
    });
  }
  for (const a of [...snapshot.files.values()].sort((x, y) => (x.path < y.path ? -1 : 1))) {
    const add: DeltaAdd = a;
    rows.push({ add: { path: add.path, partitionValues: add.partitionValues ?? {}, size: big(add.size), modificationTime: big(add.modificationTime), dataChange: add.dataChange, stats: add.stats ?? null, tags: add.tags ?? null } });
  }
  for (const r of [...snapshot.tombstones.values()].sort((x, y) => (x.path < y.path ? -1 : 1))) {
    const remove: DeltaRemove = r;
    rows.push({ remove: { path: remove.path, deletionTimestamp: big(remove.deletionTimestamp), dataChange: remove.dataChange, extendedFileMetadata: remove.extendedFileMetadata ?? null, partitionValues: remove.partitionValues ?? null, size: big(remove.size) } });
  }
  return rows;
}

/**
 * Encode the checkpoint of a snapshot as Parquet bytes.
 * @returns the file's bytes and its number of rows (actions)
 */
export async function encodeCheckpoint(snapshot: TableSnapshot): Promise<{ body: Buffer; rows: number }> {
  const { parquetWriteBuffer } = await import('hyparquet-writer');
  const rows = rowsOf(snapshot);
  const schema = [{ name: 'spark_schema', num_children: SCHEMA.length }, ...SCHEMA.flat()];
  const columnData = (['protocol', 'metaData', 'add', 'remove'] as const).map((name) => ({ name, data: rows.map((r) => r[name] ?? null) }));
  const buffer = parquetWriteBuffer({ columnData, schema: schema as never, statistics: false } as never) as ArrayBuffer;
  return { body: Buffer.from(buffer), rows: rows.length };
}

/**
 * Write the checkpoint of `snapshot` (a version that is a multiple of {@link CHECKPOINT_INTERVAL})
 * create-if-absent, then point `_last_checkpoint` at it unless it already names a later version.
 * Never throws: a checkpoint is an optimisation, readers replay the JSON commits without it; a
 * failure is logged as a warning.
 * @returns the checkpoint's key, or undefined when none was written
 */
export async function writeCheckpoint(lake: Lake, prefix: string, snapshot: TableSnapshot, logger: Logger): Promise<string | undefined> {
  if (snapshot.version <= 0 || snapshot.version % CHECKPOINT_INTERVAL !== 0) return undefined;
  const key = checkpointKey(prefix, snapshot.version);
  try {
    const { body, rows } = await encodeCheckpoint(snapshot);
    const written = await lake.putIfAbsent(key, body, { sha256: createHash('sha256').update(body).digest('hex'), contentType: 'application/vnd.apache.parquet' });
    if (!written) logger.debug(`table log: checkpoint ${snapshot.version} was written by another writer`, { step: 'table' });
    const pointer = lastCheckpointKey(prefix);
    let last = -1;
    if (await lake.head(pointer)) {
      try {
        const chunks: Buffer[] = [];
        for await (const c of await lake.get(pointer)) chunks.push(c as Buffer);
        last = Number((JSON.parse(Buffer.concat(chunks).toString('utf8')) as { version?: unknown }).version);
      } catch {
        last = -1;
      }
    }
    if (!(last >= snapshot.version)) {
      const text = JSON.stringify({ version: snapshot.version, size: rows, sizeInBytes: body.length, numOfAddFiles: snapshot.files.size }) + '\n';
      await lake.put(pointer, text, { sha256: createHash('sha256').update(text).digest('hex'), contentType: 'application/json' });
    }
    logger.info(`table log: checkpoint of version ${snapshot.version} (${rows} actions) at ${lake.uri(key)}`, { step: 'table', key });
    return key;
  } catch (err) {
    logger.warn(`table log: checkpoint of version ${snapshot.version} not written (${(err as Error).message.slice(0, 160)}); readers replay the JSON commits`, { step: 'table' });
    return undefined;
  }
}
