import type { Finding, Severity } from '../types.js';
import { PLAIN, type Painter, type Reporter } from './types.js';

/**
 * `--format text`: findings grouped by file, severity coloured, the article and the help line
 * under each finding, then a one-line summary.
 */
const text: Reporter = (report, options = {}) => {
  const p = options.paint ?? PLAIN;
  const out: string[] = [];
  const byFile = new Map<string, Finding[]>();
  for (const f of report.findings) byFile.set(f.file, [...(byFile.get(f.file) ?? []), f]);
  for (const [file, findings] of byFile) {
    out.push(p.bold(file));
    for (const f of findings) {
      const where = f.line ? `${f.line}:${f.column ?? 1}` : '-';
      out.push(`  ${p.dim(where.padEnd(7))} ${colour(p, f.severity)(f.severity.padEnd(7))} ${f.message}  ${p.dim(f.ruleId)}`);
      out.push(`  ${' '.repeat(7)} ${' '.repeat(7)} ${p.blue(f.article)}: ${f.help}`);
    }
    out.push('');
  }
  for (const r of report.rules.filter((x) => x.evidence?.length)) {
    for (const e of r.evidence!) out.push(p.dim(`${r.id} ${e.fact}: ${e.file}:${e.line} "${e.text}"`));
  }
  for (const r of report.rules.filter((x) => x.reason)) {
    out.push(p.dim(`${r.status === 'disabled' ? 'disabled' : `${r.severity}`} ${r.id} (watt-audit.toml): ${r.reason}`));
  }
  const skipped = report.rules.filter((r) => r.status === 'skipped');
  for (const r of skipped) out.push(p.dim(`skipped ${r.id}: depends on ${r.skippedBecause?.join(', ')}`));
  if (skipped.length > 0) out.push('');
  out.push(summaryLine(report.summary, byFile.size, p));
  return out.join('\n') + '\n';
};
export default text;

function colour(p: Painter, severity: Severity): (s: string) => string {
  return severity === 'error' ? p.red : severity === 'warning' ? p.yellow : p.blue;
}

/** "✖ 3 problems (2 errors, 1 warning, 0 info) in 2 files; 27/31 rules passed, 2 skipped" */
export function summaryLine(s: { errors: number; warnings: number; infos: number; rules: number; passed: number; skipped: number; disabled: number }, files: number, p: Painter = PLAIN): string {
  const problems = s.errors + s.warnings + s.infos;
  const rules = `${s.passed}/${s.rules - s.disabled} rules passed${s.skipped ? `, ${s.skipped} skipped` : ''}${s.disabled ? `, ${s.disabled} disabled` : ''}`;
  if (problems === 0) return p.green(`✔ no GDPR findings; ${rules}`);
  const counts = `${s.errors} error${s.errors === 1 ? '' : 's'}, ${s.warnings} warning${s.warnings === 1 ? '' : 's'}, ${s.infos} info`;
  const mark = s.errors > 0 ? p.red('✖') : p.yellow('⚠');
  return `${mark} ${problems} problem${problems === 1 ? '' : 's'} (${counts}) in ${files} file${files === 1 ? '' : 's'}; ${rules}`;
}
