import { runAudit } from '../../src/audit/engine.js';
import { loadRules } from '../../src/audit/rules.js';
import type { Rule, RuleExample } from '../../src/audit/types.js';
import { cleanup, materialise } from './helpers.js';

/**
 * Rules are data and carry their own examples (like gitleaks rules): every `pass` example passes
 * its rule, every `fail` example fails exactly that rule and no other.
 */
const rules: Rule[] = await loadRules();

afterAll(cleanup);

describe('default rule examples', () => {
  it('has a pass and a fail example for every rule', () => {
    const missing = rules.filter((r) => !r.examples?.pass.length || !r.examples?.fail.length).map((r) => r.id);
    expect(missing).toEqual([]);
  });

  it('judges content on documents of at least three shapes, not only watt\'s templates', () => {
    const content = rules.filter((r) => ['document-facts', 'retention-declared'].includes(r.check.type));
    expect(content.length).toBeGreaterThan(10);
    const thin = content
      .map((r) => ({ id: r.id, shapes: new Set(r.examples!.pass.map((e) => e.fixture)) }))
      .filter(({ shapes }) => shapes.size < 3 || ![...shapes].some((f) => f.startsWith('thirdparty-')))
      .map(({ id }) => id);
    expect(thin).toEqual([]);
  });

  it('passes every rule on the compliant fixture repository', async () => {
    const report = await runAudit({ dir: materialise({ fixture: 'compliant' }) });
    expect(report.findings).toEqual([]);
    expect(report.summary).toMatchObject({ rules: rules.length, passed: rules.length, failed: 0, skipped: 0 });
  });

  const cases: [string, 'pass' | 'fail', number, RuleExample][] = rules.flatMap((rule) => [
    ...(rule.examples?.pass ?? []).map((ex, i) => [rule.id, 'pass', i, ex] as [string, 'pass', number, RuleExample]),
    ...(rule.examples?.fail ?? []).map((ex, i) => [rule.id, 'fail', i, ex] as [string, 'fail', number, RuleExample]),
  ]);

  it.each(cases)('%s: %s example #%i', async (id, kind, _i, example) => {
    const report = await runAudit({ dir: materialise(example) });
    const status = report.rules.find((r) => r.id === id)!.status;
    const failing = report.rules.filter((r) => r.status === 'fail').map((r) => r.id);
    if (kind === 'pass') {
      expect({ id, status }).toEqual({ id, status: 'pass' });
    } else {
      expect({ failing, findings: report.findings.every((f) => f.ruleId === id && f.message.length > 0) }).toEqual({ failing: [id], findings: true });
    }
  });
});
