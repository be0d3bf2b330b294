import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { FIRST_RANGE_LEAD, scanSource } from '../../src/ingest/scan.js';

/**
 * A ~6.5 MiB CSV (seven 1 MiB scan chunks): plain rows; in the first 5,000 rows, every 997th holds a
 * quoted field with line breaks, a comma and doubled quotes (so the next chunks have no quote at
 * all); with `quotedTarget`, one 200 KB quoted field of 5,000 lines sits across two thirds of the
 * file, where the second split of three ranges is aimed.
 */
function sourceFile(quotedTarget: boolean): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'watt-scan-'));
  const file = path.join(dir, 'readings.csv');
  const rows: string[] = ['id,note,"multi\nline header"'];
  const row = (i: number) => (i < 5_000 && i % 997 === 0 ? `R${i},"a ""quoted"" note\nwith, a comma\nand lines",x` : `R${i},plain note ${i},y`);
  for (let i = 0; i < 240_000; i++) rows.push(row(i));
  if (quotedTarget) {
    // Inserted where its middle lands on two thirds of the final file.
    const big = `BIG,"${'a line of a long "" note, forty chars\n'.repeat(5_000)}",z`;
    const total = rows.reduce((n, r) => n + r.length + 1, 0) + big.length + 1;
    let at = 0;
    for (let bytes = 0; bytes + big.length / 2 < (total * 2) / 3; at++) bytes += rows[at]!.length + 1;
    rows.splice(at, 0, big);
  }
  writeFileSync(file, rows.join('\n') + '\n');
  return file;
}

/** Where csv-parse ends each record: the byte after its newline, and the line that follows. */
function recordEnds(bytes: Buffer): { offset: number; line: number }[] {
  const out: { offset: number; line: number }[] = [];
  parse(bytes, {
    relax_column_count: true,
    info: true,
    // With `info`, each record arrives as { record, info }.
    on_record: ((record: unknown) => {
      const { info } = record as { info: { bytes: number; lines: number } };
      out.push({ offset: info.bytes, line: info.lines + 1 });
      return null;
    }) as never,
  });
  return out;
}

describe('scanSource', () => {
  it.each([
    ['a quoted multi-line field across the target', true],
    ['only plain rows around the targets', false],
  ])('splits on record boundaries with the right line numbers (%s), and hashes every byte', async (_name, quotedTarget) => {
    const file = sourceFile(quotedTarget);
    const size = statSync(file).size;
    const scan = await scanSource(file, size, 3);
    const bytes = readFileSync(file);
    // Each split: the first record end (for csv-parse, an independent reader) at or after its
    // target: never inside a quoted field, with the number of the line that follows it.
    const ends = recordEnds(bytes);
    const expected = [1, 2].map((k) => ends.find((e) => e.offset >= Math.floor(size * (k / 3 - (k === 1 ? FIRST_RANGE_LEAD : 0))))!);
    // The first newline after the second target is inside the quoted field: not a record end.
    if (quotedTarget) expect(expected[1]!.offset).toBeGreaterThan(bytes.indexOf(10, Math.floor((size * 2) / 3)) + 1);
    expect(scan.splits).toEqual(expected);
    expect(scan.headerEnd).toBe(bytes.indexOf('\n', bytes.indexOf('\n') + 1) + 1); // the header's quoted field spans two lines
    expect(scan.firstDataLine).toBe(3);
    expect(scan.size).toBe(size);
    expect(scan.sha256).toBe(createHash('sha256').update(readFileSync(file)).digest('hex'));
  });
});
