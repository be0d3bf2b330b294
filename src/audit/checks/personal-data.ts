import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import picomatch from 'picomatch';
import { detectPersonalData, type PersonalDataDetectorId, type PersonalDataFinding } from '../../records/personal-data.js';
import { cacheKey, readAuditCache, TreeCache, writeAuditCache } from '../cache.js';
import { readGitObjects } from '../git-objects.js';
import type { CheckFinding } from '../types.js';
import type { CheckContext } from './types.js';
import { defineCheck } from './types.js';

export interface PersonalDataOptions {
  /** Globs of the data files to check (default CSV, TSV, JSON, NDJSON/JSONL, XLSX). */
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
  /** Keep what was found per tracked file (by blob id) and per removed file under `.watt/` so the next run reads only what changed (default true). */
  cache?: boolean;
}

const DEFAULT_INCLUDE = ['**/*.csv', '**/*.tsv', '**/*.json', '**/*.ndjson', '**/*.jsonl', '**/*.xlsx'];
/** Detectors whose values alone make a column personal data in clear (the "e-mails, PDLs, phone numbers, IBANs"). */
const DIRECT: ReadonlySet<PersonalDataDetectorId> = new Set(['email', 'pdl', 'phone', 'iban']);

/** A table read from a data file: column names and their sampled values (strings). */
interface Table {
  columns: Map<string, string[]>;
}

/**
 * `personal-data`: data files tracked by git (CSV, TSV, JSON, NDJSON, and XLSX workbooks sheet by
 * sheet; with `history`, those committed then removed too) must not hold personal data in clear (GDPR Art. 5(1)(f) and 32): a
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
      cache: { type: 'boolean' },
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
    const useCache = options.cache !== false;
    const key = cacheKey('personal-data', options.include ?? DEFAULT_INCLUDE, maxBytes, maxRows, xlsxReaderVersion());
    // A tracked data file whose path and blob id are in the tree cache is not read again.
    const blobs = await ctx.trackedBlobs();
    const cache = blobs && useCache ? await TreeCache.open(ctx.root, 'personal-data', key, tracked) : undefined;
    const findings: CheckFinding[] = [];
    for (const file of files) {
      const blob = blobs?.get(file);
      let found = cache?.get(file, blob);
      if (!found) {
        const content = await readBytes(path.join(ctx.root, file));
        found = content === undefined ? [] : await judge(file, content, maxRows, maxBytes);
        cache?.set(file, blob, found);
      }
      findings.push(...found);
    }
    await cache?.save();
    if (tracked && ctx.history && options.history !== false) {
      findings.push(...(await removedFindings(ctx, include, allowed, key, useCache, options.maxHistoryFiles ?? 200, maxBytes, maxRows)));
    }
    return findings;
  },
});

let readerVersion: string | undefined;
/** The installed read-excel-file's version (part of the cache key: another reader may read a workbook otherwise). */
function xlsxReaderVersion(): string {
  try {
    readerVersion ??= (createRequire(import.meta.url)('read-excel-file/package.json') as { version: string }).version;
  } catch {
    readerVersion = 'none';
  }
  return readerVersion;
}

/** Body of `.watt/audit-removed-data.json`. */
interface RemovedCache {
  /** HEAD of the run that wrote it: its history's deletions are all in `removed`. */
  tip: string;
  /** `[file, commit that removed it]` of every data file removed in tip's history, most recent first, each file once. */
  removed: [string, string][];
  /** Findings in the last version of a removed file, by `<commit>\0<file>` (the content before an immutable commit). */
  judged: Record<string, CheckFinding[]>;
}
const REMOVED_CACHE = 'audit-removed-data.json';

/**
 * Findings in the last version of the data files that were committed then removed (the
 * `maxHistoryFiles` most recently removed), with a note when more were removed. Deletions are read
 * with `git log --diff-filter=D`, only over the commits since the cached tip when the cache's tip
 * is an ancestor of HEAD; contents with one `git cat-file --batch`.
 */
