/**
 * Scan the git history for secrets: `git log -p -U0` over the commits to scan, keeping only added
 * lines (a secret enters history when a line adding it is committed; removing it later does not
 * un-leak it). The added lines of one file in one commit are scanned together, so multi-line
 * secrets (PEM keys) are found. Merge commits are read as git's dense combined diff
 * (`--diff-merges=dense-combined`, `git log --cc`): only the lines of the merge result that are in
 * none of its parents (prefix `++`), i.e. what was written while resolving a conflict; every line
 * a parent brought was added by a commit of that parent's history, scanned on its own. On babel's
 * history, first-parent diffs of the 1,396 merges were 93 MB of output (3.3 s of git CPU), their
 * combined diffs 6 MB (0.8 s). The commits are split into contiguous ranges read by parallel git
 * processes.
 */
import { execFile, spawn } from 'node:child_process';

/** The added lines of one file in one commit. */
export interface AddedChunk {
  commit: string;
  file: string;
  /** The added lines joined with "\n". */
  text: string;
  /** `lines[i]` is the line number, in the file at that commit, of the i-th added line. */
  lines: number[];
}

/**
 * The commits reachable from HEAD and not from `scanned` (tips of an earlier scan), oldest first;
 * undefined when `root` has no commit or is not a git repository. Tips that no longer exist (a
 * rewritten history) are ignored: their commits are scanned again.
 */
export async function commitsToScan(root: string, scanned: readonly string[] = []): Promise<string[] | undefined> {
  const run = (args: string[]) =>
    new Promise<string | undefined>((resolve) => {
      execFile('git', args, { cwd: root, maxBuffer: 256 * 1024 * 1024, encoding: 'utf8' }, (err, stdout) => resolve(err ? undefined : stdout));
    });
  const known = await existingCommits(root, scanned);
  const out = await run(['rev-list', '--reverse', 'HEAD', ...(known.length ? ['--not', ...known] : [])]);
  if (out === undefined) return undefined;
  return out.split('\n').filter((l) => l !== '');
}

/** Which of `shas` are commits of the repository (one `git cat-file --batch-check`). */
function existingCommits(root: string, shas: readonly string[]): Promise<string[]> {
  const asked = shas.filter((s) => /^[0-9a-f]{40}(?:[0-9a-f]{24})?$/.test(s));
  if (asked.length === 0) return Promise.resolve([]);
  return new Promise((resolve) => {
    const child = execFile('git', ['cat-file', '--batch-check=%(objectname) %(objecttype)'], { cwd: root, encoding: 'utf8' }, (err, stdout) => {
      if (err) return resolve([]);
      const commits = new Set(stdout.split('\n').filter((l) => l.endsWith(' commit')).map((l) => l.split(' ')[0]));
      resolve(asked.filter((s) => commits.has(s)));
    });
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(`${asked.join('\n')}\n`);
  });
}

/**
 * Stream the added lines of `commits` (in that order) to `onChunk`, read by up to `parallel` git
 * processes, each over a contiguous range of the list (chunks of different ranges interleave; each
 * carries its commit). `excludeGlobs` (e.g. `**\/package-lock.json`) are passed to git as exclude
 * pathspecs. Resolves false when a git process fails.
 */
export async function forEachAddedChunk(
  root: string,
  excludeGlobs: readonly string[],
  onChunk: (chunk: AddedChunk) => void,
  commits: readonly string[],
  parallel = 1,
): Promise<boolean> {
  if (commits.length === 0) return true;
  const n = Math.max(1, Math.min(parallel, Math.ceil(commits.length / 200)));
  const size = Math.ceil(commits.length / n);
  const ranges = Array.from({ length: n }, (_, i) => commits.slice(i * size, (i + 1) * size)).filter((r) => r.length > 0);
  const results = await Promise.all(ranges.map((range) => readRange(root, excludeGlobs, onChunk, range)));
  return results.every(Boolean);
}

