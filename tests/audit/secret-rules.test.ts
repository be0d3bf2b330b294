import { parseGitleaksConfig } from '../../src/audit/secrets/gitleaks-config.js';
import { compileRules, defaultSecretRules, keywordFilter, scanText, shannonEntropy } from '../../src/audit/secrets/scanner.js';

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

  // gitleaks' own rule-generator examples (MIT), kept beside each rule by scripts/gitleaks-examples.mjs.
  const families = set.rules.filter((r) => r.examples?.gitleaks);
  it('carries gitleaks examples for the GitHub, GitLab, Slack, Telegram, cloud and generic families', () => {
    expect(families.map((r) => r.id)).toEqual(expect.arrayContaining(['github-pat', 'gitlab-token', 'slack-token', 'telegram-bot-token', 'aws-access-key-id', 'generic-secret']));
  });
  it.each(families.map((r) => [r.id, r] as const))('%s finds >= 97 %% of its gitleaks true examples and none of the false ones', (id, rule) => {
    const g = rule.examples!.gitleaks!;
    const missed = g.true.filter((ex) => !scanText(ex, compiled.rules, compiled.allow).some((m) => m.ruleId === id));
    expect(missed.length / g.true.length).toBeLessThanOrEqual(0.03);
    const reported = g.false.filter((ex) => scanText(ex, compiled.rules, compiled.allow).length > 0);
    expect(reported).toEqual([]);
  });

  it('reads key names as words and skips values that are type names, paths, e-mail addresses or UUID references (babel-style lines)', () => {
    const lines = [
      'COMMIT_AUTHOR_EMAIL = "41898282+github-actions[bot]@users.noreply.github.com"',
      '  operatorToken: BinaryOperatorToken,',
      'const tokenTypeSourcePath = "./packages/babel-parser/src/tokenizer/types.ts";',
      'const accessKeyId = "4f1c2e9a-3b7d-4c8e-9f0a-1b2c3d4e5f60";',
      'authorName = "Zq8vN2xW4rT6yU1iO3pA5sD7fG9"',
      'const nextContinuationToken = response.NextContinuationToken;',
      'secret_name = "prod-db-password-2024"',
    ];
    expect(lines.filter((l) => scanText(l, compiled.rules, compiled.allow).length > 0)).toEqual([]);
    // The same values under secret names are found.
    expect(scanText(['authToken', '"Zq8vN2xW4rT6yU1iO3pA5sD7fG9"'].join(' = '), compiled.rules, compiled.allow).map((m) => m.ruleId)).toEqual(['generic-secret']); // gitleaks:allow
  });

  it('finds the generic forms gitleaks lists: XML over several lines, Go typed var, PHP .=, setProperty, Makefile ::=', () => {
    const v = 'Zq8vN2xW4rT6yU1iO3pA5sD7fG9';
    const forms = [`<apiToken>\n    ${v}\n</apiToken>`, `var apiToken string = "${v}"`, `$apiToken .= "${v}"`, `System.setProperty("API_TOKEN", "${v}")`, `API_TOKEN ::= "${v}"`];
    expect(forms.filter((f) => !scanText(f, compiled.rules, compiled.allow).some((m) => m.ruleId === 'generic-secret'))).toEqual([]);
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

  it('keyword prefilter: one automaton pass runs exactly the rules whose keywords `toLowerCase().includes` finds, or more', () => {
    const filter = keywordFilter(compiled.rules);
    const alphabet = ['a', 'c', 'e', 'k', 'y', 'p', 's', '_', '-', '.', 'T', 'O', 'K', 'E', 'N', '\u212a', '\u0130', 'é', ' ', '\n', 'x', 'o', 'b'];
    let seed = 7;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2147483648) % n);
    const words = compiled.rules.flatMap((r) => r.keywords);
    const missed: string[] = [];
    for (let i = 0; i < 3000; i++) {
      let text = '';
      const len = rand(60);
      for (let j = 0; j < len; j++) text += rand(5) === 0 ? words[rand(words.length)]!.toUpperCase() : alphabet[rand(alphabet.length)]!;
      const lower = text.toLowerCase();
      const run = filter.rulesToRun(text);
      compiled.rules.forEach((r, k) => {
        if (r.keywords.some((w) => lower.includes(w)) && !run[k]) missed.push(`${r.id} in ${JSON.stringify(text)}`);
      });
    }
    expect(missed).toEqual([]);
    // The Kelvin sign lower-cases to "k": "\u212aEY" holds the keyword "key", as includes says.
    const withKelvin = filter.rulesToRun('api_\u212aEY');
    expect(compiled.rules.filter((_r, k) => withKelvin[k]).map((r) => r.id)).toContain('generic-secret');
    // A custom rule with a non-ASCII keyword is prefiltered by includes.
    const custom = compileRules({ version: 1, rules: [{ id: 'clé', description: 'x', regex: 'clé=(\\w+)', keywords: ['clé'] }] }).rules;
    expect(keywordFilter(custom).rulesToRun('CLÉ=abc')).toEqual([true]);
    expect(keywordFilter(custom).rulesToRun('cle=abc')).toEqual([false]);
  });

  it('measures entropy in bits per character', () => {
    expect(shannonEntropy('aaaa')).toBe(0);
    expect(shannonEntropy('abcd')).toBe(2);
  });

  it('names the rule whose regex does not compile', () => {
    expect(() => compileRules({ version: 1, rules: [{ id: 'bad', description: 'x', regex: '(', keywords: [] }] })).toThrow(/secret rule bad/);
  });
});

