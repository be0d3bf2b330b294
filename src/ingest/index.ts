import type { SpoolCipher } from '../spool-crypto.js';
import path from 'node:path';
import { existsSync } from 'node:fs';
import { logDir, resolveLakeConfig, retentionPolicy, wattHome, type Env, type LakeFlags } from '../config.js';
import { UsageError } from '../errors.js';
import { createRunLogger } from '../log.js';
import { Catalog, catalogUrl } from '../catalog/catalog.js';
import { LAYOUTS, parsePartitionDate, todayUtc, type Layout } from '../table/layout.js';
import { newRunId } from '../run-id.js';
import { assetPath } from '../paths.js';
import { loadSchema } from '../records/schema.js';
import { findPseudonymisationKey, parsePseudonymScheme } from '../records/pseudonymise.js';
import type { LakeConfig } from '../config.js';
import type { PartitionDate } from '../table/layout.js';
import type { CompiledSchema } from '../records/schema.js';
import { ingest, prestartWorkers, type IngestResult } from './run.js';
import { needsOneRange } from './transform-plan.js';
import { delimiterOf, encodingOf, ENCODINGS, type CsvDialect } from '../records/dialect.js';
import { isTimeZone } from '../records/local-time.js';
import { DATA_FORMATS, EXTRA_COLUMNS_POLICIES, type DataFormat, type ExtraColumnsPolicy } from '../table/manifest.js';

export type { IngestResult, RowError } from './run.js';
export type { Manifest } from '../table/manifest.js';

/** Options of `watt ingest`, as typed by the command (flags not given are undefined). */
export interface RunIngestOptions extends LakeFlags {
  source?: string;
  /** The source is a spool copy encrypted with this cipher (stdin, FIFO: src/spool-crypto.ts). */
  sourceCipher?: SpoolCipher;
  schema?: string;
  layout?: string;
  date?: string;
  /** Data object format: csv (default) or parquet. */
  format?: string;
  /** Date-time column whose UTC day partitions the rows (default: the ingest date). */
  partitionBy?: string;
  /** Policy for columns the schema does not declare: keep (default), drop, reject. */
  extraColumns?: string;
  dryRun?: boolean;
  force?: boolean;
  quarantine?: boolean;
  /** Rotate the pseudonymisation key on purpose (the lake's manifests carry another key id). */
  newKey?: boolean;
  /** --pseudonym-scheme: v1, v2 or a scheme name (records/pseudonymise.ts), for a new prefix or a rotation. */
  pseudonymScheme?: string;
  verbose?: boolean;
  /** Console shows warnings and errors only (--json). */
  quiet?: boolean;
  signal?: AbortSignal;
  onProgress?: (p: { rows: number; bytes: number; totalBytes: number }) => void;
  /** The run id to use (default: a new one). The stdin spool is named after it. */
  runId?: string;
  /** --delimiter: over the schema's `x-dialect` delimiter for this run (`,` `;` `tab` `|`). */
  delimiter?: string;
  /** --encoding: over the schema's `x-dialect` encoding (utf-8, windows-1252, latin-1). */
  encoding?: string;
  /** --timezone: IANA zone of naive date-times, over the schema's `x-timezone`. */
  timezone?: string;
  /** --allow-expired: land rows in partitions already past retention. */
  allowExpired?: boolean;
}

/** What every run of one `watt ingest` command shares, checked once: see {@link resolveIngestSettings}. */
export interface IngestSettings {
  lake: LakeConfig;
  layout: Layout;
  date: PartitionDate;
  format: DataFormat;
  extraColumns: ExtraColumnsPolicy;
  schema: CompiledSchema;
  home: string;
  /** The schema's dialect with the flags applied. */
  dialect: CsvDialect;
  timezone?: string;
  /** Raw-data retention, days (retention policy). */
  retentionDays?: number;
}

/** The seed's sample file and schema, shipped with watt. */
export const DEFAULT_SOURCE = assetPath('samples', 'sample_energy_consumption.csv');
export const DEFAULT_SCHEMA = assetPath('schemas', 'energy_consumption.schema.json');

/**
 * `watt ingest` end to end: resolve configuration, open the run log and the catalog, load the
 * schema and the pseudonymisation key, and run the pipeline.
 * @throws see {@link ingest}; UsageError for bad flags (layout, date, provider, prefix).
 */
