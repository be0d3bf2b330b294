import { createHash, randomUUID } from 'node:crypto';
import { StorageError, UsageError } from '../errors.js';
import { readObject } from '../store/index.js';
import type { Lake, ObjectInfo } from '../store/types.js';
import type { Logger } from '../log.js';
import { wattVersion } from '../paths.js';
import { CHECKPOINT_INTERVAL, writeCheckpoint } from './delta-checkpoint.js';

/**
 * The table log of a lake prefix: a Delta Lake transaction log (PROTOCOL.md of delta-io/delta,
 * reader version 1, writer version 2) under `<prefix>/_delta_log/`, so that readers that trust a
 * log (Spark, Databricks, Trino, delta-rs, DuckDB's `delta_scan`) see exactly the committed data
 * objects, never the leftovers of an unfinished run nor an object an erasure or a retention run
 * is about to delete.
 *
 * - Each commit is `_delta_log/<version, 20 digits>.json`, newline-delimited JSON actions
 *   (`commitInfo`, `protocol` and `metaData` at version 0 and when the schema changes, `remove`,
 *   `add`), written create-if-absent ({@link Lake.putIfAbsent}): two writers racing for one
 *   version cannot both win; the loser reads the log again and commits the next version.
 * - The manifests stay the commit rule of watt (ARCHITECTURE.md "Lakes"): the log is the
 *   manifests' state published for other engines. {@link commitTableVersion} compares the data
 *   objects the manifests name with the files the log's latest snapshot holds and commits the
 *   difference as ONE version: each ingest, erasure and retention run that changed the lake is one
 *   table version, and a run that died between its manifest and its commit is caught up by the
 *   next run's version (never lost, never doubled).
 * - An erasure never changes an object in place: it writes the object's copy without the data
 *   subject's rows under a new key (table/layout.ts `erasedKey`), so its version `remove`s the
 *   old path and `add`s the new one; readers of the previous version keep reading whole files
 *   until the old object is vacuumed after the erasure grace (table/vacuum.ts). Retention's
 *   version (`remove`s only) is committed after its manifests and before its objects are deleted.
 * - Every {@link CHECKPOINT_INTERVAL} versions a checkpoint (table/delta-checkpoint.ts) and
 *   `_last_checkpoint`; watt's own replay below still reads every JSON commit (all are kept).
 * - `add.stats`: `numRecords`, and for Parquet objects the bounds and null count of the
 *   timestamp columns that ingest recorded in the manifest (table/object-stats.ts).
 * - No partition columns: the plain layout (`YYYY/MM/DD/`) is not Hive-style `col=value`, and a
 *   table's partition columns cannot change once written, while one prefix may hold both layouts
 *   (and hive keys of older versions with `month=03`); filters on the timestamp column skip files
 *   by their `stats` instead.
 *
 * The table's format is the data objects' (`parquet` is the Delta standard; a CSV lake gets a log
 * with provider `csv` that only watt's readers and the listed-files read understand). The schema
 * is built from the JSON Schemas the runs stored beside the data (`_schemas/<sha256>.json`):
 * `date-time` strings and numbers, integers, booleans and text as Delta's `timestamp`, `double`,
 * `long`, `boolean`, `string`; pseudonymised and undeclared (kept) columns as `string`.
 */

/** The folder of the log, relative to the table's root (the lake prefix). */
export const DELTA_LOG_FOLDER = '_delta_log';

/** Protocol versions written: the oldest that every Delta reader and writer supports (no table features). */
export const DELTA_PROTOCOL = { minReaderVersion: 1, minWriterVersion: 2 } as const;

/** Key of the commit of `version` under the prefix. */
export function deltaCommitKey(prefix: string, version: number): string {
  return `${prefix}/${DELTA_LOG_FOLDER}/${String(version).padStart(20, '0')}.json`;
}

/** The `add` action (PROTOCOL.md "Add File and Remove File"). */
export interface DeltaAdd {
  /** Path relative to the table root, URI-encoded (RFC 2396). */
  path: string;
  partitionValues: Record<string, string>;
  /** Bytes. */
  size: number;
  /** Milliseconds since the epoch. */
  modificationTime: number;
  dataChange: boolean;
  /** JSON text: `{"numRecords": n}`. */
  stats?: string;
  tags?: Record<string, string>;
}

/** The `remove` action (a tombstone). */
export interface DeltaRemove {
  path: string;
  deletionTimestamp: number;
  dataChange: boolean;
  extendedFileMetadata?: boolean;
  partitionValues?: Record<string, string>;
  size?: number;
}

