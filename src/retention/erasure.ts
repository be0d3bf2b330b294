import { storeVersionsNote, type StoreVersionsNote } from './store-versions.js';
import path from 'node:path';
import { createWriteStream } from 'node:fs';
import { encryptingStream, newSpoolCipher, readSpoolStream, sha256Spool, spoolWriteStream, type SpoolCipher } from '../spool-crypto.js';
import { putSpool } from '../ingest/upload.js';
import { csvField } from '../records/csv.js';
import { readObject } from '../store/index.js';
import { columnsOf, readParquetMetadata, readParquetRowGroups, ParquetFileWriter } from '../formats/parquet.js';
import { mkdir, rm, stat } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { createInterface } from 'node:readline';
import { Transform, Writable, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parse } from 'csv-parse';
import { failpoint } from '../failpoint.js';
import { DataError, InterruptedError, StorageError, WattError } from '../errors.js';
import type { ObjectInfo } from '../store/types.js';
import { erasedKey, isDataKey, manifestKey, runIdOf } from '../table/layout.js';
import type { Manifest } from '../table/manifest.js';
import { committedKeys } from '../table/committed.js';
import { appendTrail, openIntents, trailHead, PSEUDONYM_PREFIX_CHARS, type TrailEntry } from '../trail/trail.js';
import type { ErasedObject, ErasureResult, PurgeContext } from './types.js';

/** Objects searched at once for the pseudonym. */
const SEARCH_CONCURRENCY = 8;
/** Output is written in chunks of about this many bytes. */
const OUTPUT_CHUNK = 64 * 1024;

/** Steps of one object's erasure, in order; `onStep` is called after each (tests inject crashes). */
export type ErasureStep = 'intent' | 'object' | 'manifest' | 'done';

export interface ErasureOptions extends PurgeContext {
  /** The subject's pseudonym (HMAC-SHA256 hex, as written by ingest), shown as a prefix. The raw identifier never reaches this module. */
  pseudonym: string;
  /** Every pseudonym of the subject, one per key id in the lake (key rotation); default `[pseudonym]`. */
  pseudonyms?: readonly string[];
  /** Personal column holding the pseudonym, e.g. `customer_id` (when `columns` is not given). */
  column: string;
  /** Every personal column searched (rows holding a pseudonym in any of them are removed); default `[column]`. */
  columns?: readonly string[];
  /** WATT_HOME: the rewritten objects are spooled in `<home>/tmp/`. */
  home: string;
  /** Called after each step of each object (test hook for fault injection). */
  onStep?: (step: ErasureStep) => void;
}

/** A manifest as erasure leaves it: ingest's, plus the erasures applied to its run. */
export type ErasedManifest = Manifest & { erasures?: { run_id: string; at: string; key: string; rows_removed: number; replaced_by?: string | null; store_versions?: StoreVersionsNote }[] };

interface Rewrite {
  rowsIn: number;
  kept: number;
  removed: number;
  /** Rows removed by the column that held the pseudonym (the first such column of the row). */
  byColumn?: Record<string, number>;
  sha256: string;
  bytes: number;
  /** How the rewritten copy (`out`) is encrypted: a spool of WATT_HOME/tmp (src/spool-crypto.ts). */
  cipher?: SpoolCipher;
}

/**
 * Erasure of one data subject (GDPR Art. 17): find every data object (CSV or Parquet) and
 * quarantine file under `<prefix>/` holding rows whose `column` equals the subject's pseudonym,
 * and rewrite each without those rows. Every object holding the subject is parsed in full before
 * anything changes: one that watt cannot read (corrupt Parquet, broken CSV) stops the erasure
 * with nothing changed (DataError, exit 1). Per object:
 *
 * 1. write the object into a spool file without the subject's rows (CSV: streamed, kept rows
 *    byte-identical; Parquet: row group by row group with the same columns and footer metadata,
 *    kept cells identical), hashing it (sha256), then re-read the spool to verify its hash and
 *    that no row of the subject is left;
 * 2. append an `erasure.intent` entry to the audit trail (the journal: key, new sha256, rows);
 * 3. replace the object atomically (same key: the store shows the old or the new object, never
 *    none and never both), or delete it if no row is left, and verify the stored copy's sha256;
 * 4. update the run's manifest (its entry in `objects` for version 2, removed when the object
 *    was deleted, or `object` for version 1; rows; `erasures`) and the catalog;
 * 5. append `erasure.rewrite` / `erasure.delete` closing the intent.
 *
 * A run first completes the open intents of an earlier interrupted erasure on this lake (object
 * already replaced: finish its manifest; not replaced: abandon the intent and let the scan redo
 * it), so an erasure killed at any point and run again loses no row and duplicates none.
 * Quarantine files hold line numbers and non-personal values only (ingest omits personal
 * values), so they normally never match; they are searched anyway.
 *
 * @throws StorageError (3) lake failures or a stored copy that does not verify; DataError (1) an
 * object that cannot be parsed as CSV; InterruptedError (130) between objects.
 */
