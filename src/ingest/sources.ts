import path from 'node:path';
import { createWriteStream, existsSync, rmSync, type Stats } from 'node:fs';
import { lstat, mkdir, readdir, rm, stat, chmod } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { logDir, type Env } from '../config.js';
import { ExitCode, InterruptedError, StorageError, UsageError, WattError, oneLine } from '../errors.js';
import { newRunId } from '../run-id.js';
import { ensurePrivateDir, PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from '../private-fs.js';
import { interruptedError } from '../signals.js';
import { storageFaultOf } from '../storage-fault.js';
import { encryptingStream, newSpoolCipher, readSpoolStream, type SpoolCipher } from '../spool-crypto.js';
import { DEFAULT_SOURCE, resolveIngestSettings, runIngest, type IngestResult, type RunIngestOptions } from './index.js';
import { sourceLabel } from './source-name.js';
import { openStreamSource, streamKind } from './source-snapshot.js';

/**
 * Several sources per `watt ingest` (issue 11, item 6).
 *
 * `--source` (repeatable) takes:
 * - a file: ingested as given (a symlink named explicitly is followed, as today);
 * - a folder: its regular files whose name ends in `.csv` (any case), not recursive, hidden
 *   files (`.name`) skipped, in code-point order of their names so that a batch is
 *   deterministic. Symlinks, FIFOs, sockets and subfolders are skipped (never opened: a FIFO
 *   would block, a link could lead out of the inbox), and counted in a warning;
 * - a glob (quote it so the shell leaves it alone: `--source 'inbox/2025-*.csv'`), matched
 *   with tinyglobby (picomatch syntax: `*`, `**`, `?`, `[...]`, `{a,b}`): regular files only,
 *   hidden files only when the pattern names them, sorted like a folder. A path that exists is
 *   never taken as a glob, even if its name holds `*` or `[`;
 * - `-`: standard input, spooled to `$WATT_HOME/tmp/<run_id>.stdin/stdin` (0600, streamed:
 *   bounded memory, encrypted with a key held in memory only: src/spool-crypto.ts) and ingested as a file named `stdin` (key stem `stdin`). The spool is
 *   removed when the run ends, also on failure or interruption. Same bytes, same sha256: piping
 *   a file twice gives `skipped` the second time.
 *
 * Every source is resolved before the first run: a missing path, an empty folder or a glob
 * matching nothing is a usage error (exit 2) and nothing runs. Then each file is its own run
 * (own run_id, log, catalog record, manifest, lock), one after the other; a failed file does not
 * stop the batch, an interruption (SIGINT/SIGTERM) does, at once.
 */

/** The `--source` value that means standard input. */
export const STDIN_SOURCE = '-';
/** The file name (and key stem) a stdin source is recorded under. */
export const STDIN_NAME = 'stdin';

/** One source of a batch, after expansion. */
export type SourceSpec = { kind: 'file'; path: string } | { kind: 'stdin' };

/** What expansion left out of folders and glob matches, with why (for a warning). */
export interface SkippedEntry {
  path: string;
  reason: 'symlink' | 'not a regular file';
}

/**
 * Resolve `--source` values into the ordered list of files to ingest (duplicates by absolute
 * path kept once, at their first place).
 * @throws UsageError (exit 2): a path that does not exist and is not a glob, an unreadable
 * folder, a folder without a `.csv` file, a glob that matches no regular file, `-` given twice.
 */
export async function expandSources(values: readonly string[], cwd = process.cwd()): Promise<{ sources: SourceSpec[]; skipped: SkippedEntry[] }> {
  const sources: SourceSpec[] = [];
  const skipped: SkippedEntry[] = [];
  const seen = new Set<string>();
  const add = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    sources.push({ kind: 'file', path: file });
  };
  for (const value of values) {
    if (value === STDIN_SOURCE) {
      if (sources.some((s) => s.kind === 'stdin')) throw new UsageError('--source - is given twice: standard input can be read once');
      sources.push({ kind: 'stdin' });
      continue;
    }
    const absolute = path.resolve(cwd, value);
    let info: Stats | undefined;
    try {
      info = await stat(absolute);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw new UsageError(`cannot read source ${value}: ${code ?? oneLine((err as Error).message)}`);
    }
    if (!info) {
      if (!(await isGlob(value))) throw new UsageError(`source file not found: ${value}`, { hint: 'check the --source path (a folder, a file, a quoted glob, or - for stdin)' });
      const matches = await globFiles(value, cwd, skipped);
      if (!matches.length) throw new UsageError(`no file matches --source ${JSON.stringify(value)}`, { hint: 'check the pattern (quote it so the shell does not expand it)' });
      matches.forEach(add);
    } else if (info.isDirectory()) {
      const files = await folderFiles(absolute, value, skipped);
      if (!files.length) throw new UsageError(`no CSV file in folder ${value}`, { hint: 'a folder source takes its regular *.csv files, not subfolders, hidden files or symlinks' });
      files.forEach(add);
    } else {
      add(absolute);
    }
  }
  return { sources, skipped };
}

