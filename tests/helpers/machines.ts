/**
 * Several machines on one lake, as the tests of issue 21 play them: each machine is a WATT_HOME
 * and a log folder of its own in a scratch folder, sharing the lake (local under `dir/lake`, or a
 * remote one through `extra`) and, with `WATT_CATALOG_URL`, a PostgreSQL catalog. The real CLI
 * (`bin/watt.js`, run `npm run build` first) is spawned as one of them.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { BIN } from './cli.js';
import { KEY, PREFIX } from '../retention/helpers.js';

export interface Machine {
  name: string;
  env: Record<string, string>;
}

/** Machines `a` and `b` sharing the lake of `dir`; `extra` (a remote lake, a catalog URL) is added to both. */
export function twoMachines(dir: string, extra: Record<string, string> = {}): [Machine, Machine] {
  return (['a', 'b'] as const).map((name) => ({
    name,
    env: {
      PATH: process.env.PATH!,
      HOME: process.env.HOME!,
      NO_COLOR: '1',
      LANG: 'C.UTF-8',
      WATT_HOME: path.join(dir, `home-${name}`),
      WATT_LOG_DIR: path.join(dir, `logs-${name}`),
      WATT_LAKE_ROOT: path.join(dir, 'lake'),
      WATT_PSEUDONYMISATION_KEY: KEY,
      // objects an erasure replaced are vacuumed at its end (the grace: tests/table/delta-log.test.ts)
      WATT_ERASURE_GRACE_MINUTES: '0',
      ...extra,
    },
  })) as unknown as [Machine, Machine];
}

/** A `watt` process started as one machine: its stderr so far, and its end. */
export interface Running {
  stderr: () => string;
  done: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

/** Start `watt <args>` as `machine` in `cwd`, without waiting for it (killed after 240 s). */
export function start(machine: Machine, args: string[], cwd: string, extra: Record<string, string> = {}, input?: string): Running {
  const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { ...machine.env, ...extra } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  if (input !== undefined) child.stdin.end(input);
  else child.stdin.end();
  const timer = setTimeout(() => child.kill('SIGKILL'), 240_000);
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
  return { stderr: () => stderr, done };
}

/** Wait until `ok()` holds, polling every 25 ms. @throws after `ms` naming `what`. */
export async function until(what: string, ok: () => boolean, ms = 120_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A source of `n` rows no other race uses (its own record ids, so its own sha256). */
export function raceSource(dir: string, i: number, n = 40): string {
  const file = path.join(dir, `race-${i}.csv`);
  const lines = ['record_id,customer_id,meter_id,reading_ts,consumption_kwh,tariff_eur_kwh,is_peak'];
  for (let r = 0; r < n; r++) lines.push(`R${i}-${r},CUST-${r % 7},METER-${r % 5},2025-02-0${1 + (r % 3)}T0${r % 10}:00:00Z,${r}.5,0.18,${r % 2 === 0}`);
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

/** The CSV data objects under the shared local lake's prefix (`_`-folders such as `_manifests/` skipped). */
export function dataFiles(dir: string): string[] {
  const root = path.join(dir, 'lake', 'watt-lake', PREFIX);
  const out: string[] = [];
  const walk = (d: string) => {
    if (!existsSync(d)) return;
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory() && !e.name.startsWith('_')) walk(path.join(d, e.name));
      else if (e.isFile() && e.name.endsWith('.csv')) out.push(path.join(d, e.name));
    }
  };
  walk(root);
  return out;
}
