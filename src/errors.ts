/**
 * The WattError family: every failure a user can meet carries a one-line message, an exit code
 * (see docs/exit-codes in README) and, where useful, a hint saying what to do.
 *
 * Exit codes (ARCHITECTURE.md): 0 ok, 1 data/repository fails the check, 2 usage or configuration,
 * 3 storage or network, 4 lock held, 130 interrupted.
 *
 * Messages must never carry a secret or a raw personal identifier.
 */
export const ExitCode = {
  OK: 0,
  DATA: 1,
  USAGE: 2,
  STORAGE: 3,
  LOCKED: 4,
  INTERRUPTED: 130,
  /** Ended by SIGTERM (128 + 15, as shells report it). */
  TERMINATED: 143,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export class WattError extends Error {
  /** Process exit code for this failure. */
  readonly exitCode: number;
  /** What the user can do about it (one short sentence), if anything. */
  readonly hint?: string;

  constructor(message: string, exitCode: number, options: { hint?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.exitCode = exitCode;
    this.hint = options.hint;
  }
}

/** Bad flag, missing or unreadable input file, invalid schema or configuration (exit 2). */
export class UsageError extends WattError {
  constructor(message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, ExitCode.USAGE, options);
  }
}

/** The data (or the repository, for audits) fails validation (exit 1). */
export class DataError extends WattError {
  constructor(message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, ExitCode.DATA, options);
  }
}

/** Lake unreachable, credentials refused, disk full... after the SDK's bounded retries (exit 3). */
export class StorageError extends WattError {
  constructor(message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, ExitCode.STORAGE, options);
  }
}

/** Another run holds the lock (exit 4). */
export class LockError extends WattError {
  constructor(message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, ExitCode.LOCKED, options);
  }
}

/** SIGINT / SIGTERM during a run (exit 130, or 143 when `exitCode` says SIGTERM). */
export class InterruptedError extends WattError {
  constructor(message = 'interrupted', options: { hint?: string; cause?: unknown; exitCode?: 130 | 143 } = {}) {
    super(message, options.exitCode ?? ExitCode.INTERRUPTED, options);
  }
}

/** The person answered "no" at a confirmation prompt: nothing changed (exit 130; the run is `cancelled`). */
export class CancelledError extends InterruptedError {}

/** Keep messages on one line: newlines and other control characters become spaces. */
export function oneLine(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
}
