import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import Database from 'better-sqlite3';
import { runWatt, scratchDir, ROOT, type CliResult } from '../helpers/cli.js';

const SAMPLE = path.join(ROOT, 'samples', 'sample_energy_consumption.csv');
const HEADER = 'record_id,customer_id,meter_id,reading_ts,consumption_kwh,tariff_eur_kwh,is_peak';
const ROW = 'REC-001,CUST-001,METER-01,2025-01-01T08:00:00Z,12.4,0.18,false';
const KEY = { WATT_PSEUDONYMISATION_KEY: 'test-key-0123456789abcdef0123456789abcdef' };

/** Every file under a folder, recursively (relative paths). */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)));
}

/** The `watt:` error lines of a run: there must be exactly one, and it must be one line. */
function errorLines(r: CliResult): string[] {
  return r.stderr.split('\n').filter((l) => l.startsWith('watt:'));
}

describe('watt ingest, end to end on the local lake', () => {
  const cwd = scratchDir();

  it('lands the shipped sample with pseudonyms, a manifest, a log and a catalog record', async () => {
    const r = await runWatt(['ingest', '--date', '2025-01-03'], { cwd, env: KEY });
    expect(r.code).toBe(0);
    const files = filesUnder(path.join(cwd, 'lake'));
    const data = files.filter((f) => f.endsWith('.csv'));
    expect(data).toHaveLength(1);
    expect(data[0]).toMatch(/^watt-lake\/watt-about-it\/raw\/2025\/01\/03\/sample_energy_consumption_\d{8}T\d{6}Z-[a-z0-9]{10}\.csv$/);
    const body = readFileSync(path.join(cwd, 'lake', data[0]!), 'utf8');
    const lines = body.trimEnd().split('\n');
    expect(lines[0]).toBe(HEADER);
    expect(lines).toHaveLength(6);
    // Non-personal values pass through exactly as written; personal ones are 64-hex pseudonyms.
    const first = lines[1]!.split(',');
    expect(first[0]).toBe('REC-001');
    expect(first[1]).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(first[2]).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(first.slice(3)).toEqual(['2025-01-01T08:00:00Z', '12.4', '0.18', 'false']);
    // The same customer gets the same pseudonym on both of its rows.
    expect(lines[2]!.split(',')[1]).toBe(first[1]);
    expect(lines[3]!.split(',')[1]).not.toBe(first[1]);

    const manifests = files.filter((f) => f.includes('/_manifests/'));
    expect(manifests).toHaveLength(1);
    const manifest = JSON.parse(readFileSync(path.join(cwd, 'lake', manifests[0]!), 'utf8'));
    expect(manifest).toMatchObject({
      rows: 5,
      rejected: 0,
      source: { name: 'sample_energy_consumption.csv', sha256: createHash('sha256').update(readFileSync(SAMPLE)).digest('hex') },
      manifest_version: 2,
      format: 'csv',
      objects: [{ sha256: createHash('sha256').update(body).digest('hex'), rows: 5, partition_date: '2025-01-03', format: 'csv' }],
      partition: { date: '2025-01-03', layout: 'plain' },
      pseudonymisation: { algorithm: 'HMAC-SHA256', columns: ['customer_id', 'meter_id'] },
      schema: { id: 'urn:watt:schema:energy_consumption:1' },
    });
    expect(data[0]).toContain(manifest.run_id);

    const logs = readdirSync(path.join(cwd, 'logs'));
    expect(logs).toEqual([`ingestion_${manifest.run_id}.log`]);
    const logLines = readFileSync(path.join(cwd, 'logs', logs[0]!), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(logLines.map((l) => l.step).filter(Boolean)).toEqual(expect.arrayContaining(['hash', 'header', 'validate', 'upload', 'manifest']));

    const db = new Database(path.join(cwd, '.watt', 'catalog.db'), { readonly: true });
    const run = db.prepare('SELECT * FROM runs WHERE run_id = ?').get(manifest.run_id) as Record<string, unknown>;
    expect(run).toMatchObject({ command: 'ingest', status: 'succeeded', rows: 5, rejected: 0, source_sha256: manifest.source.sha256 });
    const objects = db.prepare('SELECT kind, key FROM lake_objects WHERE run_id = ? ORDER BY kind').all(manifest.run_id);
    expect(objects).toEqual([
      { kind: 'data', key: data[0]!.replace(/^watt-lake\//, '') },
      { kind: 'manifest', key: manifests[0]!.replace(/^watt-lake\//, '') },
    ]);
    db.close();
  });

  it('skips a second run of the same file (exit 0, nothing new), and --force ingests it again', async () => {
    const before = filesUnder(path.join(cwd, 'lake')).length;
    const again = await runWatt(['ingest', '--date', '2025-01-03', '--json'], { cwd, env: KEY });
    expect(again.code).toBe(0);
    const out = JSON.parse(again.stdout);
    expect(out.status).toBe('skipped');
    expect(out.previous_run_id).toMatch(/^\d{8}T\d{6}Z-/);
    expect(out.destination).toMatch(new RegExp(`/sample_energy_consumption_${out.previous_run_id}\\.csv$`));
    expect(existsSync(new URL(out.destination))).toBe(true);
    expect(filesUnder(path.join(cwd, 'lake'))).toHaveLength(before);

    const forced = await runWatt(['ingest', '--date', '2025-01-03', '--force', '--json'], { cwd, env: KEY });
    expect(forced.code).toBe(0);
    expect(JSON.parse(forced.stdout).status).toBe('succeeded');
    // The object, its manifest and the table log's commit (tests/table/delta-log.test.ts).
    expect(filesUnder(path.join(cwd, 'lake'))).toHaveLength(before + 3);
  });

  it('--dry-run of a file already ingested says it would be skipped', async () => {
    const r = await runWatt(['ingest', '--dry-run', '--date', '2025-01-03', '--json'], { cwd, env: KEY });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).status).toBe('skipped');
  });

  it('reads settings from a .env file in the working directory, below real environment variables', async () => {
    const dir = scratchDir();
    writeFileSync(path.join(dir, '.env'), `DATA_LAKE_PREFIX=from-dotenv/raw\nDATA_LAKE_BUCKET=dotenv-bucket\nWATT_PSEUDONYMISATION_KEY=${KEY.WATT_PSEUDONYMISATION_KEY}\n`);
    const r = await runWatt(['ingest', '--json'], { cwd: dir, env: { DATA_LAKE_BUCKET: 'env-bucket' } });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).destination).toMatch(/\/env-bucket\/from-dotenv\/raw\/\d{4}\/\d{2}\/\d{2}\/sample_energy_consumption_/);
    expect(r.stderr).not.toMatch(/generated a new key/);
  });

  it('--json prints one object (one line) with source, run_id, status, rows, rejected, destination, format, objects, manifest, log, key_id and table_version', async () => {
    const dir = scratchDir();
    const r = await runWatt(['ingest', '--json', '--layout', 'hive', '--date', '2024-12-31'], { cwd: dir, env: KEY });
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(r.stdout.split('\n')).toHaveLength(2); // NDJSON: one line per file
    expect(Object.keys(out)).toEqual(['source', 'run_id', 'status', 'rows', 'rejected', 'destination', 'format', 'objects', 'manifest', 'log', 'key_id', 'pseudonym_scheme', 'table_version', 'expired_rows', 'retention_cutoff']);
    expect(out.format).toBe('csv');
    expect(out.objects).toEqual([{ key: expect.stringMatching(/year=2024\/month=12\/day=31\//), uri: out.destination, rows: 5, partition_date: '2024-12-31' }]);
    expect(out).toMatchObject({ status: 'succeeded', rows: 5, rejected: 0 });
    expect(out.key_id).toMatch(/^[0-9a-f]{16}$/);
    expect(out.destination).toMatch(/^file:\/\/.*\/watt-lake\/watt-about-it\/raw\/year=2024\/month=12\/day=31\/sample_energy_consumption_.*\.csv$/);
    expect(existsSync(new URL(out.destination))).toBe(true);
    expect(existsSync(new URL(out.manifest))).toBe(true);
    expect(existsSync(out.log)).toBe(true);
  });

  it('--dry-run validates and prints the key but writes nothing to the lake or the catalog', async () => {
    const dir = scratchDir();
    const r = await runWatt(['ingest', '--dry-run', '--date', '2025-01-03'], { cwd: dir, env: KEY });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/would write file:\/\/.*\/2025\/01\/03\/sample_energy_consumption_.*\.csv \(5 rows\)/);
    expect(existsSync(path.join(dir, 'lake'))).toBe(false);
    expect(existsSync(path.join(dir, '.watt', 'catalog.db'))).toBe(false);
  });

  it('generates a pseudonymisation key once when none is set, and warns', async () => {
    const dir = scratchDir();
    const r = await runWatt(['ingest'], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/generated a new key in .*pseudonymisation\.key/);
    const keyFile = path.join(dir, '.watt', 'pseudonymisation.key');
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    const key = readFileSync(keyFile, 'utf8').trim();
    // The key itself is never printed or logged.
    expect(r.stderr + r.stdout).not.toContain(key);
    for (const f of filesUnder(path.join(dir, 'logs'))) expect(readFileSync(path.join(dir, 'logs', f), 'utf8')).not.toContain(key);
  });
});

describe('watt ingest --quarantine', () => {
  it('lands the valid rows, sets the others aside with line, column and reason, and exits 1 with counts', async () => {
    const cwd = scratchDir();
    const src = path.join(cwd, 'mixed.csv');
    writeFileSync(
      src,
      [HEADER, ROW, 'REC-002,CUST-002,METER-02,2025-01-01T09:00:00Z,-3,0.18,false', 'REC-003,CUST-SECRET-9,METER-03,2025-01-01T10:00:00Z,1.0,0.18,yes', 'REC-004,CUST-004,METER-04,2025-01-01T11:00:00Z,2.5,0.2', ''].join('\n'),
    );
    const r = await runWatt(['ingest', '--source', src, '--quarantine', '--json'], { cwd, env: KEY });
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ status: 'rejected', rows: 1, rejected: 3 });
    expect(errorLines(r)).toEqual([expect.stringMatching(/3 rows rejected and quarantined, 1 rows landed/)]);
    const files = filesUnder(path.join(cwd, 'lake'));
    const rejects = files.find((f) => f.includes('/_rejects/'))!;
    expect(rejects).toMatch(/watt-about-it\/raw\/_rejects\/.*\.jsonl$/);
    const entries = readFileSync(path.join(cwd, 'lake', rejects), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(entries).toEqual([
      { line: 3, column: 'consumption_kwh', reason: 'must be >= 0', value: '-3' },
      { line: 4, column: 'is_peak', reason: 'must be true or false', value: 'yes' },
      { line: 5, column: null, reason: 'has 6 fields, the header has 7' },
    ]);
    const data = files.find((f) => f.endsWith('.csv'))!;
    expect(readFileSync(path.join(cwd, 'lake', data), 'utf8').trim().split('\n')).toHaveLength(2);
    // No raw identifier anywhere: lake, logs, catalog.
    for (const root of ['lake', 'logs', '.watt']) {
      for (const f of filesUnder(path.join(cwd, root))) {
        expect(readFileSync(path.join(cwd, root, f)).toString('latin1')).not.toMatch(/CUST-0|CUST-SECRET|METER-0/);
      }
    }
    expect(r.stderr).not.toMatch(/CUST-|METER-/);
  });
});

describe('watt ingest refuses bad input with one line, its exit code, and nothing in the lake', () => {
  const bigField = 'x'.repeat(10 * 1024 * 1024);
  const cases: [string, string | Buffer | null, number, RegExp, string[]?][] = [
    ['a missing file', null, 2, /source file not found: .*missing\.csv/],
    // a folder is a source of its *.csv files (tests/cli/ingest-sources.test.ts); none here
    ['a directory without CSV as source', 'DIR', 2, /no CSV file in folder .*input\.csv/],
    ['an empty file', '', 1, /is empty: no header row/],
    ['a header only', `${HEADER}\n`, 1, /has a header but no data rows/],
    ['a missing column', 'record_id,customer_id,meter_id,reading_ts,consumption_kwh,is_peak\nREC-1,C,M,2025-01-01T08:00:00Z,1,true\n', 1, /missing required column: tariff_eur_kwh/],
    ['a duplicate header', `${HEADER},meter_id\n${ROW},METER-01\n`, 1, /duplicate column in header: meter_id/],
    ['a ; delimiter', `${HEADER.replaceAll(',', ';')}\n${ROW.replaceAll(',', ';')}\n`, 1, /missing required columns: .*';'-separated/],
    ['an unbalanced quote', `${HEADER}\n${ROW}\nREC-002,"CUST-002,METER-02,2025-01-01T08:00:00Z,1,0.1,true\n`, 1, /unbalanced quote .*line 3/],
    ['a quote inside an unquoted field', `${HEADER}\nREC-001,CU"ST-001,METER-01,2025-01-01T08:00:00Z,1,0.1,true\n`, 1, /malformed quoting in source sha256:[0-9a-f]{12} at line 2: a quote inside an unquoted field/],
    ['a short row', `${HEADER}\n${ROW}\nREC-002,CUST-002,METER-02\n`, 1, /1 invalid row .*line 3: has 3 fields, the header has 7/],
    ['a long row', `${HEADER}\n${ROW},extra\n`, 1, /line 2: has 8 fields, the header has 7/],
    ['invalid UTF-8', Buffer.concat([Buffer.from(`${HEADER}\n${ROW}\nREC-002,CUST-002,METER-02,2025-01-01T08:00:00Z,1,0.1,true\nREC-\xff`, 'latin1'), Buffer.from([0xff, 0xfe]), Buffer.from(',a,b,2025-01-01T08:00:00Z,1,1,true\n')]), 1, /invalid UTF-8 at line 4/],
    ['an invalid date', `${HEADER}\nREC-001,CUST-001,METER-01,2025-13-01T08:00:00Z,12.4,0.18,false\n`, 1, /line 2, column reading_ts: "2025-13-01T08:00:00Z" is not a valid date-time/],
    ['a negative kWh', `${HEADER}\nREC-001,CUST-001,METER-01,2025-01-01T08:00:00Z,-12.4,0.18,false\n`, 1, /line 2, column consumption_kwh: "-12.4" must be >= 0/],
    ['yes as boolean', `${HEADER}\nREC-001,CUST-001,METER-01,2025-01-01T08:00:00Z,12.4,0.18,yes\n`, 1, /column is_peak: "yes" must be true or false/],
    ['a 10 MB field', `${HEADER}\nREC-001,CUST-001,METER-01,2025-01-01T08:00:00Z,12.4,0.18,${bigField}\n`, 1, /longer than 1,000,000 characters/],
    ['an unsafe prefix', 'SAMPLE', 2, /unsafe prefix "\.\.\/escape"/, ['--prefix', '../escape']],
    ['an unknown provider', 'SAMPLE', 2, /unknown lake provider "gcs"/, ['--provider', 'gcs']],
    ['an unknown layout', 'SAMPLE', 2, /argument 'flat' is invalid/, ['--layout', 'flat']],
    ['an impossible date', 'SAMPLE', 2, /invalid date "2025-02-30"/, ['--date', '2025-02-30']],
  ];

  it.each(cases)('%s', async (_name, content, code, message, extra = []) => {
    const cwd = scratchDir();
    let src = path.join(cwd, 'input.csv');
    if (content === null) src = path.join(cwd, 'missing.csv');
    else if (content === 'DIR') mkdirSync(src);
    else if (content === 'SAMPLE') src = SAMPLE;
    else writeFileSync(src, content);
    const r = await runWatt(['ingest', '--source', src, ...extra], { cwd, env: KEY });
    expect(r.code).toBe(code);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('watt:') || l.startsWith('error:'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace without --verbose
    expect(r.stderr).not.toMatch(/CUST-00\d|METER-0\d|"CU"/); // personal values, even cut, never echoed
    expect(filesUnder(path.join(cwd, 'lake'))).toEqual([]);
  });

  it('accepts a UTF-8 BOM and CRLF line ends, and writes the same pseudonymised rows', async () => {
    const cwd = scratchDir();
    const plain = path.join(cwd, 'plain.csv');
    const bomCrlf = path.join(cwd, 'bom.csv');
    writeFileSync(plain, `${HEADER}\n${ROW}\n`);
    writeFileSync(bomCrlf, `\ufeff${HEADER}\r\n${ROW}\r\n`);
    const a = await runWatt(['ingest', '--source', plain, '--json'], { cwd, env: KEY });
    const b = await runWatt(['ingest', '--source', bomCrlf, '--json'], { cwd, env: KEY });
    expect([a.code, b.code]).toEqual([0, 0]);
    const bodyA = readFileSync(new URL(JSON.parse(a.stdout).destination), 'utf8');
    const bodyB = readFileSync(new URL(JSON.parse(b.stdout).destination), 'utf8');
    expect(bodyB).toBe(bodyA);
    expect(bodyA.startsWith('record_id,')).toBe(true);
  });

  it('keeps extra columns with a warning and quotes fields that need it', async () => {
    const cwd = scratchDir();
    const src = path.join(cwd, 'extra.csv');
    writeFileSync(src, `${HEADER},note\n${ROW},"said ""hi"", then left"\n`);
    const r = await runWatt(['ingest', '--source', src, '--json'], { cwd, env: KEY });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/extra column kept as is \(not in the schema\): note/);
    const body = readFileSync(new URL(JSON.parse(r.stdout).destination), 'utf8');
    expect(body.split('\n')[0]).toBe(`${HEADER},note`);
    expect(body.split('\n')[1]).toMatch(/,12\.4,0\.18,false,"said ""hi"", then left"$/);
  });

  it('reports line numbers past quoted multi-line fields and blank lines', async () => {
    const cwd = scratchDir();
    const src = path.join(cwd, 'multi.csv');
    writeFileSync(src, `${HEADER},note\n${ROW},"two\nlines"\n\nREC-009,CUST-009,METER-09,2025-01-01T08:00:00Z,-1,0.18,false,x\n`);
    const r = await runWatt(['ingest', '--source', src], { cwd, env: KEY });
    expect(r.code).toBe(1);
    expect(errorLines(r)[0]).toMatch(/first: line 5, column consumption_kwh/);
  });
});
