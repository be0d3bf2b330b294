import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runAudit } from '../../src/audit/engine.js';
import { alnum, makeRepo } from '../helpers/git-repo.js';
import { loadRules } from '../../src/audit/rules.js';

/**
 * The audit's caches under .watt/ (tree findings by path and blob id, removed data files, scanned
 * commits) make a second run read only what changed, and can never hide a finding: a changed file
 * (committed or only in the working copy), a changed rule, a corrupt cache or a cache committed to
 * the repository is read afresh. Repositories, tokens and people are made here.
 */
const all = await loadRules();
const secrets = all.filter((r) => r.id === 'rgpd/no-secrets');
const personal = all.filter((r) => r.id === 'rgpd/no-personal-data');
const made: string[] = [];
afterAll(() => made.forEach((d) => rmSync(d, { recursive: true, force: true })));

const dockerToken = () => ['dckr', 'pat', alnum(27)].join('_');
const customers = 'nom,prenom,email,adresse,code_postal,ville,pdl\nDupont,Marie,marie.dupont@example.fr,12 rue des Lilas,75011,Paris,12345678901234\nMartin,Jean,jean.martin@example.org,3 avenue Foch,69006,Lyon,98765432109876\n';

const repo = () => makeRepo(made, 'watt-cache-');

const where = (r: Awaited<ReturnType<typeof runAudit>>) => r.findings.map((f) => `${f.file}:${f.line ?? ''}${f.commit ? `@${f.commit.slice(0, 7)}` : ''}`).sort();

describe('tree cache (findings by path and blob id)', () => {
  it('a warm run gives the same findings from the cache, which holds no secret and is ignored by git', async () => {
    const { dir, git, commit } = repo();
    const token = dockerToken();
    commit('config', { 'deploy.env': `MODE=prod\nREGISTRY_TOKEN=${token}\n`, 'clean.txt': 'nothing here\n' });
    const cold = await runAudit({ dir, rules: secrets, history: false });
    expect(where(cold)).toEqual(['deploy.env:2']);
    const file = path.join(dir, '.watt', 'audit-tree-secrets.json');
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain(token);
    const body = JSON.parse(text.split('\n')[1]!);
    expect(body['deploy.env'][0]).toBe(git('rev-parse', 'HEAD:deploy.env'));
    expect(Object.keys(body).sort()).toEqual(['clean.txt', 'deploy.env']);
    const warm = await runAudit({ dir, rules: secrets, history: false });
    expect(warm.findings).toEqual(cold.findings.map((f) => ({ ...f })));
    // .watt/ got a .gitignore: the caches never show up as files to commit.
    expect(git('status', '--porcelain')).toBe('');
  });

  it('a file changed in the working copy only, or committed, is read again', async () => {
    const { dir, commit } = repo();
    commit('clean', { 'app.env': 'MODE=dev\n' });
    expect((await runAudit({ dir, rules: secrets, history: false })).findings).toEqual([]);
    // Not committed, not staged: git diff-files lists it, the cached entry is not used.
    writeFileSync(path.join(dir, 'app.env'), `MODE=dev\nAPI_TOKEN=${dockerToken()}\n`);
    expect(where(await runAudit({ dir, rules: secrets, history: false }))).toEqual(['app.env:2']);
    // Committed: a new blob id.
    commit('token', { 'app.env': `MODE=dev\n\nAPI_TOKEN=${dockerToken()}\n` });
    expect(where(await runAudit({ dir, rules: secrets, history: false }))).toEqual(['app.env:3']);
  });

  it('a corrupt, truncated, reshaped or committed cache is ignored, never trusted', async () => {
    const { dir, git, commit } = repo();
    commit('token', { 'app.env': `API_TOKEN=${dockerToken()}\n` });
    const cold = await runAudit({ dir, rules: secrets, history: false });
    expect(where(cold)).toEqual(['app.env:1']);
    const file = path.join(dir, '.watt', 'audit-tree-secrets.json');
    const good = readFileSync(file, 'utf8');
    const [header, body] = good.split('\n');
    const emptied = JSON.stringify({ 'app.env': [git('rev-parse', 'HEAD:app.env'), []] });
    const forged = [
      `${header}\n${emptied}\n`, // the finding removed, checksum left: mismatch
      good.slice(0, good.length / 2), // truncated
      `${header!.replace(/"sum":"[0-9a-f]+"/, `"sum":"${'0'.repeat(64)}"`)}\n${body}\n`, // wrong checksum
      'not json at all\n',
    ];
    for (const text of forged) {
      writeFileSync(file, text);
      expect(where(await runAudit({ dir, rules: secrets, history: false }))).toEqual(['app.env:1']);
    }
    // A well-formed cache saying "nothing found" but committed to the repository (anyone who can
    // push could write it) is ignored too.
    const { createHash } = await import('node:crypto');
    const scope = JSON.parse(header!).scope as string;
    const sum = createHash('sha256').update(emptied).digest('hex');
    writeFileSync(file, `${JSON.stringify({ format: 2, scope, sum })}\n${emptied}\n`);
    git('add', '-f', '.watt/audit-tree-secrets.json');
    commit('forged cache', {});
    expect(where(await runAudit({ dir, rules: secrets, history: false }))).toEqual(['app.env:1']);
  });

  it('a change of rules (.gitleaks.toml) or options starts afresh', async () => {
    const { dir, commit } = repo();
    const token = dockerToken();
    commit('token', { 'app.env': `API_TOKEN=${token}\n` });
    expect(where(await runAudit({ dir, rules: secrets, history: false }))).toEqual(['app.env:1']);
    commit('allow', { '.gitleaks.toml': `[allowlist]\nregexes = ['''${token.slice(0, 24)}''']\n` });
    expect(where(await runAudit({ dir, rules: secrets, history: false }))).toEqual([]);
    commit('unallow', { '.gitleaks.toml': null });
    expect(where(await runAudit({ dir, rules: secrets, history: false }))).toEqual(['app.env:1']);
    // treeCache: false neither reads nor writes it.
    rmSync(path.join(dir, '.watt'), { recursive: true });
    const noCache = secrets.map((r) => ({ ...r, check: { ...r.check, treeCache: false, historyCache: false } }));
    expect(where(await runAudit({ dir, rules: noCache, history: false }))).toEqual(['app.env:1']);
    expect(existsSync(path.join(dir, '.watt', 'audit-tree-secrets.json'))).toBe(false);
  });
});