/** The `metaData` action. */
export interface DeltaMetaData {
  id: string;
  name?: string;
  format: { provider: string; options: Record<string, string> };
  /** Delta's JSON schema serialisation: `{"type":"struct","fields":[…]}`. */
  schemaString: string;
  partitionColumns: string[];
  createdTime?: number;
  configuration: Record<string, string>;
}

/** The state of the table at one version: the files present (by path), the protocol and metadata. */
export interface TableSnapshot {
  /** -1 when the log is empty (no table yet). */
  version: number;
  protocol?: { minReaderVersion: number; minWriterVersion: number };
  metaData?: DeltaMetaData;
  files: Map<string, DeltaAdd>;
  /** `remove` tombstones of paths not added again (kept in checkpoints). */
  tombstones: Map<string, DeltaRemove>;
}

/** What {@link commitTableVersion} committed. */
export interface TableCommit {
  version: number;
  /** Key of the commit file. */
  key: string;
  added: number;
  removed: number;
}

/** What a run tells the log about itself (recorded in `commitInfo`; no identifier of a data subject). */
export interface TableOperation {
  /** Delta's operation name: `WRITE` (ingest), `DELETE` (erasure, retention). */
  operation: 'WRITE' | 'DELETE';
  /** The watt command, e.g. `ingest`, `purge --subject`, `purge`. */
  command: string;
  /** The watt run_id. */
  runId: string;
}

/** Most manifests (or log commits) read at once. */
const READS = 16;
/** Commit attempts before giving up when other writers keep winning the next version. */
const COMMIT_ATTEMPTS = 10;

/** A Delta path (RFC 2396-encoded, relative to the table root) of a lake key under the prefix. */
export function deltaPath(prefix: string, key: string): string {
  return key
    .slice(prefix.length + 1)
    .split('/')
    .map((s) => encodeURIComponent(s).replace(/%3D/g, '='))
    .join('/');
}

/**
 * Read the log and replay it (PROTOCOL.md "Action Reconciliation"): the newest `add` of a path
 * wins, a later `remove` drops it; the newest `protocol` and `metaData` win.
 * @param version the version to read (time travel); default the latest
 * @throws StorageError (3) when the store fails or the log is not contiguous from version 0
 * (a commit missing: the log cannot be trusted); UsageError (2) when a commit is not valid JSON
 */
export async function readTableSnapshot(lake: Lake, prefix: string, version?: number): Promise<TableSnapshot> {
  const folder = `${prefix}/${DELTA_LOG_FOLDER}/`;
  const versions: number[] = [];
  for await (const o of lake.list(folder)) {
    const m = /^(\d{20})\.json$/.exec(o.key.slice(folder.length));
    if (m) versions.push(Number(m[1]));
  }
  versions.sort((a, b) => a - b);
  const last = version ?? versions.at(-1) ?? -1;
  const wanted = versions.filter((v) => v <= last);
  wanted.forEach((v, i) => {
    if (v !== i) throw new StorageError(`the table log ${lake.uri(folder)} has no commit ${i} (next is ${v}): it cannot be replayed`, { hint: 'restore the missing commit from a backup; do not write into this prefix until then' });
  });
  if (version !== undefined && wanted.length !== version + 1) throw new UsageError(`the table log ${lake.uri(folder)} has no version ${version} (latest ${versions.at(-1) ?? 'none'})`);
  const snapshot: TableSnapshot = { version: wanted.length - 1, files: new Map(), tombstones: new Map() };
  const texts: string[] = new Array(wanted.length);
  for (let i = 0; i < wanted.length; i += READS) {
    await Promise.all(wanted.slice(i, i + READS).map(async (v) => (texts[v] = (await readObject(lake, deltaCommitKey(prefix, v))).toString('utf8'))));
  }
  texts.forEach((text, v) => {
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      let action: Record<string, unknown>;
      try {
        action = JSON.parse(line) as Record<string, unknown>;
      } catch {
        throw new UsageError(`commit ${v} of the table log ${lake.uri(folder)} is not newline-delimited JSON`, { hint: 'the log was damaged; restore the commit from a backup' });
      }
      if (action.add) {
        const add = action.add as DeltaAdd;
        snapshot.files.set(add.path, add);
        snapshot.tombstones.delete(add.path);
      } else if (action.remove) {
        const remove = action.remove as DeltaRemove;
        snapshot.files.delete(remove.path);
        snapshot.tombstones.set(remove.path, remove);
      }
      else if (action.metaData) snapshot.metaData = action.metaData as DeltaMetaData;
      else if (action.protocol) snapshot.protocol = action.protocol as TableSnapshot['protocol'];
    }
  });
  return snapshot;
}