async function removedFindings(
  ctx: CheckContext,
  include: (f: string) => boolean,
  allowed: (f: string) => boolean,
  key: string,
  useCache: boolean,
  limit: number,
  maxBytes: number,
  maxRows: number,
): Promise<CheckFinding[]> {
  const head = (await ctx.git(['rev-parse', '--verify', '-q', 'HEAD^{commit}']))?.stdout.trim();
  if (!head) return [];
  const tracked = await ctx.trackedFiles();
  let cached = useCache ? validRemovedCache(await readAuditCache(ctx.root, REMOVED_CACHE, key, tracked)) : undefined;
  if (cached && cached.tip !== head && (await ctx.git(['merge-base', '--is-ancestor', cached.tip, head]))?.code !== 0) cached = undefined;
  const since = cached?.tip === head ? [] : await deletions(ctx, include, cached ? [head, '--not', cached.tip] : [head]);
  if (since === undefined) return [];
  const seen = new Set<string>();
  const removed: [string, string][] = [];
  for (const entry of [...since, ...(cached?.removed ?? [])]) {
    if (seen.has(entry[0])) continue;
    seen.add(entry[0]);
    removed.push(entry);
  }
  const tree = new Set(tracked ?? []);
  const candidates = removed.filter(([file]) => !tree.has(file) && !allowed(file));
  const findings: CheckFinding[] = [];
  if (candidates.length > limit) {
    findings.push({ file: '.git', severity: 'info', message: `${candidates.length} data files were removed in history; the ${limit} most recently removed were checked (maxHistoryFiles)` });
  }
  const checked = candidates.slice(0, limit);
  const judged: Record<string, CheckFinding[]> = {};
  const missing = checked.filter(([file, commit]) => {
    const hit = cached?.judged[`${commit}\0${file}`];
    if (hit) judged[`${commit}\0${file}`] = hit;
    return !hit;
  });
  const prefix = (await ctx.git(['rev-parse', '--show-prefix']))?.stdout.trim() ?? '';
  const spec = (file: string, commit: string) => `${commit}^:${prefix}${file}`;
  const contents = await readGitObjects(ctx.root, missing.map(([file, commit]) => spec(file, commit)), Math.max(maxBytes, MAX_XLSX_BYTES + 1));
  for (const [file, commit] of missing) {
    const content = contents.get(spec(file, commit));
    if (content === undefined) continue; // not cached: asked again next run
    judged[`${commit}\0${file}`] = await judge(file, content, maxRows, maxBytes);
  }
  for (const [file, commit] of checked) {
    for (const f of judged[`${commit}\0${file}`] ?? []) {
      findings.push({ ...f, commit, message: `${f.message}; removed by commit ${commit.slice(0, 12)} but still in the git history: rewrite the history (git filter-repo) and tell whoever cloned it` });
    }
  }
  if (useCache) await writeAuditCache(ctx.root, REMOVED_CACHE, key, { tip: head, removed, judged } satisfies RemovedCache);
  return findings;
}

function validRemovedCache(body: unknown): RemovedCache | undefined {
  const b = body as Partial<RemovedCache> | undefined;
  if (!b || typeof b.tip !== 'string' || !/^[0-9a-f]{40,64}$/.test(b.tip) || !Array.isArray(b.removed) || !b.judged || typeof b.judged !== 'object') return undefined;
  if (!b.removed.every((e) => Array.isArray(e) && e.length === 2 && typeof e[0] === 'string' && typeof e[1] === 'string' && /^[0-9a-f]{40,64}$/.test(e[1]))) return undefined;
  for (const list of Object.values(b.judged)) {
    if (!Array.isArray(list) || !list.every((f) => f && typeof f === 'object' && typeof f.file === 'string' && typeof f.message === 'string')) return undefined;
  }
  return b as RemovedCache;
}

/** Workbooks larger than this are not read (bytes; a workbook is compressed, `maxBytes` is for text). */
const MAX_XLSX_BYTES = 20 * 1024 * 1024;

/**
 * Findings for one data file's bytes: text files (CSV, TSV, JSON, NDJSON) cut to `maxBytes`, a
 * binary one skipped; an `.xlsx` workbook read sheet by sheet (read-excel-file, loaded only then),
 * each sheet's first non-empty row as its header. A workbook that cannot be read is a note.
 */