describe('personal data: tree and removed files cached', () => {
  it('a committed customer export is found cold and warm; once removed, it is found in history, and a later removal too', async () => {
    const { dir, commit } = repo();
    commit('export', { 'export_clients.csv': customers, 'notes.csv': 'a,b\n1,2\n' });
    const cold = await runAudit({ dir, rules: personal });
    expect(cold.findings.map((f) => f.message).join('\n')).toMatch(/column "email" holds/);
    const warm = await runAudit({ dir, rules: personal });
    expect(warm.findings).toEqual(cold.findings);
    expect(existsSync(path.join(dir, '.watt', 'audit-tree-personal-data.json'))).toBe(true);

    const removal = commit('remove', { 'export_clients.csv': null });
    const afterRemoval = await runAudit({ dir, rules: personal });
    expect(afterRemoval.findings.length).toBeGreaterThan(0);
    expect(afterRemoval.findings.every((f) => f.commit === removal && /removed by commit/.test(f.message))).toBe(true);
    expect(readFileSync(path.join(dir, '.watt', 'audit-removed-data.json'), 'utf8')).not.toMatch(/dupont|example\.fr/i);
    // Warm: the same, from the cache of removed files.
    expect((await runAudit({ dir, rules: personal })).findings).toEqual(afterRemoval.findings);
    // A new export committed and removed after the cached tip is found as well.
    commit('export 2', { 'clients_2.csv': customers.replace(/Dupont/g, 'Durand') });
    const second = commit('remove 2', { 'clients_2.csv': null });
    const later = await runAudit({ dir, rules: personal });
    expect([...new Set(later.findings.map((f) => `${f.file}@${f.commit}`))].sort()).toEqual([`clients_2.csv@${second}`, `export_clients.csv@${removal}`].sort());
  });

  it('a history rewritten under the cache (its tip no longer an ancestor) is read again', async () => {
    const { dir, git, commit } = repo();
    commit('init', { 'readme.txt': 'hi\n' });
    git('checkout', '-q', '-b', 'other');
    commit('export', { 'export_clients.csv': customers });
    commit('remove', { 'export_clients.csv': null });
    expect((await runAudit({ dir, rules: personal })).findings.length).toBeGreaterThan(0);
    git('checkout', '-q', 'main');
    expect((await runAudit({ dir, rules: personal })).findings).toEqual([]);
    git('checkout', '-q', 'other');
    expect((await runAudit({ dir, rules: personal })).findings.length).toBeGreaterThan(0);
  });
});

describe('merge commits read as combined diffs', () => {
  it('a secret brought by a merged branch is reported once, at the branch commit; one written in the merge itself, at the merge', async () => {
    const { dir, git, commit } = repo();
    commit('init', { 'app.env': 'MODE=a\n', 'other.env': 'X=1\n' });
    git('checkout', '-q', '-b', 'side');
    const branchToken = dockerToken();
    const onBranch = commit('side', { 'side.env': `T=${branchToken}\n` });
    git('checkout', '-q', 'main');
    commit('main', { 'app.env': 'MODE=c\n' });
    // A merge without conflict, with a line written during the merge (an "evil merge").
    git('merge', '-q', '--no-commit', '--no-ff', 'side');
    writeFileSync(path.join(dir, 'other.env'), `X=1\nMERGE_TOKEN=${dockerToken()}\n`);
    git('add', 'other.env');
    git('commit', '-q', '--no-edit');
    const merge = git('rev-parse', 'HEAD');
    commit('clean up', { 'side.env': null, 'other.env': 'X=1\n' });
    const report = await runAudit({ dir, rules: secrets });
    expect(report.findings.map((f) => [f.file, f.commit, f.line]).sort()).toEqual(
      [
        ['other.env', merge, 2],
        ['side.env', onBranch, 1],
      ].sort(),
    );
  });
});
