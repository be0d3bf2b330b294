import { Parser } from 'csv-parse';

/**
 * CSV records, chunk by chunk, handed to a callback synchronously: the record reader of
 * `watt ingest`'s hot loop (src/ingest/transform.ts).
 *
 * csv-parse is the reference: every record this reader hands out is the one csv-parse 7 would
 * hand out with the same options (`tests/records/csv-records.test.ts` compares them on generated
 * files, chunked at random). Most lines of a meter export hold no quote at all; for those the
 * reader splits the decoded chunk on the record delimiter and the field delimiter with the
 * engine's native `indexOf`/`split`, which costs a fraction of csv-parse's byte-by-byte state
 * machine. At the first line that holds the quote character, a lone CR (old Mac line ends) or a
 * line that may be over `max_record_size` (a third of it in characters: csv-parse counts
 * bytes), it hands the rest of the range, from the start of that line, to
 * csv-parse itself, with the record delimiter already found, and csv-parse parses it to the end:
 * quoting, escapes and every error message stay csv-parse's, with line numbers counted from the
 * start of the range as before.
 *
 * Options understood: `delimiter` and `quote` (one character each), `max_record_size`,
 * `relax_column_count: true`, `skip_empty_lines: false` (an empty line is the record `['']`).
 * Any other option, or a delimiter or quote longer than one character, selects csv-parse alone.
 */
export interface CsvRecordParser {
  /**
   * Parse one chunk (`undefined` with `end` true: the end of input) and push each complete record.
   * The chunk must end on a character boundary (the callers' UTF-8 guard cuts it so).
   * @returns the parse error (a csv-parse `CsvError`, its `lines` counted from the start of input), or undefined.
   */
  parse(chunk: Buffer | undefined, end: boolean, push: (record: string[]) => void, close: () => void): Error | undefined;
}

/** The options {@link csvRecords} takes: csv-parse's. */
export type CsvRecordOptions = ConstructorParameters<typeof Parser>[0] & {
  delimiter?: string;
  quote?: string;
  max_record_size?: number;
  relax_column_count?: boolean;
  skip_empty_lines?: boolean;
};

/** The options the split reader reproduces exactly; any other key means csv-parse alone. */
const FAST_OPTIONS = new Set(['delimiter', 'quote', 'max_record_size', 'relax_column_count', 'skip_empty_lines']);

/**
 * A record reader for `options`: the split reader with csv-parse behind it when the options allow
 * (see {@link CsvRecordParser}), else csv-parse alone.
 */
export function csvRecords(options: CsvRecordOptions): CsvRecordParser {
  const delimiter = options.delimiter ?? ',';
  const quote = options.quote ?? '"';
  const simple =
    Object.keys(options).every((k) => FAST_OPTIONS.has(k)) &&
    typeof delimiter === 'string' &&
    delimiter.length === 1 &&
    typeof quote === 'string' &&
    quote.length === 1 &&
    delimiter !== quote &&
    delimiter !== '\r' &&
    delimiter !== '\n' &&
    options.relax_column_count === true &&
    options.skip_empty_lines === false;
  return simple ? new SplitRecords(options, delimiter, quote, options.max_record_size ?? 0) : csvParseRecords(options);
}

/**
 * csv-parse's record API without its stream: the `api` object that csv-parse's stream `Parser`
 * (7.x) wraps, the same one its sync API uses. A csv-parse without it fails here at once, never
 * silently.
 */
export function csvParseRecords(options: CsvRecordOptions): CsvRecordParser {
  const api = (new Parser(options) as unknown as { api?: CsvRecordParser }).api;
  if (typeof api?.parse !== 'function') throw new Error('csv-parse has no record API (Parser.api.parse): pin csv-parse 7');
  return api;
}

const LF = 10;
const CR = 13;

/** The split reader (see {@link CsvRecordParser}); hands over to csv-parse for good once it must. */
class SplitRecords implements CsvRecordParser {
  /** Text after the last complete line of the previous chunks. */
  private carry = '';
  /** The record delimiter, once found (csv-parse's auto-discovery: the first CRLF, LF or CR). */
  private recordDelimiter: '\n' | '\r\n' | undefined;
  /** csv-parse, once the rest of the input is its. */
  private slow: CsvRecordParser | undefined;
  /** Lines (record delimiters) read before handing over, added to the line of csv-parse's errors. */
  private linesBefore = 0;

