/**
 * Scan the git history for secrets: `git log -p -U0` over the commits to scan, keeping only added
 * lines (a secret enters history when a line adding it is committed; removing it later does not
 * un-leak it). The added lines of one file in one commit are scanned together, so multi-line
 * secrets (PEM keys) are found. Merge commits are diffed against their first parent
 * (`--diff-merges=first-parent`): a token added while resolving a conflict is seen (what the merged
 * branch brought is seen again there, and reported once, at its own older commit). `remerge`
 * would show only the resolution, but costs 3 times the CPU of the whole log on babel's history. The commits are split into contiguous ranges read by parallel git processes.
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
  const known: string[] = [];
  for (const tip of scanned) if ((await run(['cat-file', '-e', `${tip}^{commit}`])) !== undefined) known.push(tip);
  const out = await run(['rev-list', '--reverse', 'HEAD', ...(known.length ? ['--not', ...known] : [])]);
  if (out === undefined) return undefined;
  return out.split('\n').filter((l) => l !== '');
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
    '--diff-merges=first-parent',
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
  const onLine = (line: string) => {
    const c = line.charCodeAt(0);
    if (c === 43 /* + */) {
      if (file === undefined) {
        if (line.startsWith('+++ ')) file = unquote(line.slice(4));
        return;
      }
      text.push(line.slice(1));
      lines.push(newLine++);
    } else if (c === 64 /* @ */ && line.startsWith('@@')) {
      const m = /^@@ -\d+(?:,\d+)? \+(\d+)/.exec(line);
      newLine = m ? Number(m[1]) : 0;
    } else if (c === 0) {
      flush();
      file = undefined;
      commit = line.slice(1);
    } else if (c === 100 /* d */ && line.startsWith('diff --git ')) {
      flush();
      file = undefined;
    }
  };
  // Split the stream into lines by hand: several times faster than readline's async iterator.
  child.stdout.setEncoding('utf8');
  let rest = '';
  child.stdout.on('data', (data: string) => {
    const buf = rest + data;
    let from = 0;
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n', from)) {
      onLine(buf.charCodeAt(nl - 1) === 13 ? buf.slice(from, nl - 1) : buf.slice(from, nl));
      from = nl + 1;
    }
    rest = buf.slice(from);
  });
  const code = await exited;
  if (rest !== '') onLine(rest);
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
