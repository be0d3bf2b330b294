/**
 * watt's own Parquet column encoder (src/formats/parquet-columns.ts, through ParquetFileWriter),
 * read back by independent readers: DuckDB (values, footer, statistics and its row-group pruning)
 * and hyparquet with the reference Zstandard library. Values must come back exactly as given:
 * INT64 at the range's ends, timestamps far outside 1970..2262, -0, extremes, non-ASCII text.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import path from 'node:path';
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet';
import { ParquetWriter, fileWriter } from 'hyparquet-writer';
import { finishParquetParts, ParquetFileWriter, readParquetMetadata, readParquetRowGroups, type ParquetCell, type ParquetColumn } from '../../src/formats/parquet.js';
import { decimal } from '../../src/formats/parquet-columns.js';
import { useDuckDb } from '../helpers/duckdb.js';
import { compressors } from '../helpers/zstd.js';

const db = useDuckDb();
const dir = mkdtempSync(path.join(os.tmpdir(), 'watt-parquet-enc-'));
const sql = (s: string) => `'${s.replace(/'/g, "''")}'`;

const columns: ParquetColumn[] = [
  { name: 's', kind: 'string' },
  { name: 'd', kind: 'double' },
  { name: 'n', kind: 'int64' },
  { name: 'b', kind: 'boolean' },
  { name: 'ts', kind: 'timestamp' },
  { name: 'empty', kind: 'double' },
];

/** Microseconds since 1970 of an ISO instant (milliseconds exact). */
const us = (iso: string) => BigInt(Date.parse(iso)) * 1000n;
const MAX = 2n ** 63n - 1n;
const MIN = -(2n ** 63n);
/** Rows as canonical CSV cells ('' = null) and the typed cells and DuckDB text each must read back as. */
const rows: { canonical: string[]; typed: ParquetCell[] }[] = [
  { canonical: ['plain', '1.5', '0', 'true', '2025-03-07T08:30:00.12Z', ''], typed: ['plain', 1.5, 0n, true, us('2025-03-07T08:30:00.120Z'), null] },
  { canonical: ['', '', '', '', '', ''], typed: [null, null, null, null, null, null] },
  { canonical: ['café', '-0', String(MAX), 'false', '1969-12-31T23:59:59.999999Z', ''], typed: ['café', -0, MAX, false, -1n, null] },
  { canonical: ['😀 emoji', '1.7976931348623157e308', String(MIN), 'true', '1600-02-29T12:00:00.000001Z', ''], typed: ['😀 emoji', Number.MAX_VALUE, MIN, true, us('1600-02-29T12:00:00Z') + 1n, null] },
  { canonical: ['\uFFFD', '-1.7976931348623157e308', String(2n ** 53n + 1n), '', '2300-01-01T00:00:00Z', ''], typed: ['\uFFFD', -Number.MAX_VALUE, 2n ** 53n + 1n, null, us('2300-01-01T00:00:00Z'), null] },
  { canonical: ['z', '5e-324', '-9007199254740993', 'false', '9999-12-31T23:59:59.999999Z', ''], typed: ['z', Number.MIN_VALUE, -(2n ** 53n) - 1n, false, us('9999-12-31T23:59:59Z') + 999_999n, null] },
  { canonical: ['0000', '0', '-1', 'true', '0000-01-01T00:00:00Z', ''], typed: ['0000', 0, -1n, true, us('0000-01-01T00:00:00Z'), null] },
];

/** Every column as DuckDB text: exact integers and microseconds, doubles by their bits. */
const selectText = (file: string) =>
  `SELECT s, CAST(d AS VARCHAR) AS d, CAST(n AS VARCHAR) AS n, CAST(b AS VARCHAR) AS b, CAST(epoch_us(ts) AS VARCHAR) AS ts, CAST(empty AS VARCHAR) AS empty, d IS NOT NULL AND signbit(d) AS negative FROM read_parquet(${sql(file)})`;

