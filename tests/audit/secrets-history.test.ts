import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runAudit } from '../../src/audit/engine.js';
import { alnum, makeRepo } from '../helpers/git-repo.js';
import { loadRules } from '../../src/audit/rules.js';
import { runWatt } from '../helpers/cli.js';

/**
 * Secrets in the git history: a repository built here commits tokens, then removes them; the
 * audit still finds them (naming the commit and the file, masked), unless `--no-history`, a
 * `.gitleaks.toml` allowlist, or a baseline says otherwise. Tokens are random, built at run time.
 */
const rules = (await loadRules()).filter((r) => r.id === 'rgpd/no-secrets');
const made: string[] = [];
afterAll(() => made.forEach((d) => rmSync(d, { recursive: true, force: true })));

const dockerToken = () => ['dckr', 'pat', alnum(27)].join('_');

const repo = () => makeRepo(made, 'watt-history-');

describe('secrets in tracked files whatever their name', () => {
  it('finds token formats and secret-named keys in secrets, .env.production, Makefile, Jenkinsfile, YAML, JSON and shell files', async () => {
    const { dir, commit } = repo();
    const gitlab = ['glpat', alnum(20)].join('-');
    const hf = ['hf', alnum(40).replace(/[0-9]/g, 'q').slice(0, 34)].join('_');
    commit('config', {
      secrets: `DOCKERHUB_TOKEN=${dockerToken()}\n`,
      '.env.production': `DB_PASSWORD=${alnum(22)}\n`,
      Makefile: `deploy:\n\tcurl -H "PRIVATE-TOKEN: ${gitlab}" https://gitlab.example.invalid\n`,
      Jenkinsfile: `environment {\n  API_KEY = '${alnum(32)}'\n}\n`,
      'deploy.yml': `registry:\n  password: "${alnum(24)}"\n  user: watt\n`,
      'settings.json': JSON.stringify({ client_secret: alnum(32), hub: hf }, null, 2),
      'publish.sh': `#!/bin/sh\nexport NPM_TOKEN=${['npm', alnum(36)].join('_')}\n`,
      'README.md': 'Set `password: ${{ secrets.DOCKERHUB_PASSWORD }}` in CI; never write a token here.\n',
    });
    const report = await runAudit({ dir, rules, history: false });
    const found = report.findings.map((f) => `${f.file}:${f.line} ${/\(([\w-]+):/.exec(f.message)![1]}`).sort();
    expect(found).toEqual([
      '.env.production:1 generic-secret',
      'Jenkinsfile:2 generic-secret',
      'Makefile:2 gitlab-pat',
      'deploy.yml:2 generic-secret',
      'publish.sh:2 npm-access-token',
      'secrets:1 dockerhub-pat',
      'settings.json:2 generic-secret',
      'settings.json:3 huggingface-token',
    ]);
  });
});

