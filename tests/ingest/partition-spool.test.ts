import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { createSink, type SpoolSpec } from '../../src/ingest/partition-spool.js';
import { PARQUET_BUFFER_BYTES } from '../../src/ingest/parquet-sink.js';
import { finishParquetParts as finishEncrypted, readParquetMetadata, readParquetRowGroups, type ParquetColumn, type ParquetPart } from '../../src/formats/parquet.js';
import { newSpoolSecret, readSpoolFile } from '../../src/spool-crypto.js';
import { scratchDirsRemovedAfterAll } from '../helpers/cli.js';

/** Spool folders of this file, removed after its tests (they hold only encrypted test rows). */
const newDir = scratchDirsRemovedAfterAll('watt-spool-');

/**
 * Spools are encrypted (src/spool-crypto.ts): join the parts as ingest does, check that the joined
 * spool holds none of the rows' text, then decrypt it to a plain copy the Parquet readers can open.
 */
async function finishParquetParts(parts: ParquetPart[], cols: ParquetColumn[]): Promise<{ file: string; spool: string; rows: number; bytes: number }> {
  const joined = await finishEncrypted(parts, cols);
  const sealed = readFileSync(joined.file);
  expect(sealed.includes('PAR1')).toBe(false);
  const plain = await readSpoolFile(joined.file, joined.cipher!);
  expect(plain.length).toBe(joined.bytes);
  const file = joined.file + '.plain.parquet';
  writeFileSync(file, plain);
  return { file, spool: joined.file, rows: joined.rows, bytes: joined.bytes };
}

const columns: ParquetColumn[] = [
  { name: 'id', kind: 'string' },
  { name: 'ts', kind: 'timestamp' },
  { name: 'kwh', kind: 'double' },
  { name: 'n', kind: 'int64' },
  { name: 'peak', kind: 'boolean' },
];
const spec = (dir: string, format: 'csv' | 'parquet', range: number): SpoolSpec => ({ format, prefix: path.join(dir, `run.r${range}`), columns, plain: columns.map(() => false), secret: newSpoolSecret() });
const row = (i: number, day: number, note = ''): string[] => [`R${i}${note}`, `2025-03-0${day}T0${i % 10}:00:00.5Z`, `${i}.25`, String(i), i % 2 ? 'true' : 'false'];