/** Whether a `--source` value that names no existing path is a glob pattern. */
async function isGlob(value: string): Promise<boolean> {
  const { default: picomatch } = await import('picomatch');
  return picomatch.scan(value).isGlob;
}

/** Regular `*.csv` files directly in `dir`, hidden ones skipped, sorted by name (code points). */
async function folderFiles(dir: string, given: string, skipped: SkippedEntry[]): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    throw new UsageError(`cannot read folder ${given}: ${(err as NodeJS.ErrnoException).code ?? oneLine((err as Error).message)}`);
  }
  const files: string[] = [];
  for (const entry of entries) {
    if (entry.name.startsWith('.') || !/\.csv$/i.test(entry.name)) continue;
    const full = path.join(dir, entry.name);
    if (entry.isFile()) files.push(full);
    else if (entry.isSymbolicLink()) skipped.push({ path: full, reason: 'symlink' });
    else if (!entry.isDirectory()) skipped.push({ path: full, reason: 'not a regular file' });
  }
  return files.sort(byCodePoint);
}

/** Regular files matching `pattern` (relative to `cwd` or absolute), sorted by path. */
async function globFiles(pattern: string, cwd: string, skipped: SkippedEntry[]): Promise<string[]> {
  const [{ default: picomatch }, { glob }] = await Promise.all([import('picomatch'), import('tinyglobby')]);
  // Match from the pattern's literal base folder, so that absolute and `../` patterns work alike.
  const scan = picomatch.scan(pattern);
  const base = path.resolve(cwd, scan.base || '.');
  const matches = await glob([scan.glob], { cwd: base, absolute: true, onlyFiles: true, dot: false, followSymbolicLinks: false, expandDirectories: false });
  const files: string[] = [];
  for (const match of matches) {
    const full = path.resolve(match);
    const info = await lstat(full).catch(() => undefined);
    if (!info) continue;
    if (info.isFile()) files.push(full);
    else if (info.isSymbolicLink()) skipped.push({ path: full, reason: 'symlink' });
    else if (!info.isDirectory()) skipped.push({ path: full, reason: 'not a regular file' });
  }
  return files.sort(byCodePoint);
}

function byCodePoint(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Standard input copied to a private spool file. */
export interface StdinSpool {
  /** `<home>/tmp/<run_id>.stdin/stdin` (0600, in a 0700 folder). */
  file: string;
  bytes: number;
  /** Remove the spool folder (idempotent). */
  remove(): Promise<void>;
  /** The file is encrypted with this (key in memory only: src/spool-crypto.ts). */
  cipher: SpoolCipher;
}

/**
 * Copy `input` to `<home>/tmp/<runId>.stdin/<name>` (`name` is `stdin`, or the base name of a FIFO,
 * character device or socket given as `--source`), streaming (bounded memory). The folder is
 * named after the run so that a crashed run's spool is found and removed by the next run's
 * recovery (src/table/recover.ts). On failure or interruption nothing is left behind (an exit
 * handler also covers a second signal that ends the process at once).
 * @throws InterruptedError (130/143) when `signal` aborts while reading; StorageError (3) when the
 * spool cannot be written (disk full, WATT_HOME read-only); UsageError (2) when stdin cannot be read.
 */
export async function spoolStdin(input: Readable, home: string, runId: string, signal?: AbortSignal, name: string = STDIN_NAME): Promise<StdinSpool> {
  const tmp = path.join(home, 'tmp');
  const dir = path.join(tmp, `${runId}.${STDIN_NAME}`);
  const file = path.join(dir, name);
  const onExit = () => rmSync(dir, { recursive: true, force: true });
  process.once('exit', onExit);
  const remove = async () => {
    await rm(dir, { recursive: true, force: true });
    process.removeListener('exit', onExit);
  };
  let writing = false;
  try {
    if (signal?.aborted) throw interruptedError(signal, 'interrupted before reading stdin');
    await ensurePrivateDir(tmp);
    await mkdir(dir, { mode: PRIVATE_DIR_MODE });
    await chmod(dir, PRIVATE_DIR_MODE);
    writing = true;
    const out = createWriteStream(file, { flags: 'wx', mode: PRIVATE_FILE_MODE });
    out.once('open', () => void chmod(file, PRIVATE_FILE_MODE).catch(() => undefined));
    let bytes = 0;
    input.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
    });
    // Encrypted on its way to disk: a killed run leaves only bytes nobody can read (spool-crypto.ts).
    const cipher = newSpoolCipher();
    await pipeline(input, encryptingStream(cipher), out, { signal });
    await chmod(file, PRIVATE_FILE_MODE);
    return { file, bytes, remove, cipher };
  } catch (err) {
    await remove();
    if (signal?.aborted) throw interruptedError(signal, `interrupted while reading ${name === STDIN_NAME ? 'stdin' : 'the source'}; its spool file was removed`);
    if (err instanceof WattError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (!writing || (code && ['ENOSPC', 'EDQUOT', 'EROFS', 'EACCES', 'EPERM', 'EEXIST'].includes(code))) {
      throw new StorageError(`cannot spool stdin to ${tmp}: ${code ?? oneLine((err as Error).message)}`, { hint: 'check that WATT_HOME is writable and has room for the input', cause: err });
    }
    throw new UsageError(`cannot read stdin: ${code ?? oneLine((err as Error).message)}`, { cause: err });
  }
}

