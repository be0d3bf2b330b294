import { stat } from 'node:fs/promises';
import path from 'node:path';
import picomatch from 'picomatch';
import { defineCheck } from './types.js';

/** Options of `file-exists`: each entry a repository-relative path or glob. */
export interface FileExistsOptions {
  paths: string[];
}

/**
 * `file-exists`: every path must exist as a file; a glob (`docs/*.md`) must match at least one
 * file (tracked by git, or on disk when the folder is not a git work tree). A finding per missing
 * path, located at the expected path.
 */
export default defineCheck<FileExistsOptions>({
  type: 'file-exists',
  description: 'a path or glob must exist',
  optionsSchema: {
    type: 'object',
    required: ['paths'],
    additionalProperties: false,
    properties: { paths: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } } },
  },
  async run(options, ctx) {
    const findings = [];
    for (const p of options.paths) {
      if (picomatch.scan(p).isGlob) {
        const files = (await ctx.trackedFiles()) ?? (await ctx.walkFiles());
        const isMatch = picomatch(p, { dot: true });
        if (!files.some((f) => isMatch(f))) findings.push({ file: p, message: `no file matches ${p}` });
      } else {
        const info = await stat(path.join(ctx.root, p)).catch(() => undefined);
        if (!info?.isFile()) findings.push({ file: p, message: `${p} is missing` });
      }
    }
    return findings;
  },
});
