/**
 * Issue 11, items 4 and 5, end to end through the real CLI (the build in dist/): the schema
 * stored beside the data, `--extra-columns keep|drop|reject`, and the primary key
 * (`x-primary-key`) with duplicates in strict and quarantine runs, also across the two worker
 * ranges of a > 4 MiB source. Everything is read back with independent readers (csv-parse,
 * node:crypto), never with watt's own code.
 */
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { runWatt, scratchDir, ROOT, type CliResult } from '../helpers/cli.js';

const KEY = { WATT_PSEUDONYMISATION_KEY: 'test-key-0123456789abcdef0123456789abcdef' };
const SCHEMA_FILE = path.join(ROOT, 'schemas', 'energy_consumption.schema.json');
const HEADER = 'record_id,customer_id,meter_id,reading_ts,consumption_kwh,tariff_eur_kwh,is_peak';
const LAKE = (cwd: string) => path.join(cwd, 'lake', 'watt-lake', 'watt-about-it', 'raw');
const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

function errorLines(r: CliResult): string[] {
  return r.stderr.split('\n').filter((l) => l.startsWith('watt:'));
}

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)));
}

function manifestOf(cwd: string, runId: string): Record<string, any> {
  return JSON.parse(readFileSync(path.join(LAKE(cwd), '_manifests', `${runId}.json`), 'utf8'));
}

/** The landed data object of a run, parsed by csv-parse (header row first). */
function landed(out: { destination: string }): string[][] {
  return parse(readFileSync(new URL(out.destination)), { relax_column_count: false }) as string[][];
}

