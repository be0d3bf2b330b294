/**
 * Lakes in the shape issue 11 lands (manifest v2: one data object per partition day, CSV or
 * Parquet, schema stored beside the data), built directly with watt's modules (layout, Parquet
 * writer, manifest writer, pseudonymiser with the test key), so that the readers of the lake
 * (verify, recovery, retention, erasure) can be tested before and independently of ingest.
 * Counted back with independent readers: hyparquet for Parquet, csv-parse for CSV.
 */
import path from 'node:path';
import { createHash } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import { compressors } from './zstd.js';
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet';
import type { Lake } from '../../src/store/types.js';
import { dataKey, manifestKey, rejectsKey, schemaKey, type Layout } from '../../src/table/layout.js';
import { ParquetFileWriter, type ParquetColumn } from '../../src/formats/parquet.js';
import { manifestObjects, writeManifest, type DataFormat, type Manifest, type ManifestObject } from '../../src/table/manifest.js';
import { keyIdOf, Pseudonymiser, type PseudonymScheme } from '../../src/records/pseudonymise.js';

/** A reading before pseudonymisation (customer and meter are raw identifiers). */
export interface Reading {
  record_id: string;
  customer: string;
  meter: string;
  /** RFC 3339 UTC. */
  ts: string;
  kwh: number;
}

export const COLUMNS: ParquetColumn[] = [
  { name: 'record_id', kind: 'string' },
  { name: 'customer_id', kind: 'string' },
  { name: 'meter_id', kind: 'string' },
  { name: 'reading_ts', kind: 'timestamp' },
  { name: 'consumption_kwh', kind: 'double' },
  { name: 'is_peak', kind: 'boolean' },
];

/** `YYYY-MM-DD` of `n` days before now (UTC). */
export function daysAgo(n: number, now = new Date()): string {
  return new Date(now.getTime() - n * 86_400_000).toISOString().slice(0, 10);
}

/** Readings for `days` (YYYY-MM-DD), `perDay` each, customers cycling through `customers`. */
export function readings(days: string[], perDay: number, customers: string[], tag = 'R'): Reading[] {
  const out: Reading[] = [];
  let n = 0;
  for (const day of days) {
    for (let i = 0; i < perDay; i++) {
      out.push({ record_id: `${tag}-${String(++n).padStart(4, '0')}`, customer: customers[n % customers.length]!, meter: `M-${n % 3}`, ts: `${day}T${String(i % 24).padStart(2, '0')}:15:00Z`, kwh: n / 4 });
    }
  }
  return out;
}

export interface LandOptions {
  prefix: string;
  runId: string;
  stem?: string;
  layout?: Layout;
  format: DataFormat;
  /** The pseudonymisation key (the test key). */
  key: string;
  /** A scratch folder for the files before upload. */
  tmp: string;
  /** Store a schema at `_schemas/<sha256>.json` and name it in the manifest (default true). */
  schema?: boolean;
  /** Write a quarantine file with this many lines. */
  rejects?: number;
  /** Upload only the first n objects and no manifest (a run killed half-way). */
  crashAfter?: number;
  /** Pseudonym scheme, recorded in the manifest (default: none recorded, v1 as before schemes). */
  scheme?: PseudonymScheme;
}

/** Land a run as ingest v2 would: one object per UTC day of `reading_ts`, then the manifest (last). */
export async function landRun(lake: Lake, rows: Reading[], o: LandOptions): Promise<Manifest> {
  const p = new Pseudonymiser(Buffer.from(o.key, 'utf8'), o.scheme ?? 'hmac-sha256');
  const byDay = new Map<string, Reading[]>();
  for (const r of rows) {
    const d = r.ts.slice(0, 10);
    byDay.set(d, [...(byDay.get(d) ?? []), r]);
  }
  const objects: ManifestObject[] = [];
  for (const [day, group] of [...byDay].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const key = dataKey(o.prefix, o.layout ?? 'hive', day, o.stem ?? 'readings', o.runId, o.format);
    const file = path.join(o.tmp, `${o.runId}-${day}.${o.format}`);
    if (o.format === 'parquet') {
      const w = new ParquetFileWriter(file, COLUMNS, { metadata: { run_id: o.runId } });
      for (const r of group) w.append([r.record_id, p.pseudonym(r.customer), p.pseudonym(r.meter), BigInt(Date.parse(r.ts)) * 1000n, r.kwh, r.kwh > 1, ]);
      w.close();
    } else {
      const lines = ['record_id,customer_id,meter_id,reading_ts,consumption_kwh,is_peak', ...group.map((r) => [r.record_id, p.pseudonym(r.customer), p.pseudonym(r.meter), r.ts, String(r.kwh), String(r.kwh > 1)].join(','))];
      writeFileSync(file, lines.join('\n') + '\n');
    }
    const body = readFileSync(file);
    const sha256 = createHash('sha256').update(body).digest('hex');
    if (o.crashAfter !== undefined && objects.length >= o.crashAfter) break;
    await lake.putFile(key, file, { sha256 });
    rmSync(file, { force: true });
    objects.push({ key, uri: lake.uri(key), sha256, bytes: body.length, rows: group.length, partition_date: day, format: o.format });
  }
  if (o.crashAfter !== undefined) return undefined as never;
  let schema: Manifest['schema'] = { id: 'energy_consumption', sha256: '0'.repeat(64) };
  if (o.schema !== false) {
    const text = JSON.stringify({ $id: 'energy_consumption', type: 'object' }) + '\n';
    const sha = createHash('sha256').update(text).digest('hex');
    schema = { id: 'energy_consumption', sha256: sha, key: schemaKey(o.prefix, sha) };
    await lake.put(schema.key!, text, { sha256: sha, contentType: 'application/json' });
  }
  let rejects: Manifest['rejects'] = null;
  if (o.rejects) {
    const key = rejectsKey(o.prefix, o.runId);
    await lake.put(key, Array.from({ length: o.rejects }, (_, i) => JSON.stringify({ line: i + 2, errors: ['bad'] })).join('\n') + '\n');
    rejects = { key, uri: lake.uri(key), rows: o.rejects };
  }
  const manifest: Manifest = {
    manifest_version: 2,
    run_id: o.runId,
    source: { name: `${o.stem ?? 'readings'}.csv`, sha256: createHash('sha256').update(o.runId).digest('hex'), bytes: 1 },
    objects,
    format: o.format,
    rejects,
    rows: rows.length,
    rejected: o.rejects ?? 0,
    schema,
    pseudonymisation: { algorithm: 'HMAC-SHA256', columns: ['customer_id', 'meter_id'], key_id: keyIdOf(Buffer.from(o.key, 'utf8')), ...(o.scheme ? { pseudonym_scheme: o.scheme } : {}) },
    partition: { layout: o.layout ?? 'hive', by: 'reading_ts' },
    started_at: new Date().toISOString(),
    finished_at: new Date().toISOString(),
    watt_version: 'test',
  };
  await writeManifest(lake, manifestKey(o.prefix, o.runId), manifest);
  return manifest;
}