/** One data object a manifest names, as the log records it. */
interface Committed {
  key: string;
  bytes: number;
  rows: number;
  sha256: string;
  format: string;
  runId: string;
  /** ms since the epoch: the manifest's `finished_at`. */
  time: number;
  /** Timestamp columns' bounds recorded by the run (Parquet objects). */
  stats?: { min: Record<string, string>; max: Record<string, string>; null_count: Record<string, number> };
}

/** The committed state of the prefix, read from its manifests. */
interface ManifestState {
  objects: Map<string, Committed>;
  /** Stored schema keys and the extra columns kept, in manifest order (oldest first). */
  schemas: { key?: string; extra: string[] }[];
  formats: Set<string>;
}

/** Manifests parsed by this process, by URI, size and modification time. */
const manifestCache = new Map<string, Record<string, unknown>>();
const MANIFEST_CACHE_ENTRIES = 100_000;

async function readManifests(lake: Lake, prefix: string, logger: Logger): Promise<ManifestState> {
  const folder = `${prefix}/_manifests/`;
  const listed: ObjectInfo[] = [];
  for await (const o of lake.list(folder)) if (o.key.endsWith('.json') && !o.key.slice(folder.length).includes('/')) listed.push(o);
  const parsed: { finished: string; runId: string; m: Record<string, unknown> }[] = [];
  for (let i = 0; i < listed.length; i += READS) {
    await Promise.all(
      listed.slice(i, i + READS).map(async (o) => {
        // A batch of sources commits once per file: manifests read by an earlier commit of this
        // process are reused while their size and modification time are unchanged.
        const cacheKey = `${lake.uri(o.key)} ${o.size} ${o.lastModified.getTime()}`;
        let m = manifestCache.get(cacheKey);
        if (!m) {
          try {
            m = JSON.parse((await readObject(lake, o.key)).toString('utf8')) as Record<string, unknown>;
          } catch (err) {
            if (err instanceof StorageError) throw err;
            logger.warn(`table log: ${lake.uri(o.key)} is not a watt manifest: its objects are not in the table`, { step: 'table' });
            return;
          }
          if (manifestCache.size >= MANIFEST_CACHE_ENTRIES) manifestCache.clear();
          manifestCache.set(cacheKey, m);
        }
        if (typeof m.run_id === 'string') parsed.push({ finished: typeof m.finished_at === 'string' ? m.finished_at : '', runId: m.run_id, m });
      }),
    );
  }
  parsed.sort((a, b) => (a.finished < b.finished ? -1 : a.finished > b.finished ? 1 : a.runId < b.runId ? -1 : a.runId > b.runId ? 1 : 0));
  const state: ManifestState = { objects: new Map(), schemas: [], formats: new Set() };
  for (const { m, runId, finished } of parsed) {
    const time = Date.parse(finished) || 0;
    const listed = Array.isArray(m.objects) ? (m.objects as Record<string, unknown>[]) : m.object && typeof m.object === 'object' ? [m.object as Record<string, unknown>] : [];
    for (const o of listed) {
      if (typeof o?.key !== 'string' || !o.key.startsWith(prefix + '/')) continue;
      const format = typeof o.format === 'string' ? o.format : typeof m.format === 'string' ? m.format : 'csv';
      state.formats.add(format);
      const stats = o.stats && typeof o.stats === 'object' ? (o.stats as Committed['stats']) : undefined;
      state.objects.set(o.key, { key: o.key, bytes: Number(o.bytes) || 0, rows: Number(o.rows) || 0, sha256: typeof o.sha256 === 'string' ? o.sha256 : '', format, runId, time, ...(stats?.min && stats.max ? { stats } : {}) });
    }
    const schema = (m.schema ?? {}) as { key?: unknown; extra_columns?: { policy?: unknown; columns?: unknown } };
    const extra = schema.extra_columns?.policy === 'keep' && Array.isArray(schema.extra_columns.columns) ? schema.extra_columns.columns.filter((c): c is string => typeof c === 'string') : [];
    state.schemas.push({ key: typeof schema.key === 'string' ? schema.key : undefined, extra });
  }
  return state;
}

/** A Delta schema field. */
interface DeltaField {
  name: string;
  /** Delta primitive types; `decimal(p,s)` for `x-decimal` columns. */
  type: 'string' | 'double' | 'long' | 'boolean' | 'timestamp' | `decimal(${number},${number})`;
  nullable: true;
  metadata: Record<string, never>;
}

