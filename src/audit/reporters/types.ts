import type { AuditReport } from '../types.js';

/** Colour functions for the text reporter (identity when colour is off). Core code never imports chalk. */
export interface Painter {
  red(text: string): string;
  yellow(text: string): string;
  blue(text: string): string;
  green(text: string): string;
  dim(text: string): string;
  bold(text: string): string;
}

export const PLAIN: Painter = { red: id, yellow: id, blue: id, green: id, dim: id, bold: id };
function id(text: string): string {
  return text;
}

export interface ReporterOptions {
  /** Colours for `text`; default none. */
  paint?: Painter;
  /** Absolute path of the audited repository (SARIF `originalUriBaseIds`). */
  root?: string;
}

/** A reporter renders a report as one string (ending with a newline). */
export type Reporter = (report: AuditReport, options?: ReporterOptions) => string;
