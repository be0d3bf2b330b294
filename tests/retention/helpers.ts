/**
 * Helpers for purge tests: ingest fixtures with the real CLI, read back every row and manifest of a
 * lake through the Lake interface (any provider), and search a folder for a raw identifier.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runWatt, type CliResult } from '../helpers/cli.js';
import { openLake, type Lake } from '../../src/store/index.js';
import { resolveLakeConfig } from '../../src/config.js';
import { manifestObjects, type Manifest } from '../../src/table/manifest.js';
import { parquetReadObjects } from 'hyparquet';
import { compressors } from '../helpers/zstd.js';

export const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'retention');
export const SUBJECT = 'CUST-ERASE-7731';
export const PREFIX = 'watt-about-it/raw';
/** A fixed 64-character key so that tests can compute pseudonyms. */
export const KEY = 'f'.repeat(16) + '0123456789abcdef'.repeat(3);

/** Environment of a watt process working in `dir` (state, lake and logs inside it). */
export function wattEnv(dir: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    WATT_HOME: path.join(dir, '.watt'),
    WATT_LAKE_ROOT: path.join(dir, 'lake'),
    WATT_LOG_DIR: path.join(dir, 'logs'),
    WATT_PSEUDONYMISATION_KEY: KEY,
    // The objects an erasure replaces are deleted at its end (no erasure grace), so that these
    // tests read the lake as it is once vacuumed; the grace itself: tests/table/delta-log.test.ts.
    WATT_ERASURE_GRACE_MINUTES: '0',
    ...extra,
  };
}

/** `watt ingest --source tests/fixtures/retention/<file> --date <date> --json`; fails the test on error. */
export async function ingest(dir: string, env: Record<string, string>, file: string, date: string, extra: string[] = []): Promise<{ run_id: string; destination: string }> {
  const r = await runWatt(['ingest', '--source', path.join(FIXTURES, file), '--date', date, '--json', ...extra], { cwd: dir, env });
  if (r.code !== 0) throw new Error(`ingest ${file} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** Run `watt purge ...args --json` and parse stdout when it is JSON. */
export async function purge(dir: string, env: Record<string, string>, args: string[]): Promise<CliResult & { json?: Record<string, unknown> }> {
  const r = await runWatt(['purge', ...args], { cwd: dir, env });
  let json: Record<string, unknown> | undefined;
  try {
    json = JSON.parse(r.stdout);
  } catch {
    json = undefined;
  }
  return { ...r, json };
}

/** Open the lake a watt process with `env` would use, in this process (the AWS SDK reads credentials from process.env). */
export async function lakeFor(env: Record<string, string>): Promise<Lake> {
  for (const k of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'] as const) if (env[k]) process.env[k] = env[k];
  return openLake(resolveLakeConfig({}, env));
}

async function bytes(lake: Lake, key: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of await lake.get(key)) chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks);
}

async function text(lake: Lake, key: string): Promise<string> {
  return (await bytes(lake, key)).toString('utf8');
}

/** Rows of a Parquet object, read with hyparquet (an independent reader). */
async function parquetRows(body: Buffer): Promise<Record<string, unknown>[]> {
  const file = body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength) as ArrayBuffer;
  return (await parquetReadObjects({ file, compressors })) as Record<string, unknown>[];
}

export interface LakeSnapshot {
  keys: string[];
  /** record_id of every data row, sorted. */
  recordIds: string[];
  /** record_id of every row of the objects a manifest names (what a reader of committed runs sees), sorted. */
  committedRecordIds: string[];
  /** customer_id column of every data row. */
  customers: string[];
  /** Manifests whose object does not match (sha256 or rows), with why. */
  inconsistent: string[];
  /** Concatenated text of every object (to search for a pseudonym or raw id). */
  allText: string;
}

/** Read every object under the prefix: rows, and manifest consistency (sha256 and rows of the object). */
export async function snapshot(lake: Lake, prefix = PREFIX): Promise<LakeSnapshot> {
  const keys: string[] = [];
  // Trail anchors (`_audit/`, one per purge), the schemas beside the data (`_schemas/`, shared
  // by runs, never purged) and the table log (`_delta_log/`, one commit per run: tests/table/)
  // are checked by their own tests; so are the landing claims (`_claims/`: tests/table/several-machines).
  const skipped = ['_audit/', '_schemas/', '_delta_log/', '_claims/'].map((f) => `${prefix}/${f}`);
  for await (const o of lake.list(prefix + '/')) if (!skipped.some((f) => o.key.startsWith(f))) keys.push(o.key);
  keys.sort();
  const recordIds: string[] = [];
  const byKey = new Map<string, string[]>();
  const customers: string[] = [];
  const inconsistent: string[] = [];
  let allText = '';
  for (const key of keys) {
    const body = await text(lake, key);
    allText += body;
    if (key.endsWith('.parquet') && !key.includes('/_')) {
      for (const row of await parquetRows(await bytes(lake, key))) {
        recordIds.push(String(row.record_id));
        byKey.set(key, [...(byKey.get(key) ?? []), String(row.record_id)]);
        customers.push(String(row.customer_id));
      }
    } else if (key.endsWith('.csv')) {
      const [header, ...lines] = body.trimEnd().split('\n');
      const cols = header!.split(',');
      for (const line of lines) {
        const cells = line.split(',');
        recordIds.push(cells[cols.indexOf('record_id')]!);
        byKey.set(key, [...(byKey.get(key) ?? []), cells[cols.indexOf('record_id')]!]);
        customers.push(cells[cols.indexOf('customer_id')]!);
      }
    }
  }
  const committedRecordIds: string[] = [];
  for (const key of keys.filter((k) => k.includes('/_manifests/'))) {
    const m = JSON.parse(await text(lake, key)) as Manifest;
    for (const o of manifestObjects(m)) committedRecordIds.push(...(byKey.get(o.key) ?? []));
    const found = inconsistent.length;
    let total = 0;
    for (const o of manifestObjects(m)) {
      if (!keys.includes(o.key)) {
        inconsistent.push(`${key}: object ${o.key} missing`);
        continue;
      }
      const body = await bytes(lake, o.key);
      const sha = createHash('sha256').update(body).digest('hex');
      const rows = o.key.endsWith('.parquet') ? (await parquetRows(body)).length : body.toString('utf8').trimEnd().split('\n').length - 1;
      total += rows;
      if (sha !== o.sha256 || rows !== o.rows) inconsistent.push(`${key}: sha256/rows differ from ${o.key}`);
    }
    // One line per stale manifest: the rows total only when every object matched.
    if (inconsistent.length === found && total !== m.rows) inconsistent.push(`${key}: rows ${m.rows} but its objects hold ${total}`);
  }
  return { keys, recordIds: recordIds.sort(), committedRecordIds: committedRecordIds.sort(), customers, inconsistent, allText };
}

/** Files under `dir` (recursively) whose bytes contain `needle`, as relative paths. */
export function filesContaining(dir: string, needle: string, skip: (rel: string) => boolean = () => false): string[] {
  const hits: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const full = path.join(d, name);
      const rel = path.relative(dir, full);
      if (skip(rel)) continue;
      if (statSync(full).isDirectory()) walk(full);
      else if (readFileSync(full).includes(Buffer.from(needle))) hits.push(rel);
    }
  };
  walk(dir);
  return hits;
}