function rejectsOf(cwd: string, runId: string): { line: number; column: string | null; reason: string; duplicate_of?: number }[] {
  return readFileSync(path.join(LAKE(cwd), '_rejects', `${runId}.jsonl`), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
}

function row(i: number | string, over: Partial<Record<'customer' | 'meter' | 'ts', string>> = {}): string {
  return `REC-${i},${over.customer ?? 'CUST-001'},${over.meter ?? 'METER-01'},${over.ts ?? '2025-01-01T08:00:00Z'},12.4,0.18,false`;
}

describe('the schema beside the data', () => {
  it('is stored once at _schemas/<sha256>.json, holds the schema file byte for byte, and every manifest names it', async () => {
    const cwd = scratchDir();
    const schemaBytes = readFileSync(SCHEMA_FILE);
    const first = await runWatt(['ingest', '--date', '2025-01-03', '--json'], { cwd, env: KEY });
    expect(first.code).toBe(0);
    const schemas = filesUnder(path.join(LAKE(cwd), '_schemas'));
    expect(schemas).toEqual([`${sha256(schemaBytes)}.json`]);
    const stored = path.join(LAKE(cwd), '_schemas', schemas[0]!);
    expect(readFileSync(stored).equals(schemaBytes)).toBe(true);
    const m1 = manifestOf(cwd, JSON.parse(first.stdout).run_id);
    expect(m1.schema).toEqual({
      id: 'urn:watt:schema:energy_consumption:1',
      sha256: sha256(schemaBytes),
      key: `watt-about-it/raw/_schemas/${sha256(schemaBytes)}.json`,
      primary_key: ['record_id'],
      extra_columns: { policy: 'keep', columns: [] },
    });
    const before = statSync(stored);

    // A second run with the same schema (another source) references it and does not rewrite it.
    const src = path.join(cwd, 'other.csv');
    writeFileSync(src, `${HEADER}\n${row(1)}\n${row(2)}\n`);
    const second = await runWatt(['ingest', '--source', src, '--date', '2025-01-03', '--json'], { cwd, env: KEY });
    expect(second.code).toBe(0);
    const after = statSync(stored);
    expect([after.ino, after.mtimeMs]).toEqual([before.ino, before.mtimeMs]);
    expect(manifestOf(cwd, JSON.parse(second.stdout).run_id).schema.key).toBe(m1.schema.key);
    expect(filesUnder(path.join(LAKE(cwd), '_schemas'))).toHaveLength(1);

    // verify does not call it an orphan; retention does not delete it (no personal data, shared).
    const v = await runWatt(['verify', '--json'], { cwd, env: KEY });
    expect(v.code).toBe(0);
    expect(JSON.parse(v.stdout).findings).toEqual([]);
    const p = await runWatt(['purge', '--days', '30', '--yes', '--json'], { cwd, env: KEY });
    expect(p.code).toBe(0);
    expect(filesUnder(path.join(LAKE(cwd), '_manifests'))).toEqual([]);
    expect(readFileSync(stored).equals(schemaBytes)).toBe(true);
  });

  it('watt verify reports a schema object that was changed or removed', async () => {
    const cwd = scratchDir();
    const r = await runWatt(['ingest', '--json'], { cwd, env: KEY });
    expect(r.code).toBe(0);
    const key = manifestOf(cwd, JSON.parse(r.stdout).run_id).schema.key as string;
    const file = path.join(cwd, 'lake', 'watt-lake', key);
    const original = readFileSync(file);
    writeFileSync(file, original.toString('utf8').replace('Household meter reading', 'Household meter Reading'));
    const changed = await runWatt(['verify', '--json'], { cwd, env: KEY });
    expect(changed.code).toBe(1);
    expect(JSON.parse(changed.stdout).findings).toEqual([expect.objectContaining({ kind: 'sha256_mismatch', key })]);
    rmSync(file);
    const removed = await runWatt(['verify', '--json'], { cwd, env: KEY });
    expect(removed.code).toBe(1);
    // merge (interop): readers' verify reports a missing schema as schema_missing, not object_missing.
    expect(JSON.parse(removed.stdout).findings).toEqual([expect.objectContaining({ kind: 'schema_missing', key })]);
  });

  it('a run killed after storing the schema leaves it for the next run; repair removes the data garbage only', async () => {
    const cwd = scratchDir();
    const killed = await runWatt(['ingest'], { cwd, env: { ...KEY, WATT_FAILPOINT: 'ingest:before-manifest' } });
    expect(killed.code).toBeNull(); // SIGKILL
    const schemas = filesUnder(path.join(LAKE(cwd), '_schemas'));
    expect(schemas).toHaveLength(1);
    const stored = path.join(LAKE(cwd), '_schemas', schemas[0]!);
    const before = statSync(stored);
    const repair = await runWatt(['verify', '--repair', '--grace', '0', '--json'], { cwd, env: KEY });
    expect(repair.code).toBe(0);
    expect(JSON.parse(repair.stdout).findings.map((f: { kind: string; key: string }) => [f.kind, f.key.includes('/_schemas/')])).toEqual([['orphan', false]]);
    expect(existsSync(stored)).toBe(true);
    const again = await runWatt(['ingest', '--json'], { cwd, env: KEY });
    expect(again.code).toBe(0);
    expect(manifestOf(cwd, JSON.parse(again.stdout).run_id).schema.key).toBe(`watt-about-it/raw/_schemas/${schemas[0]}`);
    expect(statSync(stored).ino).toBe(before.ino);
  });

  it('stores another schema file under its own hash', async () => {
    const cwd = scratchDir();
    const text = readFileSync(SCHEMA_FILE, 'utf8').replace('"title": "Household meter reading"', '"title": "Household meter reading (copy)"');
    const schema = path.join(cwd, 'copy.schema.json');
    writeFileSync(schema, text);
    const r = await runWatt(['ingest', '--schema', schema, '--json'], { cwd, env: KEY });
    expect(r.code).toBe(0);
    const key = manifestOf(cwd, JSON.parse(r.stdout).run_id).schema.key;
    expect(key).toBe(`watt-about-it/raw/_schemas/${sha256(text)}.json`);
    expect(readFileSync(path.join(cwd, 'lake', 'watt-lake', key), 'utf8')).toBe(text);
  });
});

describe('--extra-columns', () => {
  const cwd = scratchDir();
  const src = path.join(cwd, 'extra.csv');
  writeFileSync(src, `${HEADER},note,site\n${row(1)},"hello, world",A\n${row(2)},x,B\n`);

  it('keep (the default) lands them as text with a warning, and the manifest lists them', async () => {
    const r = await runWatt(['ingest', '--source', src, '--json'], { cwd, env: KEY });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/extra columns kept as is \(not in the schema\): note, site/);
    const out = JSON.parse(r.stdout);
    const rows = landed(out);
    expect(rows[0]).toEqual([...HEADER.split(','), 'note', 'site']);
    expect(rows.slice(1).map((c) => c.slice(7))).toEqual([['hello, world', 'A'], ['x', 'B']]);
    expect(manifestOf(cwd, out.run_id).schema.extra_columns).toEqual({ policy: 'keep', columns: ['note', 'site'] });
  });

  it('drop leaves them out of the header and every row, and names them', async () => {
    const r = await runWatt(['ingest', '--source', src, '--extra-columns', 'drop', '--force', '--json'], { cwd, env: KEY });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/extra columns dropped \(not in the schema\): note, site/);
    const out = JSON.parse(r.stdout);
    const rows = landed(out);
    expect(rows[0]).toEqual(HEADER.split(','));
    expect(rows).toHaveLength(3);
    for (const cells of rows) expect(cells).toHaveLength(7);
    expect(rows.slice(1).map((c) => c[0])).toEqual(['REC-1', 'REC-2']);
    expect(readFileSync(new URL(out.destination), 'utf8')).not.toMatch(/hello|,A\n/);
    expect(manifestOf(cwd, out.run_id).schema.extra_columns).toEqual({ policy: 'drop', columns: ['note', 'site'] });
  });

  it('reject fails the run with exit 1 on one line naming them, and writes nothing', async () => {
    const dir = scratchDir();
    const r = await runWatt(['ingest', '--source', src, '--extra-columns', 'reject'], { cwd: dir, env: KEY });
    expect(r.code).toBe(1);
    expect(errorLines(r)).toHaveLength(1);
    expect(errorLines(r)[0]).toMatch(/^watt: columns not in the schema \(--extra-columns reject\): note, site; nothing was written/);
    expect(filesUnder(path.join(dir, 'lake'))).toEqual([]);
  });

  it('a schema with "additionalProperties": false refuses keep (nothing written) and accepts drop', async () => {
    const dir = scratchDir();
    const schema = path.join(dir, 'closed.schema.json');
    writeFileSync(schema, readFileSync(SCHEMA_FILE, 'utf8').replace('"additionalProperties": true', '"additionalProperties": false'));
    const keep = await runWatt(['ingest', '--source', src, '--schema', schema], { cwd: dir, env: KEY });
    expect(keep.code).toBe(1);
    expect(errorLines(keep)).toEqual([expect.stringMatching(/^watt: columns not in the schema, which sets "additionalProperties": false: note, site; nothing was written \(rerun with --extra-columns drop/)]);
    expect(filesUnder(path.join(dir, 'lake'))).toEqual([]);
    const drop = await runWatt(['ingest', '--source', src, '--schema', schema, '--extra-columns', 'drop', '--json'], { cwd: dir, env: KEY });
    expect(drop.code).toBe(0);
    expect(landed(JSON.parse(drop.stdout))[0]).toEqual(HEADER.split(','));
  });

  it('refuses an unknown policy as a usage error', async () => {
    const r = await runWatt(['ingest', '--source', src, '--extra-columns', 'ignore'], { cwd: scratchDir(), env: KEY });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/'ignore' is invalid\. Allowed choices are keep, drop, reject/);
  });
});

