import type { RetentionCategory } from '../../config.js';
import type { CheckFinding } from '../types.js';

/**
 * What a check may read: the audited repository, through caches shared by all the rules of one
 * audit (each file is read once, `git ls-files` runs once).
 */
export interface CheckContext {
  /** Absolute path of the audited repository. */
  readonly root: string;
  /**
   * The configured retention categories (GDPR Art. 5(1)(e)) the policy document must state:
   * `watt-audit.toml` `[retention]`, else `WATT_RETENTION_POLICY`; undefined when none is configured.
   */
  readonly retention: readonly RetentionCategory[] | undefined;
  /** Settings of the repository's watt-audit.toml that checks read. */
  readonly settings?: { personalDataAllow?: readonly string[] };
  /** Scan every commit reachable from HEAD for secrets, not only the files of the tree (default true; `--no-history`). */
  readonly history: boolean;
  /** Repository-relative POSIX paths tracked by git, or `undefined` when `root` is not a git work tree. */
  trackedFiles(): Promise<readonly string[] | undefined>;
  /**
   * Git blob id of each tracked regular file (repository-relative POSIX path -> blob id) whose
   * working copy git does not report as modified (`git ls-files -s` at stage 0, minus what
   * `git diff-files` lists): files whose content is known without reading them, the key of the tree
   * caches. `undefined` when root is not a git work tree.
   */
  trackedBlobs(): Promise<ReadonlyMap<string, string> | undefined>;
  /** Every file under root (POSIX, relative), skipping `.git` and `node_modules`; for non-git folders. */
  walkFiles(): Promise<readonly string[]>;
  /** UTF-8 text of a repository-relative file, or `undefined` if it does not exist or is a folder. */
  readText(file: string): Promise<string | undefined>;
  /** Run git in root; resolves stdout, or `undefined` if git failed. */
  git(args: string[]): Promise<{ code: number; stdout: string } | undefined>;
}

/**
 * A check type: one file under src/audit/checks/, one line in checks/index.ts.
 * `optionsSchema` (JSON Schema, draft 2020-12 subset that ajv understands) validates the options a
 * rule gives (everything in `check` but `type`) when the rule set is loaded; `run` may then trust
 * them. `run` never throws for repository content (a missing or malformed file is a finding); it
 * may throw a UsageError for a problem in the rule itself.
 */
export interface CheckDefinition<Options = Record<string, unknown>> {
  type: string;
  description: string;
  optionsSchema: Record<string, unknown>;
  run(options: Options, ctx: CheckContext): Promise<CheckFinding[]>;
}

/** Define a check with typed options. */
export function defineCheck<Options>(def: CheckDefinition<Options>): CheckDefinition<Options> {
  return def;
}
