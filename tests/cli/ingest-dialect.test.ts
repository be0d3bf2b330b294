/**
 * Issue 17 end to end with the real CLI: a French utility's load curve as it comes
 * (scripts/load-curve.mjs: `;`, decimal commas, CRLF, Europe/Paris local times across both
 * daylight-saving changes, windows-1252 or UTF-8 with a BOM, 14-digit PDLs) goes in with
 * `watt schema infer` then `watt ingest`; DuckDB reads it back. Also: the personal-data guard,
 * every failing cell of a row, a quarantine run that landed nothing, backfills past retention, and
 * erasure by the column the manifests record. Needs the build (dist/).
 */
import path from 'node:path';
import { jest } from '@jest/globals';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runWatt, scratchDir, ROOT } from '../helpers/cli.js';
import { useDuckDb } from '../helpers/duckdb.js';
import { wattEnv } from '../retention/helpers.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const { loadCurve, MEASURE } = (await import(path.join(ROOT, 'scripts', 'load-curve.mjs'))) as any;

interface Curve {
  bytes: Buffer;
  rows: number;
  pdls: string[];
  sumWh: number;
  perPdl: number;
}

// Whole-year load curves through the real CLI, on a shared 2-core machine.
jest.setTimeout(240_000);

const dirs: string[] = [];
const { rows } = useDuckDb();
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function scratch(): { dir: string; env: Record<string, string> } {
  const dir = scratchDir('watt-dialect-');
  dirs.push(dir);
  return { dir, env: wattEnv(dir) };
}

/** Every file under a folder (recursive). */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}

const sql = (text: string): string => `'${text.replace(/'/g, "''")}'`;

async function infer(dir: string, env: Record<string, string>, source: string, extra: string[] = []): Promise<{ schema: Record<string, any>; file: string; stderr: string }> {
  const r = await runWatt(['schema', 'infer', source, ...extra], { cwd: dir, env });
  expect(r.code).toBe(0);
  const file = path.join(dir, 'inferred.schema.json');
  writeFileSync(file, r.stdout);
  return { schema: JSON.parse(r.stdout), file, stderr: r.stderr };
}

