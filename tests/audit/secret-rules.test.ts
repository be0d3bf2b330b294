import { compileRules, defaultSecretRules, scanText, shannonEntropy } from '../../src/audit/secrets/scanner.js';

/**
 * Secret rules are data (src/audit/rules/secrets.json) and carry their own true and false
 * examples, as gitleaks rules do: every true example is found by its rule, no false example is
 * reported by any rule.
 */
const { set, compiled } = defaultSecretRules();

describe('secret rule examples', () => {
  it('every rule has true and false examples', () => {
    expect(set.rules.filter((r) => !r.examples?.true.length || !r.examples?.false.length).map((r) => r.id)).toEqual([]);
  });

  const positives = set.rules.flatMap((r) => r.examples!.true.map((ex, i) => [r.id, i, ex] as const));
  it.each(positives)('%s finds true example #%i', (id, _i, example) => {
    const found = scanText(example, compiled.rules, compiled.allow).map((m) => m.ruleId);
    expect(found).toContain(id);
  });

  const negatives = set.rules.flatMap((r) => r.examples!.false.map((ex, i) => [r.id, i, ex] as const));
  it.each(negatives)('%s: false example #%i is reported by no rule', (_id, _i, example) => {
    expect(scanText(example, compiled.rules, compiled.allow).map((m) => `${m.ruleId}: ${m.secret.length} chars`)).toEqual([]);
  });

  it('finds a Docker Hub token in a file named `secrets` with no extension, at its line and column', () => {
    const token = ['dckr', 'pat', 'Zq8vN2xW4rT6yU1iO3pA5sD7fG9'].join('_');
    const text = `# deploy\nDOCKERHUB_USER=watt\nDOCKERHUB_TOKEN=${token}\n`;
    const found = scanText(text, compiled.rules, compiled.allow, { file: 'secrets' });
    expect(found.map((f) => [f.ruleId, f.line, f.column])).toEqual([['dockerhub-pat', 3, 17]]);
  });

  it('skips a line marked gitleaks:allow', () => {
    const token = ['dckr', 'pat', 'Zq8vN2xW4rT6yU1iO3pA5sD7fG9'].join('_');
    expect(scanText(`TOKEN=${token} # gitleaks:allow`, compiled.rules, compiled.allow)).toEqual([]);
  });

  it('measures entropy in bits per character', () => {
    expect(shannonEntropy('aaaa')).toBe(0);
    expect(shannonEntropy('abcd')).toBe(2);
  });

  it('names the rule whose regex does not compile', () => {
    expect(() => compileRules({ version: 1, rules: [{ id: 'bad', description: 'x', regex: '(', keywords: [] }] })).toThrow(/secret rule bad/);
  });
});
