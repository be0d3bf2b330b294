import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runWatt, scratchDir } from '../helpers/cli.js';
import { cleanup, materialise } from '../audit/helpers.js';

/** `watt audit-rgpd` end to end: the built CLI (run `npm run build` first) in temporary git repositories. */
afterAll(cleanup);

describe('watt audit-rgpd', () => {
  it('exits 0 on a compliant repository with a one-line summary', async () => {
    const dir = materialise({ fixture: 'compliant' });
    const r = await runWatt(['audit-rgpd'], { cwd: dir });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^✔ no GDPR findings; 33\/33 rules passed\n$/);
  });

  it('exits 1 on a missing document, says which article asks for it, and skips the rules that need it', async () => {
    const dir = materialise({ fixture: 'compliant', remove: ['docs/rgpd.md'] });
    const r = await runWatt(['audit-rgpd'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('docs/rgpd.md is missing');
    expect(r.stdout).toContain('GDPR Art. 30(1)');
    expect(r.stdout).toContain('skipped rgpd/register-purposes: depends on rgpd/register-exists');
    expect(r.stderr).toMatch(/^watt: GDPR audit failed: 1 error\(s\), 0 warning\(s\) in 1 rule\(s\) \(--fail-on error\)/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('audits --dir from another working directory', async () => {
    const dir = materialise({ fixture: 'compliant' });
    const r = await runWatt(['audit-rgpd', '--dir', dir, '--format', 'json'], { cwd: scratchDir() });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).summary).toMatchObject({ rules: 33, passed: 33, errors: 0 });
  });

  it('follows --fail-on: warnings fail only with --fail-on warning, nothing fails with never', async () => {
    const dir = materialise({ fixture: 'compliant', edit: { 'docs/risk_register.md': { '## Mesures': '## Notes' } } });
    expect((await runWatt(['audit-rgpd'], { cwd: dir })).code).toBe(0);
    expect((await runWatt(['audit-rgpd', '--fail-on', 'warning'], { cwd: dir })).code).toBe(1);
    const broken = materialise({ fixture: 'compliant', remove: ['.gitleaks.toml'] });
    expect((await runWatt(['audit-rgpd', '--fail-on', 'never'], { cwd: broken })).code).toBe(0);
  });

  it('writes SARIF to --output, with a summary on stderr', async () => {
    const dir = materialise({ fixture: 'compliant', overlay: 'overlays/leaked-token' });
    const out = path.join(scratchDir(), 'audit.sarif');
    const r = await runWatt(['audit-rgpd', '--format', 'sarif', '--output', out], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    const log = JSON.parse(readFileSync(out, 'utf8'));
    expect(log.version).toBe('2.1.0');
    expect(log.runs[0].results.map((x: { ruleId: string }) => x.ruleId)).toEqual(['rgpd/no-secrets', 'rgpd/no-secrets']);
    expect(r.stderr).toContain(`(see ${out})`);
  });

  it.each([
    [['--format', 'html'], /argument 'html' is invalid/],
    [['--fail-on', 'info'], /argument 'info' is invalid/],
    [['--config', 'nope.json'], /cannot read audit configuration nope\.json: no such file/],
    [['--dir', '/nonexistent/watt'], /cannot audit \/nonexistent\/watt: not a folder/],
  ])('exits 2 on a usage error: %j', async (args, message) => {
    const dir = materialise({ fixture: 'compliant' });
    const r = await runWatt(['audit-rgpd', ...args], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  it('--init writes the missing documents from French templates, never overwrites, and the placeholders still fail', async () => {
    const dir = scratchDir();
    execFileSync('git', ['init', '-q'], { cwd: dir });
    writeFileSync(path.join(dir, '.gitignore'), '.env\n.env.*\n!.env.example\n*.pem\n*.key\n');
    execFileSync('git', ['add', '.gitignore'], { cwd: dir });
    writeFileSync(path.join(dir, '.gitleaks.toml'), '# mine\n[extend]\nuseDefault = true\n');
    const first = await runWatt(['audit-rgpd', '--init'], { cwd: dir });
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('wrote docs/rgpd.md\n');
    expect(first.stdout).toContain('9 template(s) written, 1 existing file(s) left untouched');
    expect(first.stdout).toContain('wrote watt-audit.toml\n');
    expect(readFileSync(path.join(dir, '.gitleaks.toml'), 'utf8')).toBe('# mine\n[extend]\nuseDefault = true\n');
    expect(readFileSync(path.join(dir, 'docs/retention_policy.md'), 'utf8')).toContain('| Données brutes | 30 jours |');
    for (const doc of ['rgpd.md', 'privacy_notice.md', 'incident_response.md', 'data_inventory.csv']) expect(existsSync(path.join(dir, 'docs', doc))).toBe(true);

    const second = await runWatt(['audit-rgpd', '--init'], { cwd: dir });
    expect(second.stdout).toBe('nothing to write: all 10 documents exist\n');

    const audit = await runWatt(['audit-rgpd', '--format', 'json'], { cwd: dir });
    expect(audit.code).toBe(1);
    const report = JSON.parse(audit.stdout);
    const failing = report.rules.filter((r: { status: string }) => r.status === 'fail').map((r: { id: string }) => r.id);
    expect(failing).toContain('rgpd/register-purposes');
    expect(failing).toContain('rgpd/data-inventory-content');
    expect(failing).not.toContain('rgpd/retention-periods');
    expect(failing.filter((id: string) => id.endsWith('-exists'))).toEqual([]);
    // "À compléter : pourquoi les données sont traitées" states nothing: reported at the heading that should hold it.
    expect(report.findings.find((f: { ruleId: string }) => f.ruleId === 'rgpd/register-purposes')).toMatchObject({
      file: 'docs/rgpd.md',
      line: 9,
      message: 'does not state the purposes of the processing (usually under a heading such as "Finalités")',
    });
  });
});