/** The Delta type of a JSON Schema property, as the Parquet writer types it (partition-spool.ts parquetKind). */
function deltaType(property: Record<string, unknown>): DeltaField['type'] {
  if (property['x-personal-data'] !== undefined) return 'string';
  const types = Array.isArray(property.type) ? property.type.filter((t) => t !== 'null') : [property.type];
  const type = types[0];
  if (type === 'string' && property.format === 'date-time') return 'timestamp';
  const decimal = property['x-decimal'] as { precision?: unknown; scale?: unknown } | undefined;
  if (decimal && Number.isInteger(decimal.precision) && Number.isInteger(decimal.scale)) return `decimal(${decimal.precision as number},${decimal.scale as number})`;
  return type === 'number' ? 'double' : type === 'integer' ? 'long' : type === 'boolean' ? 'boolean' : 'string';
}

async function tableSchema(lake: Lake, state: ManifestState, logger: Logger): Promise<string> {
  const fields = new Map<string, DeltaField>();
  const add = (name: string, type: DeltaField['type']) => {
    const had = fields.get(name);
    if (!had) fields.set(name, { name, type, nullable: true, metadata: {} });
    else if (had.type !== type) logger.warn(`table log: column ${name} is ${had.type} in earlier runs and ${type} in a later one: the log keeps ${had.type}`, { step: 'table' });
  };
  const read = new Map<string, Record<string, unknown> | undefined>();
  for (const s of state.schemas) {
    if (s.key && !read.has(s.key)) {
      let json: Record<string, unknown> | undefined;
      try {
        json = JSON.parse((await readObject(lake, s.key)).toString('utf8')) as Record<string, unknown>;
      } catch (err) {
        if (err instanceof StorageError && (await lake.head(s.key))) throw err;
        logger.warn(`table log: the stored schema ${lake.uri(s.key)} cannot be read: its columns are left out of the table's schema`, { step: 'table' });
      }
      read.set(s.key, json);
    }
    const json = s.key ? read.get(s.key) : undefined;
    const properties = (json?.properties ?? {}) as Record<string, Record<string, unknown>>;
    for (const [name, property] of Object.entries(properties)) add(name, deltaType(property ?? {}));
    for (const name of s.extra) add(name, 'string');
  }
  return JSON.stringify({ type: 'struct', fields: [...fields.values()] });
}

/**
 * Commit the prefix's committed state (its manifests) as the next version of the table log, if
 * it differs from the log's latest snapshot: `add` for each data object not in the snapshot (or
 * rewritten: another sha256 or size), `remove` for each file no manifest names any more, a new
 * `metaData` when the schema or format changed (the first version also writes `protocol`).
 * Retries with the next version when another writer wins the race for one.
 * @param now the commit time (`commitInfo.timestamp`, `remove.deletionTimestamp`)
 * @returns the version committed, or undefined when the log already holds this state
 * @throws StorageError (3) from the store, or when the log cannot be replayed; UsageError (2)
 * when the log was written by a writer that needs a newer protocol than watt writes
 */