async function readRange(root: string, excludeGlobs: readonly string[], onChunk: (chunk: AddedChunk) => void, commits: readonly string[]): Promise<boolean> {
  const args = [
    '-c',
    'core.quotePath=false',
    'log',
    '--no-walk=unsorted',
    '--stdin',
    '--diff-merges=dense-combined',
    '-p',
    '-U0',
    '--no-color',
    '--no-ext-diff',
    '--no-textconv',
    '--no-renames',
    '--relative', // paths relative to the audited folder, like the tree's
    '--format=%x00%H',
    '--',
    '.',
    ...excludeGlobs.map((g) => `:(exclude,glob)${g}`),
  ];
  const child = spawn('git', args, { cwd: root, stdio: ['pipe', 'pipe', 'ignore'] });
  child.stdin.on('error', () => undefined);
  child.stdin.end(`${commits.join('\n')}\n`);
  const exited = new Promise<number>((resolve) => {
    child.on('error', () => resolve(-1));
    child.on('close', (code) => resolve(code ?? -1));
  });
  let commit = '';
  let file: string | undefined;
  let newLine = 0;
  let text: string[] = [];
  let lines: number[] = [];
  const flush = () => {
    if (file && text.length > 0) onChunk({ commit, file, text: text.join('\n'), lines });
    text = [];
    lines = [];
  };
  // The stream is read as bytes: only added lines are decoded, a run of consecutive ones at once
  // ("+a\n+b" -> "a\nb"); removed lines, context and headers other than the few read are never
  // decoded (on babel's history, 40 % of the 700 MB git writes are removed lines).
  let runStart = -1;
  let runEnd = -1;
  let runLines = 0;
  // Prefix columns of a diff line: 1 in a patch, one per parent in a merge's combined diff.
  let cols = 1;
  const endRun = (buf: Buffer) => {
    if (runStart < 0) return;
    const piece = buf.toString('utf8', runStart + cols, runEnd);
    text.push(runLines > 1 ? piece.replaceAll(`\n${'+'.repeat(cols)}`, '\n') : piece);
    for (let i = 0; i < runLines; i++) lines.push(newLine++);
    runStart = -1;
    runLines = 0;
  };
  const onBuffer = (buf: Buffer) => {
    let from = 0;
    for (let nl = buf.indexOf(10, from); nl >= 0; nl = buf.indexOf(10, from)) {
      const c = buf[from];
      if (file !== undefined && (c === 43 /* + */ || c === 45 /* - */ || c === 32)) {
        // A line of a hunk: added when every column is "+" (added against every parent), in the
        // new file when no column is "-".
        let plus = 0;
        let minus = false;
        for (let i = 0; i < cols; i++) {
          const p = buf[from + i];
          if (p === 43) plus++;
          else if (p === 45) minus = true;
        }
        if (plus === cols) {
          if (runStart < 0) runStart = from;
          runEnd = nl;
          runLines++;
        } else {
          endRun(buf);
          if (!minus) newLine++;
        }
      } else {
        endRun(buf);
        if (c === 43) {
          if (buf[from + 1] === 43 && buf[from + 2] === 43 && buf[from + 3] === 32) file = unquote(buf.toString('utf8', from + 4, nl).replace(/\r$/, ''));
        } else if (c === 64 /* @ */ && buf[from + 1] === 64) {
          // "@@ -a,b +c,d @@", or "@@@ -a,b -c,d +e,f @@@" for a merge of two parents.
          const m = /^(@{2,}) (?:-\d+(?:,\d+)? )+\+(\d+)/.exec(buf.toString('latin1', from, Math.min(nl, from + 512)));
          cols = m ? m[1]!.length - 1 : 1;
          newLine = m ? Number(m[2]) : 0;
        } else if (c === 0) {
          flush();
          file = undefined;
          commit = buf.toString('latin1', from + 1, nl).trim();
        } else if (c === 100 /* d */ && buf.toString('latin1', from, Math.min(nl, from + 5)) === 'diff ') {
          // "diff --git a/x b/x", or "diff --cc x" for a merge.
          flush();
          file = undefined;
          cols = 1;
        }
      }
      from = nl + 1;
    }
    endRun(buf);
    return from;
  };
  // Lines split by hand on bytes; a partial line waits for the next data (kept aside, not
  // re-joined at each chunk, so a very long line costs one copy).
  const pending: Buffer[] = [];
  child.stdout.on('data', (data: Buffer) => {
    if (data.indexOf(10) < 0) {
      pending.push(data);
      return;
    }
    const buf = pending.length > 0 ? Buffer.concat([...pending.splice(0), data]) : data;
    const used = onBuffer(buf);
    if (used < buf.length) pending.push(Buffer.from(buf.subarray(used)));
  });
  const code = await exited;
  if (pending.length > 0) onBuffer(Buffer.concat([...pending, Buffer.from('\n')]));
  flush();
  return code === 0;
}

/** `b/path` -> `path`; `/dev/null` (a deleted file) -> '' (nothing added); C-quoted names unquoted. */
function unquote(raw: string): string {
  if (raw === '/dev/null') return '';
  let s = raw;
  if (s.startsWith('"') && s.endsWith('"')) s = JSON.parse(s.replace(/\\([0-7]{3})/g, (_m, o: string) => `\\u00${parseInt(o, 8).toString(16).padStart(2, '0')}`)) as string;
  return s.startsWith('b/') ? s.slice(2) : s;
}