describe('secrets in the git history', () => {
  it('finds a token added then removed, names the commit and the file, and masks it', async () => {
    const token = dockerToken();
    const { dir, commit } = repo();
    commit('readme', { 'README.md': '# app\n' });
    const leak = commit('deploy settings', { secrets: `DOCKERHUB_USER=watt\nDOCKERHUB_TOKEN=${token}\n` });
    commit('oops, remove secrets', { secrets: null });
    const report = await runAudit({ dir, rules });
    expect(report.findings.map((f) => [f.ruleId, f.file, f.line, f.commit])).toEqual([['rgpd/no-secrets', 'secrets', 2, leak]]);
    const message = report.findings[0]!.message;
    expect(message).toContain(leak.slice(0, 12));
    expect(message).toMatch(/rotate it/);
    expect(message).toContain('dockerhub-pat');
    expect(JSON.stringify(report)).not.toContain(token);
    expect(JSON.stringify(report)).not.toContain(token.slice(8));

    const treeOnly = await runAudit({ dir, rules, history: false });
    expect(treeOnly.findings).toEqual([]);
  });

  it('reports a secret still in the tree once, at its current line, not again for history', async () => {
    const { dir, commit } = repo();
    const password = alnum(24);
    commit('env', { '.env.production': `DB_HOST=db\nDB_PASSWORD=${password}\n` });
    commit('more', { '.env.production': `# prod\nDB_HOST=db\nDB_PASSWORD=${password}\n` });
    const report = await runAudit({ dir, rules });
    expect(report.findings.map((f) => [f.file, f.line, f.commit])).toEqual([['.env.production', 3, undefined]]);
    expect(report.findings[0]!.message).toContain('generic-secret');
  });

  it('finds a multi-line private key in history, and honours a commits allowlist of .gitleaks.toml', async () => {
    const { dir, commit } = repo();
    const body = randomBytes(120).toString('base64');
    const pem = `-----BEGIN RSA PRIVATE KEY-----\n${body.slice(0, 64)}\n${body.slice(64)}\n-----END RSA PRIVATE KEY-----\n`;
    const sha = commit('key', { 'deploy.key.txt': pem });
    commit('rm key', { 'deploy.key.txt': null });
    const found = await runAudit({ dir, rules });
    expect(found.findings.map((f) => [f.file, f.line, f.commit, f.message.includes('private-key')])).toEqual([['deploy.key.txt', 1, sha, true]]);
    commit('allow', { '.gitleaks.toml': `[allowlist]\ncommits = ["${sha}"]\n` });
    expect((await runAudit({ dir, rules })).findings).toEqual([]);
  });

  it('audits a sub-folder with paths relative to it, and warns when a shallow clone hides history', async () => {
    const { dir, git, commit } = repo();
    execFileSync('mkdir', ['-p', path.join(dir, 'svc')]);
    const sha = commit('svc token', { 'svc/deploy.env': `REGISTRY_TOKEN=${dockerToken()}\n`, 'svc/README.md': 'svc\n' });
    commit('rm', { 'svc/deploy.env': null });
    const sub = await runAudit({ dir: path.join(dir, 'svc'), rules });
    expect(sub.findings.map((f) => [f.file, f.commit])).toEqual([['deploy.env', sha]]);

    commit('later', { 'README.md': 'x\n' });
    const shallow = mkdtempSync(path.join(os.tmpdir(), 'watt-shallow-'));
    made.push(shallow);
    execFileSync('git', ['clone', '-q', '--depth', '1', `file://${dir}`, shallow]);
    const report = await runAudit({ dir: shallow, rules });
    // A warning with the fix: it fails `--fail-on warning`, not the default `--fail-on error`.
    expect(report.findings.map((f) => [f.file, f.severity, /shallow clone.*fetch-depth: 0/.test(f.message)])).toEqual([['.git', 'warning', true]]);
    expect(report.summary.errors).toBe(0);
    expect(git('rev-list', '--count', 'HEAD')).toBe('3');
  });

  it('finds a token added while resolving a merge conflict, then deleted', async () => {
    const { dir, git, commit } = repo();
    commit('init', { 'app.env': 'MODE=a\n' });
    git('checkout', '-q', '-b', 'side');
    commit('side', { 'app.env': 'MODE=b\n' });
    git('checkout', '-q', 'main');
    commit('main', { 'app.env': 'MODE=c\n' });
    try {
      git('merge', '-q', 'side');
    } catch {
      // the conflict is expected
    }
    const token = dockerToken();
    writeFileSync(path.join(dir, 'app.env'), `MODE=d\nREGISTRY_TOKEN=${token}\n`);
    git('add', 'app.env');
    git('commit', '-q', '--no-edit');
    const merge = git('rev-parse', 'HEAD');
    commit('remove it', { 'app.env': 'MODE=d\n' });
    const report = await runAudit({ dir, rules });
    expect(report.findings.map((f) => [f.file, f.commit, f.line])).toEqual([['app.env', merge, 2]]);
    expect(JSON.stringify(report)).not.toContain(token);
  });

  it('caches scanned commits under .watt/: the next run scans only new commits, and a change of rules starts again', async () => {
    const { dir, commit } = repo();
    const old = dockerToken();
    const first = commit('leak', { 'a.env': `T=${old}\n` });
    commit('rm', { 'a.env': null });
    const cold = await runAudit({ dir, rules });
    expect(cold.findings.map((f) => f.commit)).toEqual([first]);
    const cache = readFileSync(path.join(dir, '.watt', 'audit-history.json'), 'utf8');
    expect(JSON.parse(cache.split('\n')[1]!).tips).toHaveLength(1); // a header line, then the body
    expect(cache).not.toContain(old);
    // A new commit with a new secret: found; the cached one still reported.
    const second = commit('leak again', { 'b.env': `T=${dockerToken()}\n` });
    commit('rm again', { 'b.env': null });
    const warm = await runAudit({ dir, rules });
    expect(warm.findings.map((f) => f.commit).sort()).toEqual([first, second].sort());
    // The cache is keyed on the rules: a .gitleaks.toml allowing the first commit applies to it.
    commit('allow', { '.gitleaks.toml': `[allowlist]\ncommits = ["${first}"]\n` });
    expect((await runAudit({ dir, rules })).findings.map((f) => f.commit)).toEqual([second]);
  });

  it('honours .gitleaks.toml paths, regexes and stopwords', async () => {
    const { dir, commit } = repo();
    const a = dockerToken();
    const b = dockerToken();
    const c = `dckr_pat_KNOWNFAKE${alnum(18)}`;
    commit('tokens', { 'fixture.txt': `T=${a}\n`, 'ci.sh': `export T=${b}\n`, 'Makefile': `TOKEN := ${c}\n` });
    const all = await runAudit({ dir, rules, history: false });
    expect(all.findings.map((f) => f.file).sort()).toEqual(['Makefile', 'ci.sh', 'fixture.txt']);
    commit('allow', {
      '.gitleaks.toml': `[allowlist]\npaths = ['''^fixture\\.txt$''']\nregexes = ['''${b.slice(0, 20)}''']\nstopwords = ["knownfake"]\n`,
    });
    expect((await runAudit({ dir, rules, history: false })).findings).toEqual([]);
  });

  it('says which parts of .gitleaks.toml JavaScript cannot apply, as a note', async () => {
    const { dir, commit } = repo();
    commit('cfg', { '.gitleaks.toml': "[[rules]]\nid = 'go-only'\nregex = '''\\b(p8e-(?i)[a-z0-9]{32})'''\n" });
    const report = await runAudit({ dir, rules, history: false });
    expect(report.rules[0]!.status).toBe('pass');
    expect(report.findings.map((f) => [f.file, f.severity, f.message])).toEqual([
      ['.gitleaks.toml', 'info', 'rule go-only: regex is not valid in JavaScript: not applied by watt (gitleaks still applies it)'],
    ]);
  });
});

