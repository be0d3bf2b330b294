#!/usr/bin/env node
// The start-up bundle (dist/bundle/, scripts/build.mjs) when the build made one and dist/ has not
// been compiled again since; else the compiled modules.
import { statSync } from 'node:fs';

const mtime = (p) => statSync(new URL(p, import.meta.url), { throwIfNoEntry: false })?.mtimeMs;
const bundled = mtime('../dist/bundle/cli.js');
await import(bundled !== undefined && bundled >= (mtime('../dist/cli.js') ?? 0) ? '../dist/bundle/cli.js' : '../dist/cli.js');
