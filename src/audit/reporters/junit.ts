import type { RuleResult } from '../types.js';
import type { Reporter } from './types.js';

/**
 * `--format junit`: JUnit XML for CI test views: one `<testsuite>` per rule namespace (`rgpd`),
 * one `<testcase>` per rule, a `<failure>` listing the rule's findings, `<skipped>` for rules
 * skipped or disabled.
 */
const junit: Reporter = (report) => {
  const suites = new Map<string, RuleResult[]>();
  for (const r of report.rules) {
    const ns = r.id.split('/')[0]!;
    suites.set(ns, [...(suites.get(ns) ?? []), r]);
  }
  const seconds = (report.summary.durationMs / 1000).toFixed(3);
  const out: string[] = ['<?xml version="1.0" encoding="UTF-8"?>'];
  const notRun = (r: RuleResult) => r.status === 'skipped' || r.status === 'disabled';
  out.push(
    `<testsuites name="watt audit-rgpd" tests="${report.rules.length}" failures="${report.summary.failed}" errors="0" skipped="${report.rules.filter(notRun).length}" time="${seconds}">`,
  );
  for (const [ns, rules] of suites) {
    out.push(
      `  <testsuite name="${esc(ns)}" tests="${rules.length}" failures="${rules.filter((r) => r.status === 'fail').length}" errors="0" skipped="${rules.filter(notRun).length}">`,
    );
    for (const r of rules) {
      const open = `    <testcase classname="${esc(ns)}" name="${esc(`${r.id}: ${r.title}`)}"`;
      if (r.status === 'pass') {
        out.push(`${open}/>`);
        continue;
      }
      out.push(`${open}>`);
      if (r.status === 'fail') {
        const findings = report.findings.filter((f) => f.ruleId === r.id);
        const body = findings.map((f) => `${f.file}${f.line ? `:${f.line}` : ''}: ${f.severity}: ${f.message}`).join('\n');
        out.push(
          `      <failure type="${r.severity}" message="${esc(`${findings.length} finding${findings.length === 1 ? '' : 's'} (${r.article}): ${r.help}`)}">${esc(body, false)}</failure>`,
        );
      } else {
        const why = r.status === 'disabled' ? 'disabled by configuration' : `depends on failing ${r.skippedBecause?.join(', ')}`;
        out.push(`      <skipped message="${esc(why)}"/>`);
      }
      out.push('    </testcase>');
    }
    out.push('  </testsuite>');
  }
  out.push('</testsuites>');
  return out.join('\n') + '\n';
};
export default junit;

/** Escape XML text and attribute values; drop characters XML 1.0 forbids. */
function esc(text: string, attribute = true): string {
  const escaped = text
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
  return attribute ? escaped.replace(/\n/g, '&#10;') : escaped;
}