export async function commitTableVersion(lake: Lake, prefix: string, op: TableOperation, logger: Logger, now: Date = new Date()): Promise<TableCommit | undefined> {
  for (let attempt = 0; attempt < COMMIT_ATTEMPTS; attempt++) {
    // The snapshot first, the manifests after: every file of the snapshot was committed after its
    // manifest was written, so a manifest read now that does not name a file means the file left
    // the lake (erasure, retention), never that its run is newer than this read.
    const snapshot = await readTableSnapshot(lake, prefix);
    if (snapshot.protocol && (snapshot.protocol.minWriterVersion > DELTA_PROTOCOL.minWriterVersion || snapshot.protocol.minReaderVersion > DELTA_PROTOCOL.minReaderVersion)) {
      throw new UsageError(
        `the table log of ${lake.uri(prefix)} needs Delta protocol reader ${snapshot.protocol.minReaderVersion} / writer ${snapshot.protocol.minWriterVersion}; watt writes reader 1 / writer 2`,
        { hint: 'another engine upgraded the table: let that engine write it, or move watt to another prefix' },
      );
    }
    const state = await readManifests(lake, prefix, logger);
    const schemaString = await tableSchema(lake, state, logger);
    const desired = new Map<string, Committed>();
    for (const o of state.objects.values()) desired.set(deltaPath(prefix, o.key), o);
    // No table yet and nothing committed to publish (an empty prefix, or one emptied before the log existed).
    if (snapshot.version < 0 && desired.size === 0) return undefined;
    const adds: DeltaAdd[] = [];
    for (const [p, o] of desired) {
      const had = snapshot.files.get(p);
      if (had && had.size === o.bytes && (had.tags?.sha256 ?? '') === o.sha256) continue;
      adds.push({
        path: p,
        partitionValues: {},
        size: o.bytes,
        modificationTime: o.time || now.getTime(),
        dataChange: true,
        stats: JSON.stringify({ numRecords: o.rows, ...(o.stats ? { minValues: o.stats.min, maxValues: o.stats.max, nullCount: o.stats.null_count ?? {} } : {}) }),
        tags: { sha256: o.sha256, run_id: o.runId },
      });
    }
    const removes: DeltaRemove[] = [];
    for (const [p, had] of snapshot.files) {
      if (!desired.has(p)) removes.push({ path: p, deletionTimestamp: now.getTime(), dataChange: true, extendedFileMetadata: true, partitionValues: had.partitionValues ?? {}, size: had.size });
    }
    const formats = [...state.formats].sort();
    const provider = formats.length === 1 ? formats[0]! : (snapshot.metaData?.format.provider ?? formats.at(-1) ?? 'parquet');
    if (formats.length > 1) logger.warn(`table log: ${lake.uri(prefix)} holds ${formats.join(' and ')} objects; Delta readers expect one format (the log says ${provider})`, { step: 'table' });
    const format = { provider, options: (provider === 'csv' ? { header: 'true' } : {}) as Record<string, string> };
    const metaChanged = !snapshot.metaData || snapshot.metaData.schemaString !== schemaString || snapshot.metaData.format.provider !== provider;
    if (!adds.length && !removes.length && !metaChanged) {
      logger.debug(`table log: version ${snapshot.version} already holds the committed state`, { step: 'table' });
      return undefined;
    }
    const version = snapshot.version + 1;
    const actions: unknown[] = [
      {
        commitInfo: {
          timestamp: now.getTime(),
          operation: op.operation,
          operationParameters: op.operation === 'WRITE' ? { mode: 'Append' } : {},
          isBlindAppend: removes.length === 0 && !metaChanged,
          engineInfo: `watt/${wattVersion()}`,
          txnId: randomUUID(),
          watt: { command: op.command, run_id: op.runId, added: adds.length, removed: removes.length },
        },
      },
    ];
    if (version === 0) actions.push({ protocol: DELTA_PROTOCOL });
    if (metaChanged) {
      const metaData: DeltaMetaData = {
        id: snapshot.metaData?.id ?? randomUUID(),
        format,
        schemaString,
        partitionColumns: [],
        createdTime: snapshot.metaData?.createdTime ?? now.getTime(),
        configuration: {},
      };
      actions.push({ metaData });
    }
    for (const r of removes) actions.push({ remove: r });
    for (const a of adds) actions.push({ add: a });
    const body = actions.map((a) => JSON.stringify(a)).join('\n') + '\n';
    const key = deltaCommitKey(prefix, version);
    const sha256 = createHash('sha256').update(body).digest('hex');
    const written = await lake.putIfAbsent(key, body, { sha256, contentType: 'application/x-ndjson' });
    if (written) {
      logger.info(`table log: committed version ${version} (${adds.length} added, ${removes.length} removed) at ${lake.uri(key)}`, { step: 'table', key, version });
      if (version % CHECKPOINT_INTERVAL === 0 && version > 0) await writeCheckpoint(lake, prefix, await readTableSnapshot(lake, prefix, version), logger);
      return { version, key, added: adds.length, removed: removes.length };
    }
    logger.debug(`table log: version ${version} was committed by another writer; reading the log again`, { step: 'table' });
  }
  throw new StorageError(`cannot commit to the table log of ${lake.uri(prefix)}: other writers won ${COMMIT_ATTEMPTS} versions in a row`, { hint: 'run again when the other writers are done' });
}

/**
 * Commit the run's version, never failing the run: the run is committed by its manifest already,
 * and the next run's version catches the log up. A failure is logged as a warning.
 * @returns the version committed, null when the log already held the state, undefined on failure
 */
export async function publishTableVersion(lake: Lake, prefix: string, op: TableOperation, logger: Logger, now?: Date): Promise<number | null | undefined> {
  try {
    const c = await commitTableVersion(lake, prefix, op, logger, now);
    return c ? c.version : null;
  } catch (err) {
    logger.warn(`table log of ${lake.uri(prefix)} not updated: ${(err as Error).message.slice(0, 200)}; the run is committed (its manifest), and the next run will publish it`, { step: 'table' });
    return undefined;
  }
}