  constructor(
    private readonly options: CsvRecordOptions,
    private readonly delimiter: string,
    private readonly quote: string,
    private readonly maxRecord: number,
  ) {}

  parse(chunk: Buffer | undefined, end: boolean, push: (record: string[]) => void, close: () => void): Error | undefined {
    if (this.slow) return this.slowParse(chunk, end, push, close);
    const text = chunk === undefined || chunk.length === 0 ? this.carry : this.carry + chunk.toString('utf8');
    this.carry = '';
    const len = text.length;
    const delimiter = this.delimiter;
    // Everything before the first quote character is unquoted text.
    let quoteAt = text.indexOf(this.quote);
    if (quoteAt === -1) quoteAt = len;
    let pos = 0;
    if (this.recordDelimiter === undefined) {
      const lf = text.indexOf('\n');
      const cr = text.indexOf('\r');
      const first = cr === -1 ? lf : lf === -1 ? cr : Math.min(cr, lf);
      if (first === -1 || first > quoteAt) {
        // No record delimiter yet outside quotes: a quote comes first (csv-parse's), or more text is needed.
        if (quoteAt < len) return this.handOver(text, 0, end, push, close);
        return this.keep(text, 0, end, push, close);
      }
      if (first === cr) {
        if (first + 1 === len && !end) return this.keep(text, 0, end, push, close); // CR, maybe CRLF
        if (text.charCodeAt(first + 1) !== LF) return this.handOver(text, 0, end, push, close); // CR alone (old Mac)
        this.recordDelimiter = '\r\n';
      } else this.recordDelimiter = '\n';
    }
    const crlf = this.recordDelimiter === '\r\n';
    const max = this.maxRecord;
    for (;;) {
      const lf = text.indexOf('\n', pos);
      if (lf === -1 || lf > quoteAt) break;
      let stop = lf;
      if (crlf) {
        // A bare LF inside a CRLF file is field text for csv-parse: let it read from here.
        if (lf === pos || text.charCodeAt(lf - 1) !== CR) return this.handOver(text, pos, end, push, close);
        stop = lf - 1;
      }
      if (max > 0 && (stop - pos) * 3 > max) return this.handOver(text, pos, end, push, close);
      push(stop === pos ? [''] : text.slice(pos, stop).split(delimiter));
      this.linesBefore++;
      pos = lf + 1;
    }
    if (quoteAt < len) {
      // The line holding the quote (from `pos`) and everything after it: csv-parse's.
      return this.handOver(text, pos, end, push, close);
    }
    return this.keep(text, pos, end, push, close);
  }

  /** Keep `text` from `pos` for the next chunk, or at the end push it as the last record. */
  private keep(text: string, pos: number, end: boolean, push: (record: string[]) => void, close: () => void): Error | undefined {
    const rest = pos === 0 ? text : text.slice(pos);
    if (this.maxRecord > 0 && rest.length * 3 > this.maxRecord) return this.handOver(rest, 0, end, push, close);
    if (!end) {
      this.carry = rest;
      return undefined;
    }
    if (rest.length === 0) return undefined;
    if (this.recordDelimiter === '\r\n' && rest.charCodeAt(rest.length - 1) === CR) return this.handOver(rest, 0, end, push, close);
    push(rest.split(this.delimiter));
    return undefined;
  }

  /** From `text[pos]` on, csv-parse reads everything (the delimiter found so far is kept). */
  private handOver(text: string, pos: number, end: boolean, push: (record: string[]) => void, close: () => void): Error | undefined {
    this.slow = csvParseRecords(this.recordDelimiter ? { ...this.options, record_delimiter: this.recordDelimiter } : this.options);
    const rest = text.slice(pos);
    return this.slowParse(rest.length ? Buffer.from(rest, 'utf8') : undefined, end, push, close);
  }

  private slowParse(chunk: Buffer | undefined, end: boolean, push: (record: string[]) => void, close: () => void): Error | undefined {
    let err: Error | undefined;
    try {
      err = this.slow!.parse(chunk, end, push, close);
    } catch (e) {
      err = e as Error;
    }
    if (err && this.linesBefore) {
      const e = err as Error & { lines?: number };
      if (typeof e.lines === 'number') e.lines += this.linesBefore;
    }
    return err;
  }
}
