/**
 * Scan the git history for secrets in one streaming pass: `git log --reverse -p -U0` over every
 * commit reachable from HEAD, keeping only added lines (a secret enters history when a line adding
 * it is committed; removing it later does not un-leak it). The added lines of one file in one
 * commit are scanned together, so multi-line secrets (PEM keys) are found.
 */
import { spawn } from 'node:child_process';

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
 * Stream the added lines of every commit reachable from HEAD, oldest first, to `onChunk`.
 * `excludeGlobs` (e.g. `**\/package-lock.json`) are passed to git as exclude pathspecs.
 * Resolves false when `root` has no commit (or is not a git repository).
 */
export async function forEachAddedChunk(root: string, excludeGlobs: readonly string[], onChunk: (chunk: AddedChunk) => void): Promise<boolean> {
  const args = [
    '-c',
    'core.quotePath=false',
    'log',
    '--reverse',
    '-p',
    '-U0',
    '--no-color',
    '--no-ext-diff',
    '--no-textconv',
    '--no-renames',
    '--relative', // paths relative to the audited folder, like the tree's
    '--format=%x00%H',
    'HEAD',
    '--',
    '.',
    ...excludeGlobs.map((g) => `:(exclude,glob)${g}`),
  ];
  const child = spawn('git', args, { cwd: root, stdio: ['ignore', 'pipe', 'ignore'] });
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
