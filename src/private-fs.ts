import path from 'node:path';
import { chmodSync, closeSync, mkdirSync, openSync } from 'node:fs';
import { chmod, mkdir } from 'node:fs/promises';

/**
 * Private by default: what watt writes may hold pseudonymised personal data or its keys, so the
 * folders it creates are 0700 and its files 0600, set with chmod after creation so that the
 * result does not depend on the umask. Folders that already exist are left as they are.
 */

/** Mode of folders watt creates. */
export const PRIVATE_DIR_MODE = 0o700;
/** Mode of files watt writes. */
export const PRIVATE_FILE_MODE = 0o600;

/** Create `dir` and any missing parents with mode 0700 (parents that exist are untouched). */
export function ensurePrivateDirSync(dir: string): void {
  const first = mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  if (first) for (const d of createdChain(first, dir)) chmodSync(d, PRIVATE_DIR_MODE);
}

/** Async {@link ensurePrivateDirSync}. */
export async function ensurePrivateDir(dir: string): Promise<void> {
  const first = await mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  if (first) for (const d of createdChain(first, dir)) await chmod(d, PRIVATE_DIR_MODE);
}

/** Create `file` if absent (mode 0600) and set it to 0600 if watt just created it. */
export function ensurePrivateFileSync(file: string): void {
  let fd: number;
  try {
    fd = openSync(file, 'wx', PRIVATE_FILE_MODE);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return;
    throw err;
  }
  closeSync(fd);
  chmodSync(file, PRIVATE_FILE_MODE);
}

/** The folders from `first` (the first one mkdir created) down to `dir`, both included. */
function createdChain(first: string, dir: string): string[] {
  const out: string[] = [];
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    out.unshift(d);
    if (d === path.resolve(first) || d === path.dirname(d)) break;
  }
  return out;
}