/** The outcome of one file of a batch. */
export interface FileOutcome {
  /** 1-based position in the batch. */
  index: number;
  /**
   * How the file is called in output: its name as the run recorded it (personal identifiers
   * redacted), `stdin`, or `source sha256:<12 hex>` when the run failed before the name was
   * redacted (or was skipped); `source #<index>` if the file could not even be read.
   */
  source: string;
  /** The run id (also for a failed run: its log is `logs/ingestion_<run_id>.log`). */
  run_id: string;
  /** The run's result, when it completed (succeeded, rejected, skipped, dry_run). */
  result?: IngestResult;
  /** Why the run failed (one line, no raw identifier), when it threw. */
  error?: unknown;
  /** Exit code of this file alone: 0, 1 (invalid rows, also quarantined ones), 2, 3, 4, 130, 143. */
  exit_code: number;
  /** Bytes of the source (stdin: bytes read), when known. */
  bytes?: number;
  /** The run's log file, when it was created (also for a failed run). */
  log?: string;
}

/** What {@link runIngestSources} did. */
export interface BatchOutcome {
  files: FileOutcome[];
  /** Files resolved but not run because the batch was interrupted. */
  not_run: number;
  /** The command's exit code: see {@link worstExitCode}. */
  exit_code: number;
  /** What folder and glob expansion skipped (symlinks, FIFOs...). */
  skipped_entries: SkippedEntry[];
  /** Set when SIGINT/SIGTERM stopped the batch: the error the command ends with (130/143). */
  interrupted?: InterruptedError;
}

/** Options of a batch: those of one run, plus the `--source` values and where stdin comes from. */
export interface RunIngestSourcesOptions extends Omit<RunIngestOptions, 'source' | 'runId'> {
  /** `--source` values; none: the shipped sample. */
  sources?: readonly string[];
  /** Standard input, read only if a source is `-` (default process.stdin). */
  stdin?: Readable;
  /** Called when expansion is done, before the first run. */
  onStart?: (files: number, skipped: SkippedEntry[]) => void;
  /** Called after each file, in order (for streaming output). */
  onFile?: (outcome: FileOutcome) => void;
}

/** Severity rank of an exit code for {@link worstExitCode}: storage 3 > lock 4 > usage 2 > data 1 > ok 0. */
const SEVERITY: Record<number, number> = { [ExitCode.OK]: 0, [ExitCode.DATA]: 1, [ExitCode.USAGE]: 2, [ExitCode.LOCKED]: 3, [ExitCode.STORAGE]: 4 };

/**
 * The exit code of a batch from its files' codes: an interruption (130, 143) wins (the batch
 * stopped there); otherwise the most severe by 3 (storage or network: every later file is
 * likely to fail too, an operator must look) > 4 (lock held: retry later) > 2 (usage or
 * configuration) > 1 (a file's data) > 0. An empty list is 0.
 */
export function worstExitCode(codes: readonly number[]): number {
  const interrupt = codes.find((c) => c === ExitCode.INTERRUPTED || c === ExitCode.TERMINATED);
  if (interrupt !== undefined) return interrupt;
  let worst: number = ExitCode.OK;
  for (const code of codes) {
    const c = code in SEVERITY ? code : ExitCode.DATA;
    if (SEVERITY[c]! > SEVERITY[worst]!) worst = c;
  }
  return worst;
}

