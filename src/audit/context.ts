import { execFile } from 'node:child_process';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import type { RetentionCategory } from '../config.js';
import type { CheckContext } from './checks/types.js';

/** Folders never walked when the audited folder is not a git work tree. */
const WALK_SKIP = new Set(['.git', 'node_modules']);

/**
 * Build the context shared by the checks of one audit: memoised `git ls-files`, file reads and
 * folder walk, so that a file read by several rules is read once.
 */
export function createContext(root: string, retention: readonly RetentionCategory[] | undefined, history = true, settings: CheckContext['settings'] = {}): CheckContext {
  const texts = new Map<string, Promise<string | undefined>>();
  let tracked: Promise<readonly string[] | undefined> | undefined;
  let walked: Promise<readonly string[]> | undefined;
  let blobs: Promise<ReadonlyMap<string, string> | undefined> | undefined;

  const git = (args: string[]) =>
    new Promise<{ code: number; stdout: string } | undefined>((resolve) => {
      execFile('git', args, { cwd: root, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' }, (err, stdout) => {
        if (err && typeof (err as { code?: unknown }).code !== 'number') return resolve(undefined);
        resolve({ code: err ? Number((err as { code?: unknown }).code) : 0, stdout });
      });
    });

  const trackedFiles = () => {
    tracked ??= (async () => {
      const inside = await git(['rev-parse', '--is-inside-work-tree']);
      if (!inside || inside.code !== 0 || inside.stdout.trim() !== 'true') return undefined;
      // -z: raw paths (no quoting of non-ASCII names); relative to root even in a sub-folder.
      const out = await git(['ls-files', '-z', '--cached', '--', '.']);
      if (!out || out.code !== 0) return undefined;
      return out.stdout.split('\0').filter((f) => f !== '');
    })();
    return tracked;
  };

  return {
    root,
    retention,
    history,
    settings,
    git,
    trackedFiles,
    trackedBlobs() {
      blobs ??= (async () => {
        if ((await trackedFiles()) === undefined) return undefined;
        const [staged, modified] = await Promise.all([git(['ls-files', '-s', '-z', '--', '.']), git(['diff-files', '-z', '--name-only', '--relative', '--', '.'])]);
        if (!staged || staged.code !== 0 || !modified || modified.code !== 0) return undefined;
        const dirty = new Set(modified.stdout.split('\0'));
        const out = new Map<string, string>();
        for (const entry of staged.stdout.split('\0')) {
          // "<mode> <blob> <stage>\t<path>": regular files (not links, not submodules) at stage 0.
          const tab = entry.indexOf('\t');
          if (tab < 0 || !(entry.startsWith('100644 ') || entry.startsWith('100755 ')) || !entry.endsWith(' 0', tab)) continue;
          const blob = entry.slice(7, tab - 2);
          const file = entry.slice(tab + 1);
          if ((blob.length === 40 || blob.length === 64) && !dirty.has(file)) out.set(file, blob);
        }
        return out;
      })();
      return blobs;
    },
    walkFiles() {
      walked ??= walk(root);
      return walked;
    },
    readText(file: string) {
      const key = file.split(path.sep).join('/');
      let text = texts.get(key);
      if (!text) {
        text = readFile(path.join(root, key), 'utf8').then(
          (t) => t,
          () => undefined,
        );
        texts.set(key, text);
      }
      return text;
    },
  };
}

async function walk(root: string): Promise<string[]> {
  const out: string[] = [];
  const visit = async (rel: string): Promise<void> => {
    const entries = await readdir(path.join(root, rel), { withFileTypes: true }).catch(() => []);
    await Promise.all(
      entries.map(async (entry) => {
        const child = rel === '' ? entry.name : `${rel}/${entry.name}`;
        if (entry.isDirectory()) {
          if (!WALK_SKIP.has(entry.name)) await visit(child);
        } else if (entry.isFile()) out.push(child);
      }),
    );
  };
  await visit('');
  return out.sort();
}
