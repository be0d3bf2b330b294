import { readFile } from 'node:fs/promises';
import path from 'node:path';
import picomatch from 'picomatch';
import { detectPersonalData, type PersonalDataDetectorId, type PersonalDataFinding } from '../../records/personal-data.js';
import type { CheckFinding } from '../types.js';
import type { CheckContext } from './types.js';
import { defineCheck } from './types.js';

export interface PersonalDataOptions {
  /** Globs of the data files to check (default CSV, TSV, JSON, NDJSON/JSONL). */
  include?: string[];
  /** Globs of files allowed to hold personal data (test fixtures with fake people), in the tree and in history. */
  allow?: string[];
  /** Files larger than this are read only up to it, in bytes (default 2 MiB). */
  maxBytes?: number;
  /** Rows sampled per file (default 1000). */
  maxRows?: number;
  /** Check the data files that were committed then removed (their last version) too (default true). */
  history?: boolean;
  /** At most this many removed data files are read from history, the most recently removed first (default 200). */
  maxHistoryFiles?: number;
}

const DEFAULT_INCLUDE = ['**/*.csv', '**/*.tsv', '**/*.json', '**/*.ndjson', '**/*.jsonl'];
/** Detectors whose values alone make a column personal data in clear (the "e-mails, PDLs, phone numbers, IBANs"). */
const DIRECT: ReadonlySet<PersonalDataDetectorId> = new Set(['email', 'pdl', 'phone', 'iban']);

/** A table read from a data file: column names and their sampled values (strings). */
interface Table {
  columns: Map<string, string[]>;
}

/**
 * `personal-data`: data files tracked by git (CSV, TSV, JSON, NDJSON; and, with `history`, those
 * committed then removed) must not hold personal data in clear (GDPR Art. 5(1)(f) and 32): a
 * column whose values are e-mail addresses, PDL/PRM delivery points, phone numbers or IBANs, or a
 * file with both a column of person names and one of postal addresses, is a finding naming the
 * file, the column and the detector. Detectors are ingest's (src/records/personal-data.ts), so the
 * audit and the ingest guard agree. No value is ever printed. Fixtures with fake people are
 * allowed by `allow` globs (or the `[personal_data] allow` of watt-audit.toml).
 */
export default defineCheck<PersonalDataOptions>({
  type: 'personal-data',
  description: 'no personal data in clear in the data files of the repository or its history',
  optionsSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      include: { type: 'array', items: { type: 'string', minLength: 1 } },
      allow: { type: 'array', items: { type: 'string', minLength: 1 } },
      maxBytes: { type: 'integer', minimum: 1 },
      maxRows: { type: 'integer', minimum: 1 },
      history: { type: 'boolean' },
      maxHistoryFiles: { type: 'integer', minimum: 0 },
    },
  },
  async run(options, ctx) {
    const include = picomatch(options.include ?? DEFAULT_INCLUDE, { dot: true, nocase: true });
    const allowGlobs = [...(options.allow ?? []), ...(ctx.settings?.personalDataAllow ?? [])];
    const allowed = allowGlobs.length ? picomatch(allowGlobs, { dot: true }) : () => false;
    const maxBytes = options.maxBytes ?? 2 * 1024 * 1024;
    const maxRows = options.maxRows ?? 1000;
    const tracked = await ctx.trackedFiles();
    const files = (tracked ?? (await ctx.walkFiles())).filter((f) => include(f) && !allowed(f));
    const findings: CheckFinding[] = [];
    for (const file of files) {
      const text = await readHead(path.join(ctx.root, file), maxBytes);
      if (text === undefined) continue;
      findings.push(...judge(file, text, maxRows));
    }
    if (tracked && ctx.history && options.history !== false) {
      const removed = (await removedDataFiles(ctx, include)).filter((r) => !allowed(r.file));
      const limit = options.maxHistoryFiles ?? 200;
      if (removed.length > limit) {
        findings.push({ file: '.git', severity: 'info', message: `${removed.length} data files were removed in history; the ${limit} most recently removed were checked (maxHistoryFiles)` });
      }
      for (const { file, commit } of removed.slice(0, limit)) {
        const shown = await ctx.git(['show', `${commit}^:${file}`]);
        if (!shown || shown.code !== 0) continue;
        for (const f of judge(file, shown.stdout.slice(0, maxBytes), maxRows)) {
          findings.push({ ...f, commit, message: `${f.message}; removed by commit ${commit.slice(0, 12)} but still in the git history: rewrite the history (git filter-repo) and tell whoever cloned it` });
        }
      }
    }
    return findings;
  },
});