/** Exit code of one file's failure (as src/cli.ts maps it: a storage refusal is 3, see storage-fault.ts; an unexpected error is 1). */
export function exitCodeOfError(err: unknown): number {
  const fault = storageFaultOf(err);
  if (fault) return fault.exitCode;
  return err instanceof WattError ? err.exitCode : ExitCode.DATA;
}

/**
 * `watt ingest` over several sources: check the shared flags and load the schema once, resolve
 * every source ({@link expandSources}), then run each file through {@link runIngest} in order.
 * A file that fails is reported and the next one runs; an interruption stops the batch after the
 * file it hit.
 * @throws UsageError (2) for a bad flag or a source that resolves to nothing (nothing has run).
 */
export async function runIngestSources(opts: RunIngestSourcesOptions, env: Env = process.env): Promise<BatchOutcome> {
  const settings = resolveIngestSettings(opts, env);
  const { sources, skipped } = opts.sources?.length ? await expandSources(opts.sources) : { sources: [{ kind: 'file', path: DEFAULT_SOURCE } as SourceSpec], skipped: [] };
  opts.onStart?.(sources.length, skipped);
  const files: FileOutcome[] = [];
  for (const [i, spec] of sources.entries()) {
    if (opts.signal?.aborted) break;
    const index = i + 1;
    const runId = newRunId();
    const outcome: FileOutcome = { index, source: spec.kind === 'stdin' ? STDIN_NAME : `source #${index}`, run_id: runId, exit_code: 0 };
    let spool: StdinSpool | undefined;
    try {
      let file: string;
      if (spec.kind === 'stdin') {
        spool = await spoolStdin(opts.stdin ?? process.stdin, settings.home, runId, opts.signal);
        outcome.bytes = spool.bytes;
        file = spool.file;
      } else {
        const info = await stat(spec.path).catch(() => undefined);
        const kind = info ? streamKind(info) : undefined;
        if (kind) {
          // A FIFO, a character device or a socket is read once, like stdin: copied to the spool, then ingested.
          const input = await openStreamSource(spec.path, kind, opts.signal);
          spool = await spoolStdin(input, settings.home, runId, opts.signal, path.basename(spec.path));
          outcome.bytes = spool.bytes;
          file = spool.file;
        } else {
          file = spec.path;
          outcome.bytes = info?.size;
        }
      }
      const result = await runIngest({ ...opts, source: file, ...(spool ? { sourceCipher: spool.cipher } : {}), runId }, env, settings);
      outcome.result = result;
      if (spec.kind === 'file') outcome.source = result.source_name ?? sourceLabel(result.source_sha256);
      outcome.exit_code = result.status === 'rejected' ? ExitCode.DATA : ExitCode.OK;
    } catch (err) {
      outcome.error = storageFaultOf(err) ?? err;
      outcome.exit_code = exitCodeOfError(err);
      // Interrupted: no time to hash the file (the process must end within 2 s).
      // A FIFO is hashed from its spool copy: opening it again would wait for a writer forever.
      if (spec.kind === 'file' && !(err instanceof InterruptedError)) outcome.source = (await sha256Label(spool?.file ?? spec.path, spool?.cipher)) ?? outcome.source;
    } finally {
      await spool?.remove();
    }
    const log = path.join(logDir(env), `ingestion_${runId}.log`);
    if (outcome.result?.log) outcome.log = outcome.result.log;
    else if (existsSync(log)) outcome.log = log;
    files.push(outcome);
    opts.onFile?.(outcome);
    if (outcome.error instanceof InterruptedError) break;
  }
  const notRun = sources.length - files.length;
  let interrupted = files.find((f) => f.error instanceof InterruptedError)?.error as InterruptedError | undefined;
  // A signal that came as a run was finishing: that run counts, the rest does not run.
  if (!interrupted && opts.signal?.aborted) interrupted = interruptedError(opts.signal, `interrupted: ${notRun} of ${sources.length} files not run`);
  const exitCode = interrupted ? interrupted.exitCode : worstExitCode(files.map((f) => f.exit_code));
  return { files, not_run: notRun, exit_code: exitCode, skipped_entries: skipped, ...(interrupted ? { interrupted } : {}) };
}

/** `source sha256:<12 hex>` of a file (streamed), or undefined if it cannot be read. */
async function sha256Label(file: string, cipher?: SpoolCipher): Promise<string | undefined> {
  try {
    const hash = createHash('sha256');
    await pipeline(readSpoolStream(file, cipher), hash);
    return sourceLabel(hash.digest('hex'));
  } catch {
    return undefined;
  }
}
