import path from 'node:path';
import { existsSync } from 'node:fs';
import { logDir, resolveLakeConfig, wattHome, type Env, type LakeFlags } from '../config.js';
import { UsageError } from '../errors.js';
import { createRunLogger } from '../log.js';
import { Catalog } from '../catalog/catalog.js';
import { LAYOUTS, parsePartitionDate, todayUtc, type Layout } from '../lake/layout.js';
import { newRunId } from '../run-id.js';
import { assetPath } from '../paths.js';
import { loadSchema } from '../records/schema.js';
import { loadPseudonymisationKey } from '../records/pseudonymise.js';
import { ingest, type IngestResult } from './run.js';

export type { IngestResult, RowError } from './run.js';
export type { Manifest } from './manifest.js';

/** Options of `watt ingest`, as typed by the command (flags not given are undefined). */
export interface RunIngestOptions extends LakeFlags {
  source?: string;
  schema?: string;
  layout?: string;
  date?: string;
  dryRun?: boolean;
  force?: boolean;
  quarantine?: boolean;
  verbose?: boolean;
  /** Console shows warnings and errors only (--json). */
  quiet?: boolean;
  signal?: AbortSignal;
  onProgress?: (p: { rows: number; bytes: number; totalBytes: number }) => void;
}

/** The seed's sample file and schema, shipped with watt. */
export const DEFAULT_SOURCE = assetPath('samples', 'sample_energy_consumption.csv');
export const DEFAULT_SCHEMA = assetPath('schemas', 'energy_consumption.schema.json');

/**
 * `watt ingest` end to end: resolve configuration, open the run log and the catalog, load the
 * schema and the pseudonymisation key, and run the pipeline.
 * @throws see {@link ingest}; UsageError for bad flags (layout, date, provider, prefix).
 */
export async function runIngest(opts: RunIngestOptions, env: Env = process.env): Promise<IngestResult> {
  const lake = resolveLakeConfig(opts, env);
  const layout = (opts.layout ?? 'plain') as Layout;
  if (!LAYOUTS.includes(layout)) throw new UsageError(`unknown layout "${String(opts.layout).slice(0, 20)}": use plain or hive`);
  const date = opts.date ? parsePartitionDate(opts.date) : todayUtc();
  const source = path.resolve(opts.source ?? DEFAULT_SOURCE);
  const schema = loadSchema(path.resolve(opts.schema ?? DEFAULT_SCHEMA));
  const home = wattHome(env);
  const runId = newRunId();
  const logger = createRunLogger({
    fileStem: 'ingestion',
    runId,
    dir: logDir(env),
    verbose: opts.verbose,
    quiet: opts.quiet,
    defaultMeta: { command: 'ingest', run_id: runId },
  });
  let catalog: Catalog | undefined;
  try {
    const key = loadPseudonymisationKey(home, env);
    if (key.source === 'generated') {
      logger.warn(`no WATT_PSEUDONYMISATION_KEY: generated a new key in ${key.file} (mode 0600); keep it secret and back it up, or pseudonyms will change`);
    }
    if (schema.personal.size) logger.debug(`pseudonymising ${[...schema.personal].join(', ')} with HMAC-SHA256 (key from ${key.source})`);
    // A dry run only reads an existing catalog; it never creates one.
    catalog = !opts.dryRun || existsSync(path.join(home, 'catalog.db')) ? Catalog.open(home) : undefined;
    return await ingest({
      source,
      schema,
      lake,
      layout,
      date,
      runId,
      pseudonymisationKey: key.key,
      home,
      dryRun: opts.dryRun,
      force: opts.force,
      quarantine: opts.quarantine,
      logger,
      catalog,
      logFile: logger.file,
      signal: opts.signal,
      onProgress: opts.onProgress,
    });
  } catch (err) {
    logger.error(err instanceof Error ? err.message : String(err), { step: 'failed' });
    throw err;
  } finally {
    catalog?.close();
    await logger.close();
  }
}
