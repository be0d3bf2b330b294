/**
 * The record reader of `watt ingest` (src/records/csv-records.ts) against csv-parse itself: on
 * generated files of every shape a user's export takes (LF, CRLF, a lone CR, quoted fields with
 * delimiters, quotes and line breaks, empty lines, no final newline, multi-byte text, `;` and tab
 * delimiters), cut into chunks at random places, it must hand out exactly csv-parse's records and
 * fail exactly where csv-parse fails, at the same line.
 */
import { describe, expect, test } from '@jest/globals';
import { parse } from 'csv-parse/sync';
import { csvParseRecords, csvRecords, type CsvRecordOptions } from '../../src/records/csv-records.js';

/** xorshift32: every run generates the same files. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
}

interface Outcome {
  records: string[][];
  error?: { code: string; lines: number | undefined };
}

/** Feed `bytes` to `reader` in chunks cut at `cuts` (on character boundaries), as transform.ts does. */
function run(reader: ReturnType<typeof csvRecords>, bytes: Buffer, cuts: number[]): Outcome {
  const records: string[][] = [];
  const push = (r: string[]) => records.push([...r]);
  let at = 0;
  for (const cut of [...cuts, bytes.length]) {
    const err = reader.parse(bytes.subarray(at, cut), false, push, () => undefined);
    at = cut;
    if (err) return { records, error: { code: (err as Error & { code: string }).code, lines: (err as Error & { lines?: number }).lines } };
  }
  const err = reader.parse(undefined, true, push, () => undefined);
  if (err) return { records, error: { code: (err as Error & { code: string }).code, lines: (err as Error & { lines?: number }).lines } };
  return { records };
}

/** Cut points on UTF-8 character boundaries. */
function randomCuts(bytes: Buffer, next: () => number, count: number): number[] {
  const cuts = new Set<number>();
  for (let k = 0; k < count; k++) {
    let c = Math.floor(next() * bytes.length);
    while (c > 0 && c < bytes.length && (bytes[c]! & 0xc0) === 0x80) c--;
    if (c > 0) cuts.add(c);
  }
  return [...cuts].sort((a, b) => a - b);
}

const CELLS = ['', 'REC-00000001', 'CUST-000123', '2025-01-01T00:00:00Z', '4.69', 'true', 'Zoë Ångström', '日本語', 'a b', ' padded ', '0', '1e3', 'x\ry'];

/** A file of `rows` lines with the given delimiters; `quoting` adds quoted fields (with delimiters, quotes, line breaks inside). */
function generate(next: () => number, rows: number, d: string, eol: string, quoting: number, empties: number): string {
  const lines: string[] = [];
  for (let r = 0; r < rows; r++) {
    if (next() < empties) {
      lines.push('');
      continue;
    }
    const width = 3 + Math.floor(next() * 4);
    const cells: string[] = [];
    for (let c = 0; c < width; c++) {
      let cell = CELLS[Math.floor(next() * CELLS.length)]!;
      if (eol !== '\r' && cell.includes('\r') && eol === '\r\n') cell = cell.replace('\r', '');
      if (next() < quoting) {
        const inner = [cell, d, '""', eol === '\r' ? ' ' : '\n', 'Q'][Math.floor(next() * 5)]!;
        cell = `"${cell}${inner}"`;
      }
      cells.push(cell);
    }
    lines.push(cells.join(d));
  }
  return lines.join(eol) + (next() < 0.5 ? eol : '');
}

function compare(text: string, options: CsvRecordOptions, seed: number): void {
  const next = rng(seed);
  const bytes = Buffer.from(text, 'utf8');
  const reference = run(csvParseRecords(options), bytes, []);
  for (let k = 0; k < 4; k++) {
    const cuts = k === 0 ? [] : randomCuts(bytes, next, 1 + Math.floor(next() * 40));
    const got = run(csvRecords(options), bytes, cuts);
    expect(got).toEqual(reference);
  }
}

const OPTIONS = (delimiter: string): CsvRecordOptions => ({ delimiter, quote: '"', relax_column_count: true, skip_empty_lines: false, max_record_size: 1_000_000 });

describe('csvRecords: the same records as csv-parse, chunked anywhere', () => {
  for (const [name, eol] of [
    ['LF', '\n'],
    ['CRLF', '\r\n'],
    ['CR', '\r'],
  ] as const) {
    for (const d of [',', ';', '\t']) {
      test(`${name} line ends, delimiter ${JSON.stringify(d)}: unquoted, sometimes quoted, often quoted`, () => {
        for (let seed = 1; seed <= 12; seed++) {
          const next = rng(seed * 7919);
          const quoting = seed % 3 === 0 ? 0 : seed % 3 === 1 ? 0.002 : 0.2;
          compare(generate(next, 50 + Math.floor(next() * 400), d, eol, quoting, seed % 5 === 0 ? 0.05 : 0), OPTIONS(d), seed);
        }
      });
    }
  }

  test('CRLF files with a bare LF or a CR inside an unquoted field, and LF files with CRs in fields', () => {
    const cases = ['a,b\r\nc\nd,e\r\nf,g\r\n', 'a,b\r\nc,d\r', 'a,b\nc\r,d\ne,f\r\n', 'a\r\n\r\nb\r\n', '\r\n', '\n', '\r', 'a,b\r', 'x\n\n\ny'];
    for (const [i, text] of cases.entries()) compare(text, OPTIONS(','), i + 1);
  });

  test('broken quoting fails as csv-parse fails, with the same code and line, whatever came before', () => {
    const good = Array.from({ length: 300 }, (_, i) => `REC-${i},CUST-${i % 7},2025-01-01T00:00:00Z,4.6${i % 10}`).join('\n');
    for (const bad of ['REC-x,ab"c,1', 'REC-y,"never closed,1\nmore', 'REC-z,"a"b,1']) {
      const text = `${good}\n${bad}\n${good}\n`;
      const reference = run(csvParseRecords(OPTIONS(',')), Buffer.from(text), []);
      expect(reference.error).toBeDefined();
      compare(text, OPTIONS(','), 3);
    }
  });

  test('a record longer than max_record_size fails as in csv-parse; one under it is read', () => {
    const options = { ...OPTIONS(','), max_record_size: 300 };
    compare(`a,b\n${'x'.repeat(299)}\n${'y'.repeat(400)},z\nc,d\n`, options, 5);
    compare(`a,b\n${'é'.repeat(140)}\n`, options, 6);
    const fail = run(csvRecords(options), Buffer.from(`a,b\n${'y'.repeat(400)}\n`), []);
    expect(fail.error?.code).toBe('CSV_MAX_RECORD_SIZE');
  });

  test('options it does not reproduce go to csv-parse alone (trim)', () => {
    const options = { ...OPTIONS(','), trim: true } as CsvRecordOptions;
    const got = run(csvRecords(options), Buffer.from(' a , b \nc,d\n'), []);
    expect(got.records).toEqual([
      ['a', 'b'],
      ['c', 'd'],
    ]);
  });

  test('agrees with csv-parse/sync on a whole export (header included)', () => {
    const next = rng(99);
    const text = generate(next, 2000, ',', '\r\n', 0.01, 0.01);
    const sync = parse(text, { relax_column_count: true, skip_empty_lines: false }) as string[][];
    expect(run(csvRecords(OPTIONS(',')), Buffer.from(text), randomCuts(Buffer.from(text), next, 30)).records).toEqual(sync);
  });
});
