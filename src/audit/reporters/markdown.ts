import type { Reporter } from './types.js';

/**
 * `--format markdown`: a pull-request comment: a title with the verdict, a table of findings
 * (severity, rule, location, message, article) and, folded, what to do for each failing rule.
 */
const markdown: Reporter = (report) => {
  const s = report.summary;
  const out: string[] = [];
  const verdict = s.errors > 0 ? '❌' : s.warnings > 0 ? '⚠️' : '✅';
  out.push(`## ${verdict} watt audit-rgpd`);
  out.push('');
  out.push(
    `${s.errors} error${s.errors === 1 ? '' : 's'}, ${s.warnings} warning${s.warnings === 1 ? '' : 's'}, ${s.infos} info — ` +
      `${s.passed}/${s.rules - s.disabled} rules passed${s.skipped ? `, ${s.skipped} skipped` : ''}.`,
  );
  if (report.findings.length > 0) {
    out.push('');
    out.push('| Severity | Rule | Location | Finding | Article |');
    out.push('|---|---|---|---|---|');
    for (const f of report.findings) {
      const where = `\`${f.file}${f.line ? `:${f.line}` : ''}\``;
      out.push(`| ${icon(f.severity)} ${f.severity} | \`${f.ruleId}\` | ${cell(where)} | ${cell(f.message)} | ${cell(f.article)} |`);
    }
    out.push('');
    out.push('<details><summary>How to fix</summary>');
    out.push('');
    for (const r of report.rules.filter((r) => r.status === 'fail')) {
      const title = r.helpUri ? `[${r.title}](${r.helpUri})` : r.title;
      out.push(`- **\`${r.id}\`** ${title} (${r.article}): ${r.help}`);
    }
    out.push('');
    out.push('</details>');
  }
  const skipped = report.rules.filter((r) => r.status === 'skipped');
  if (skipped.length > 0) {
    out.push('');
    out.push(`Skipped (a rule they depend on failed): ${skipped.map((r) => `\`${r.id}\``).join(', ')}.`);
  }
  return out.join('\n') + '\n';
};
export default markdown;

function icon(severity: string): string {
  return severity === 'error' ? '🔴' : severity === 'warning' ? '🟠' : '🔵';
}

/** Escape a table cell: pipes, newlines and HTML-significant characters. */
function cell(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\r?\n/g, ' ');
}