export async function eraseSubject(options: ErasureOptions): Promise<ErasureResult> {
  const { lake, prefix, logger, runId, dryRun, catalog } = options;
  const pseudonymPrefix = options.pseudonym.slice(0, PSEUDONYM_PREFIX_CHARS);
  if (!dryRun && !catalog) throw new Error('erasure needs the catalog for its journal');
  const result: ErasureResult = {
    mode: 'subject',
    run_id: runId,
    dry_run: dryRun,
    lake: options.destination,
    column: searched(options)[0] ?? options.column,
    columns: [...searched(options)],
    rows_removed_by_column: Object.fromEntries(searched(options).map((c) => [c, 0])),
    pseudonym_prefix: pseudonymPrefix,
    objects_scanned: 0,
    objects_rewritten: 0,
    objects_deleted: 0,
    rows_removed: 0,
    recovered: 0,
    objects: [],
    log: null,
  };
  if (catalog && !dryRun) {
    result.recovered = await recover(options);
    appendTrail(catalog.db, [
      { action: 'erasure.request', lake: options.destination, count: 0, run_id: runId, detail: { pseudonym_prefix: pseudonymPrefix, column: searched(options).join(',') } },
    ]);
  }

  // Candidates: data objects (dated .csv and .parquet keys) and quarantine files.
  const root = prefix + '/';
  // Only objects named by a manifest read here (issue 21): an object of a run still writing, on
  // this machine or another, is not committed yet and never rewritten under its writer.
  const listedObjects: { o: ObjectInfo; kind: ObjectKind }[] = [];
  const manifestKeys: string[] = [];
  for await (const o of lake.list(root)) {
    if (!o.key.startsWith(root)) continue;
    if (isDataKey(prefix, o.key)) listedObjects.push({ o, kind: 'data' });
    else if (o.key.startsWith(`${root}_rejects/`) && o.key.endsWith('.jsonl')) listedObjects.push({ o, kind: 'rejects' });
    else if (o.key.startsWith(`${root}_manifests/`) && o.key.endsWith('.json')) manifestKeys.push(o.key);
  }
  const committed = await committedKeys(lake, prefix, manifestKeys);
  const candidates = listedObjects.filter((c) => committed.named.has(c.o.key));
  const unfinished = listedObjects.length - candidates.length;
  if (unfinished > 0) {
    result.objects_unfinished = unfinished;
    logger.warn(
      `${unfinished} object${unfinished > 1 ? 's' : ''} under ${options.destination} ${unfinished > 1 ? 'are' : 'is'} named by no manifest (a run still writing, or garbage of a crashed one): not searched; run this erasure again once such runs commit or are removed (watt verify --repair)`,
      { step: 'scan', objects_unfinished: unfinished },
    );
  }
  for (const k of committed.unreadable) logger.warn(`manifest ${lake.uri(k)} is not valid JSON: the objects of its run were not searched`, { step: 'scan', key: k });
  result.objects_scanned = candidates.length;
  logger.info(`searching ${candidates.length} objects under ${options.destination} for subject ${pseudonymPrefix}… (column${searched(options).length === 1 ? '' : 's'} ${searched(options).join(', ') || 'none'})`, {
    step: 'scan',
    objects: candidates.length,
    pseudonym_prefix: pseudonymPrefix,
  });

  // CSV and quarantine files: a byte search first (cheap), then parse only those that hold the
  // pseudonym. Parquet pages are compressed (a pseudonym is not searchable as bytes): each object is
  // read. Every hit is parsed in full here, before anything changes, so that an object watt cannot
  // read stops the erasure with nothing half-applied.
  const spoolDir = path.join(options.home, 'tmp');
  await mkdir(spoolDir, { recursive: true, mode: 0o700 });
  const needles = subjectSet(options).map((p) => Buffer.from(p, 'utf8'));
  const subjects = new Set(subjectSet(options));
  const hits: typeof candidates = [];
  for (let i = 0; i < candidates.length; i += SEARCH_CONCURRENCY) {
    if (options.signal?.aborted) throw new InterruptedError(`erasure ${runId} interrupted while searching; nothing was changed by this run`);
    const batch = candidates.slice(i, i + SEARCH_CONCURRENCY);
    const found = await Promise.all(
      batch.map(async (c, j) => {
        if (formatOf(c.o.key, c.kind) !== 'parquet' && !(await streamContains(await lake.get(c.o.key), needles, options.signal))) return false;
        const r = await rewriteObject(options, c.o.key, c.kind, subjects, undefined, path.join(spoolDir, `${runId}-erasure-search-${j}.parquet`));
        return r.removed > 0;
      }),
    );
    batch.forEach((c, j) => found[j] && hits.push(c));
  }

  for (const { o, kind } of hits) {
    if (options.signal?.aborted) {
      throw new InterruptedError(`erasure ${runId} interrupted after ${result.objects.length} objects; run the same erasure again to finish it`);
    }
    const format = formatOf(o.key, kind);
    const spool = path.join(spoolDir, `${runId}-erasure.${format}`);
    try {
      const done = await eraseFromObject(options, o.key, kind, spool, path.join(spoolDir, `${runId}-erasure-src.${format}`));
      if (!done) continue;
      result.objects.push(done);
      result.rows_removed += done.rows_removed;
      for (const [c, n] of Object.entries(done.by_column ?? {})) result.rows_removed_by_column![c] = (result.rows_removed_by_column![c] ?? 0) + n;
      delete done.by_column;
      if (done.action === 'deleted') result.objects_deleted++;
      else result.objects_rewritten++;
    } finally {
      await rm(spool, { force: true });
    }
  }
  if (catalog && !dryRun) {
    appendTrail(catalog.db, [
      {
        action: 'erasure.complete',
        lake: options.destination,
        count: result.rows_removed,
        run_id: runId,
        detail: { pseudonym_prefix: pseudonymPrefix, objects_rewritten: result.objects_rewritten, objects_deleted: result.objects_deleted, rows_removed: result.rows_removed },
      },
    ]);
    result.trail_head = trailHead(catalog.db);
  }
  logger.info(
    `${dryRun ? 'would remove' : 'removed'} ${result.rows_removed} rows of subject ${pseudonymPrefix}… from ${result.objects.length} objects (${result.objects_deleted} deleted)`,
    { step: 'done', rows_removed: result.rows_removed, objects: result.objects.length, objects_deleted: result.objects_deleted },
  );
  return result;
}