async function bytesOf(lake: Lake, key: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of await lake.get(key)) chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks);
}

/** Every data row of the lake, read with hyparquet (Parquet) or csv-parse (CSV), as plain objects keyed by column; `key` added. */
/**
 * The key a data object had when ingest landed it: an erasure writes its copy without the
 * subject's rows under `<stem>.erasure-<erasure run>_<run>.<ext>` (src/table/layout.ts erasedKey).
 */
export function landedKey(key: string): string {
  return key.replace(/\.erasure-\d{8}T\d{6}Z-[a-z0-9]+(?=_\d{8}T\d{6}Z-[a-z0-9]+\.(?:csv|parquet)$)/, '');
}

/** Every data row of the lake, with `key`: the key ingest landed it under ({@link landedKey}). */
export async function readRows(lake: Lake, prefix: string, tmp: string): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for await (const o of lake.list(prefix + '/')) {
    if (o.key.includes('/_')) continue;
    const body = await bytesOf(lake, o.key);
    if (o.key.endsWith('.parquet')) {
      const file = path.join(tmp, 'read.parquet');
      writeFileSync(file, body);
      const rows = (await parquetReadObjects({ file: await asyncBufferFromFile(file), compressors })) as Record<string, unknown>[];
      for (const r of rows) out.push({ ...r, reading_ts: r.reading_ts instanceof Date ? r.reading_ts.toISOString() : r.reading_ts, key: landedKey(o.key) });
    } else if (o.key.endsWith('.csv')) {
      for (const r of parse(body, { columns: true }) as Record<string, string>[]) out.push({ ...r, consumption_kwh: Number(r.consumption_kwh), is_peak: r.is_peak === 'true', reading_ts: new Date(r.reading_ts!).toISOString(), key: landedKey(o.key) });
    }
  }
  return out.sort((a, b) => (String(a.record_id) < String(b.record_id) ? -1 : 1));
}

/** Problems between the manifests and the lake, checked independently of watt verify: object missing, sha256/bytes/rows differ, rows total wrong. */
export async function manifestProblems(lake: Lake, prefix: string, tmp: string): Promise<string[]> {
  const problems: string[] = [];
  const keys = new Set<string>();
  for await (const o of lake.list(prefix + '/')) keys.add(o.key);
  for (const k of [...keys].filter((k) => k.includes('/_manifests/'))) {
    const m = JSON.parse((await bytesOf(lake, k)).toString('utf8')) as Manifest;
    let total = 0;
    for (const obj of manifestObjects(m)) {
      if (!keys.has(obj.key)) {
        problems.push(`${k}: names missing ${obj.key}`);
        continue;
      }
      const body = await bytesOf(lake, obj.key);
      const sha = createHash('sha256').update(body).digest('hex');
      let rows: number;
      if (obj.key.endsWith('.parquet')) {
        const file = path.join(tmp, 'check.parquet');
        writeFileSync(file, body);
        rows = (await parquetReadObjects({ file: await asyncBufferFromFile(file), compressors })).length;
      } else rows = (parse(body, { columns: true }) as unknown[]).length;
      if (sha !== obj.sha256 || body.length !== obj.bytes || rows !== obj.rows) problems.push(`${k}: ${obj.key} differs (sha256/bytes/rows)`);
      total += rows;
    }
    if (total !== m.rows) problems.push(`${k}: rows ${m.rows} but objects hold ${total}`);
  }
  return problems;
}
