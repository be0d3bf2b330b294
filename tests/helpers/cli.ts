/**
 * Spawn the real CLI (`node bin/watt.js`, the build in dist/) in a scratch working directory.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { afterAll } from '@jest/globals';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = path.join(ROOT, 'bin', 'watt.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A fresh directory to run watt in (its lake/, .watt/ and logs/ land there). */
export function scratchDir(prefix = 'watt-test-'): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

/**
 * A maker of scratch folders that are removed once the calling test file's tests are done (call
 * it at the top level of the file: it registers an `afterAll`).
 */
export function scratchDirsRemovedAfterAll(prefix: string): () => string {
  const made: string[] = [];
  afterAll(() => {
    for (const dir of made) rmSync(dir, { recursive: true, force: true });
  });
  return () => {
    const dir = scratchDir(prefix);
    made.push(dir);
    return dir;
  };
}

/**
 * Run `watt <args>` in `cwd` with a clean environment (no AWS/Azure variables from the host),
 * NO_COLOR set, and `env` added.
 */
export function runWatt(args: string[], options: { cwd: string; env?: Record<string, string | undefined>; input?: string; timeoutMs?: number }): Promise<CliResult> {
  // AWS_EC2_METADATA_DISABLED: a test without AWS credentials must fail at once, never reach for
  // the instance metadata address (tests talk to 127.0.0.1 only).
  const baseEnv: Record<string, string | undefined> = { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1', LANG: 'C.UTF-8', AWS_EC2_METADATA_DISABLED: 'true' };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: options.cwd, env: { ...baseEnv, ...options.env } as NodeJS.ProcessEnv });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    if (options.input !== undefined) child.stdin.end(options.input);
    else child.stdin.end();
  });
}

/** Every file below `dir` (absolute paths, depth first). */
export function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const full = path.join(d, e.name);
      if (e.isDirectory()) walk(full);
      else out.push(full);
    }
  };
  walk(dir);
  return out;
}