describe.each([
  ['windows-1252', 'csv'],
  ['utf-8-bom', 'parquet'],
] as const)('a load curve in %s: schema infer, then ingest (%s), lands every row', (encoding, format) => {
  const curve: Curve = loadCurve({ pdls: 2, encoding });

  it('DuckDB reads one instant per PDL and half-hour in UTC, the same kWh sum, and no 14-digit value', async () => {
    // (a loaded 2-core machine: ingest of 35,040 rows into 366 partitions, then DuckDB over them)
    const { dir, env } = scratch();
    const source = path.join(dir, 'courbe_de_charge.csv');
    writeFileSync(source, curve.bytes);
    const { schema, file } = await infer(dir, env, source, ['--timezone', 'Europe/Paris']);
    expect(schema['x-dialect']).toEqual({ delimiter: ';', quoteChar: '"', header: true, encoding: encoding === 'windows-1252' ? 'windows-1252' : 'utf-8' });
    expect(schema['x-timezone']).toBe('Europe/Paris');
    expect(schema['x-primary-key']).toEqual(['PDL', 'horodatage']);
    expect(schema.properties.PDL['x-personal-data']).toBe('pseudonymise');
    expect(schema.properties.conso_kwh).toMatchObject({ type: 'number', 'x-decimalChar': ',' });
    expect(schema.properties.horodatage).toMatchObject({ format: 'date-time', 'x-datetimeFormat': 'YYYY-MM-DD HH:mm:ss' });
    // The schema never carries a value of the file.
    for (const pdl of curve.pdls) expect(JSON.stringify(schema)).not.toContain(pdl);

    const r = await runWatt(['ingest', '--source', source, '--schema', file, '--format', format, '--partition-by', 'horodatage', '--allow-expired', '--json'], { cwd: dir, env, timeoutMs: 120_000 });
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ status: 'succeeded', rows: curve.rows, rejected: 0, expired_rows: curve.rows });

    const data = filesUnder(path.join(dir, 'lake')).filter((f) => f.endsWith(`.${format}`));
    const relation = format === 'csv' ? `read_csv([${data.map(sql).join(',')}], union_by_name = true)` : `read_parquet([${data.map(sql).join(',')}])`;
    const [totals] = await rows(
      `SELECT count(*) AS n, count(DISTINCT (PDL, horodatage)) AS distinct_rows, count(DISTINCT PDL) AS pdls, CAST(round(sum(conso_kwh) * 1000) AS BIGINT) AS wh,
              strftime(min(horodatage), '%Y-%m-%d %H:%M:%S') AS first, strftime(max(horodatage), '%Y-%m-%d %H:%M:%S') AS last FROM ${relation}`,
    );
    expect(totals).toEqual({ n: curve.rows, distinct_rows: curve.rows, pdls: 2, wh: curve.sumWh, first: '2024-12-31 23:00:00', last: '2025-12-31 22:30:00' });
    // Each PDL: every half-hour of the year exactly once (17,520), none missing around either DST change.
    const perPdl = await rows(`SELECT count(DISTINCT horodatage) AS n, (max(horodatage) - min(horodatage))::VARCHAR AS span FROM ${relation} GROUP BY PDL`);
    expect(perPdl).toEqual([{ n: curve.perPdl, span: '364 days 23:30:00' }, { n: curve.perPdl, span: '364 days 23:30:00' }]);
    // Local 02:00-02:59 on 26 October happens twice (+02:00 then +01:00): four distinct UTC half-hours per PDL.
    const fallBack = await rows(`SELECT strftime(horodatage, '%H:%M') AS t, count(*) AS n FROM ${relation} WHERE horodatage >= '2025-10-26 00:00:00' AND horodatage < '2025-10-26 02:00:00' GROUP BY 1 ORDER BY 1`);
    expect(fallBack).toEqual(['00:00', '00:30', '01:00', '01:30'].map((t) => ({ t, n: 2 })));
    const [label] = await rows(`SELECT DISTINCT type_mesure FROM ${relation}`);
    expect(label).toEqual({ type_mesure: MEASURE });
    // No raw PDL anywhere in the lake (data, manifests, schemas).
    for (const f of filesUnder(path.join(dir, 'lake'))) {
      const text = readFileSync(f).toString('latin1');
      for (const pdl of curve.pdls) expect(text).not.toContain(pdl);
      if (!f.endsWith('.parquet')) expect(text).not.toMatch(/(?<![0-9a-f])\d{14}(?![0-9a-f])/);
    }
   }, 240_000);
});

describe('naive local times without a zone', () => {
  it('schema infer says so and names --timezone; ingest fails with every row summarised and the hint', async () => {
    const { dir, env } = scratch();
    const curve: Curve = loadCurve({ pdls: 1, encoding: 'utf-8' });
    const source = path.join(dir, 'curve.csv');
    writeFileSync(source, curve.bytes);
    const { file, stderr, schema } = await infer(dir, env, source);
    expect(schema['x-timezone']).toBeUndefined();
    expect(stderr).toMatch(/without a UTC offset in horodatage: name their zone with --timezone/);
    const r = await runWatt(['ingest', '--source', source, '--schema', file], { cwd: dir, env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/17520 invalid rows .*column horodatage: "2025-01-01 00:00:00" has no UTC offset and no time zone is set\); 17,520 rows with this fault/);
    expect(r.stderr).toMatch(/--timezone/);
    expect(filesUnder(path.join(dir, 'lake')).filter((f) => !f.includes('_schemas'))).toEqual([]);
    // The same file with --timezone lands: the spring-forward gap is absent, the repeated hour resolved by order.
    const ok = await runWatt(['ingest', '--source', source, '--schema', file, '--timezone', 'Europe/Paris', '--json'], { cwd: dir, env });
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ rows: curve.rows, rejected: 0 });
  });

  it('a time in the spring-forward gap is rejected ("does not exist"); the repeated hour without a series order is "ambiguous"', async () => {
    const { dir, env } = scratch();
    const source = path.join(dir, 'dst.csv');
    writeFileSync(source, 'horodatage;kwh\r\n2025-03-30 01:30:00;1,5\r\n2025-03-30 02:30:00;1,5\r\n2025-10-26 02:30:00;2\r\n2025-10-26 04:00:00;1\r\n');
    const schema = path.join(dir, 'dst.schema.json');
    writeFileSync(schema, JSON.stringify({ type: 'object', 'x-dialect': { delimiter: ';' }, 'x-timezone': 'Europe/Paris', required: ['horodatage'], properties: { horodatage: { type: 'string', format: 'date-time' }, kwh: { type: 'number', 'x-decimalChar': ',' } } }));
    const r = await runWatt(['ingest', '--source', source, '--schema', schema, '--quarantine', '--json'], { cwd: dir, env });
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout);
    expect(out.rows).toBe(2);
    expect(out.faults).toEqual([
      expect.objectContaining({ column: 'horodatage', reason: 'does not exist in Europe/Paris (clocks skip that hour: daylight saving starts)', rows: 1, lines: [3] }),
      expect.objectContaining({ column: 'horodatage', reason: expect.stringMatching(/^is ambiguous in Europe\/Paris/), rows: 1, lines: [4] }),
    ]);
  });
});

