import path from 'node:path';
import { readdirSync, rmSync, statSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { failpoint, pausepoint } from '../failpoint.js';
import { DataError, InterruptedError, LockError, StorageError, UsageError } from '../errors.js';
import type { LakeConfig } from '../config.js';
import { destinationUri, objectUri, openLake, type Lake } from '../store/index.js';
import { dataKey, manifestKey, rejectsKey, sourceStem, type Layout, type PartitionDate } from '../table/layout.js';
import type { Catalog } from '../catalog/catalog.js';
import type { Logger } from '../log.js';
import { acquireLock, liveLocks, lockNames } from '../lock.js';
import { recoverLake } from '../table/recover.js';
import { graceMs } from '../table/integrity.js';
import { wattVersion } from '../paths.js';
import { ensurePrivateDir } from '../private-fs.js';
import { interruptedError } from '../signals.js';
import type { CompiledSchema } from '../records/schema.js';
import { keyIdOf, schemeLabel, type PseudonymisationKey, type PseudonymScheme } from '../records/pseudonymise.js';
import { appendTrail } from '../trail/trail.js';
import { scanSource } from './scan.js';
import type { FaultGroup, RowError } from './transform.js';
import { needsOneRange, rangesFor, startRangeWorkers, transformSource, type RangeWorkers, type TransformOutcome } from './transform-plan.js';
import type { CsvDialect } from '../records/dialect.js';
import { cutoffDay, describeFaults, expiredRows } from './run-report.js';
import { formatBytes, uploadOutputs } from './upload.js';
import { publishTableVersion } from '../table/delta-log.js';
import { changedObjects } from '../table/committed.js';
import { claimSource, claimWaitMs, endClaim, honoursPutIfAbsent, releaseClaim, s3ConditionalWrites } from '../table/claim.js';
import { claimSourcePg, commitClaimPg, lockPrefix, releaseClaimPg } from '../table/pg-claim.js';
import { filterErasedSubjects } from './erased-subjects.js';
import { writeManifest, type DataFormat, type ExtraColumnsPolicy, type Manifest } from '../table/manifest.js';
import { findLanded, lakeKeyId, lakeScheme, readLakeIndex } from './lake-index.js';
import { checkKeyId, resolveKey, resolveScheme } from './key-identity.js';
import { manifestSchema, storeSchema } from './schema-store.js';
import { redactPatterns, redactValues, sourceFileName, sourceLabel } from './source-name.js';
import type { SpoolCipher } from '../spool-crypto.js';
import { assertSourceUnchanged, snapshotOf, type SourceSnapshot } from './source-snapshot.js';

export type { RowError } from './transform.js';

export interface IngestOptions {
  /** Path of the CSV source. */
  source: string;
  /** Set when `source` is an encrypted spool copy (src/spool-crypto.ts). */
  sourceCipher?: SpoolCipher;
  schema: CompiledSchema;
  lake: LakeConfig;
  layout: Layout;
  /** Partition date `YYYY-MM-DD` (UTC): of every row, unless `partitionBy` is set. */
  date: PartitionDate;
  /** Format of the data objects (default csv). */
  format?: DataFormat;
  /** A date-time column of the schema: each row lands in the partition of its UTC day. */
  partitionBy?: string;
  /** Columns the schema does not declare: keep (default, warn), drop, or reject the source (exit 1). */
  extraColumns?: ExtraColumnsPolicy;
  runId: string;
  /**
   * The configured pseudonymisation key (never logged), or undefined: then a key is generated in
   * `home` only if the lake prefix has no manifest yet, else the run fails (exit 2).
   */
  pseudonymisationKey: PseudonymisationKey | undefined;
  /** Rotate on purpose: land with a key whose id differs from the lake's (recorded in catalog, log, trail). */
  newKey?: boolean;
  /** `--pseudonym-scheme`: the scheme of a new prefix or of a rotation (default v2; key-identity.ts resolveScheme). */
  pseudonymScheme?: PseudonymScheme;
  /** WATT_HOME: spool files and locks live here. */
  home: string;
  dryRun?: boolean;
  /** Re-ingest a source already ingested to the same destination. */
  force?: boolean;
  /** Land valid rows and send rejected rows to `<prefix>/_rejects/<run_id>.jsonl`. */
  quarantine?: boolean;
  logger: Logger;
  /** The catalog: caches the lake's manifests; written unless dry run. */
  catalog?: Catalog;
  logFile?: string;
  signal?: AbortSignal;
  /** Called about every 50,000 rows with rows seen and source bytes read. */
  onProgress?: (progress: { rows: number; bytes: number; totalBytes: number }) => void;
  /**
   * Worker threads already started for this source ({@link prestartWorkers}): used if given, and
   * ended by the run whatever happens.
   */
  workers?: RangeWorkers;
  /** The CSV dialect: the schema's `x-dialect` with --delimiter / --encoding applied (default: the schema's). */
  dialect?: CsvDialect;
  /** --timezone: IANA zone of naive date-times, over the schema's `x-timezone`. */
  timezone?: string;
  /** Raw-data retention period, days (retention policy `raw_data`): partitions older than it are expired. */
  retentionDays?: number;
  /** Land rows in partitions already past retention (`--partition-by` refuses them otherwise, exit 2). */
  allowExpired?: boolean;
  /** The current time (tests); default now. */
  now?: Date;
}

/** What `watt ingest` did; `--json` prints run_id, status, rows, rejected, destination, format, objects, manifest, log and key_id. */
export interface IngestResult {
  run_id: string;
  status: 'succeeded' | 'rejected' | 'skipped' | 'dry_run';
  rows: number;
  rejected: number;
  /**
   * URI of the (first, by key) data object written (or that would be written); null when the run
   * wrote no data object (every row rejected).
   */
  destination: string | null;
  /** Format of the data objects. */
  format: DataFormat;
  /** The data objects, one per partition day, sorted by key (written, or that would be written). */
  objects: { key: string; uri: string; rows: number; partition_date: string }[];
  /** URI of the manifest (written, or that would be written). */
  manifest: string;
  log: string | null;
  source_sha256: string;
  object_key: string;
  object_sha256: string | null;
  /** keyIdOf() of the key the pseudonyms were made with. */
  key_id: string | null;
  /** The lake key id this run rotated away from (`--new-key`), if it did. */
  rotated_from_key_id?: string;
  /** How the pseudonyms are spelled (records/pseudonymise.ts PseudonymScheme); null before the lake was read. */
  pseudonym_scheme?: PseudonymScheme;
  /** The lake's pseudonym scheme this run rotated away from (`--new-key`), if it did. */
  rotated_from_scheme?: PseudonymScheme;
  warnings: string[];
  /** First row errors (strict: up to 20). */
  errors: RowError[];
  /** The earlier run that loaded the same file, when status is skipped. */
  previous_run_id?: string;
  /** The file name as recorded (personal identifiers redacted), once the transform has read every cell. */
  source_name?: string;
  /** The table log version (`<prefix>/_delta_log/`) that publishes this run; null when not published (see the log's warning). */
  table_version?: number | null;
  /** Rejected rows grouped by column and reason (every rejected row counted), most rows first. */
  faults: FaultGroup[];
  /** Rows landed (or that would land) in partitions already past the raw-data retention period. */
  expired_rows: number;
  /** The retention cutoff day: partitions before it are deleted by the next `watt purge`. */
  retention_cutoff?: string;
  /** URI of the quarantine file of rejected rows, when one was written. */
  rejects?: string;
}

/**
 * Run one ingestion: hash the source; read the lake prefix's manifests (skip a source that
 * already landed; check the key id); stream the source through UTF-8 check -> csv-parse ->
 * header check -> canonical identifiers -> ajv per row -> canonical values -> pseudonymisation ->
 * one spool file per partition day (CSV or Parquet); then upload the objects (one per day, in
 * key order), the quarantine file if any, and the manifest (version 2, listing every object) last.
 *
 * Memory stays flat: rows are never held together; the output is spooled to
 * `<home>/tmp/` so that nothing reaches the lake before every row is checked. Until the file name
 * is redacted (end of the transform) the source is called by its sha256 prefix.
 *
 * @throws UsageError (2) missing/unreadable source, `partitionBy` not a date-time column of the schema, key id of the lake differs from the key's
 * (without `newKey`), no key configured for a lake that has data; DataError (1) bad header, bad
 * rows in strict mode, empty file, invalid UTF-8, broken quoting; StorageError (3) lake failures;
 * LockError (4) the same file is being ingested to the same destination; InterruptedError (130,
 * 143 for SIGTERM).
 */
export async function ingest(options: IngestOptions): Promise<IngestResult> {
  const { logger, runId } = options;
  const startedAt = new Date().toISOString();
  const sourceInfo = await checkSource(options.source);
  const format = options.format ?? 'csv';
  const partitionBy = checkPartitionBy(options.schema, options.partitionBy);
  const destination = destinationUri(options.lake);
  const manifestK = manifestKey(options.lake.prefix, runId);
  const rejectsK = rejectsKey(options.lake.prefix, runId);
  const uriOf = (key: string) => objectUri(options.lake, key);
  const interrupted = () => interruptedError(options.signal, `run ${runId} interrupted; nothing was left in the lake`);

  logger.info(`run ${runId}: ingest a ${formatBytes(sourceInfo.size)} source to ${destination}`);
  // Worker threads start now: their start-up overlaps the scan and the lake checks.
  const serial = needsOneRange(options.schema, options.dialect, options.timezone);
  const workers: RangeWorkers | undefined = options.workers ?? startRangeWorkers(sourceInfo.size, options.schema, serial);
  try {
    const scan = await scanSource(options.source, sourceInfo.size, rangesFor(sourceInfo.size, serial), options.signal, options.sourceCipher).catch((err: unknown) => {
      throw options.signal?.aborted ? interrupted() : err;
    });
    const sourceSha = scan.sha256;
    const label = sourceLabel(sourceSha);
    // What was hashed must be what is read: the file may not change from here to the last read.
    await assertSourceUnchanged(options.source, sourceInfo.snapshot, label, scan.size);
    logger.debug(`source sha256 ${sourceSha}`, { step: 'hash', source_sha256: sourceSha });
    // The name as far as the schema's patterns can tell before reading any cell.
    const patternRedacted = redactPatterns(sourceFileName(options.source), options.schema.personalPatterns.values());

    const base: IngestResult = {
      run_id: runId,
      status: 'succeeded',
      rows: 0,
      rejected: 0,
      destination,
      format,
      objects: [],
      manifest: uriOf(manifestK),
      log: options.logFile ?? null,
      source_sha256: sourceSha,
      object_key: '',
      object_sha256: null,
      key_id: null,
      warnings: [],
      errors: [],
      faults: [],
      expired_rows: 0,
    };

    // The lock makes "already ingested?" and the ingest one step for this file and destination.
    const lock = options.dryRun ? undefined : acquireLock(options.home, lockNames.ingest(sourceSha, destination), `an ingest of this file to ${destination}`);
    const purging = lock ? liveLocks(options.home, (name) => name === lockNames.purge(destination)) : [];
    if (purging.length) {
      lock?.release();
      throw new LockError(`a purge of ${destination} is running (pid ${purging[0]!.pid}): ingest refused so that no row escapes an erasure`, { hint: 'run the ingest again when the purge is done' });
    }
    // Finish what crashed runs left on this lake (orphan objects, stale spool, runs left running).
    if (lock) await recoverLake({ lake: options.lake, prefix: options.lake.prefix, home: options.home, catalog: options.catalog, logger, runId, graceMs: graceMs(), signal: options.signal });
    const spoolDir = path.join(options.home, 'tmp');
    // Spool files: `<runId>.r<range>.<YYYY-MM-DD>.<csv|parquet>` (one per range and partition day,
    // joined into the range 0 file) and `<runId>.rejects.jsonl`.
    const spoolPrefix = path.join(spoolDir, runId);
    const rejectsFile = path.join(spoolDir, `${runId}.rejects.jsonl`);
    // The transform's outcome once known: its partition files outside WATT_HOME/tmp (objects built
    // in the local lake's staging folder, transform-plan.ts `stage`, or erasure's filtered copies
    // of them) are moved onto their keys by the upload and removed on any other path.
    let transformed: TransformOutcome | undefined;
    const removeSpool = () => {
      for (const p of transformed?.partitions ?? []) if (path.dirname(p.file) !== spoolDir) rmSync(p.file, { force: true });
      let names: string[] = [];
      try {
        names = readdirSync(spoolDir);
      } catch {
        return;
      }
      // Not `<runId>.stdin/`: the spooled standard input this run reads, removed by its owner (sources.ts).
      for (const name of names) if (name.startsWith(`${runId}.`) && name !== `${runId}.stdin`) rmSync(path.join(spoolDir, name), { force: true });
    };
    // Should the process be ended before the finally block runs (second signal, grace period
    // over), the lock and the spool still go.
    const onExit = () => {
      lock?.release();
      removeSpool();
    };
    process.once('exit', onExit);
    // A dry run reads the lake and the catalog but records nothing.
    const recorder = options.dryRun ? undefined : options.catalog;
    recorder?.startRun({ run_id: runId, command: 'ingest', started_at: startedAt, source_name: label, source_sha256: sourceSha, destination, log_path: options.logFile });
    let lake: Lake | undefined;
    const written: string[] = [];
    let claim: { key: string; generation: number } | undefined;
    // With a PostgreSQL catalog: the claim is a row there, and the prefix lock (shared) is held
    // from the first upload to the manifest so that no purge or erasure runs beside the commit.
    let pgClaim: { lakeId: string; prefix: string; sourceSha256: string; keyId: string; runId: string } | undefined;
    let releasePrefix: (() => void) | undefined;
    try {
      lake = await openLake(options.lake);
      const index = await readLakeIndex(lake, options.lake.prefix, options.lake.endpoint, recorder, logger);
      const landed = findLanded(index, sourceSha);
      if (landed && !options.force) {
        logger.info(`already ingested by run ${landed.run_id} (same sha256, manifest ${landed.uri}): nothing to do; use --force to ingest again`);
        recorder?.finishRun(runId, { status: 'skipped', rows: 0, rejected: 0, manifest_uri: landed.uri });
        return { ...base, status: 'skipped', destination: landed.object_uri ?? destination, manifest: landed.uri, previous_run_id: landed.run_id ?? undefined };
      }
      const key = resolveKey(options, index, destination);
      const keyId = keyIdOf(key.key);
      base.key_id = keyId;
      const { scheme, from: schemeFrom } = resolveScheme(options, index, destination);
      base.pseudonym_scheme = scheme;
      if (schemeFrom) base.rotated_from_scheme = schemeFrom;
      const rotatedFrom = checkKeyId(options, index, keyId, destination, schemeFrom);
      if (rotatedFrom) base.rotated_from_key_id = rotatedFrom;
      recorder?.finishRun(runId, { status: 'running', finished_at: null, key_id: keyId, rotated_from_key_id: rotatedFrom ?? null });
      if (options.schema.personal.size) logger.debug(`pseudonymising ${[...options.schema.personal].join(', ')} with HMAC-SHA256, scheme ${schemeLabel(scheme)}, key id ${keyId} (key from ${key.source})`);

      await pausepoint('ingest:before-transform');
      if (options.signal?.aborted) throw interrupted();
      await ensurePrivateDir(spoolDir);
      const t0 = performance.now();
      const outcome = await transformSource(
        {
          ...options,
          format,
          partitionBy,
          workers,
          pseudonymisationKey: key.key,
          pseudonymScheme: scheme,
          sourceLabel: label,
          sourceName: patternRedacted,
          parquetMetadata: { 'watt.run_id': runId, 'watt.schema_sha256': options.schema.sha256 },
          // A dry run writes nothing to the lake, not even a staged file.
          ...(lake.stagingFile && !options.dryRun ? { stage: () => lake!.stagingFile!() } : {}),
        },
        scan,
        spoolPrefix,
        rejectsFile,
      );
      transformed = outcome;
      await assertSourceUnchanged(options.source, sourceInfo.snapshot, label);
      failpoint('ingest:after-spool');
      const seconds = (performance.now() - t0) / 1000;
      // The file name as recorded anywhere: redacted of every personal cell found in it.
      const sourceName = redactValues(patternRedacted, outcome.nameHits);
      base.source_name = sourceName;
      const objectKey = (date: string) => dataKey(options.lake.prefix, options.layout, date, sourceStem(sourceName), runId, format);
      const objects = outcome.partitions.map((p) => ({ key: objectKey(p.date), uri: uriOf(objectKey(p.date)), rows: p.rows, partition_date: p.date, sha256: p.sha256 })).sort((a, b) => cmp(a.key, b.key));
      const first = objects[0];
      Object.assign(base, {
        rows: outcome.rows,
        rejected: outcome.rejected,
        errors: outcome.errors,
        faults: outcome.faults,
        warnings: outcome.warnings,
        objects: objects.map(({ sha256: _, ...o }) => o),
        object_key: first?.key ?? '',
        // No data object (every row rejected): no destination to name.
        destination: first ? uriOf(first.key) : null,
      });
      base.object_sha256 = first?.sha256 ?? null;
      if (objects.length > 1) logger.info(`${outcome.rows} valid rows in ${objects.length} partitions by ${partitionBy} (${objects[0]!.partition_date} .. ${objects.at(-1)!.partition_date})`, { step: 'partition', partitions: objects.length });
      logger.info(`${label} is ${sourceName}${sourceName === sourceFileName(options.source) ? '' : ' (personal identifiers redacted from the file name)'}`, { step: 'name' });
      logger.info(`validated ${outcome.rows + outcome.rejected} rows in ${seconds.toFixed(2)} s: ${outcome.rows} valid, ${outcome.rejected} rejected`, {
        step: 'validate',
        rows: outcome.rows,
        rejected: outcome.rejected,
      });
      // One line per column and reason, with counts and the first lines (not one per row).
      for (const line of describeFaults(outcome.faults)) logger.warn(line, { step: 'validate' });
      for (const e of outcome.errors) logger.debug(`line ${e.line}${e.column ? `, column ${e.column}` : ''}: ${describeValue(e)}${e.reason}`, { step: 'validate', ...e });

      if (outcome.rejected > 0 && !options.quarantine) {
        const first = outcome.errors[0]!;
        // The first row's faults, then (several rows) the validator's summary by column and reason.
        const firstText = first.cells
          ? `line ${first.line}: ${first.cells.map((c) => `column ${c.column}: ${c.value !== undefined ? `${JSON.stringify(c.value)} ` : ''}${c.reason}`).join(', ')}`
          : `line ${first.line}${first.column ? `, column ${first.column}` : ''}: ${describeValue(first)}${first.reason}`;
        const only = outcome.faults.length === 1 ? outcome.faults[0]! : undefined;
        const summary =
          outcome.rejected <= 1 ? '' : only ? `; ${only.rows.toLocaleString('en')} rows with this fault (lines ${only.lines.join(', ')}${only.rows > only.lines.length ? ', …' : ''})` : `; by column: ${describeFaults(outcome.faults, 3, false).join('; ')}`;
        const hint = outcome.faults.find((f) => f.hint)?.hint;
        throw new DataError(`${outcome.rejected} invalid row${outcome.rejected > 1 ? 's' : ''} in ${sourceName}, nothing was written (first: ${firstText})${summary}`, {
          hint: `${hint ? `${hint}; then ` : ''}fix the file, or rerun with --quarantine to land the valid rows and set the others aside`,
        });
      }
      // Backfills into partitions the next purge deletes (retention of raw data).
      if (options.retentionDays !== undefined) {
        const cutoff = cutoffDay(options.now ?? new Date(), options.retentionDays);
        base.retention_cutoff = cutoff;
        base.expired_rows = expiredRows(objects, cutoff);
        if (base.expired_rows > 0) {
          const what = `${base.expired_rows} of ${outcome.rows} rows land in partitions before ${cutoff}, past the ${options.retentionDays}-day retention of raw data: the next watt purge deletes them`;
          if (partitionBy && !options.allowExpired) throw new UsageError(`${what}; nothing was written`, { hint: 'pass --allow-expired to land them anyway, or leave out the rows older than the retention period' });
          logger.warn(what, { step: 'retention', expired_rows: base.expired_rows, cutoff });
          base.warnings.push(what);
        }
      }
      if (options.dryRun) {
        logger.info(`dry run: would write ${objects.length === 0 ? 'no data object' : objects.length > 1 ? `${objects.length} objects from ${base.destination}` : base.destination} (${outcome.rows} rows${outcome.rejected ? `, ${outcome.rejected} to ${uriOf(rejectsK)}` : ''}) and ${base.manifest}`);
        return { ...base, status: 'dry_run' };
      }

      releasePrefix = await lockPrefix(recorder, destination, options.lake.prefix, 'shared', `ingest ${runId}`);
      // Subjects erased from this prefix since the run started (another machine, while this run
      // transformed): their rows leave the spool before anything is uploaded.
      const erased = recorder?.erasedSince(destination, options.lake.prefix, keyId, startedAt) ?? [];
      if (erased.length) {
        const removed = await filterErasedSubjects(outcome, format, [...options.schema.personal], erased, options.signal);
        if (removed > 0) {
          const what = `${removed} row${removed > 1 ? 's' : ''} of ${erased.length > 1 ? `${erased.length} subjects` : 'a subject'} erased from ${destination} while this run was transforming left out of this run`;
          logger.warn(what, { step: 'erasure', rows_removed: removed });
          base.warnings = [...base.warnings, what];
          base.rows = outcome.rows;
          base.objects = outcome.partitions.map((p) => ({ key: objectKey(p.date), uri: uriOf(objectKey(p.date)), rows: p.rows, partition_date: p.date })).sort((a, b) => cmp(a.key, b.key));
        }
      }
      const plan = { runId, format, objectKey, rejectsKey: rejectsK, rejectsFile, date: options.date, logger, catalog: recorder };
      const { objects: objectsInfo, rejects: rejectsInfo, identities } = await uploadOutputs(lake, plan, outcome, written);
      // Pause point: objects written, nothing committed (tests race a purge or an erasure here).
      await pausepoint('ingest:before-commit');
      // Another machine may have landed in this prefix while this run transformed: look again just
      // before the commit, so that the window for a double landing or a second key is milliseconds.
      const again = await readLakeIndex(lake, options.lake.prefix, options.lake.endpoint, recorder, logger);
      const raced = options.force ? undefined : findLanded(again, sourceSha);
      if (raced) {
        await removeUnfinished(lake, written.splice(0), recorder, logger);
        logger.info(`run ${raced.run_id} landed the same source (manifest ${raced.uri}) while this run was transforming it: this run's objects removed, nothing to do`);
        recorder?.finishRun(runId, { status: 'skipped', rows: 0, rejected: 0, manifest_uri: raced.uri, source_name: sourceName });
        return { ...base, status: 'skipped', rows: 0, rejected: 0, destination: raced.object_uri ?? destination, manifest: raced.uri, previous_run_id: raced.run_id ?? undefined };
      }
      const lakeKeyNow = lakeKeyId(again);
      if (lakeKeyNow && lakeKeyNow.keyId !== keyId && lakeKeyNow.keyId !== rotatedFrom) {
        throw new UsageError(
          `another run (manifest ${lakeKeyNow.manifest}) landed in ${destination} with key id ${lakeKeyNow.keyId} while this run was transforming with key id ${keyId}: nothing of this run was kept`,
          { hint: 'configure the key this lake is now ingested with and run again' },
        );
      }
      const schemeNow = lakeScheme(again);
      if (schemeNow && schemeNow.scheme !== scheme && schemeNow.scheme !== schemeFrom) {
        throw new UsageError(
          `another run (manifest ${schemeNow.manifest}) landed in ${destination} with pseudonym scheme ${schemeLabel(schemeNow.scheme)} while this run was transforming with ${schemeLabel(scheme)}: nothing of this run was kept`,
          { hint: 'run again: the run follows the lake\'s scheme' },
        );
      }
      // The schema beside the data, before the manifest; shared by runs, so never in `written` (schema-store.ts).
      const schemaStored = await storeSchema(lake, options.lake.prefix, options.schema.source, logger);
      const manifest: Manifest = {
        manifest_version: 2,
        run_id: runId,
        source: { name: sourceName, sha256: sourceSha, bytes: sourceInfo.size },
        objects: objectsInfo,
        format,
        rejects: rejectsInfo,
        rows: outcome.rows,
        rejected: outcome.rejected,
        schema: manifestSchema(options.schema, schemaStored.key, outcome.extraColumns),
        pseudonymisation: { algorithm: 'HMAC-SHA256', columns: [...options.schema.personal], key_id: keyId, pseudonym_scheme: scheme },
        partition: partitionBy ? { layout: options.layout, by: partitionBy } : { layout: options.layout, by: null, date: options.date },
        started_at: startedAt,
        finished_at: new Date().toISOString(),
        watt_version: wattVersion(),
        ...(options.force ? { forced: true } : {}),
      };
      // Each object must still hold what this run wrote: a purge or an erasure elsewhere that did
      // not see this unfinished run may have deleted or rewritten it (issue 21, item 3).
      const changed = await changedObjects(lake, objectsInfo.map((o) => ({ ...o, identity: identities.get(o.key) })));
      if (changed.length) {
        throw new StorageError(
          `${changed.length} object${changed.length > 1 ? 's' : ''} of run ${runId} changed in the lake before its manifest (${changed[0]!.reason === 'missing' ? 'deleted' : `${changed[0]!.reason} differs`}: ${lake.uri(changed[0]!.key)}): nothing was committed`,
          { hint: 'another machine purged or erased in this prefix during the run: run the ingest again' },
        );
      }
      // The landing claim (issue 21, item 2): of two machines landing this source now, exactly one
      // commits; the other removes its objects and is skipped. `--force` lands again on purpose.
      if (!options.force && recorder?.pg) {
        // The shared PostgreSQL catalog decides (a unique row), whatever the store's conditional writes.
        pgClaim = { lakeId: destination, prefix: options.lake.prefix, sourceSha256: sourceSha, keyId, runId };
        const outcome = await claimSourcePg({ ...pgClaim, catalog: recorder, lake, logger, graceMs: graceMs(), waitMs: claimWaitMs() });
        if (!outcome.won) {
          pgClaim = undefined;
          await removeUnfinished(lake, written.splice(0), recorder, logger);
          logger.info(`run ${outcome.run_id} claimed and landed the same source (manifest ${outcome.manifest}) while this run was landing it: this run's objects removed, nothing to do`, { step: 'claim' });
          recorder.finishRun(runId, { status: 'skipped', rows: 0, rejected: 0, manifest_uri: outcome.manifest, source_name: sourceName });
          return { ...base, status: 'skipped', rows: 0, rejected: 0, destination, manifest: outcome.manifest, previous_run_id: outcome.run_id };
        }
      } else if (!options.force) {
        const declared = lake.provider === 's3' ? s3ConditionalWrites() : 'on';
        if (declared === 'off') logger.info(`WATT_S3_CONDITIONAL_WRITES=off: the landing claim is not exclusive on this S3 endpoint (two machines could land this file at once)`, { step: 'claim' });
        else if (declared === 'auto' && !(await honoursPutIfAbsent(lake, options.lake.prefix))) {
          const warning = `the S3 endpoint of ${destination} ignores If-None-Match (conditional writes): the landing claim cannot stop two machines landing this file at once; share a PostgreSQL catalog or land from one machine (README "Several machines")`;
          logger.warn(warning, { step: 'claim' });
          base.warnings = [...base.warnings, warning];
        }
        const outcome = await claimSource({ lake, prefix: options.lake.prefix, sourceSha256: sourceSha, keyId, runId, logger, graceMs: graceMs(), waitMs: claimWaitMs() });
        if (!outcome.won) {
          await removeUnfinished(lake, written.splice(0), recorder, logger);
          logger.info(`run ${outcome.run_id} claimed and landed the same source (manifest ${outcome.manifest}) while this run was landing it: this run's objects removed, nothing to do`, { step: 'claim' });
          recorder?.finishRun(runId, { status: 'skipped', rows: 0, rejected: 0, manifest_uri: outcome.manifest, source_name: sourceName });
          return { ...base, status: 'skipped', rows: 0, rejected: 0, destination, manifest: outcome.manifest, previous_run_id: outcome.run_id };
        }
        claim = outcome;
      }
      failpoint('ingest:before-manifest');
      const manifestOut = await writeManifest(lake, manifestK, manifest);
      written.push(manifestK);
      releasePrefix?.();
      if (pgClaim && recorder) commitClaimPg(recorder, pgClaim);
      failpoint('ingest:after-manifest');
      logger.info(`wrote manifest ${manifestOut.uri}: run complete`, { step: 'manifest', key: manifestK });
      if ((rotatedFrom || schemeFrom) && recorder) {
        // The rotation is effective now that a manifest carries the new key id (or scheme).
        try {
          const schemes = schemeFrom ? { from_scheme: schemeFrom, to_scheme: scheme } : {};
          appendTrail(recorder.db, [{ action: 'key.rotation', lake: destination, count: 0, run_id: runId, detail: { from_key_id: rotatedFrom ?? keyId, to_key_id: keyId, ...schemes } }]);
        } catch (err) {
          logger.error(`could not write the key.rotation trail entry: ${(err as Error).message}`, { step: 'key' });
        }
      }
      recorder?.addLakeObject({ run_id: runId, kind: 'manifest', uri: manifestOut.uri, provider: lake.provider, bucket: lake.bucket, key: manifestK, sha256: manifestOut.sha256, bytes: manifestOut.bytes, partition_date: options.date, body: manifestOut.body });
      const status = outcome.rejected > 0 ? 'rejected' : 'succeeded';
      recorder?.finishRun(runId, { status, rows: outcome.rows, rejected: outcome.rejected, manifest_uri: manifestOut.uri, source_name: sourceName });
      if (!objectsInfo.length) {
        logger.warn(`no row landed: all ${outcome.rejected} rows were rejected (${rejectsInfo?.uri ?? 'no quarantine file'}); the source is not counted as ingested, run it again once fixed`, { step: 'manifest' });
        // Nothing landed: the landing claim is given back, so the rerun after the fix lands.
        if (claim) await releaseClaim(lake, claim, runId, logger);
        if (pgClaim && recorder) releaseClaimPg(recorder, pgClaim, logger);
      }
      // The run is committed; publish it as one version of the table log (src/table/delta-log.ts).
      const tableVersion = await publishTableVersion(lake, options.lake.prefix, { operation: 'WRITE', command: 'ingest', runId }, logger);
      return { ...base, status, destination: objectsInfo[0]?.uri ?? null, manifest: manifestOut.uri, table_version: tableVersion ?? null, ...(rejectsInfo ? { rejects: rejectsInfo.uri } : {}) };
    } catch (err) {
      const error = options.signal?.aborted ? interrupted() : err;
      // A run is complete exactly when its manifest exists: remove what an unfinished run wrote.
      if (lake && written.length && !written.includes(manifestK)) await removeUnfinished(lake, written.splice(0), recorder, logger);
      if (lake && claim && !written.includes(manifestK)) await releaseClaim(lake, claim, runId, logger);
      if (pgClaim && recorder && !written.includes(manifestK)) releaseClaimPg(recorder, pgClaim, logger);
      const status = error instanceof InterruptedError ? 'interrupted' : 'failed';
      recorder?.finishRun(runId, { status, rows: base.rows, rejected: base.rejected, error: error instanceof Error ? error.message.slice(0, 500) : String(error) });
      throw error;
    } finally {
      releasePrefix?.();
      endClaim(runId);
      removeSpool();
      await lake?.close();
      lock?.release();
      process.removeListener('exit', onExit);
    }
  } finally {
    workers?.close(); // idle ones: a run that stopped before its transform
  }
}

/**
 * Start the worker threads of a source's transform as early as its size is known (before the run
 * log and the catalog are opened), so that their start-up overlaps more of this thread's work.
 * Undefined when the source is small or unreadable (the run reports that itself). Pass the result
 * as {@link IngestOptions.workers}; an {@link ingest} call ends them on every path.
 */
export function prestartWorkers(source: string, schema: CompiledSchema, serial = false): RangeWorkers | undefined {
  let size: number;
  try {
    const s = statSync(source);
    if (!s.isFile()) return undefined;
    size = s.size;
  } catch {
    return undefined;
  }
  return startRangeWorkers(size, schema, serial);
}

/**
 * Delete the objects of a run that will not commit (no manifest will name them) and mark them
 * deleted in the catalog. What the store refuses is logged and left to the next run's recovery.
 */
async function removeUnfinished(lake: Lake, keys: string[], catalog: Catalog | undefined, logger: Logger): Promise<void> {
  try {
    const result = await lake.delete(keys);
    catalog?.markLakeObjectsDeleted(lake.provider, lake.bucket, result.deleted);
    for (const e of result.errors) logger.error(`could not remove ${lake.uri(e.key)} of the unfinished run: ${e.message}`);
  } catch (e) {
    logger.error(`could not remove ${keys.join(', ')} of the unfinished run: ${(e as Error).message}`);
  }
}

function describeValue(e: RowError): string {
  return e.value === undefined ? '' : `${JSON.stringify(e.value)} `;
}

/** @throws UsageError if the source is missing, a directory, or unreadable. */
async function checkSource(file: string): Promise<{ size: number; snapshot: SourceSnapshot }> {
  let s;
  try {
    s = await stat(file, { bigint: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(code === 'ENOENT' ? `source file not found: ${file}` : `cannot read source ${file}: ${code}`, {
      hint: code === 'ENOENT' ? 'check the --source path' : undefined,
    });
  }
  if (s.isDirectory()) throw new UsageError(`source ${file} is a directory`, { hint: 'pass a CSV file to --source' });
  if (!s.isFile()) throw new UsageError(`source ${file} is not a regular file`);
  return { size: Number(s.size), snapshot: snapshotOf(s) };
}

/**
 * The `--partition-by` column, checked: a `date-time` column of the schema that is not personal.
 * @throws UsageError (2) otherwise, naming the date-time columns the schema has.
 */
function checkPartitionBy(schema: CompiledSchema, column: string | undefined): string | undefined {
  if (column === undefined) return undefined;
  const candidates = [...schema.dateTimes].filter((c) => !schema.personal.has(c));
  if (!schema.dateTimes.has(column) || schema.personal.has(column)) {
    const why = !schema.types.has(column) ? 'is not a column of the schema' : !schema.dateTimes.has(column) ? 'is not a date-time column of the schema (format "date-time")' : 'is personal data (pseudonymised): it cannot name a partition';
    throw new UsageError(`--partition-by ${column.slice(0, 60)} ${why}`, { hint: candidates.length ? `date-time columns: ${candidates.join(', ')}` : `schema ${schema.file} declares no "format": "date-time" column` });
  }
  return column;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