function expectedText(typed: ParquetCell[]): Record<string, unknown> {
  const [s, d, n, b, ts] = typed;
  return { s, d: d === null ? null : d, n: n === null ? null : String(n), b: b === null ? null : String(b), ts: ts === null ? null : String(ts), empty: null, negative: typeof d === 'number' && (d < 0 || Object.is(d, -0)) };
}

describe('watt Parquet encoder, read back by DuckDB and hyparquet', () => {
  it.each(['append', 'appendCanonical'] as const)('%s: nulls in every kind, an all-null column, INT64 ends, far timestamps, -0, extremes, non-ASCII', async (mode) => {
    const file = path.join(dir, `values-${mode}.parquet`);
    const w = new ParquetFileWriter(file, columns);
    for (const r of rows) {
      if (mode === 'append') w.append(r.typed);
      else w.appendCanonical(r.canonical);
    }
    w.close();
    const got = await db.rows(selectText(file));
    const want = rows.map((r) => expectedText(r.typed));
    expect(got.map((g) => ({ ...g, d: g.d === null ? null : Number(g.d) }))).toEqual(want);
    // -0 keeps its sign; the doubles are the same bits.
    expect(got[2]!.negative).toBe(true);
    // watt's reader (hyparquet + zstd) gives the typed cells back.
    const back: ParquetCell[][] = [];
    for await (const g of readParquetRowGroups(file)) back.push(...g.rows);
    expect(back).toEqual(rows.map((r) => r.typed));
    expect(Object.is(back[2]![1], -0)).toBe(true);
  });

  it('says ZSTD and watt in the footer; statistics are exact (min -0, NaN excluded, code point order for text)', async () => {
    const file = path.join(dir, 'stats.parquet');
    const w = new ParquetFileWriter(file, [...columns, { name: 'pseudonym', kind: 'string', statistics: false }]);
    for (const r of rows) w.appendCanonical([...r.canonical, 'ab'.repeat(32)]);
    w.append(['\uE000', Number.NaN, 1n, true, 0n, null, null]);
    w.close();
    const meta = await db.rows(`SELECT path_in_schema AS c, compression, stats_min_value AS min, stats_max_value AS max, stats_null_count AS nulls FROM parquet_metadata(${sql(file)})`);
    expect(new Set(meta.map((m) => m.compression))).toEqual(new Set(['ZSTD']));
    const by = Object.fromEntries(meta.map((m) => [m.c, m]));
    expect(by.n).toMatchObject({ min: String(MIN), max: String(MAX), nulls: 1 });
    // UTF-8 byte order: U+E000 sorts before an emoji (a surrogate pair in UTF-16).
    expect(by.s).toMatchObject({ min: '0000', max: '😀 emoji', nulls: 1 });
    expect(by.d!.min).toBe('-1.7976931348623157e+308');
    expect(by.d!.max).toBe('1.7976931348623157e+308');
    expect(by.b).toMatchObject({ min: 'false', max: 'true', nulls: 2 });
    expect(by.empty).toMatchObject({ min: null, max: null, nulls: rows.length + 1 });
    expect(by.pseudonym).toMatchObject({ min: null, max: null });
    // -0 as min of a column whose smallest value is a zero, +0 as max of one whose largest is.
    const zeros = path.join(dir, 'zeros.parquet');
    const z = new ParquetFileWriter(zeros, [{ name: 'd', kind: 'double' }]);
    for (const v of [0, 0, -0, -0]) z.append([v]);
    z.close();
    const zmeta = await readParquetMetadata(zeros);
    const stats = zmeta.row_groups[0]!.columns[0]!.meta_data!.statistics!;
    expect(Object.is(stats.min_value, -0)).toBe(true);
    expect(Object.is(stats.max_value, 0)).toBe(true);
  });

  it('footer other engines trust: created_by in parquet-java\'s "version (build)" shape, legacy converted types beside logical types', async () => {
    const file = path.join(dir, 'footer.parquet');
    const w = new ParquetFileWriter(file, columns);
    for (const r of rows) w.appendCanonical(r.canonical);
    w.close();
    const { version } = JSON.parse(readFileSync(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../package.json'), 'utf8')) as { version: string };
    // DuckDB's footer parser (C++), independent of hyparquet.
    const [{ created_by: createdBy }] = (await db.rows(`SELECT created_by FROM parquet_file_metadata(${sql(file)})`)) as [{ created_by: string }];
    // parquet-java's VersionParser.FORMAT, matched whole (as Pattern.matcher().matches()): what
    // CorruptStatistics.shouldIgnoreStatistics parses before trusting BYTE_ARRAY statistics.
    const parsed = /^(.*?)\s+version\s*(?:([^(]*?)\s*(?:\(\s*build\s*([^)]*?)\s*\))?)?$/.exec(createdBy);
    expect(parsed?.[1]).toBe('watt');
    expect(parsed?.[2]).toBe(version);
    expect(parsed?.[3]).toMatch(/^([0-9a-f]{4,40}|unknown)$/);
    const schema = Object.fromEntries((await db.rows(`SELECT name, type, converted_type, logical_type FROM parquet_schema(${sql(file)}) WHERE type IS NOT NULL`)).map((e) => [e.name, e]));
    expect(schema.ts).toMatchObject({ type: 'INT64', converted_type: 'TIMESTAMP_MICROS' });
    expect(schema.ts!.logical_type).toMatch(/^TimestampType\(isAdjustedToUTC=1, unit=.*MICROS=MicroSeconds\(\)/);
    expect(schema.s).toMatchObject({ type: 'BYTE_ARRAY', converted_type: 'UTF8', logical_type: 'StringType()' });
    expect(schema.d).toMatchObject({ type: 'DOUBLE', converted_type: null, logical_type: null });
    // hyparquet's parser of the same footer agrees, and DuckDB still reads an instant.
    const footer = await readParquetMetadata(file);
    expect(footer.created_by).toBe(createdBy);
    expect(footer.schema.find((e) => e.name === 'ts')).toMatchObject({ converted_type: 'TIMESTAMP_MICROS', logical_type: { type: 'TIMESTAMP', unit: 'MICROS', isAdjustedToUTC: true } });
    expect(footer.schema.find((e) => e.name === 's')).toMatchObject({ converted_type: 'UTF8', logical_type: { type: 'STRING' } });
    expect((await db.types(`read_parquet(${sql(file)})`)).ts).toBe('TIMESTAMP WITH TIME ZONE');
  });

  it('a string column gives up its dictionary for PLAIN when values do not repeat; several pages per chunk, several row groups', async () => {
    const file = path.join(dir, 'big.parquet');
    const n = 300_000;
    const w = new ParquetFileWriter(file, [
      { name: 'id', kind: 'string' },
      { name: 'meter', kind: 'string' },
      { name: 'v', kind: 'int64' },
      { name: 'x', kind: 'double' },
    ], { rowGroupRows: 200_000 });
    for (let i = 0; i < n; i++) w.appendCanonical([`id-${i}-é`, `meter-${i % 5000}`, String(i * 3), i % 97 === 0 ? '' : `${i}.5`]);
    w.close();
    const meta = await db.rows(`SELECT row_group_id AS g, path_in_schema AS c, encodings, row_group_num_rows AS rows FROM parquet_metadata(${sql(file)}) ORDER BY g, column_id`);
    expect(meta.filter((m) => m.c === 'id').map((m) => [m.g, m.rows])).toEqual([
      [0, 200_000],
      [1, 100_000],
    ]);
    expect(meta.find((m) => m.c === 'id' && m.g === 0)!.encodings).not.toMatch(/DICTIONARY/);
    expect(meta.find((m) => m.c === 'meter' && m.g === 0)!.encodings).toMatch(/RLE_DICTIONARY/);
    // Several data pages: an offset index is written for chunks of more than one page.
    const footer = await readParquetMetadata(file);
    expect(footer.row_groups[0]!.columns.filter((c) => c.offset_index_offset !== undefined).map((c) => c.meta_data!.path_in_schema[0])).toEqual(expect.arrayContaining(['id', 'v', 'x']));
    const [agg] = await db.rows(
      `SELECT count(*) AS n, count(DISTINCT id) AS ids, count(DISTINCT meter) AS meters, CAST(sum(v) AS VARCHAR) AS sv, count(x) AS xs, sum(x) AS sx, min(id) AS minid, max(id) AS maxid,
        count(*) FILTER (WHERE id = 'id-' || (v // 3) || '-é' AND meter = 'meter-' || ((v // 3) % 5000)) AS aligned FROM read_parquet(${sql(file)})`,
    );
    let sx = 0;
    let xs = 0;
    for (let i = 0; i < n; i++) if (i % 97 !== 0) (sx += i + 0.5), xs++;
    expect(agg).toEqual({ n, ids: n, meters: 5000, sv: String((3n * BigInt(n) * BigInt(n - 1)) / 2n), xs, sx, minid: 'id-0-é', maxid: 'id-99999-é', aligned: n });
  });

  it('joined parts (finishParquetParts): every row group of every part, in part order, offsets right for DuckDB', async () => {
    const parts = [];
    for (let p = 0; p < 3; p++) {
      const w = new ParquetFileWriter(path.join(dir, `part${p}.parquet`), columns.slice(0, 3), { rowGroupRows: 4000 });
      for (let i = 0; i < 10_000; i++) w.appendCanonical([`k${i % 10}`, `${p}.25`, String(p * 10_000 + i)]);
      parts.push(w.finishPart());
    }
    const { file, rows: total } = await finishParquetParts(parts, columns.slice(0, 3));
    expect(total).toBe(30_000);
    const [agg] = await db.rows(`SELECT count(*) AS n, CAST(sum(n) AS VARCHAR) AS sn, count(DISTINCT s) AS ks, sum(d) AS sd FROM read_parquet(${sql(file)})`);
    expect(agg).toEqual({ n: 30_000, sn: String((30_000 * 29_999) / 2), ks: 10, sd: 10_000 * (0.25 + 1.25 + 2.25) });
    const order = await db.rows(`SELECT CAST(n AS VARCHAR) AS n FROM read_parquet(${sql(file)}) WHERE n % 5000 = 0`);
    expect(order.map((r) => Number(r.n))).toEqual([0, 5000, 10_000, 15_000, 20_000, 25_000]);
    const footer = await readParquetMetadata(file);
    expect(footer.row_groups).toHaveLength(9);
    // An independent read of the whole file (hyparquet + the reference zstd).
    const all = (await parquetReadObjects({ file: await asyncBufferFromFile(file), compressors })) as { n: bigint }[];
    expect(all.map((r) => Number(r.n))).toEqual(Array.from({ length: 30_000 }, (_, i) => i));
  });

  it("DuckDB's row-group pruning on the statistics gives the right counts at each row group's edges", async () => {
    const file = path.join(dir, 'prune.parquet');
    const w = new ParquetFileWriter(file, columns, { rowGroupRows: 1000 });
    const base = 1_741_336_200_000_000n;
    for (let i = 0; i < 5000; i++) w.append([`v${String(i).padStart(5, '0')}`, i / 4 - 100, BigInt(i) - 2500n + (i >= 4000 ? 2n ** 60n : 0n), i % 3 === 0, base + BigInt(i) * 1_000_001n, null]);
    w.close();
    const count = async (where: string) => Number((await db.rows(`SELECT count(*) AS n FROM read_parquet(${sql(file)}) WHERE ${where}`))[0]!.n);
    for (const edge of [999, 1000, 1999, 2000, 3999, 4000, 4999]) {
      expect(await count(`s = 'v${String(edge).padStart(5, '0')}'`)).toBe(1);
      expect(await count(`d = ${edge / 4 - 100}`)).toBe(1);
      const n = BigInt(edge) - 2500n + (edge >= 4000 ? 2n ** 60n : 0n);
      expect(await count(`n = ${n}`)).toBe(1);
      expect(await count(`ts = make_timestamptz(${base + BigInt(edge) * 1_000_001n})`)).toBe(1);
      expect(await count(`n >= ${n} AND s <= 'v${String(edge).padStart(5, '0')}'`)).toBe(1);
    }
    expect(await count(`d < -100 OR d > ${4999 / 4 - 100}`)).toBe(0);
    expect(await count('b')).toBe(1667);
  });

  it('a dictionary kept from one row group to the next gives each row group the min/max of its own values', async () => {
    const file = path.join(dir, 'kept-dictionary.parquet');
    const w = new ParquetFileWriter(file, [{ name: 's', kind: 'string' }], { rowGroupRows: 1000 });
    const key = (k: number) => `k${String(k).padStart(3, '0')}`;
    for (let i = 0; i < 1000; i++) w.append([key(i % 100)]); // row group 0: k000..k099
    for (let i = 0; i < 1000; i++) w.append([key(50 + (i % 50))]); // row group 1: k050..k099 (the dictionary is kept)
    for (let i = 0; i < 1000; i++) w.append([key(60 + (i % 10))]); // row group 2: k060..k069 (a new dictionary)
    w.close();
    const meta = await db.rows(`SELECT row_group_id AS g, stats_min_value AS min, stats_max_value AS max FROM parquet_metadata(${sql(file)}) ORDER BY g`);
    expect(meta).toEqual([
      { g: 0, min: 'k000', max: 'k099' },
      { g: 1, min: 'k050', max: 'k099' },
      { g: 2, min: 'k060', max: 'k069' },
    ]);
    const counts = await db.rows(`SELECT s, count(*) AS n FROM read_parquet(${sql(file)}) WHERE s IN ('k010', 'k055', 'k065', 'k099') GROUP BY s ORDER BY s`);
    expect(counts).toEqual([
      { s: 'k010', n: 10 },
      { s: 'k055', n: 30 },
      { s: 'k065', n: 130 },
      { s: 'k099', n: 30 },
    ]);
  });

  it('hinted strings (the pseudonymiser\'s memo entries: right, wrong, stale or reused) give the very bytes of the same rows without hints', async () => {
    // 20,000 rows of 700 values in a scrambled order over 3 row groups (the dictionary kept, then
    // rebuilt), with hints that are right, then reused for other values (a memo reset), some wrong,
    // some -1, and nulls: the file must not change by a byte.
    const cols: ParquetColumn[] = [
      { name: 'subject', kind: 'string' },
      { name: 'n', kind: 'int64' },
    ];
    const values = Array.from({ length: 700 }, (_, k) => `pseudonym-${(k * 7919) % 700}`);
    let state = 7;
    const next = () => ((state = (Math.imul(state, 1103515245) + 12345) >>> 0), state);
    const rowsIn: { cells: string[]; hint: number }[] = [];
    for (let i = 0; i < 20_000; i++) {
      const k = i < 12_000 ? next() % 700 : 100 + (next() % 50);
      const wrong = i % 97 === 0;
      const reused = i >= 9_000; // after a memo reset the same entries stand for other values
      const hint = i % 31 === 0 ? -1 : wrong ? next() % 900 : reused ? (k + 333) % 700 : k;
      rowsIn.push({ cells: [i % 53 === 0 ? '' : values[k]!, String(i)], hint });
    }
    const plainFile = path.join(dir, 'unhinted.parquet');
    const hintedFile = path.join(dir, 'hinted.parquet');
    const a = new ParquetFileWriter(plainFile, cols, { rowGroupRows: 7_000 });
    const b = new ParquetFileWriter(hintedFile, cols, { rowGroupRows: 7_000 });
    const hints = new Int32Array(2).fill(-1);
    for (const r of rowsIn) {
      a.appendCanonical(r.cells);
      hints[0] = r.hint;
      b.appendCanonical(r.cells, hints);
    }
    a.close();
    b.close();
    expect(readFileSync(hintedFile).equals(readFileSync(plainFile))).toBe(true);
    const back = await db.rows(`SELECT count(*) AS n, count(DISTINCT subject) AS d, count(*) FILTER (WHERE subject IS NULL) AS nulls FROM read_parquet(${sql(hintedFile)})`);
    expect(back).toEqual([{ n: 20_000, d: 700, nulls: Math.ceil(20_000 / 53) }]);
  });

  it('an old Snappy object (hyparquet-writer, before zstd) still reads through readParquetRowGroups', async () => {
    const file = path.join(dir, 'snappy.parquet');
    const out = fileWriter(file);
    const writer = new ParquetWriter({
      writer: out,
      schema: [
        { name: 'root', num_children: 2 },
        { name: 's', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
        { name: 'ts', type: 'INT64', repetition_type: 'OPTIONAL', logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MICROS' } },
      ],
      codec: 'SNAPPY',
    });
    writer.write({ columnData: [{ name: 's', data: ['a', null, 'é'] }, { name: 'ts', data: [1n, 2n, null] }] });
    writer.finish();
    const footer = await readParquetMetadata(file);
    expect(footer.row_groups[0]!.columns[0]!.meta_data!.codec).toBe('SNAPPY');
    const back: ParquetCell[][] = [];
    for await (const g of readParquetRowGroups(file)) back.push(...g.rows);
    expect(back).toEqual([
      ['a', 1n],
      [null, 2n],
      ['é', null],
    ]);
  });

  it("the fast decimal parser gives Number()'s double for every plain decimal (15 digits and beyond)", () => {
    const cases = ['0', '-0', '0.1', '0.3', '29.99', '-7.25', '123456789012345', '9007199254740993', '1234567890123456', '123456789012345.6', '0.000000000000001', '99999999999999.9', '.5', '5.', '-', 'abc', '1.2.3'];
    let seed = 42;
    const random = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    for (let k = 0; k < 100_000; k++) {
      const digits = 1 + Math.floor(random() * 18);
      let d = '';
      for (let j = 0; j < digits; j++) d += Math.floor(random() * 10);
      const p = Math.floor(random() * (digits + 1));
      cases.push((random() < 0.5 ? '-' : '') + (p === 0 || p === digits ? d : `${d.slice(0, p)}.${d.slice(p)}`));
    }
    const wrong = cases.filter((c) => !Object.is(decimal(c), Number(c)));
    expect(wrong).toEqual([]);
  });

  it('a cell that is not canonical for its kind is an error, not a wrong value', () => {
    const w = new ParquetFileWriter(path.join(dir, 'bad.parquet'), columns);
    expect(() => w.appendCanonical(['x', '1', '1', 'true', '2025-03-07 08:30:00Z', ''])).toThrow(/date-time/);
    expect(() => new ParquetFileWriter(path.join(dir, 'bad2.parquet'), columns).appendCanonical(['x', '1', '1', 'yes', '2025-03-07T08:30:00Z', ''])).toThrow(/boolean/);
    expect(() => new ParquetFileWriter(path.join(dir, 'bad3.parquet'), columns).appendCanonical(['x', '1', '9223372036854775808', 'true', '2025-03-07T08:30:00Z', ''])).toThrow(/range/);
    expect(() => new ParquetFileWriter(path.join(dir, 'bad4.parquet'), columns).appendCanonical(['x', 'abc', '1', 'true', '2025-03-07T08:30:00Z', ''])).toThrow(/number/);
    w.abort();
  });
});