describe('.gitleaks.toml', () => {
  const token = ['dckr', 'pat', 'Zq8vN2xW4rT6yU1iO3pA5sD7fG9'].join('_');
  const scan = (toml: string, text: string, where: { file?: string; commit?: string } = {}) => {
    const cfg = parseGitleaksConfig(toml);
    return scanText(text, [...compiled.rules, ...cfg.rules], [...compiled.allow, ...cfg.allow], where).map((m) => m.ruleId);
  };

  it('runs custom [[rules]] with keywords, secretGroup and entropy, and lists rules JavaScript cannot compile', () => {
    const toml = [
      '[[rules]]',
      'id = "acme-key"',
      `regex = '''acme_key\\s*=\\s*"(ak_[a-z0-9]{20})"'''`,
      'secretGroup = 1',
      'keywords = ["acme_key"]',
      'entropy = 3',
      '',
      '[[rules]]',
      'id = "go-only"',
      `regex = '''\\b(p8e-(?i)[a-z0-9]{32})'''`,
    ].join('\n');
    const cfg = parseGitleaksConfig(toml);
    expect(cfg.rules.map((r) => r.id)).toEqual(['acme-key']);
    expect(cfg.skipped).toEqual(['rule go-only: regex is not valid in JavaScript']);
    expect(scan(toml, 'acme_key = "ak_q8w7e6r5t4y3u2i1o0pz"')).toEqual(['acme-key']); // gitleaks:allow
    expect(scan(toml, 'acme_key = "ak_aaaaaaaaaaaaaaaaaaaa"')).toEqual([]);
  });

  it('honours targetRules, condition = "AND" and regexTarget = "line" of [[allowlists]]', () => {
    const line = `DOCKERHUB_TOKEN=${token} # ci fixture`;
    expect(scan('[[allowlists]]\ntargetRules = ["github-pat"]\nregexes = ["ci fixture"]\nregexTarget = "line"\n', line)).toEqual(['dockerhub-pat']);
    expect(scan('[[allowlists]]\ntargetRules = ["dockerhub-pat"]\nregexes = ["ci fixture"]\nregexTarget = "line"\n', line)).toEqual([]);
    const and = '[[allowlists]]\ncondition = "AND"\npaths = ["^ci/"]\nstopwords = ["zq8v"]\n';
    expect(scan(and, line, { file: 'ci/env' })).toEqual([]);
    expect(scan(and, line, { file: 'src/env' })).toEqual(['dockerhub-pat']);
  });
});