/** Findings for one data file's text. */
function judge(file: string, text: string, maxRows: number): CheckFinding[] {
  const table = readTable(file, text, maxRows);
  if (!table) return [];
  const out: CheckFinding[] = [];
  const names: string[] = [];
  const addresses: string[] = [];
  for (const [column, values] of table.columns) {
    const found = detectPersonalData(column, values);
    for (const f of found) {
      // Values in clear count; a column only named "email" whose values are hashed does not.
      if (DIRECT.has(f.detector) && (f.matched ?? 0) > 0) out.push(finding(file, column, f));
    }
    if (found.some((f) => f.detector === 'person-name')) names.push(column);
    if (found.some((f) => f.detector === 'postal-address')) addresses.push(column);
  }
  if (names.length > 0 && addresses.length > 0) {
    out.push({
      file,
      line: 1,
      message: `personal data in clear: person names (column "${names[0]}") with postal addresses (column "${addresses[0]}"): pseudonymise or remove the file, or allow it as a fixture`,
    });
  }
  return out;
}

function finding(file: string, column: string, f: PersonalDataFinding): CheckFinding {
  return {
    file,
    line: 1,
    message: `personal data in clear: column "${column}" holds ${f.label} (detector ${f.detector}: ${f.reason}): pseudonymise or remove it, or allow the file as a fixture`,
  };
}

/** Columns of a CSV/TSV (header + rows), a JSON array of objects (or an object holding one), or NDJSON. */
function readTable(file: string, text: string, maxRows: number): Table | undefined {
  const ext = path.extname(file).toLowerCase();
  const columns = new Map<string, string[]>();
  const add = (record: Record<string, unknown>) => {
    for (const [k, v] of Object.entries(record)) {
      if (v === null || v === undefined || typeof v === 'object') continue;
      let list = columns.get(k);
      if (!list) columns.set(k, (list = []));
      list.push(String(v));
    }
  };
  if (ext === '.csv' || ext === '.tsv') {
    const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/).slice(0, maxRows + 1);
    if (lines.length < 2) return undefined;
    const first = lines[0]!;
    const delimiter = ext === '.tsv' ? '\t' : [';', ',', '\t', '|'].reduce((best, d) => (first.split(d).length > first.split(best).length ? d : best), ',');
    const split = (line: string) => splitCsvLine(line, delimiter);
    const header = split(first).map((h) => h.trim());
    for (const line of lines.slice(1)) {
      if (line.trim() === '') continue;
      const cells = split(line);
      add(Object.fromEntries(header.map((h, i) => [h, cells[i] ?? ''])));
    }
    return { columns };
  }
  const records: unknown[] = [];
  if (ext === '.ndjson' || ext === '.jsonl') {
    for (const line of text.split('\n').slice(0, maxRows)) {
      try {
        if (line.trim()) records.push(JSON.parse(line));
      } catch {
        // a cut or malformed line: skipped
      }
    }
  } else {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return undefined;
    }
    const arr = Array.isArray(parsed) ? parsed : parsed && typeof parsed === 'object' ? Object.values(parsed).find(Array.isArray) : undefined;
    if (!arr) return undefined;
    records.push(...arr.slice(0, maxRows));
  }
  for (const r of records) if (r && typeof r === 'object' && !Array.isArray(r)) add(r as Record<string, unknown>);
  return columns.size > 0 ? { columns } : undefined;
}

/** One CSV line split on `delimiter`, honouring double quotes (a quoted field spanning lines is cut: enough for a sample). */
function splitCsvLine(line: string, delimiter: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"' && cur === '') quoted = true;
    else if (c === delimiter) {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

async function readHead(file: string, maxBytes: number): Promise<string | undefined> {
  try {
    const buf = await readFile(file);
    if (buf.subarray(0, 8192).includes(0)) return undefined;
    return buf.subarray(0, maxBytes).toString('utf8');
  } catch {
    return undefined;
  }
}

/** Data files added in history and no longer in the tree, with the commit that removed each. */
async function removedDataFiles(ctx: CheckContext, include: (f: string) => boolean): Promise<{ file: string; commit: string }[]> {
  const out = await ctx.git(['-c', 'core.quotePath=false', 'log', '--diff-filter=D', '--no-renames', '--relative', '--name-only', '--format=%x00%H', 'HEAD', '--', '.']);
  if (!out || out.code !== 0) return [];
  const tree = new Set((await ctx.trackedFiles()) ?? []);
  const seen = new Set<string>();
  const result: { file: string; commit: string }[] = [];
  let commit = '';
  for (const line of out.stdout.split('\n')) {
    if (line.startsWith('\0')) commit = line.slice(1);
    else if (line && include(line) && !tree.has(line) && !seen.has(line)) {
      seen.add(line);
      result.push({ file: line, commit });
    }
  }
  return result;
}