/** Erase the subject from one object; undefined when it holds none of the subject's rows. */
async function eraseFromObject(options: ErasureOptions, key: string, kind: ObjectKind, spool: string, source: string): Promise<ErasedObject | undefined> {
  const { lake, logger, catalog, runId } = options;
  const pseudonymPrefix = options.pseudonym.slice(0, PSEUDONYM_PREFIX_CHARS);
  const format = formatOf(key, kind);
  const subjects = new Set(subjectSet(options));
  const r = await rewriteObject(options, key, kind, subjects, options.dryRun ? undefined : spool, source);
  if (r.removed === 0) return undefined;
  const action = r.kept === 0 ? 'deleted' : 'rewritten';
  const summary: ErasedObject = { key, kind, rows_removed: r.removed, rows_left: r.kept, action, ...(r.byColumn ? { by_column: r.byColumn } : {}) };
  if (options.dryRun) {
    logger.info(`would ${action === 'deleted' ? 'delete' : 'rewrite'} ${lake.uri(key)}: ${r.removed} rows of the subject, ${r.kept} left`);
    return summary;
  }

  // 1. Verify the new content before the old object is replaced (the spool decrypted, its GCM tag checked).
  const check =
    format === 'parquet'
      ? await rewriteParquet(spool, searched(options), subjects, undefined, options.signal, r.cipher)
      : await (format === 'csv' ? rewriteCsv : rewriteJsonl)(readSpoolStream(spool, r.cipher, { verify: true }), searched(options), subjects, undefined, options.signal);
  if (check.sha256 !== r.sha256 || check.removed !== 0 || check.kept !== r.kept) {
    throw new StorageError(`the rewritten copy of ${lake.uri(key)} does not verify (spool changed on disk); nothing was replaced`);
  }
  const run = runIdOf(key);
  const mKey = run ? manifestKey(options.prefix, run) : undefined;
  // A data object is never changed in place (issue 23): its copy without the subject's rows goes
  // under a new key, the manifest names that key, the run's table version removes the old path,
  // and the old object is vacuumed after the erasure grace (src/table/vacuum.ts). A quarantine
  // file (in no table version) is still replaced in place.
  const replace = kind === 'data';
  const newKey = replace && action === 'rewritten' ? erasedKey(key, runId) : undefined;

  // 2. Journal.
  const [intent] = appendTrail(catalog!.db, [
    {
      action: 'erasure.intent',
      lake: options.destination,
      key,
      count: r.removed,
      run_id: runId,
      detail: { op: action === 'deleted' ? 'delete' : 'rewrite', kind, format, ...(replace ? { replace: true, new_key: newKey ?? null } : {}), new_sha256: r.sha256, new_bytes: r.bytes, new_rows: r.kept, rows_removed: r.removed, manifest: mKey ?? null, pseudonym_prefix: pseudonymPrefix },
    },
  ]);
  stepDone(options, 'intent');

  // 3. Write the new object (a data object: the old one stays for readers of older versions
  //    until the vacuum), or replace (atomic) or delete a quarantine file; verify what the store holds.
  const target = newKey ?? key;
  if (replace && !newKey) {
    // dropped whole: nothing to write, the manifest drops it and the vacuum deletes it
  } else if (action === 'deleted') {
    const del = await lake.delete([key]);
    if (del.errors.length) throw new StorageError(`cannot delete ${lake.uri(key)}: ${del.errors[0]!.message.slice(0, 160)}`, { hint: 'run the erasure again' });
  } else {
    await putSpool(lake, target, spool, r.cipher!, { sha256: r.sha256, contentType: CONTENT_TYPES[format], ...(run ? { metadata: { run_id: run } } : {}) });
    const stored = await sha256Stream(await lake.get(target));
    if (stored !== r.sha256) throw new StorageError(`the stored copy of ${lake.uri(target)} does not match what was written (sha256 differs)`, { hint: 'run the erasure again' });
  }
  stepDone(options, 'object');

  // 4. Manifest and catalog; 5. close the intent.
  await finishObject(options, intent!, { key, kind, manifest: mKey, sha256: r.sha256, bytes: r.bytes, rows: r.kept, removed: r.removed, deleted: action === 'deleted', replace, newKey });
  logger.info(
    `${action} ${lake.uri(key)}${newKey ? ` as ${lake.uri(newKey)}` : ''}: ${r.removed} rows of the subject removed, ${r.kept} left${replace ? '; the old object is vacuumed after the erasure grace' : ''}`,
    { step: 'erase', key, ...(newKey ? { new_key: newKey } : {}), rows_removed: r.removed, rows_left: r.kept },
  );
  if (newKey) summary.new_key = newKey;
  return summary;
}

