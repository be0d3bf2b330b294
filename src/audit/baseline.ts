/**
 * Baselines of `watt audit-rgpd`, as gitleaks' `--baseline-path`: `--write-baseline FILE` records
 * the findings of a run; `--baseline FILE` then reports the findings it lists as notes (severity
 * `info`, `baselined: true`), so that only new findings fail CI. A finding matches an entry on rule
 * id, file and fingerprint (for a secret, a hash of rule and secret: the file never holds a secret),
 * not on line, so an entry survives edits around it.
 *
 * File shape (JSON): `{ "version": 1, "tool": "watt audit-rgpd", "findings": [{ "ruleId", "file", "fingerprint", "commit"? }] }`.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { UsageError } from '../errors.js';
import type { AuditReport, Finding } from './types.js';

export interface BaselineEntry {
  ruleId: string;
  file: string;
  fingerprint: string;
  /** For a secret found in history: the commit that added it (informative, not matched). */
  commit?: string;
}

export interface Baseline {
  version: 1;
  tool: 'watt audit-rgpd';
  findings: BaselineEntry[];
}

const key = (e: { ruleId: string; file: string; fingerprint: string }) => `${e.ruleId}\0${e.file}\0${e.fingerprint}`;

/**
 * Read a baseline file.
 * @throws UsageError (exit 2) when it is missing, not JSON or not a baseline.
 */
export async function readBaseline(file: string): Promise<Set<string>> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(`cannot read baseline ${file}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message.split('\n')[0]}`, {
      hint: 'write one with watt audit-rgpd --write-baseline FILE',
    });
  }
  const findings = (parsed as Partial<Baseline> | null)?.findings;
  if ((parsed as Partial<Baseline> | null)?.version !== 1 || !Array.isArray(findings)) {
    throw new UsageError(`invalid baseline ${file}: expected { "version": 1, "findings": [...] }`, { hint: 'write one with watt audit-rgpd --write-baseline FILE' });
  }
  const keys = new Set<string>();
  for (const [i, e] of findings.entries()) {
    if (!e || typeof e.ruleId !== 'string' || typeof e.file !== 'string' || typeof e.fingerprint !== 'string') {
      throw new UsageError(`invalid baseline ${file}: findings[${i}] needs string ruleId, file and fingerprint`);
    }
    keys.add(key(e));
  }
  return keys;
}

/** Turn the findings a baseline lists into notes (severity `info`, `baselined: true`). Returns how many. */
export function applyBaseline(findings: Finding[], known: ReadonlySet<string>): number {
  let n = 0;
  for (const f of findings) {
    if (known.has(key(f))) {
      f.severity = 'info';
      f.baselined = true;
      f.message = `known (baseline): ${f.message}`;
      n++;
    }
  }
  return n;
}

/** The baseline of a report: every finding (baselined ones included), sorted, without line numbers. */
export function baselineOf(report: AuditReport): Baseline {
  const seen = new Set<string>();
  const findings: BaselineEntry[] = [];
  for (const f of report.findings) {
    const k = key(f);
    if (seen.has(k)) continue;
    seen.add(k);
    findings.push({ ruleId: f.ruleId, file: f.file, fingerprint: f.fingerprint, ...(f.commit ? { commit: f.commit } : {}) });
  }
  return { version: 1, tool: 'watt audit-rgpd', findings };
}

/** Write the baseline of a report. @throws UsageError (exit 2) when the file cannot be written. */
export async function writeBaseline(file: string, report: AuditReport): Promise<number> {
  const baseline = baselineOf(report);
  await writeFile(file, `${JSON.stringify(baseline, null, 2)}\n`).catch((err: Error) => {
    throw new UsageError(`cannot write baseline ${file}: ${err.message.split('\n')[0]}`);
  });
  return baseline.findings.length;
}