export async function runIngest(opts: RunIngestOptions, env: Env = process.env, settings: IngestSettings = resolveIngestSettings(opts, env)): Promise<IngestResult> {
  const { lake, layout, date, format, extraColumns, schema, home, dialect, timezone, retentionDays } = settings;
  const source = path.resolve(opts.source ?? DEFAULT_SOURCE);
  const runId = opts.runId ?? newRunId();
  const logger = createRunLogger({
    fileStem: 'ingestion',
    runId,
    dir: logDir(env),
    verbose: opts.verbose,
    quiet: opts.quiet,
    defaultMeta: { command: 'ingest', run_id: runId },
  });
  let catalog: Catalog | undefined;
  // Worker threads now: their start-up overlaps opening the catalog and the checks of the run.
  const workers = prestartWorkers(source, schema, needsOneRange(schema, dialect, timezone));
  try {
    // Generated later, and only for a lake prefix without manifests, when none is configured.
    const key = findPseudonymisationKey(home, env);
    // A dry run only reads an existing catalog; it never creates one.
    catalog = !opts.dryRun || existsSync(path.join(home, 'catalog.db')) || catalogUrl(env) ? Catalog.open(home, env) : undefined;
    return await ingest({
      source,
      sourceCipher: opts.sourceCipher,
      schema,
      lake,
      layout,
      date,
      format,
      partitionBy: opts.partitionBy,
      extraColumns,
      runId,
      pseudonymisationKey: key,
      newKey: opts.newKey,
      ...(opts.pseudonymScheme !== undefined ? { pseudonymScheme: parsePseudonymScheme(opts.pseudonymScheme) } : {}),
      home,
      dryRun: opts.dryRun,
      force: opts.force,
      quarantine: opts.quarantine,
      logger,
      catalog,
      logFile: logger.file,
      signal: opts.signal,
      onProgress: opts.onProgress,
      workers,
      dialect,
      timezone,
      retentionDays,
      allowExpired: opts.allowExpired,
    });
  } catch (err) {
    logger.error(err instanceof Error ? err.message : String(err), { step: 'failed' });
    throw err;
  } finally {
    workers?.close(); // a run that failed before reaching ingest()
    catalog?.close();
    await logger.close();
  }
}

/**
 * Check the flags every run of the command shares (lake, layout, date, format, extra-columns
 * policy) and load the schema, once.
 * @throws UsageError for a bad flag, an unknown provider or prefix, a missing or invalid schema.
 */
export function resolveIngestSettings(opts: RunIngestOptions, env: Env = process.env): IngestSettings {
  const lake = resolveLakeConfig(opts, env);
  const layout = (opts.layout ?? 'plain') as Layout;
  if (!LAYOUTS.includes(layout)) throw new UsageError(`unknown layout "${String(opts.layout).slice(0, 20)}": use plain or hive`);
  const date = opts.date ? parsePartitionDate(opts.date) : todayUtc();
  const format = (opts.format ?? 'csv') as DataFormat;
  if (!DATA_FORMATS.includes(format)) throw new UsageError(`unknown format "${String(opts.format).slice(0, 20)}": use csv or parquet`);
  const extraColumns = (opts.extraColumns ?? 'keep') as ExtraColumnsPolicy;
  if (!EXTRA_COLUMNS_POLICIES.includes(extraColumns)) throw new UsageError(`unknown --extra-columns policy "${String(opts.extraColumns).slice(0, 20)}": use keep, drop or reject`);
  const schema = loadSchema(path.resolve(opts.schema ?? DEFAULT_SCHEMA));
  const home = wattHome(env);
  let dialect = schema.dialect;
  if (opts.delimiter !== undefined) {
    const delimiter = delimiterOf(opts.delimiter);
    if (delimiter === undefined) throw new UsageError(`unknown --delimiter "${String(opts.delimiter).slice(0, 10)}": use , ; tab or |`);
    dialect = { ...dialect, delimiter };
  }
  if (opts.encoding !== undefined) {
    const encoding = encodingOf(opts.encoding);
    if (encoding === undefined) throw new UsageError(`unknown --encoding "${String(opts.encoding).slice(0, 20)}": use ${ENCODINGS.join(', ')}`);
    dialect = { ...dialect, encoding };
  }
  if (opts.timezone !== undefined && !isTimeZone(opts.timezone)) throw new UsageError(`unknown --timezone "${String(opts.timezone).slice(0, 40)}": use an IANA time zone such as Europe/Paris`);
  const retentionDays = retentionPolicy(env).find((c) => c.id === 'raw_data')?.days;
  return { lake, layout, date, format, extraColumns, schema, home, dialect, ...(opts.timezone ? { timezone: opts.timezone } : {}), ...(retentionDays !== undefined ? { retentionDays } : {}) };
}