interface Outcome {
  key: string;
  kind: 'data' | 'rejects';
  manifest?: string;
  sha256: string;
  bytes: number;
  rows: number;
  removed: number;
  deleted: boolean;
  /** A data object: rewritten under `newKey` (or dropped), the old one left for the vacuum. */
  replace?: boolean;
  newKey?: string;
}

/** Steps 4 and 5 of an object's erasure: idempotent, so recovery may run them again. */
async function finishObject(options: ErasureOptions, intent: TrailEntry, o: Outcome): Promise<void> {
  const { lake, catalog } = options;
  if (o.manifest) await updateManifest(options, o.manifest, intent.run_id, o);
  stepDone(options, 'manifest');
  // The catalog's row of the object follows it to its copy (a dropped object's row is marked
  // deleted by the vacuum that deletes it).
  if (o.newKey) catalog!.replaceLakeObject(lake.provider, lake.bucket, o.key, { key: o.newKey, uri: lake.uri(o.newKey), sha256: o.sha256, bytes: o.bytes, rows: o.rows });
  else if (o.replace) {
    /* dropped whole: the old object stays until the vacuum */
  } else if (o.deleted) catalog!.markLakeObjectsDeleted(lake.provider, lake.bucket, [o.key], options.now.toISOString());
  else catalog!.updateLakeObject(lake.provider, lake.bucket, o.key, { sha256: o.sha256, bytes: o.bytes, rows: o.rows });
  appendTrail(catalog!.db, [
    {
      action: o.deleted ? 'erasure.delete' : 'erasure.rewrite',
      lake: options.destination,
      key: o.key,
      count: o.removed,
      run_id: options.runId,
      detail: { intent: intent.seq, rows_removed: o.removed, rows_left: o.rows, sha256: o.deleted ? null : o.sha256, bytes: o.deleted ? 0 : o.bytes, ...(o.replace ? { new_key: o.newKey ?? null } : {}) },
    },
  ]);
  stepDone(options, 'done');
}