describe('every failing cell of a row', () => {
  it('the quarantine file lists each failing cell; the summary groups by column and reason with a hint', async () => {
    const { dir, env } = scratch();
    const source = path.join(dir, 'two.csv');
    writeFileSync(source, 'record_id,customer_id,meter_id,reading_ts,consumption_kwh,tariff_eur_kwh,is_peak\nR1,C1,M1,2025-01-01 00:00:00,"0,110",0.2,true\nR2,C1,M1,2025-01-01T00:30:00Z,0.2,0.2,false\n');
    const r = await runWatt(['ingest', '--source', source, '--quarantine', '--json'], { cwd: dir, env });
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ rows: 1, rejected: 1 });
    const rejects = readFileSync(fileURLToPath(out.rejects), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(rejects).toEqual([
      {
        line: 2,
        column: 'reading_ts',
        reason: 'is not a valid date-time',
        value: '2025-01-01 00:00:00',
        cells: [
          { column: 'reading_ts', reason: 'is not a valid date-time', value: '2025-01-01 00:00:00' },
          { column: 'consumption_kwh', reason: 'is not a number', value: '0,110' },
        ],
      },
    ]);
    expect(out.faults).toEqual([
      expect.objectContaining({ column: 'reading_ts', rows: 1, hint: expect.stringMatching(/--timezone/) }),
      expect.objectContaining({ column: 'consumption_kwh', rows: 1, hint: 'decimal comma? set "x-decimalChar": "," on the column' }),
    ]);
  });
});

