import picomatch from 'picomatch';
import type { CheckFinding } from '../types.js';
import { defineCheck } from './types.js';

export interface NotTrackedOptions {
  /** Globs (matched against repository-relative paths, dot files included) that must not be tracked. */
  patterns: string[];
  /** Globs excepted from `patterns`, e.g. `**\/.env.example`. */
  except?: string[];
  /** Paths `.gitignore` must ignore (checked with `git check-ignore --no-index`), e.g. `.env`. */
  mustIgnore?: string[];
}

/**
 * `not-tracked`: no file tracked by git matches `patterns` (minus `except`), and the repository's
 * ignore rules cover each `mustIgnore` probe path. A tracked file is a finding at that file; an
 * uncovered probe is a finding at `.gitignore`. Needs a git work tree (otherwise one finding).
 */
export default defineCheck<NotTrackedOptions>({
  type: 'not-tracked',
  description: 'files matching patterns are not tracked by git and are ignored',
  optionsSchema: {
    type: 'object',
    required: ['patterns'],
    additionalProperties: false,
    properties: {
      patterns: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
      except: { type: 'array', items: { type: 'string', minLength: 1 } },
      mustIgnore: { type: 'array', items: { type: 'string', minLength: 1 } },
    },
  },
  async run(options, ctx) {
    const tracked = await ctx.trackedFiles();
    if (tracked === undefined) {
      return [{ file: '.git', message: 'not a git work tree: cannot tell which files are tracked (run the audit in a git checkout)' }];
    }
    const findings: CheckFinding[] = [];
    const isMatch = picomatch(options.patterns, { dot: true });
    const isExcepted = options.except?.length ? picomatch(options.except, { dot: true }) : () => false;
    for (const file of tracked) {
      if (isMatch(file) && !isExcepted(file)) {
        findings.push({ file, message: `${file} is tracked by git: untrack it (git rm --cached) and rotate any secret it held` });
      }
    }
    const probes = options.mustIgnore ?? [];
    if (probes.length > 0) {
      const out = await ctx.git(['check-ignore', '--no-index', '--verbose', '--non-matching', '--', ...probes]);
      const ignored = new Set<string>();
      for (const line of out?.stdout.split('\n') ?? []) {
        const tab = line.lastIndexOf('\t');
        if (tab < 0) continue;
        const pattern = line.slice(0, tab).split(':').slice(2).join(':');
        if (pattern !== '' && !pattern.startsWith('!')) ignored.add(line.slice(tab + 1));
      }
      for (const probe of probes) {
        if (!ignored.has(probe)) findings.push({ file: '.gitignore', message: `.gitignore does not ignore ${probe}: add a pattern that covers it` });
      }
    }
    return findings;
  },
});