/** Rewrite the run's manifest for the new object (rows, sha256, bytes) and log the erasure in it. */
async function updateManifest(options: ErasureOptions, key: string, erasureRunId: string, o: Outcome): Promise<void> {
  const { lake, logger, catalog } = options;
  if (!(await lake.head(key))) {
    logger.warn(`no manifest ${lake.uri(key)} for ${o.key}: only the object was changed`);
    return;
  }
  let manifest: ErasedManifest;
  try {
    manifest = JSON.parse((await readObject(lake, key)).toString('utf8')) as ErasedManifest;
  } catch (err) {
    if (err instanceof WattError) throw err;
    throw new DataError(`manifest ${lake.uri(key)} is not valid JSON; the object ${o.key} was already rewritten`, { hint: 'repair the manifest, then run the erasure again' });
  }
  if (o.kind === 'data' && Array.isArray(manifest.objects)) {
    // Version 2: the object's entry is updated, or removed when the object was deleted; rows recomputed.
    const i = manifest.objects.findIndex((e) => e?.key === o.key);
    if (i >= 0) {
      if (o.deleted) manifest.objects.splice(i, 1);
      else if (o.newKey) manifest.objects[i] = { ...manifest.objects[i]!, key: o.newKey, uri: lake.uri(o.newKey), sha256: o.sha256, bytes: o.bytes, rows: o.rows };
      else manifest.objects[i] = { ...manifest.objects[i]!, sha256: o.sha256, bytes: o.bytes, rows: o.rows };
      manifest.rows = manifest.objects.reduce((sum, e) => sum + (Number.isFinite(e.rows) ? e.rows : 0), 0);
    }
  } else if (o.kind === 'data' && manifest.object?.key === o.key) {
    manifest.object = o.deleted ? null : { ...manifest.object, ...(o.newKey ? { key: o.newKey, uri: lake.uri(o.newKey) } : {}), sha256: o.sha256, bytes: o.bytes, rows: o.rows };
    manifest.rows = o.rows;
  } else if (o.kind === 'rejects' && manifest.rejects?.key === o.key) {
    manifest.rejects = o.deleted ? null : { ...manifest.rejects, rows: o.rows };
    manifest.rejected = o.rows;
  }
  manifest.erasures ??= [];
  if (!manifest.erasures.some((e) => e.run_id === erasureRunId && e.key === o.key)) {
    // `replaced_by` (a data object; null when dropped whole): the old key awaits the vacuum.
    manifest.erasures.push({ run_id: erasureRunId, at: options.now.toISOString(), key: o.key, rows_removed: o.removed, ...(o.replace ? { replaced_by: o.newKey ?? null } : {}), ...storeVersionsNote(options.storeVersions) });
  }
  const body = JSON.stringify(manifest, null, 2) + '\n';
  const sha256 = createHash('sha256').update(body).digest('hex');
  await lake.put(key, body, { sha256, contentType: 'application/json' });
  catalog!.updateLakeObject(lake.provider, lake.bucket, key, { sha256, bytes: Buffer.byteLength(body), body });
}

/**
 * Complete what an interrupted erasure left: for each open `erasure.intent` on this lake, if the
 * store holds the new object (sha256 matches, or deleted as intended) finish the manifest and close
 * the intent; otherwise close it as abandoned (the object was not replaced; the scan redoes it).
 * @returns intents completed.
 */