describe('primary key (x-primary-key)', () => {
  it('strict: a duplicate record_id fails the run with both line numbers, writes nothing, quotes no value', async () => {
    const cwd = scratchDir();
    const src = path.join(cwd, 'dups.csv');
    writeFileSync(src, [HEADER, row('A'), row('B'), row('C'), row('B'), ''].join('\n'));
    const r = await runWatt(['ingest', '--source', src], { cwd, env: KEY });
    expect(r.code).toBe(1);
    expect(errorLines(r)).toEqual([expect.stringMatching(/^watt: 1 invalid row in dups\.csv, nothing was written \(first: line 5: record_id duplicates line 3\)/)]);
    expect(filesUnder(path.join(cwd, 'lake'))).toEqual([]);
  });

  it('--quarantine lands the first occurrence and sets the later ones aside with both line numbers', async () => {
    const cwd = scratchDir();
    const src = path.join(cwd, 'dups.csv');
    writeFileSync(src, [HEADER, row('A'), row('B'), row('B'), row('C'), row('B'), ''].join('\n'));
    const r = await runWatt(['ingest', '--source', src, '--quarantine', '--json'], { cwd, env: KEY });
    expect(r.code).toBe(1); // rows were rejected
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ rows: 3, rejected: 2 });
    expect(landed(out).slice(1).map((c) => c[0])).toEqual(['REC-A', 'REC-B', 'REC-C']);
    expect(rejectsOf(cwd, out.run_id)).toEqual([
      { line: 4, column: null, reason: 'record_id duplicates line 3', duplicate_of: 3 },
      { line: 6, column: null, reason: 'record_id duplicates line 3', duplicate_of: 3 },
    ]);
    expect(manifestOf(cwd, out.run_id).schema.primary_key).toEqual(['record_id']);
  });

  it('compares key cells canonically (one instant, two offsets; personal key cells) and never prints a personal value', async () => {
    const cwd = scratchDir();
    const schema = path.join(cwd, 'by-meter.schema.json');
    writeFileSync(schema, readFileSync(SCHEMA_FILE, 'utf8').replace('"x-primary-key": ["record_id"]', '"x-primary-key": ["meter_id", "reading_ts"]'));
    const src = path.join(cwd, 'meters.csv');
    writeFileSync(
      src,
      [
        HEADER,
        row(1, { meter: 'METER-77', ts: '2025-01-01T08:00:00Z' }),
        row(2, { meter: 'METER-77', ts: '2025-01-01T09:00:00Z' }),
        row(3, { meter: 'METER-88', ts: '2025-01-01T08:00:00Z' }),
        row(4, { meter: ' METER-77', ts: '2025-01-01T09:00:00+01:00' }), // same meter (trimmed), same instant as line 2
        '',
      ].join('\n'),
    );
    const r = await runWatt(['ingest', '--source', src, '--schema', schema], { cwd, env: KEY });
    expect(r.code).toBe(1);
    expect(errorLines(r)[0]).toMatch(/first: line 5: meter_id, reading_ts duplicates line 2\)/);
    expect(r.stderr).not.toMatch(/METER-77/);
  });

  it('compares integer key cells exactly beyond 2^53 (two ids one double apart both land) and 0100 as 100', async () => {
    const cwd = scratchDir();
    const schema = path.join(cwd, 'by-seq.schema.json');
    writeFileSync(
      schema,
      readFileSync(SCHEMA_FILE, 'utf8')
        .replace('"x-primary-key": ["record_id"]', '"x-primary-key": ["seq"]')
        .replace('"properties": {', '"properties": {\n    "seq": { "type": "integer" },'),
    );
    const src = path.join(cwd, 'seq.csv');
    // 9007199254740993 and 9007199254740992 are one double (2^53) but two integers.
    writeFileSync(src, [`${HEADER},seq`, `${row(1)},9007199254740992`, `${row(2)},9007199254740993`, `${row(3)},100`, `${row(4)},0100`, ''].join('\n'));
    const strict = await runWatt(['ingest', '--source', src, '--schema', schema], { cwd, env: KEY });
    expect(strict.code).toBe(1);
    // Only line 5 (0100, i.e. 100) duplicates a key: line 3 is not a duplicate of line 2.
    expect(errorLines(strict)[0]).toMatch(/1 invalid row .*first: line 5: seq duplicates line 4\)/);
  });

  it('rejects an empty cell of a key column that the schema does not require', async () => {
    const cwd = scratchDir();
    const schema = path.join(cwd, 'optional-key.schema.json');
    writeFileSync(schema, readFileSync(SCHEMA_FILE, 'utf8').replace('"required": ["record_id", ', '"required": ['));
    const src = path.join(cwd, 'nokey.csv');
    writeFileSync(src, [HEADER, row(1), row(2).replace('REC-2', ''), ''].join('\n'));
    const r = await runWatt(['ingest', '--source', src, '--schema', schema], { cwd, env: KEY });
    expect(r.code).toBe(1);
    expect(errorLines(r)[0]).toMatch(/first: line 3, column record_id: is empty but part of the primary key\)/);
  });
});