describe('partition spool', () => {
  it('parquet: two ranges of shuffled days join into one valid file per day, rows in range order, typed cells', async () => {
    const dir = newDir();
    const sinks = [await createSink(spec(dir, 'parquet', 0), ''), await createSink(spec(dir, 'parquet', 1), '')];
    const days = [3, 1, 2, 2, 3, 1, 1, 3, 2, 1];
    days.forEach((day, i) => sinks[i < 5 ? 0 : 1]!.write(`2025-03-0${day}`, row(i, day)));
    const parts = sinks.flatMap((s) => s.finish());
    for (const date of ['2025-03-01', '2025-03-02', '2025-03-03']) {
      const mine = parts.filter((p) => p.date === date);
      const { file, spool, rows } = await finishParquetParts(mine.map((p) => p.parquet!), columns);
      expect(spool).toBe(mine[0]!.file);
      const got: unknown[][] = [];
      for await (const g of readParquetRowGroups(file)) got.push(...g.rows);
      const expected = days.map((d, i) => [d, i] as const).filter(([d]) => `2025-03-0${d}` === date).map(([, i]) => i);
      expect(rows).toBe(expected.length);
      expect(got.map((r) => r[0])).toEqual(expected.map((i) => `R${i}`));
      expect(got[0]![1]).toBe(BigInt(Date.UTC(2025, 2, Number(date.slice(-1)), expected[0]! % 10)) * 1000n + 500_000n);
      expect(got.map((r) => r[2])).toEqual(expected.map((i) => i + 0.25));
      expect(got.map((r) => r[3])).toEqual(expected.map((i) => BigInt(i)));
      expect(got.map((r) => r[4])).toEqual(expected.map((i) => i % 2 === 1));
    }
  });

  it('parquet: long rows are encoded in several row groups before the buffer exceeds its byte budget', async () => {
    const dir = newDir();
    const sink = await createSink(spec(dir, 'parquet', 0), '');
    const long = 'x'.repeat(1024 * 1024);
    const rows = Math.ceil((PARQUET_BUFFER_BYTES * 2.5) / long.length);
    for (let i = 0; i < rows; i++) sink.write(`2025-03-0${1 + (i % 2)}`, row(i, 1 + (i % 2), long));
    const parts = sink.finish();
    let total = 0;
    for (const p of parts) {
      const { file } = await finishParquetParts([p.parquet!], columns);
      const meta = await readParquetMetadata(file);
      expect(meta.row_groups.length).toBeGreaterThan(1);
      total += Number(meta.num_rows);
    }
    expect(total).toBe(rows);
  });

  it('parquet: days interleaved at random (an unordered export) still give one full row group per day, rows in source order, odd characters intact', async () => {
    const dir = newDir();
    const days = 20;
    const perDay = 10_000;
    const dayNames = Array.from({ length: days }, (_, d) => new Date(Date.UTC(2025, 0, 1) + d * 86_400_000).toISOString().slice(0, 10));
    const dayOf = (d: number) => dayNames[d]!;
    // ~130 bytes a row: the days held together pass the sink's budget long before the end.
    const pad = '-'.repeat(100);
    // A seeded permutation of (day, index) pairs.
    const order = Array.from({ length: days * perDay }, (_, k) => k);
    let state = 7;
    for (let k = order.length - 1; k > 0; k--) {
      state = (state * 1103515245 + 12345) % 2147483648;
      const j = state % (k + 1);
      [order[k], order[j]] = [order[j]!, order[k]!];
    }
    const odd = ['a,b', 'line\nbreak', 'back\\slash', 'unit\x1fsep', 'é😀', '"q"', '\\n literal'];
    const id = (k: number) => (k % 97 === 0 ? `${odd[k % odd.length]}-${k}` : `R${k}${pad}`);
    const ts = (k: number) => `${dayOf(Math.floor(k / perDay))}T${String(k % 24).padStart(2, '0')}:00:00Z`;
    const sink = await createSink(spec(dir, 'parquet', 0), '');
    for (const k of order) sink.write(dayOf(Math.floor(k / perDay)), [id(k), ts(k), `${k}.5`, String(k), k % 2 ? 'true' : 'false']);
    expect((sink as unknown as { spooling: boolean }).spooling).toBe(true);
    const parts = sink.finish();
    expect(parts).toHaveLength(days);
    for (const p of parts) {
      const { file } = await finishParquetParts([p.parquet!], columns);
      const meta = await readParquetMetadata(file);
      expect(meta.row_groups.map((g) => Number(g.num_rows))).toEqual([perDay]);
      const got: unknown[][] = [];
      for await (const g of readParquetRowGroups(file)) got.push(...g.rows);
      const d = dayNames.indexOf(p.date);
      const mine = order.filter((k) => Math.floor(k / perDay) === d);
      expect(got.map((r) => r[0])).toEqual(mine.map(id));
      expect(got.map((r) => r[3])).toEqual(mine.map((k) => BigInt(k)));
    }
    // The day spools are gone once read.
    expect(readdirSync(dir).filter((f) => f.endsWith('.rows'))).toEqual([]);
  }, 120_000);

  it('parquet: days in time order never switch to spooling', async () => {
    const dir = newDir();
    const sink = await createSink(spec(dir, 'parquet', 0), '');
    for (let d = 1; d <= 9; d++) for (let i = 0; i < 60_000; i++) sink.write(`2025-03-0${d}`, row(i, d));
    expect((sink as unknown as { spooling: boolean }).spooling).toBe(false);
    expect(sink.finish()).toHaveLength(9);
  });

  it('csv: one file per day, the header once at the top, rows in order', async () => {
    const dir = newDir();
    const sink = await createSink(spec(dir, 'csv', 0), 'id,ts,kwh,n,peak\n');
    [2, 1, 2, 1, 1].forEach((day, i) => sink.write(`2025-03-0${day}`, row(i, day, i === 4 ? ',"quoted"' : '')));
    const parts = sink.finish().sort((a, b) => a.date.localeCompare(b.date));
    expect(parts.map((p) => [p.date, p.rows])).toEqual([
      ['2025-03-01', 3],
      ['2025-03-02', 2],
    ]);
    // Encrypted on disk: no row's text is readable without the run's keys.
    expect(readFileSync(parts[0]!.file).includes('R4,"quoted"')).toBe(false);
    expect(readFileSync(parts[0]!.file).includes('id,ts')).toBe(false);
    const day1 = parse(await readSpoolFile(parts[0]!.file, parts[0]!.cipher), { columns: true }) as { id: string }[];
    expect(day1.map((r) => r.id)).toEqual(['R1', 'R3', 'R4,"quoted"']);
    expect(parts[0]!.lead).toBe(Buffer.byteLength('id,ts,kwh,n,peak\n'));
  });

  it('csv: 40 days interleaved at random over 60,000 rows, multi-byte text and rows longer than a write chunk: every row once, in order, bytes counted exactly', async () => {
    const dir = newDir();
    const header = 'id,ts,kwh,n,peak\n';
    const sink = await createSink(spec(dir, 'csv', 0), header);
    const expected = new Map<string, string[]>();
    let state = 99;
    const next = () => ((state = (Math.imul(state, 1103515245) + 12345) >>> 0), state);
    for (let i = 0; i < 60_000; i++) {
      const day = `2025-04-${String(1 + (next() % 40) % 30).padStart(2, '0')}`;
      const id = i % 5_000 === 0 ? `long-${'é'.repeat(200_000)}-${i}` : i % 7 === 0 ? `Zoë ${i}` : `R${i}`;
      sink.write(day, [id, '2025-04-01T00:00:00Z', `${i}.5`, String(i), 'true']);
      expected.set(day, [...(expected.get(day) ?? []), id]);
    }
    const parts = sink.finish();
    expect(parts.length).toBe(expected.size);
    for (const part of parts) {
      const plain = await readSpoolFile(part.file, part.cipher);
      expect(plain.length).toBe(part.bytes);
      expect(plain.subarray(0, part.lead).toString()).toBe(header);
      const ids = (parse(plain, { columns: true }) as { id: string }[]).map((r) => r.id);
      expect(ids).toEqual(expected.get(part.date));
      expect(part.rows).toBe(ids.length);
    }
  });
});
