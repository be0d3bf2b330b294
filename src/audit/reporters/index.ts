import type { Reporter } from './types.js';
import text from './text.js';
import json from './json.js';
import sarif from './sarif.js';
import junit from './junit.js';
import markdown from './markdown.js';

/** Report formats of `--format`, one file each in this folder. */
export const REPORTERS = { text, json, sarif, junit, markdown } satisfies Record<string, Reporter>;
export type ReportFormat = keyof typeof REPORTERS;
export const REPORT_FORMATS = Object.keys(REPORTERS) as ReportFormat[];
export type { Painter, Reporter, ReporterOptions } from './types.js';
