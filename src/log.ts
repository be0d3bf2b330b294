import path from 'node:path';
import { ensurePrivateDirSync, ensurePrivateFileSync } from './private-fs.js';
import winston from 'winston';
import { Chalk } from 'chalk';
import { consoleSettings } from './console-settings.js';

export { configureConsole, type ConsoleSettings } from './console-settings.js';

/**
 * Logging: a human console on stderr (coloured with chalk unless NO_COLOR is set or stderr is not a
 * TTY) and, per run, JSON lines in `<logDir>/<name>_<run_id>.log`.
 *
 * Core modules receive a {@link Logger}; they never import winston or chalk. Nothing logged may
 * hold a secret or a raw personal identifier: callers log pseudonyms, counts and keys only.
 */
export interface Logger {
  error(message: string, meta?: Record<string, unknown>): void;
  warn(message: string, meta?: Record<string, unknown>): void;
  info(message: string, meta?: Record<string, unknown>): void;
  debug(message: string, meta?: Record<string, unknown>): void;
}

export interface RunLogger extends Logger {
  /** Absolute path of the JSON-lines log of this run, if one is written. */
  readonly file?: string;
  /** Flush and close the file transport. */
  close(): Promise<void>;
}

export interface RunLoggerOptions {
  /** Log file stem, e.g. `ingestion` gives `ingestion_<run_id>.log`. Omit for console only. */
  fileStem?: string;
  runId?: string;
  /** Folder of run logs (absolute). */
  dir?: string;
  /** Show debug lines on the console. */
  verbose?: boolean;
  /** Console shows warnings and errors only (e.g. with --json, or under cron). */
  quiet?: boolean;
  /** Fields added to every JSON line (command, run_id...). */
  defaultMeta?: Record<string, unknown>;
  /** Console stream, default process.stderr. */
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
}

/** Whether colours should be used on a stream: honours NO_COLOR (no-color.org), FORCE_COLOR and TTY. */
export function colourLevel(stream: { isTTY?: boolean } = process.stderr, env = process.env): 0 | 1 {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return 0;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0') return 1;
  return stream.isTTY ? 1 : 0;
}

export function createRunLogger(options: RunLoggerOptions = {}): RunLogger {
  const stream = options.stream ?? process.stderr;
  const chalk = new Chalk({ level: colourLevel(stream) });
  const levelStyle: Record<string, (s: string) => string> = {
    error: (s) => chalk.red.bold(s),
    warn: (s) => chalk.yellow(s),
    info: (s) => chalk.cyan(s),
    debug: (s) => chalk.gray(s),
  };
  const human = winston.format.printf((entry) => {
    const label = (levelStyle[entry.level] ?? ((s: string) => s))(entry.level.padEnd(5));
    return `${label} ${String(entry.message)}`;
  });
  // The error that ends a run (logged with `step: 'failed'`) goes to the run's log file; on the
  // console the CLI prints it once, as its final `watt: ...` line (one line per error).
  const notFinal = winston.format((entry) => (entry.step === 'failed' ? false : entry));
  const transports: winston.transport[] = [
    new winston.transports.Stream({
      stream: stream as NodeJS.WritableStream,
      level: consoleSettings.errorsOnly ? 'error' : options.quiet ? 'warn' : options.verbose ? 'debug' : 'info',
      format: consoleSettings.format === 'json' ? winston.format.combine(notFinal(), winston.format.timestamp(), winston.format.json()) : winston.format.combine(notFinal(), human),
    }),
  ];
  let file: string | undefined;
  if (options.fileStem && options.runId && options.dir) {
    ensurePrivateDirSync(options.dir);
    file = path.join(options.dir, `${options.fileStem}_${options.runId}.log`);
    // Private by default (0600, whatever the umask): a run log names keys, counts and pseudonyms.
    ensurePrivateFileSync(file);
    transports.push(
      new winston.transports.File({
        filename: file,
        options: { flags: 'a', mode: 0o600 },
        level: 'debug',
        format: winston.format.combine(winston.format.timestamp(), winston.format.json()),
      }),
    );
  }
  const logger = winston.createLogger({
    levels: { error: 0, warn: 1, info: 2, debug: 3 },
    level: 'debug',
    defaultMeta: options.defaultMeta,
    transports,
    exitOnError: false,
  });
  const fileTransport = transports[1];
  return {
    file,
    error: (m, meta) => logger.error(m, meta),
    warn: (m, meta) => logger.warn(m, meta),
    info: (m, meta) => logger.info(m, meta),
    debug: (m, meta) => logger.debug(m, meta),
    close: () =>
      new Promise<void>((resolve) => {
        if (!fileTransport) {
          logger.close();
          resolve();
          return;
        }
        // winston's File transport emits 'finish' once everything is on disk.
        fileTransport.on('finish', () => resolve());
        logger.end();
        setTimeout(resolve, 2000).unref();
      }),
  };
}

/** A logger that drops everything (tests, library use). */
export const silentLogger: Logger = { error() {}, warn() {}, info() {}, debug() {} };