async function recover(options: ErasureOptions): Promise<number> {
  const { lake, logger, catalog } = options;
  let completed = 0;
  for (const intent of openIntents(catalog!.db, options.destination)) {
    const d = intent.parsed as { op: string; kind: 'data' | 'rejects'; replace?: boolean; new_key?: string | null; new_sha256: string; new_bytes: number; new_rows: number; rows_removed: number; manifest: string | null; pseudonym_prefix: string };
    const key = intent.key!;
    let applied: boolean;
    if (d.replace) {
      // A data object: the old one is left as it is; applied once the new one is stored whole.
      if (d.op === 'delete' || !d.new_key) applied = true;
      else {
        const head = await lake.head(d.new_key);
        applied = !!head && (await sha256Stream(await lake.get(d.new_key))) === d.new_sha256;
      }
    } else {
      const head = await lake.head(key);
      if (d.op === 'delete') applied = !head;
      else applied = !!head && (await sha256Stream(await lake.get(key))) === d.new_sha256;
    }
    if (applied) {
      await finishObject(options, intent, { key, kind: d.kind, manifest: d.manifest ?? undefined, sha256: d.new_sha256, bytes: d.new_bytes, rows: d.new_rows, removed: d.rows_removed, deleted: d.op === 'delete', replace: d.replace, newKey: d.new_key ?? undefined });
      completed++;
      logger.warn(`completed the interrupted erasure step of run ${intent.run_id} on ${lake.uri(key)} (subject ${d.pseudonym_prefix}…)`, { step: 'recover', key });
    } else {
      appendTrail(catalog!.db, [{ action: 'erasure.abandon', lake: options.destination, key, count: 0, run_id: options.runId, detail: { intent: intent.seq, reason: 'object not replaced' } }]);
      if (d.pseudonym_prefix !== options.pseudonym.slice(0, PSEUDONYM_PREFIX_CHARS)) {
        logger.warn(`an interrupted erasure of another subject (${d.pseudonym_prefix}…, run ${intent.run_id}) had not replaced ${lake.uri(key)}: run that erasure again`);
      }
    }
  }
  return completed;
}

type ObjectKind = 'data' | 'rejects';
type ObjectFormat = 'csv' | 'parquet' | 'jsonl';

const CONTENT_TYPES: Record<ObjectFormat, string> = { csv: 'text/csv; charset=utf-8', parquet: 'application/vnd.apache.parquet', jsonl: 'application/x-ndjson' };

function formatOf(key: string, kind: ObjectKind): ObjectFormat {
  if (kind === 'rejects') return 'jsonl';
  return key.endsWith('.parquet') ? 'parquet' : 'csv';
}

/**
 * Rewrite (or, without `out`, only count) one lake object without the subject's rows, by format.
 * Parquet is read from a local copy (`source`, removed after). The copy and `out` are spools of
 * WATT_HOME/tmp, encrypted with keys held in memory only (src/spool-crypto.ts): an erasure killed
 * mid-way leaves no readable rows behind.
 */
async function rewriteObject(options: ErasureOptions, key: string, kind: ObjectKind, subjects: ReadonlySet<string>, out: string | undefined, source: string): Promise<Rewrite> {
  const format = formatOf(key, kind);
  if (format !== 'parquet') return (format === 'csv' ? rewriteCsv : rewriteJsonl)(await options.lake.get(key), searched(options), subjects, out, options.signal, out !== undefined);
  const cipher = newSpoolCipher();
  try {
    try {
      await pipeline(await options.lake.get(key), encryptingStream(cipher), createWriteStream(source, { mode: 0o600 }), options.signal ? { signal: options.signal } : {});
      // Parquet reads are random (not authenticated one by one): the whole copy is checked once.
      await sha256Spool(source, cipher);
    } catch (err) {
      if (err instanceof WattError) throw err;
      if (options.signal?.aborted) throw new InterruptedError('erasure interrupted while reading an object; nothing was replaced: run the same erasure again');
      throw new StorageError(`cannot read or spool ${options.lake.uri(key)}: ${(err as Error).message.split('\n')[0]!.slice(0, 160)}`);
    }
    try {
      return await rewriteParquet(source, searched(options), subjects, out, options.signal, cipher, out !== undefined);
    } catch (err) {
      if (err instanceof DataError) throw new DataError(`${err.message.replace('a lake object', options.lake.uri(key))}`, { hint: 'check the object (watt verify), restore it or remove its run, then run the erasure again' });
      throw err;
    }
  } finally {
    await rm(source, { force: true });
  }
}

/**
 * Read a Parquet file (local) one row group at a time and write `out` (when given) without the
 * rows whose `column` holds one of `pseudonym`: same columns and kinds ({@link columnsOf}), same
 * footer key/value metadata, cells passed through untouched (timestamps as bigint microseconds),
 * so kept rows are identical. `sha256`/`bytes` are those of `out`, or of `file` when counting only.
 * `cipher`: `file` is an encrypted spool (src/spool-crypto.ts); `encrypt`: write `out` as one
 * (its cipher in the result).
 * @throws DataError when the file is not readable Parquet (nothing is written).
 */
