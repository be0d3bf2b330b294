import { appendSpool, newSpoolSecret, readSpoolRangeSync, sha256Spool, type SpoolCipher } from '../spool-crypto.js';
import os from 'node:os';
import { createReadStream, existsSync } from 'node:fs';
import { isUtf8 } from 'node:buffer';
import { TextDecoder } from 'node:util';
import { open, rm } from 'node:fs/promises';
import { createHash, type Hash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { parse as parseSync } from 'csv-parse/sync';
import { DataError, InterruptedError, StorageError, UsageError, WattError } from '../errors.js';
import type { Logger } from '../log.js';
import type { CompiledSchema, SchemaSource } from '../records/schema.js';
import type { PseudonymScheme } from '../records/pseudonymise.js';
import type { SourceScan } from './scan.js';
import type { ExtraColumnsPolicy } from '../table/manifest.js';
import { applyExtraColumns, type ExtraColumnsOutcome } from './extra-columns.js';
import { newKeySeed, settleDuplicates } from './primary-key.js';
import { csvField } from '../records/csv.js';
import { csvFailure, DUPLICATE_KEY_REASON, ERRORS_KEPT, GROUP_LINES, MAX_RECORD_CHARS, transformRange, type FaultGroup, type RangeJob, type RangeOutcome, type RowError } from './transform.js';
import { DEFAULT_DIALECT, type CsvDialect } from '../records/dialect.js';
import { checkPersonalColumns } from './personal-guard.js';
import { csvSpoolFile, parquetKind, type SpoolPart } from './partition-spool.js';
import { LiveJoin } from './live-join.js';
import { csvRecords } from '../records/csv-records.js';
import type { ParquetColumn } from '../formats/parquet.js';
import type { DataFormat } from '../table/manifest.js';

/**
 * The transform stage of `watt ingest`, planned over the source: check the header here, cut the
 * data records into byte ranges (one per core for large files), run each range through
 * transform.ts (in a heap-capped worker thread, or in process), and join the ranges' spools:
 * per partition day, the CSV parts are concatenated (later parts without their header) and the
 * Parquet parts are joined by copying their row groups and writing one footer
 * (formats/parquet.ts finishParquetParts): one spool file, hence one object, per day.
 */

/** Files at least this big are checked in parallel ranges, one worker thread per core (max 2). */
const PARALLEL_MIN_BYTES = 4 * 1024 * 1024;
const MAX_PARTS = 2;
/**
 * Heap caps of each worker, MiB: old generation 64, young generation 8. They keep resident memory
 * flat whatever the file size (measured by `npm run bench:ingest`: docs/benchmarks.md).
 */
const WORKER_HEAP = { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 8 };

/** Worker threads run from the build (dist/); from the TypeScript sources (tests) ranges run in process. */
const WORKER_URL = new URL('./transform-worker.js', import.meta.url);
let workerBuilt: boolean | undefined;
/** Large files run in worker threads (heap-capped, one per range); small ones in this thread. */
function useWorkers(size: number): boolean {
  workerBuilt ??= existsSync(fileURLToPath(WORKER_URL));
  return workerBuilt && size >= PARALLEL_MIN_BYTES;
}

/**
 * The re2 addon (node-re2 1.23, built on Nan) keeps its constructor handles in process-wide
 * statics: a worker that loads it after an earlier worker that loaded it has exited aborts the
 * whole process (V8 `Check failed: node->IsInUse()` in `WrappedRE2Set::Init`, as in
 * uhop/node-re2#235; reproduced here with a 2nd large file in one `watt ingest --source DIR`).
 * So in one process only the first transform of a schema with patterns runs its ranges in
 * worker threads; later ones run them in this thread (same results, one core). Schemas without
 * patterns never load re2 and always use workers.
 */
let re2WorkersRan = false;

/** How many ranges a source of `size` bytes is cut into (1 when `serial`: see {@link needsOneRange}). */
export function rangesFor(size: number, serial = false): number {
  return !serial && useWorkers(size) ? Math.min(MAX_PARTS, os.availableParallelism()) : 1;
}

/**
 * Whether a source must be read as one range, in file order: its quote character is not `"` (the
 * scan's split points follow `"` parity), or a date-time column of the primary key is read in a
 * time zone (a repeated autumn hour is resolved by the order of its series: transform.ts).
 */
export function needsOneRange(schema: CompiledSchema, dialect: CsvDialect | undefined, timezone: string | undefined): boolean {
  if ((dialect ?? schema.dialect).quoteChar !== '"') return true;
  return schema.primaryKey.some((c) => schema.dateTimes.has(c) && (timezone !== undefined || schema.timezone !== undefined || schema.formats.get(c)?.timezone !== undefined));
}

/** What the transform stage needs: the source, the schema and key the run loaded, where to spool. */
export interface TransformInput {
  source: string;
  /** Set when `source` is an encrypted spool copy (src/spool-crypto.ts). */
  sourceCipher?: SpoolCipher;
  /** How messages call the source (its sha256 prefix: the file name may hold an identifier). */
  sourceLabel: string;
  /** The file name as redacted so far; personal cells found in it are returned in `nameHits`. */
  sourceName?: string;
  schema: CompiledSchema;
  pseudonymisationKey: Buffer;
  /** How pseudonyms are spelled: the lake prefix's scheme (key-identity.ts resolveScheme). */
  pseudonymScheme: PseudonymScheme;
  quarantine?: boolean;
  /** Policy for columns the schema does not declare (default keep). */
  extraColumns?: ExtraColumnsPolicy;
  /** Format of the data objects (default csv). */
  format?: DataFormat;
  /** Partition day of every row, unless `partitionBy` is set. */
  date: string;
  /** A date-time column of the schema: each row goes to the partition of its UTC day. */
  partitionBy?: string;
  /** Key/value pairs written in each Parquet footer (e.g. watt.run_id). */
  parquetMetadata?: Record<string, string>;
  logger: Logger;
  signal?: AbortSignal;
  onProgress?: (progress: { rows: number; bytes: number; totalBytes: number }) => void;
  /** Worker threads started by {@link startRangeWorkers} before the scan (used, then ended). */
  workers?: RangeWorkers;
  /**
   * A local lake's {@link Lake.stagingFile}: the CSV object of two ranges is then joined there in
   * plaintext while the second range runs (live-join.ts), and uploaded by a rename. Not for dry runs.
   */
  stage?: () => Promise<string>;
  /** The CSV dialect: the schema's with --delimiter / --encoding applied (default: the schema's). */
  dialect?: CsvDialect;
  /** --timezone: zone of naive date-times over the schema's. */
  timezone?: string;
}

export interface TransformOutcome {
  rows: number;
  rejected: number;
  errors: RowError[];
  warnings: string[];
  /** One spooled data file per partition day with valid rows, sorted by date. */
  partitions: SpooledPartition[];
  rejectsSha256: string;
  /** How the quarantine file is encrypted, when rows were quarantined (src/spool-crypto.ts). */
  rejectsCipher?: SpoolCipher;
  /** Canonical personal cells found in `sourceName` (memory only: never logged). */
  nameHits: string[];
  /** The extra-columns policy applied and the undeclared columns (manifest `schema.extra_columns`). */
  extraColumns: ExtraColumnsOutcome;
  /** Rejected rows grouped by column and reason, most rows first (every rejected row counted). */
  faults: FaultGroup[];
}

/** The spooled data of one partition day: the file to upload as one object. */
export interface SpooledPartition {
  /** `YYYY-MM-DD`. */
  date: string;
  file: string;
  rows: number;
  bytes: number;
  sha256: string;
  /**
   * How `file` is encrypted (keys in memory only, src/spool-crypto.ts): upload it decrypted.
   * Undefined for an object already built in plaintext in the lake's staging folder
   * ({@link TransformInput.stage}): upload it by moving it onto its key; remove it if the run fails.
   */
  cipher: SpoolCipher | undefined;
}

/**
 * Check the header in this thread, then transform the data records in one or more byte ranges
 * (worker threads for large files), and join the ranges' spools in order.
 * @throws DataError (1) empty file, bad header, invalid UTF-8, broken quoting; StorageError (3)
 * spool failures; InterruptedError (130) on abort.
 */
export async function transformSource(options: TransformInput, scan: SourceScan, spoolPrefix: string, rejectsFile: string): Promise<TransformOutcome> {
  const name = options.sourceLabel;
  if (scan.size === 0) throw new DataError(`${name} is empty: no header row`, { hint: 'a CSV file with a header line is expected' });
  const dialect = options.dialect ?? options.schema.dialect ?? DEFAULT_DIALECT;
  const rawHeader = options.sourceCipher ? readSpoolRangeSync(options.source, options.sourceCipher, 0, Math.min(scan.headerEnd, MAX_RECORD_CHARS * 4)) : await readRange(options.source, 0, scan.headerEnd);
  if (dialect.encoding === 'utf-8' && !isUtf8(rawHeader)) throw new DataError(`invalid UTF-8 at line 1 of ${name}: the file is not UTF-8`, { hint: 'name its encoding: "encoding": "windows-1252" in the schema\'s "x-dialect", or --encoding windows-1252 (or latin-1)' });
  const headerBytes = decodeBytes(rawHeader, dialect);
  let records: string[][];
  try {
    records = parseSync(headerBytes, { bom: true, delimiter: dialect.delimiter, quote: dialect.quoteChar, relax_column_count: true, max_record_size: MAX_RECORD_CHARS }) as string[][];
  } catch (err) {
    throw csvFailure(err, name, 1);
  }
  if (records.length === 0) throw new DataError(`${name} is empty: no header row`, { hint: 'a CSV file with a header line is expected' });
  const warnings: string[] = [];
  const header = checkHeader(records[0]!, options.schema, options.logger, dialect);
  const extraColumns = applyExtraColumns(header, options.schema, options.extraColumns, warnings, options.logger);
  const drop = extraColumns.policy === 'drop' ? extraColumns.columns : [];
  const keySeed = options.schema.primaryKey.length ? newKeySeed() : undefined;
  if (scan.headerEnd >= scan.size) throw new DataError(`${name} has a header but no data rows`);
  if (options.partitionBy && !header.includes(options.partitionBy)) {
    throw new DataError(`the --partition-by column ${options.partitionBy} is not in the header of ${name}`, { hint: `the header has: ${header.join(', ').slice(0, 200)}` });
  }
  // Personal-data guard (personal-guard.ts): before anything is written, an unmarked column that
  // looks personal by its name or by the values of the first rows fails the run.
  if (scan.headerEnd < scan.size) {
    const sampleEnd = Math.min(scan.size, scan.headerEnd + GUARD_SAMPLE_BYTES);
    const sampleBytes = options.sourceCipher ? readSpoolRangeSync(options.source, options.sourceCipher, scan.headerEnd, sampleEnd - scan.headerEnd) : await readRange(options.source, scan.headerEnd, sampleEnd);
    const sample = decodeBytes(sampleBytes, dialect);
    checkPersonalColumns(header.filter((h) => !drop.includes(h)), header, sampleRows(sample, dialect, header.length), options.schema, name);
  }
  const format = options.format ?? 'csv';
  const schema = options.schema;
  // The output's columns: the header without the dropped ones (--extra-columns drop).
  const output = header.filter((h) => !drop.includes(h));
  // Pseudonyms get no min/max statistics: nobody filters by a range of HMACs.
  // `x-decimal` columns are DECIMAL(precision, scale) (records/decimal.ts).
  const columns: ParquetColumn[] = output.map((h) => {
    const decimal = schema.personal.has(h) ? undefined : schema.decimals.get(h);
    if (decimal) return { name: h, kind: 'decimal', precision: decimal.precision, scale: decimal.scale };
    return { name: h, kind: parquetKind(schema.types.get(h), schema.dateTimes.has(h), schema.personal.has(h)), statistics: !schema.personal.has(h) };
  });
  const plain = output.map((h) => schema.personal.has(h));
  const headerLine = output.map(csvField).join(',') + '\n';

  const bounds = [{ offset: scan.headerEnd, line: scan.firstDataLine }, ...scan.splits.filter((s) => s.offset > scan.headerEnd), { offset: scan.size, line: 0 }];
  const jobs: RangeJob[] = bounds.slice(0, -1).map((b, i) => ({
    source: options.source,
    ...(options.sourceCipher ? { sourceCipher: options.sourceCipher } : {}),
    sourceLabel: name,
    nameStem: options.sourceName,
    start: b.offset,
    end: bounds[i + 1]!.offset,
    firstLine: b.line,
    header,
    headerLine,
    // A random secret per job: its spool files are encrypted under keys derived from it (spool-crypto.ts).
    spool: { format, prefix: `${spoolPrefix}.r${i}`, columns, plain, secret: newSpoolSecret() },
    pseudonymScheme: options.pseudonymScheme,
    date: options.date,
    partitionBy: options.partitionBy,
    ...(dialect !== DEFAULT_DIALECT ? { dialect } : {}),
    ...(options.timezone ? { timezone: options.timezone } : {}),
    rejectsFile: options.quarantine ? (i === 0 ? rejectsFile : `${rejectsFile}.${i}`) : undefined,
    ...(drop.length ? { drop } : {}),
    // Strict mode logs the keys (duplicates found after the ranges); --quarantine checks inline.
    ...(keySeed ? { keySeed, keyLog: !options.quarantine, returnKeys: !options.quarantine || bounds.length > 2 } : {}),
  }));
  options.logger.debug(`checking ${jobs.length} range${jobs.length > 1 ? 's in parallel worker threads' : ''}`, { step: 'plan', ranges: jobs.map((j) => [j.start, j.end]) });

  let doneRows = 0;
  let doneBytes = scan.headerEnd;
  const progress = (rows: number, bytes: number) => {
    doneRows += rows;
    doneBytes += bytes;
    options.onProgress?.({ rows: doneRows, bytes: doneBytes, totalBytes: scan.size });
  };
  let outcomes: RangeOutcome[] = [];
  // re2 (node-re2 1.23) loaded by a second generation of worker threads in one process hits a V8
  // fatal (uhop/node-re2#235): only the first transform of a process that loads re2 uses workers.
  const workers = options.workers ?? startRangeWorkers(scan.size, options.schema, needsOneRange(options.schema, options.dialect, options.timezone));
  const runRange = (job: RangeJob, i: number, onProgress: (rows: number, bytes: number) => void) =>
    workers?.at(i)
      ? workers.at(i)!.run(job, options.pseudonymisationKey, options.signal, onProgress)
      : transformRange(job, options.schema, options.pseudonymisationKey, options.signal, onProgress);
  let settled: PromiseSettledResult<RangeOutcome>[];
  // CSV, two ranges, one partition day (the usual large file): the second range's spool is
  // appended to the first's and hashed while it is written (live-join.ts). Other joins append,
  // then hash the object once.
  let live: Promise<LiveJoin | undefined> | undefined;
  try {
    const runs = jobs.map((job, i) => runRange(job, i, progress));
    if (format === 'csv' && runs.length === 2 && !options.partitionBy) {
      const second = { file: csvSpoolFile(jobs[1]!.spool.prefix, jobs[1]!.date), lead: Buffer.byteLength(headerLine), secret: jobs[1]!.spool.secret };
      const stage = options.stage;
      live = runs[0]!.then(
        async (o) => {
          if (!(o.parts.length === 1 && o.parts[0]!.date === jobs[0]!.date)) return undefined;
          // No staging folder (a refused symlink, a full disk): the join goes to the first spool.
          const staged = stage ? await stage().catch(() => undefined) : undefined;
          return new LiveJoin(o.parts[0]!, second, runs[1]!, staged);
        },
        () => undefined,
      );
    }
    settled = await Promise.allSettled(runs);
  } finally {
    workers?.close(); // the ones given no range (a file with fewer split points)
  }
  const joiner = await live;
  if (settled.some((r) => r.status === 'rejected')) joiner?.cancel();
  await joiner?.finished();
  // Every spool part written (removed at the end unless joined into a partition's file).
  const spooled = new Set<string>();
  for (const r of settled) if (r.status === 'fulfilled') for (const p of r.value.parts) spooled.add(p.file);
  const partitions: SpooledPartition[] = [];
  try {
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    outcomes = settled.map((r) => (r as PromiseFulfilledResult<RangeOutcome>).value);
    // Primary key across ranges (primary-key.ts): a re-run only when a later range repeats a key;
    // the re-run rewrites that range's parts. In this thread: a worker started after others ended
    // can crash the process while loading the re2 addon (uhop/node-re2#235, re2 1.23), and this
    // thread holds the compiled schema.
    const first = outcomes;
    const rejectedBefore = outcomes.map((o) => o.rejected);
    const errorsBefore = outcomes.map((o) => o.errors);
    outcomes = await settleDuplicates(outcomes, options.schema.primaryKey.join(', '), options.quarantine === true, ERRORS_KEPT, async (r, known) => {
      // The re-run rewrites this range's spool: a live join of it is undone first.
      await joiner?.undo();
      for (const p of first[r]!.parts) await rm(p.file, { force: true });
      // A new secret: the re-run writes the same file names again, never under the same key stream.
      const again = await transformRange({ ...jobs[r]!, spool: { ...jobs[r]!.spool, secret: newSpoolSecret() }, returnKeys: false, knownDuplicates: known }, options.schema, options.pseudonymisationKey, options.signal);
      for (const p of again.parts) spooled.add(p.file);
      return again;
    });
    // Duplicates found after the ranges (strict mode's key logs, cross-range keys): one more fault group.
    outcomes.forEach((o, r) => {
      const extra = o === first[r] ? o.rejected - rejectedBefore[r]! : 0;
      if (extra > 0) {
        const lines = o.errors.filter((e) => !errorsBefore[r]!.includes(e) && e.duplicate_of !== undefined).map((e) => e.line).slice(0, GROUP_LINES);
        o.faults = [...o.faults, { column: null, reason: DUPLICATE_KEY_REASON, rows: extra, lines }];
      }
    });
    const rejectsCipher = outcomes[0]?.rejectsCipher;
    for (const [i, job] of jobs.entries()) if (i > 0 && job.rejectsFile && rejectsCipher) await appendSpool(job.rejectsFile, outcomes[i]!.rejectsCipher!, rejectsFile, rejectsCipher);
    // Join each day's parts, in range order, into the first part's file.
    const byDate = new Map<string, SpoolPart[]>();
    for (const o of outcomes) for (const p of o.parts) byDate.get(p.date)?.push(p) ?? byDate.set(p.date, [p]);
    for (const date of [...byDate.keys()].sort()) {
      const parts = byDate.get(date)!;
      let file: string;
      let bytes: number;
      let hash: Hash | undefined;
      let cipher: SpoolCipher | undefined = parts[0]!.cipher;
      if (format === 'parquet') {
        // The Parquet modules load only for Parquet runs.
        const { finishParquetParts } = await import('../formats/parquet.js');
        ({ file, bytes } = await finishParquetParts(parts.map((p) => ({ ...p.parquet!, cipher: p.cipher })), columns, options.parquetMetadata));
      }
      else {
        file = parts[0]!.file;
        bytes = parts[0]!.bytes;
        if (joiner && parts.length === 2 && parts[0]!.file === joiner.first.file && joiner.matches(parts[1]!)) {
          // Joined while the second range ran (built in the lake's staging folder, in plaintext, when staged).
          bytes += joiner.appended;
          hash = joiner.hash;
          if (joiner.staged) {
            file = joiner.staged;
            cipher = undefined;
          }
        } else {
          if (joiner) await joiner.undo();
          for (const p of parts.slice(1)) {
            await appendSpool(p.file, p.cipher, file, cipher!, p.lead);
            bytes += p.bytes - p.lead;
          }
        }
      }
      // The object's sha256 is the plaintext's, every segment of the spool verified on the way.
      partitions.push({ date, file, rows: parts.reduce((n, p) => n + p.rows, 0), bytes, sha256: hash ? hash.digest('hex') : await sha256Spool(file, cipher!), cipher });
    }
  } catch (err) {
    for (const p of partitions) await rm(p.file, { force: true });
    throw err;
  } finally {
    // Every part file but the joined ones (and, on failure, those too: removed above).
    const kept = new Set(partitions.map((p) => p.file));
    for (const file of spooled) if (!kept.has(file)) await rm(file, { force: true });
    if (joiner?.staged && !kept.has(joiner.staged)) await joiner.undo();
    for (const job of jobs.slice(1)) if (job.rejectsFile) await rm(job.rejectsFile, { force: true });
  }
  const rows = outcomes.reduce((n, o) => n + o.rows, 0);
  const rejected = outcomes.reduce((n, o) => n + o.rejected, 0);
  if (rows + rejected === 0) {
    for (const p of partitions) await rm(p.file, { force: true });
    throw new DataError(`${name} has a header but no data rows`);
  }
  return {
    rows,
    rejected,
    errors: outcomes.flatMap((o) => o.errors).slice(0, ERRORS_KEPT),
    warnings,
    partitions,
    rejectsSha256: options.quarantine && rejected > 0 && outcomes[0]?.rejectsCipher ? await sha256Spool(rejectsFile, outcomes[0].rejectsCipher) : '',
    ...(options.quarantine && outcomes[0]?.rejectsCipher ? { rejectsCipher: outcomes[0].rejectsCipher } : {}),
    nameHits: outcomes.flatMap((o) => o.nameHits),
    extraColumns,
    faults: mergeFaults(outcomes.map((o) => o.faults)),
  };
}

/** Bytes of the first data rows the personal-data guard reads (about 2,000 rows of a load curve). */
const GUARD_SAMPLE_BYTES = 128 * 1024;
/** Rows of that sample the guard judges. */
const GUARD_SAMPLE_ROWS = 1000;

/** Bytes of the source as UTF-8 for csv-parse: decoded from a single-byte encoding, or as they are. */
function decodeBytes(bytes: Buffer, dialect: CsvDialect): Buffer {
  if (dialect.encoding === 'utf-8') return bytes;
  return Buffer.from(new TextDecoder(dialect.encoding === 'latin-1' ? 'windows-1252' : dialect.encoding).decode(bytes), 'utf8');
}

/**
 * The complete records of a sample of data rows (cut at its last line end; an unparseable sample
 * gives none: the guard then judges names only). Only records of the header's width are kept.
 */
function sampleRows(bytes: Buffer, dialect: CsvDialect, width: number): string[][] {
  const end = bytes.lastIndexOf(10);
  if (end < 0) return [];
  // The run's own record reader (records/csv-records.ts: csv-parse's records, split natively where
  // no quote is): this runs before the ranges start, in code not yet optimised by the engine.
  const rows: string[][] = [];
  const reader = csvRecords({ delimiter: dialect.delimiter, quote: dialect.quoteChar, relax_column_count: true, skip_empty_lines: false, max_record_size: MAX_RECORD_CHARS });
  const failed = reader.parse(bytes.subarray(0, end + 1), true, (r) => {
    // Empty lines are skipped; records after the first GUARD_SAMPLE_ROWS are not judged (nor is a fault in them).
    if (rows.length < GUARD_SAMPLE_ROWS && !(r.length === 1 && r[0] === '')) rows.push(r);
  }, () => undefined);
  if (failed && rows.length < GUARD_SAMPLE_ROWS) return [];
  return rows.filter((r) => r.length === width);
}

/** The ranges' fault groups merged by column and reason, most rows first; lines in order. */
export function mergeFaults(lists: FaultGroup[][]): FaultGroup[] {
  const merged = new Map<string, FaultGroup>();
  for (const list of lists) {
    for (const g of list) {
      const k = `${g.column}\u0000${g.reason}`;
      const m = merged.get(k);
      if (!m) merged.set(k, { ...g, lines: [...g.lines] });
      else {
        m.rows += g.rows;
        m.lines = [...m.lines, ...g.lines].sort((a, b) => a - b).slice(0, GROUP_LINES);
        m.hint ??= g.hint;
        if (g.lines[0]! < (m.lines[0] ?? Infinity) && g.example !== undefined) m.example = g.example;
      }
    }
  }
  return [...merged.values()].sort((a, b) => b.rows - a.rows);
}

/**
 * The worker threads of one transform, started as early as the source's size is known (before
 * the scan and the lake checks) so that each one's start-up, loading its modules and compiling
 * the schema (100-300 ms on this machine), overlaps that work instead of delaying the ranges.
 * Each worker transforms one range, sent with {@link RangeWorker.run}; {@link close} ends those
 * never given one (a run that stops early, a file with fewer ranges).
 */
export class RangeWorkers {
  constructor(private readonly workers: RangeWorker[]) {}

  /** The worker for range `i`, if there is one. */
  at(i: number): RangeWorker | undefined {
    return this.workers[i];
  }

  /** End the workers not running a range. Never throws. */
  close(): void {
    for (const w of this.workers) w.closeIdle();
  }
}

/**
 * Start the worker threads a source of `size` bytes will be transformed with, or undefined when
 * it is transformed in this thread (small files, runs from the TypeScript sources, and, for a
 * schema with patterns, every transform of a process after the first: uhop/node-re2#235).
 */
export function startRangeWorkers(size: number, schema: CompiledSchema, serial = false): RangeWorkers | undefined {
  if (serial || !useWorkers(size) || (schema.loadsRe2 && re2WorkersRan)) return undefined;
  if (schema.loadsRe2) re2WorkersRan = true;
  return new RangeWorkers(Array.from({ length: rangesFor(size) }, () => new RangeWorker(schema.source)));
}

/** A worker thread with a capped heap that compiles the schema at once, then transforms the one range it is sent. */
class RangeWorker {
  private readonly worker: Worker;
  private running = false;
  /** What ended the worker before it was given a range (an error, an exit). */
  private early: Error | undefined;

  constructor(schema: SchemaSource) {
    this.worker = new Worker(WORKER_URL, { workerData: { schema }, resourceLimits: WORKER_HEAP });
    this.worker.on('error', (err) => {
      this.early ??= new StorageError(`ingest worker failed: ${err.message}`, { cause: err });
    });
    this.worker.on('exit', (code) => {
      this.early ??= new Error(`ingest worker stopped (exit code ${code}) before it was given a range`);
    });
  }

  /** Stop the worker if it was never given a range. */
  closeIdle(): void {
    if (!this.running) void this.worker.terminate();
  }

  /** Transform `job` in the worker with the run's pseudonymisation key. */
  run(job: RangeJob, key: Buffer, signal: AbortSignal | undefined, progress: (rows: number, bytes: number) => void): Promise<RangeOutcome> {
    this.running = true;
    const worker = this.worker;
    return new Promise((resolve, reject) => {
      // An abort listener added after the abort never fires: check first.
      if (signal?.aborted) {
        void worker.terminate();
        reject(new InterruptedError());
        return;
      }
      if (this.early) {
        reject(this.early);
        return;
      }
      let settled = false;
      const onAbort = () => {
        void worker.terminate();
        finish(new InterruptedError());
      };
      const finish = (error: Error | undefined, outcome?: RangeOutcome) => {
        if (settled) return;
        settled = true;
        signal?.removeEventListener('abort', onAbort);
        if (error) {
          void worker.terminate();
          reject(error);
        } else resolve(outcome!);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      worker.on('message', (m: { type: string; rows: number; bytes: number; outcome: RangeOutcome; error: { name: string; message: string; exitCode?: number; hint?: string } }) => {
        if (m.type === 'progress') progress(m.rows, m.bytes);
        else if (m.type === 'done') finish(undefined, m.outcome);
        else if (m.type === 'error') {
          finish(m.error.exitCode !== undefined ? Object.assign(new WattError(m.error.message, m.error.exitCode, { hint: m.error.hint }), { name: m.error.name }) : new Error(m.error.message));
        }
      });
      worker.on('error', (err) => finish(new StorageError(`ingest worker failed: ${err.message}`, { cause: err })));
      worker.on('exit', (code) => finish(new Error(`ingest worker stopped (exit code ${code}) before finishing its range`)));
      worker.postMessage({ job, key: new Uint8Array(key) });
    });
  }
}

async function readRange(file: string, start: number, end: number): Promise<Buffer> {
  const handle = await open(file, 'r');
  try {
    const buf = Buffer.alloc(Math.min(end - start, MAX_RECORD_CHARS * 4));
    const { bytesRead } = await handle.read(buf, 0, buf.length, start);
    return buf.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/**
 * sha256 of a file, streamed.
 * @throws UsageError if it cannot be read.
 */
export async function sha256File(file: string, signal?: AbortSignal): Promise<string> {
  const hash = createHash('sha256');
  try {
    await pipeline(createReadStream(file, { highWaterMark: 1 << 20 }), hash, { signal });
  } catch (err) {
    if (signal?.aborted) throw new InterruptedError();
    throw new UsageError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return hash.digest('hex');
}

/**
 * Check the header against the schema.
 * @throws DataError on duplicate columns or missing required columns (naming them, and hinting
 * at `;` when the whole header is one field holding semicolons).
 */
export function checkHeader(record: string[], schema: CompiledSchema, logger: Logger, dialect: CsvDialect = DEFAULT_DIALECT): string[] {
  const header = record.map((h) => h.trim());
  const seen = new Set<string>();
  const duplicates = new Set<string>();
  for (const h of header) (seen.has(h) ? duplicates : seen).add(h);
  if (duplicates.size) throw new DataError(`duplicate column${duplicates.size > 1 ? 's' : ''} in header: ${[...duplicates].join(', ')}`);
  const missing = schema.required.filter((c) => !seen.has(c));
  if (missing.length) {
    const other = header.length === 1 ? [';', '\t', '|', ','].find((d) => d !== dialect.delimiter && header[0]!.includes(d)) : undefined;
    const shown = other === '\t' ? 'tab' : other;
    throw new DataError(`missing required column${missing.length > 1 ? 's' : ''}: ${missing.join(', ')}`, {
      hint: other ? `the header looks '${shown}'-separated: set "delimiter": "${other === '\t' ? '\\t' : other}" in the schema's "x-dialect", or pass --delimiter '${shown}'` : `the header has: ${header.join(', ').slice(0, 200)}`,
    });
  }
  // Undeclared columns: extra-columns.ts applies the --extra-columns policy.
  logger.debug(`header ok: ${header.length} columns`, { step: 'header', columns: header });
  return header;
}