describe('baseline round trip (CLI)', () => {
  it('--write-baseline records findings without secrets; --baseline turns them into notes; a new secret still fails', async () => {
    const { dir, commit } = repo();
    const old = dockerToken();
    commit('old leak', { 'Jenkinsfile': `environment {\n  DOCKERHUB_TOKEN = '${old}'\n}\n` });
    const baseline = path.join(dir, '..', `${path.basename(dir)}-baseline.json`);
    made.push(baseline);
    const args = ['audit-rgpd', '--fail-on', 'error', '--config', path.join(dir, 'only-secrets.json')];
    writeFileSync(path.join(dir, 'only-secrets.json'), JSON.stringify({ extendDefaults: true, overrides: Object.fromEntries((await loadRules()).filter((r) => r.id !== 'rgpd/no-secrets').map((r) => [r.id, { enabled: false }])) }));
    const first = await runWatt([...args, '--write-baseline', baseline], { cwd: dir });
    expect(first.code).toBe(1);
    const written = readFileSync(baseline, 'utf8');
    expect(written).not.toContain(old);
    expect(JSON.parse(written).findings).toEqual([{ ruleId: 'rgpd/no-secrets', file: 'Jenkinsfile', fingerprint: expect.stringMatching(/^[0-9a-f]{16}$/) }]);

    // Lines move: the baseline still matches (rule, file, fingerprint; not line).
    commit('move', { 'Jenkinsfile': `pipeline {\n environment {\n  DOCKERHUB_TOKEN = '${old}'\n }\n}\n` });
    const known = await runWatt([...args, '--baseline', baseline, '--format', 'json'], { cwd: dir });
    expect(known.code).toBe(0);
    const findings = JSON.parse(known.stdout).findings;
    expect(findings.map((f: { severity: string; baselined: boolean; line: number }) => [f.severity, f.baselined, f.line])).toEqual([['info', true, 3]]);

    const fresh = dockerToken();
    commit('new leak', { 'deploy.yml': `registry:\n  password: "${fresh}"\n` });
    const again = await runWatt([...args, '--baseline', baseline, '--format', 'sarif'], { cwd: dir });
    expect(again.code).toBe(1);
    expect(again.stdout).not.toContain(fresh);
    expect(again.stdout).not.toContain(old);
    const results = JSON.parse(again.stdout).runs[0].results;
    expect(results.map((r: { level: string; baselineState?: string; locations: { physicalLocation: { artifactLocation: { uri: string } } }[] }) => [r.locations[0]!.physicalLocation.artifactLocation.uri, r.level, r.baselineState])).toEqual([
      ['Jenkinsfile', 'note', 'unchanged'],
      ['deploy.yml', 'error', undefined],
    ]);
  });

  it('rejects a baseline that is not one, with exit 2', async () => {
    const { dir, commit } = repo();
    commit('x', { 'a.txt': 'a\n' });
    writeFileSync(path.join(dir, 'bad.json'), '{"findings": 3}');
    const r = await runWatt(['audit-rgpd', '--baseline', 'bad.json'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/invalid baseline bad\.json/);
  });
});
