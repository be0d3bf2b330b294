/**
 * Git repositories and token-like values made by the audit tests (`watt audit-rgpd` reads tracked
 * files and history): a repository in the OS temp folder with a committer of its own, and a
 * `commit` that writes (or `git rm`s, for `null`) files and returns the new commit's id.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface TestRepo {
  dir: string;
  /** Run git in the repository; stdout, trimmed. */
  git: (...args: string[]) => string;
  /** Write (content) or remove (null) files, commit them, and return the commit id. */
  commit: (msg: string, files: Record<string, string | null>) => string;
}

/** A fresh repository under the OS temp folder (its path is pushed to `made`, for the caller to remove). */
export function makeRepo(made: string[], prefix = 'watt-repo-'): TestRepo {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(dir);
  const git = (...args: string[]) => execFileSync('git', args, { cwd: dir, encoding: 'utf8' }).trim();
  git('-c', 'init.defaultBranch=main', 'init', '-q');
  git('config', 'user.email', 'dev@example.invalid');
  git('config', 'user.name', 'dev');
  git('config', 'commit.gpgsign', 'false');
  const commit = (msg: string, files: Record<string, string | null>) => {
    for (const [f, content] of Object.entries(files)) {
      if (content === null) git('rm', '-q', f);
      else {
        writeFileSync(path.join(dir, f), content);
        git('add', f);
      }
    }
    git('commit', '-q', '-m', msg);
    return git('rev-parse', 'HEAD');
  };
  return { dir, git, commit };
}

let tokenSeq = 0;
/**
 * `n` token-like characters (A-Z a-z 0-9), the same on every run: a random value containing one of
 * gitleaks' stopwords (`html`, `md5`, `flex`...: about 2 % of random 24-character values) is skipped
 * by the generic rule, as in gitleaks, and would make a test flaky.
 */
export function alnum(n: number): string {
  let out = '';
  while (out.length < n) out += createHash('sha256').update(`watt-test-token-${tokenSeq++}`).digest('base64').replace(/[^A-Za-z0-9]/g, '');
  return out.slice(0, n);
}