async function judge(file: string, content: Buffer, maxRows: number, maxBytes: number): Promise<CheckFinding[]> {
  if (path.extname(file).toLowerCase() === '.xlsx') {
    if (content.length > MAX_XLSX_BYTES) return [{ file, severity: 'info', message: `workbook over ${MAX_XLSX_BYTES / 1024 / 1024} MiB not read for personal data` }];
    let sheets: { sheet: string; table: Table }[];
    try {
      sheets = await readWorkbook(content, maxRows);
    } catch (err) {
      return [{ file, severity: 'info', message: `workbook not read for personal data: ${(err as Error).message.split('\n')[0]}` }];
    }
    return sheets.flatMap(({ sheet, table }) => judgeTable(file, table, `sheet "${sheet}", `));
  }
  if (content.subarray(0, 8192).includes(0)) return [];
  const table = readTable(file, content.subarray(0, maxBytes).toString('utf8'), maxRows);
  return table ? judgeTable(file, table, '') : [];
}

/** Each sheet of a workbook as a table: the first non-empty row names the columns, then up to `maxRows` rows. */
async function readWorkbook(content: Buffer, maxRows: number): Promise<{ sheet: string; table: Table }[]> {
  const { default: readXlsxFile } = await import('read-excel-file/node');
  const out: { sheet: string; table: Table }[] = [];
  for (const { sheet, data } of await readXlsxFile(content)) {
    const rows = data.filter((r) => r.some((c) => c !== null && c !== undefined && String(c).trim() !== ''));
    if (rows.length < 2) continue;
    const header = rows[0]!.map((h, i) => (h === null || h === undefined || String(h).trim() === '' ? `column ${i + 1}` : String(h).trim()));
    const columns = new Map<string, string[]>();
    for (const row of rows.slice(1, maxRows + 1)) {
      header.forEach((h, i) => {
        const v = row[i];
        if (v === null || v === undefined) return;
        let list = columns.get(h);
        if (!list) columns.set(h, (list = []));
        list.push(v instanceof Date ? v.toISOString() : String(v));
      });
    }
    out.push({ sheet, table: { columns } });
  }
  return out;
}

/** Findings for one table (`where`: "" or `sheet "X", ` for a workbook). */
function judgeTable(file: string, table: Table, where: string): CheckFinding[] {
  const out: CheckFinding[] = [];
  const names: string[] = [];
  const addresses: string[] = [];
  for (const [column, values] of table.columns) {
    const found = detectPersonalData(column, values);
    for (const f of found) {
      // Values in clear count; a column only named "email" whose values are hashed does not.
      if (DIRECT.has(f.detector) && (f.matched ?? 0) > 0) out.push(finding(file, `${where}column "${column}"`, f));
    }
    if (found.some((f) => f.detector === 'person-name')) names.push(column);
    if (found.some((f) => f.detector === 'postal-address')) addresses.push(column);
  }
  if (names.length > 0 && addresses.length > 0) {
    out.push({
      file,
      line: 1,
      message: `personal data in clear: ${where}person names (column "${names[0]}") with postal addresses (column "${addresses[0]}"): pseudonymise or remove the file, or allow it as a fixture`,
    });
  }
  return out;
}

/** `column`: `column "email"`, or `sheet "Clients", column "email"`. */
function finding(file: string, column: string, f: PersonalDataFinding): CheckFinding {
  return {
    file,
    line: 1,
    message: `personal data in clear: ${column} holds ${f.label} (detector ${f.detector}: ${f.reason}): pseudonymise or remove it, or allow the file as a fixture`,
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

async function readBytes(file: string): Promise<Buffer | undefined> {
  try {
    return await readFile(file);
  } catch {
    return undefined;
  }
}

/** `[file, commit]` of the data files removed by the commits `range` selects, most recent first (undefined when git fails). */
async function deletions(ctx: CheckContext, include: (f: string) => boolean, range: string[]): Promise<[string, string][] | undefined> {
  const out = await ctx.git(['-c', 'core.quotePath=false', 'log', '--diff-filter=D', '--no-renames', '--relative', '--name-only', '--format=%x00%H', ...range, '--', '.']);
  if (!out || out.code !== 0) return undefined;
  const result: [string, string][] = [];
  let commit = '';
  for (const line of out.stdout.split('\n')) {
    if (line.startsWith('\0')) commit = line.slice(1);
    else if (line && include(line)) result.push([line, commit]);
  }
  return result;
}