export async function rewriteParquet(file: string, column: string | readonly string[], pseudonym: string | ReadonlySet<string>, out?: string, signal?: AbortSignal, cipher?: SpoolCipher, encrypt = false): Promise<Rewrite> {
  const subjects = typeof pseudonym === 'string' ? new Set([pseudonym]) : pseudonym;
  const names = typeof column === 'string' ? [column] : column;
  const byColumn: Record<string, number> = {};
  let rowsIn = 0;
  let kept = 0;
  let removed = 0;
  let writer: ParquetFileWriter | undefined;
  try {
    const metadata = await readParquetMetadata(file, cipher);
    const kv = Object.fromEntries((metadata.key_value_metadata ?? []).filter((e) => typeof e.value === 'string').map((e) => [e.key, e.value as string]));
    // Columns written without min/max statistics (ingest leaves them out for pseudonyms, which
    // would otherwise sit in the footer) are rewritten without them too.
    const first = metadata.row_groups[0];
    const columns = columnsOf(metadata).map((c, i) => {
      const st = first?.columns[i]?.meta_data?.statistics;
      return { ...c, statistics: !first || (st?.min_value ?? st?.max_value ?? st?.min ?? st?.max) !== undefined };
    });
    for await (const group of readParquetRowGroups(file, cipher)) {
      if (signal?.aborted) throw new InterruptedError('erasure interrupted while rewriting an object; it was not replaced: run the same erasure again');
      const indexes = names.map((n) => group.columns.findIndex((c) => c.name === n));
      if (out && !writer) writer = new ParquetFileWriter(out, columns, { metadata: kv, ...(encrypt ? { spool: {} } : {}) });
      for (const row of group.rows) {
        rowsIn++;
        const hit = indexes.findIndex((i) => i >= 0 && subjects.has(row[i] as string));
        if (hit >= 0) {
          removed++;
          byColumn[names[hit]!] = (byColumn[names[hit]!] ?? 0) + 1;
          continue;
        }
        kept++;
        writer?.append(row);
      }
    }
    if (out && !writer) writer = new ParquetFileWriter(out, columns, { metadata: kv, ...(encrypt ? { spool: {} } : {}) });
  } catch (err) {
    writer?.abort();
    if (err instanceof WattError) throw err;
    throw new DataError(`cannot read a lake object as Parquet (${(err as Error).message.split('\n')[0]!.slice(0, 120)}): erasure stopped before changing anything`);
  }
  if (writer) writer.close();
  const target = out ?? file;
  const targetCipher = out ? writer?.cipher : cipher;
  const sha256 = targetCipher ? await sha256Spool(target, targetCipher) : await sha256Stream(readSpoolStream(target, undefined));
  const { size } = await stat(target);
  return { rowsIn, kept, removed, byColumn, sha256, bytes: size, ...(out && targetCipher ? { cipher: targetCipher } : {}) };
}


/**
 * Stream a CSV object (header first, as ingest writes it) into `out` (or nowhere, to count),
 * dropping rows whose `column` equals `pseudonym`; rows are serialised exactly as ingest does, so
 * kept rows are byte-identical. `encrypt`: `out` is written as an encrypted spool (src/spool-crypto.ts;
 * its cipher in the result).
 * @throws DataError if the object is not parseable CSV.
 */
export async function rewriteCsv(input: Readable, column: string | readonly string[], pseudonym: string | ReadonlySet<string>, out?: string, signal?: AbortSignal, encrypt = false): Promise<Rewrite> {
  const subjects = typeof pseudonym === 'string' ? new Set([pseudonym]) : pseudonym;
  const names = typeof column === 'string' ? [column] : column;
  const byColumn: Record<string, number> = {};
  let indexes: number[] | undefined;
  const hash = createHash('sha256');
  let bytes = 0;
  let rowsIn = 0;
  let kept = 0;
  let removed = 0;
  let pending = '';
  const emit = (t: Transform, force: boolean) => {
    if (pending.length < OUTPUT_CHUNK && !(force && pending)) return;
    const buf = Buffer.from(pending, 'utf8');
    pending = '';
    hash.update(buf);
    bytes += buf.length;
    t.push(buf);
  };
  const filter = new Transform({
    writableObjectMode: true,
    transform(record: string[], _enc: BufferEncoding, callback: TransformCallback) {
      if (indexes === undefined) indexes = names.map((n) => record.indexOf(n));
      else {
        rowsIn++;
        const hit = indexes.findIndex((i) => i >= 0 && subjects.has(record[i]!));
        if (hit >= 0) {
          removed++;
          byColumn[names[hit]!] = (byColumn[names[hit]!] ?? 0) + 1;
          callback();
          return;
        }
        kept++;
      }
      pending += record.map(csvField).join(',') + '\n';
      emit(this, false);
      callback();
    },
    flush(callback: TransformCallback) {
      emit(this, true);
      callback();
    },
  });
  const spool = out && encrypt ? spoolWriteStream(out) : undefined;
  try {
    await pipeline(input, parse({ bom: true, relax_column_count: true, skip_empty_lines: false }), filter, spool ? spool.stream : out ? createWriteStream(out, { mode: 0o600 }) : discard(), signal ? { signal } : {});
  } catch (err) {
    if (err instanceof WattError) throw err;
    if (signal?.aborted) throw new InterruptedError('erasure interrupted while rewriting an object; it was not replaced: run the same erasure again');
    const code = (err as { code?: string }).code ?? '';
    if (code.startsWith('CSV_')) throw new DataError(`cannot parse a lake object as CSV (${code}): erasure stopped before changing it`);
    throw new StorageError(`cannot read or spool a lake object: ${(err as Error).message.split('\n')[0]!.slice(0, 160)}`);
  }
  return { rowsIn, kept, removed, byColumn, sha256: hash.digest('hex'), bytes, ...(spool ? { cipher: spool.cipher } : {}) };
}