describe('the personal-data guard', () => {
  const base = { type: 'object', required: ['reading_ts'], properties: { reading_ts: { type: 'string', format: 'date-time' }, kwh: { type: 'number' } } };
  it.each([
    ['email', 'jean.dupont@example.fr', /column email \(e-mail address: column name "email"/],
    ['PDL', '30001234567890', /column PDL \(PDL\/PRM delivery point: column name "PDL"/],
    ['tel', '06 12 34 56 78', /column tel \(telephone number: column name "tel"/],
    ['site', '30001234567890', /column site \(PDL\/PRM delivery point: 2 of 2 sampled values look like a PDL\/PRM delivery point \(14 digits\)\)/],
  ])('an unmarked %s column fails the run (exit 1), naming the detector and never the value; nothing is written', async (column, value, message) => {
    const { dir, env } = scratch();
    const source = path.join(dir, 'in.csv');
    writeFileSync(source, `reading_ts,kwh,${column}\n2025-01-01T00:00:00Z,1,${value}\n2025-01-01T00:30:00Z,1,${value}\n`);
    const schema = path.join(dir, 's.json');
    writeFileSync(schema, JSON.stringify({ ...base, properties: { ...base.properties, [column]: { type: 'string' } } }));
    const r = await runWatt(['ingest', '--source', source, '--schema', schema], { cwd: dir, env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toMatch(/nothing was written/);
    expect(r.stderr).not.toContain(value);
    expect(filesUnder(path.join(dir, 'lake'))).toEqual([]);
    // Undeclared (extra) columns are judged too.
    writeFileSync(schema, JSON.stringify(base));
    const extra = await runWatt(['ingest', '--source', source, '--schema', schema], { cwd: dir, env });
    expect(extra.code).toBe(1);
    expect(filesUnder(path.join(dir, 'lake'))).toEqual([]);
  });

  it('on stdin (read from its encrypted spool) a column of PDL-shaped values is caught by its values too', async () => {
    const { dir, env } = scratch();
    const schema = path.join(dir, 's.json');
    writeFileSync(schema, JSON.stringify({ ...base, properties: { ...base.properties, site: { type: 'string' } } }));
    const input = 'reading_ts,kwh,site\n2025-01-01T00:00:00Z,1,30001234567890\n2025-01-01T00:30:00Z,1,30001234567891\n';
    const r = await runWatt(['ingest', '--source', '-', '--schema', schema], { cwd: dir, env, input });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/column site \(PDL\/PRM delivery point: 2 of 2 sampled values/);
    expect(r.stderr).not.toContain('3000123456789');
    expect(filesUnder(path.join(dir, 'lake'))).toEqual([]);
  });

  it('"x-personal-data": false with an x-reason lets the column land as it is, and the manifest records it', async () => {
    const { dir, env } = scratch();
    const source = path.join(dir, 'in.csv');
    writeFileSync(source, 'reading_ts,kwh,site_code\n2025-01-01T00:00:00Z,1,30001234567890\n');
    const schema = path.join(dir, 's.json');
    writeFileSync(schema, JSON.stringify({ ...base, properties: { ...base.properties, site_code: { type: 'string', 'x-personal-data': false, 'x-reason': 'a substation code, not a household delivery point' } } }));
    const r = await runWatt(['ingest', '--source', source, '--schema', schema, '--json'], { cwd: dir, env });
    expect(r.code).toBe(0);
    const manifest = JSON.parse(readFileSync(fileURLToPath(JSON.parse(r.stdout).manifest), 'utf8'));
    expect(manifest.schema.not_personal).toEqual([{ column: 'site_code', reason: 'a substation code, not a household delivery point' }]);
  });
});

describe('only landed runs count as landed', () => {
  it('a quarantine run that landed 0 rows names no data object, and the rerun after the fix lands', async () => {
    const { dir, env } = scratch();
    const curve: Curve = loadCurve({ pdls: 1, encoding: 'windows-1252' });
    const source = path.join(dir, 'curve.csv');
    writeFileSync(source, curve.bytes);
    const { file, schema } = await infer(dir, env, source, ['--timezone', 'Europe/Paris']);
    // The user's first schema forgot the decimal comma: every row is rejected.
    delete schema.properties.conso_kwh['x-decimalChar'];
    const broken = path.join(dir, 'broken.schema.json');
    writeFileSync(broken, JSON.stringify(schema));
    const first = await runWatt(['ingest', '--source', source, '--schema', broken, '--quarantine', '--json'], { cwd: dir, env });
    expect(first.code).toBe(1);
    const out = JSON.parse(first.stdout);
    expect(out).toMatchObject({ status: 'rejected', rows: 0, rejected: curve.rows, destination: null, objects: [] });
    expect(out.faults).toEqual([expect.objectContaining({ column: 'conso_kwh', rows: curve.rows, hint: 'decimal comma? set "x-decimalChar": "," on the column' })]);
    expect(filesUnder(path.join(dir, 'lake')).filter((f) => /\.(csv|parquet)$/.test(f))).toEqual([]);
    const text = await runWatt(['ingest', '--source', source, '--schema', broken, '--quarantine'], { cwd: dir, env });
    expect(text.stdout).toMatch(/^no row landed: 17520 rows rejected to file:.*_rejects\/.*\.jsonl/);
    expect(text.stderr).toMatch(/rejected conso_kwh: 17,520 rows, "0,\d{3}" is not a number \(lines 2, 3, 4, 5, 6, …\) \(decimal comma\?/);
    // The fix: the same file, the right schema. It lands (no "already ingested").
    const again = await runWatt(['ingest', '--source', source, '--schema', file, '--json'], { cwd: dir, env });
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ status: 'succeeded', rows: curve.rows });
    const third = await runWatt(['ingest', '--source', source, '--schema', file, '--json'], { cwd: dir, env });
    expect(JSON.parse(third.stdout).status).toBe('skipped');
  });
});

describe('backfills and retention', () => {
  it('--partition-by into partitions past retention needs --allow-expired (exit 2, rows and date named, nothing written)', async () => {
    const { dir, env } = scratch();
    const curve: Curve = loadCurve({ pdls: 1, encoding: 'utf-8' });
    const source = path.join(dir, 'curve.csv');
    writeFileSync(source, curve.bytes);
    const { file } = await infer(dir, env, source, ['--timezone', 'Europe/Paris']);
    const r = await runWatt(['ingest', '--source', source, '--schema', file, '--partition-by', 'horodatage'], { cwd: dir, env });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/17520 of 17520 rows land in partitions before \d{4}-\d{2}-\d{2}, past the 30-day retention of raw data: the next watt purge deletes them; nothing was written \(pass --allow-expired/);
    expect(filesUnder(path.join(dir, 'lake')).filter((f) => /\.(csv|parquet)$/.test(f))).toEqual([]);
    // Without --partition-by, an old --date lands with the count in --json.
    const dated = await runWatt(['ingest', '--source', source, '--schema', file, '--date', '2025-01-15', '--json'], { cwd: dir, env });
    expect(dated.code).toBe(0);
    expect(JSON.parse(dated.stdout)).toMatchObject({ expired_rows: curve.rows });
  });
});

describe('erasure finds the subject in the columns the manifests record', () => {
  it.each([['csv'], ['parquet']])('a schema whose personal column is PDL: purge --subject removes every row of that PDL (%s, --partition-by)', async (format) => {
    const { dir, env } = scratch();
    const curve: Curve = loadCurve({ pdls: 2, encoding: 'windows-1252', days: 10 });
    const source = path.join(dir, 'curve.csv');
    writeFileSync(source, curve.bytes);
    const { file } = await infer(dir, env, source, ['--timezone', 'Europe/Paris']);
    const landed = await runWatt(['ingest', '--source', source, '--schema', file, '--format', format, '--partition-by', 'horodatage', '--allow-expired', '--json'], { cwd: dir, env, timeoutMs: 120_000 });
    expect(landed.code).toBe(0);
    const data = () => filesUnder(path.join(dir, 'lake')).filter((f) => f.endsWith(`.${format}`));
    const relation = () => (format === 'csv' ? `read_csv([${data().map(sql).join(',')}])` : `read_parquet([${data().map(sql).join(',')}])`);
    const before = await rows(`SELECT PDL, count(*) AS n FROM ${relation()} GROUP BY PDL ORDER BY n`);
    expect(before.map((b) => b.n)).toEqual([curve.perPdl, curve.perPdl]);

    const r = await runWatt(['purge', '--subject', curve.pdls[0]!, '--yes'], { cwd: dir, env, timeoutMs: 200_000 });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`searched ${data().length} objects, column PDL; removed ${curve.perPdl} rows \\(PDL ${curve.perPdl}\\)`));
    expect(r.stdout).toMatch(/\(key id [0-9a-f]{16}\)/);
    const after = await rows(`SELECT count(*) AS n, count(DISTINCT PDL) AS pdls FROM ${relation()}`);
    expect(after).toEqual([{ n: curve.perPdl, pdls: 1 }]);

    // Found nowhere: exit 0, saying where it looked.
    const none = await runWatt(['purge', '--subject', curve.pdls[0]!, '--yes'], { cwd: dir, env, timeoutMs: 120_000 });
    expect(none.code).toBe(0);
    expect(none.stdout).toMatch(/not found in \d+ objects, column PDL; nothing removed/);
    // --column naming a column no run pseudonymises: exit 2.
    const wrong = await runWatt(['purge', '--subject', curve.pdls[1]!, '--column', 'customer_id', '--yes'], { cwd: dir, env });
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/--column customer_id is not pseudonymised in any run .*the runs pseudonymise: PDL/);
  }, 240_000);

  it('a prefix whose runs record no personal column: the erasure exits 2 with the reason, never "succeeded"', async () => {
    const { dir, env } = scratch();
    const source = path.join(dir, 'plain.csv');
    writeFileSync(source, 'reading_ts,kwh\n2025-01-01T00:00:00Z,1\n');
    const schema = path.join(dir, 's.json');
    writeFileSync(schema, JSON.stringify({ type: 'object', properties: { reading_ts: { type: 'string', format: 'date-time' }, kwh: { type: 'number' } } }));
    expect((await runWatt(['ingest', '--source', source, '--schema', schema], { cwd: dir, env })).code).toBe(0);
    const r = await runWatt(['purge', '--subject', 'CUST-1', '--yes'], { cwd: dir, env });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/the 1 run in .* records? no pseudonymised column: a data subject cannot be found/);
  });
});