/** Writes `rows` readings, line n+2 holding REC-n, except line l of `dupOf` which repeats REC-(dupOf[l]-2). */
async function writeLarge(file: string, rows: number, dupOf: Map<number, number> = new Map()): Promise<void> {
  const out = createWriteStream(file);
  out.write(HEADER + '\n');
  let chunk = '';
  for (let i = 0; i < rows; i++) {
    const line = i + 2;
    const id = dupOf.has(line) ? dupOf.get(line)! - 2 : i;
    chunk += `REC-${id},CUST-${i % 1000},METER-${i % 1000},2025-01-01T08:00:00Z,${((i % 300) / 10).toFixed(1)},0.18,${i % 2 ? 'true' : 'false'}\n`;
    if (chunk.length > 65536) {
      if (!out.write(chunk)) await once(out, 'drain');
      chunk = '';
    }
  }
  out.end(chunk);
  await once(out, 'finish');
}

describe('primary key on a > 4 MiB source (two worker ranges)', () => {
  const rows = 120_000; // ~9 MB: two ranges split near line 60,000
  // Line 100,002 repeats line 12's key (other range), and so does line 110,002 (same range as
  // the first repeat); line 80,002 repeats line 70,002 (same range).
  const dupOf = new Map([
    [100_002, 12],
    [110_002, 12],
    [80_002, 70_002],
  ]);

  it('strict: the duplicate pair in different halves fails the run with both line numbers', async () => {
    const cwd = scratchDir();
    const src = path.join(cwd, 'large.csv');
    await writeLarge(src, rows, new Map([[100_002, 12]]));
    const r = await runWatt(['ingest', '--source', src, '--verbose'], { cwd, env: KEY });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/checking 2 ranges in parallel worker threads/);
    expect(errorLines(r)).toEqual([expect.stringMatching(/^watt: 1 invalid row in large\.csv, nothing was written \(first: line 100002: record_id duplicates line 12\)/)]);
    expect(filesUnder(path.join(cwd, 'lake'))).toEqual([]);
  });

  it('--quarantine: each key lands once (its first line), the repeats are set aside with both lines', async () => {
    const cwd = scratchDir();
    const src = path.join(cwd, 'large.csv');
    await writeLarge(src, rows, dupOf);
    const r = await runWatt(['ingest', '--source', src, '--quarantine', '--json', '--verbose'], { cwd, env: KEY });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/checking 2 ranges in parallel worker threads/);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ rows: rows - 3, rejected: 3 });
    const body = landed(out);
    expect(body[0]).toEqual(HEADER.split(','));
    const ids = body.slice(1).map((c) => c[0]);
    expect(ids).toHaveLength(rows - 3);
    expect(new Set(ids).size).toBe(rows - 3);
    expect(ids).toEqual(Array.from({ length: rows }, (_, i) => i).filter((i) => !dupOf.has(i + 2)).map((i) => `REC-${i}`));
    const rejects = rejectsOf(cwd, out.run_id);
    expect(rejects.map((e) => [e.line, e.duplicate_of])).toEqual([
      [80_002, 70_002],
      [100_002, 12],
      [110_002, expect.any(Number)], // a repeat of line 12's key: names line 12 or line 100,002
    ]);
    expect([12, 100_002]).toContain(rejects[2]!.duplicate_of);
    for (const e of rejects) expect(e.reason).toBe(`record_id duplicates line ${e.duplicate_of}`);
  });

  it('without duplicates, every row lands', async () => {
    const cwd = scratchDir();
    const src = path.join(cwd, 'large.csv');
    await writeLarge(src, rows);
    const r = await runWatt(['ingest', '--source', src, '--json', '--verbose'], { cwd, env: KEY });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/checking 2 ranges in parallel worker threads/);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ rows, rejected: 0 });
    const ids = landed(out).slice(1).map((c) => c[0]);
    expect(ids).toEqual(Array.from({ length: rows }, (_, i) => `REC-${i}`));
  });
});