/** The personal columns an erasure searches. */
function searched(options: ErasureOptions): readonly string[] {
  return options.columns ?? [options.column];
}

/** Stream a quarantine file (JSON lines), dropping lines that hold the pseudonym. */
export async function rewriteJsonl(input: Readable, _column: string | readonly string[], pseudonym: string | ReadonlySet<string>, out?: string, signal?: AbortSignal, encrypt = false): Promise<Rewrite> {
  const subjects = [...(typeof pseudonym === 'string' ? [pseudonym] : pseudonym)];
  const hash = createHash('sha256');
  const spool = out && encrypt ? spoolWriteStream(out) : undefined;
  const sink = spool ? spool.stream : out ? createWriteStream(out, { mode: 0o600 }) : undefined;
  let rowsIn = 0;
  let kept = 0;
  let removed = 0;
  let bytes = 0;
  for await (const line of createInterface({ input, crlfDelay: Infinity })) {
    if (signal?.aborted) throw new InterruptedError('erasure interrupted while rewriting a quarantine file; it was not replaced: run the same erasure again');
    if (line === '') continue;
    rowsIn++;
    if (subjects.some((p) => line.includes(p))) {
      removed++;
      continue;
    }
    kept++;
    const buf = Buffer.from(line + '\n', 'utf8');
    hash.update(buf);
    bytes += buf.length;
    if (sink && !sink.write(buf)) await new Promise<void>((resolve) => sink.once('drain', () => resolve()));
  }
  if (sink) await new Promise<void>((resolve, reject) => sink.end((err?: Error | null) => (err ? reject(err) : resolve())));
  return { rowsIn, kept, removed, sha256: hash.digest('hex'), bytes, ...(spool ? { cipher: spool.cipher } : {}) };
}

/** Whether a stream holds `needle` (or any of `needle`), searching across chunk boundaries; stops reading at the first hit. */
export async function streamContains(stream: Readable, needle: Buffer | readonly Buffer[], signal?: AbortSignal): Promise<boolean> {
  const needles = Buffer.isBuffer(needle) ? [needle] : needle;
  const longest = Math.max(1, ...needles.map((n) => n.length));
  let tail = Buffer.alloc(0);
  try {
    for await (const chunk of stream) {
      if (signal?.aborted) throw new InterruptedError('erasure interrupted while searching; nothing was changed by this run');
      const buf = tail.length ? Buffer.concat([tail, chunk as Buffer]) : (chunk as Buffer);
      if (needles.some((n) => buf.indexOf(n) !== -1)) return true;
      tail = Buffer.from(buf.subarray(Math.max(0, buf.length - longest + 1)));
    }
  } finally {
    stream.destroy();
  }
  return false;
}

/**
 * One step of an object's erasure done: the test hook, then the failpoint
 * `purge:erasure-after-<step>` (intent, object, manifest, done; see src/failpoint.ts).
 */
function stepDone(options: ErasureOptions, step: ErasureStep): void {
  options.onStep?.(step);
  failpoint(`purge:erasure-after-${step}`);
}

/** Every pseudonym of the subject this erasure removes. */
function subjectSet(options: ErasureOptions): string[] {
  return [...new Set([options.pseudonym, ...(options.pseudonyms ?? [])])];
}

/** Hex sha256 of a stream. */
export async function sha256Stream(stream: Readable): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of stream) hash.update(chunk as Buffer);
  return hash.digest('hex');
}


function discard(): Writable {
  return new Writable({
    write(_chunk, _enc, callback) {
      callback();
    },
  });
}
