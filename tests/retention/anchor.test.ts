/**
 * Trail anchors (issue 8, item 7): a purge writes the trail head into the lake and its log; a full
 * rewrite of the trail (triggers dropped, every row changed, every hash recomputed, so that the
 * chain alone verifies) is caught by `watt purge --verify-trail`, `watt verify` and the audit rule.
 * Needs the build (dist/).
 */
import path from 'node:path';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import Database from 'better-sqlite3';
import { runWatt, scratchDir } from '../helpers/cli.js';
import { SUBJECT, ingest, wattEnv } from './helpers.js';
import auditTrail from '../../src/audit/checks/audit-trail.js';
import { createContext } from '../../src/audit/context.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** Rewrite every entry (actor changed) and recompute the chain as an attacker would, independently of watt's code. */
function rewriteTrail(file: string, fromSeq: number): void {
  const db = new Database(file);
  db.exec('DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;');
  const rows = db.prepare('SELECT * FROM audit_log ORDER BY seq').all() as Record<string, unknown>[];
  let prev = '0'.repeat(64);
  const update = db.prepare('UPDATE audit_log SET actor = ?, prev_hash = ?, hash = ? WHERE seq = ?');
  db.transaction(() => {
    for (const r of rows) {
      const actor = (r.seq as number) >= fromSeq ? 'someone-else' : (r.actor as string);
      const body = JSON.stringify([r.seq, r.at, r.action, r.lake, r.key, r.count, r.run_id, actor, r.detail]);
      const hash = createHash('sha256').update(prev).update('\n').update(body).digest('hex');
      update.run(actor, prev, hash, r.seq);
      prev = hash;
    }
  })();
  db.close();
}

describe.each([
  ['every entry', 1],
  ['every entry after the first', 2],
])('a rewrite of %s of the trail with recomputed hashes', (_label, fromSeq) => {
  it('is caught by purge --verify-trail, watt verify and the audit rule (exit 1); before it, all three pass', async () => {
    const dir = scratchDir('watt-anchor-');
    dirs.push(dir);
    const env = wattEnv(dir);
    await ingest(dir, env, 'mixed-a.csv', '2025-01-01');
    const purge = await runWatt(['purge', '--subject', SUBJECT, '--json'], { cwd: dir, env });
    expect(purge.code).toBe(0);
    const anchorRef = JSON.parse(purge.stdout).trail_anchor as { key: string; seq: number; hash: string };
    const anchor = JSON.parse(readFileSync(path.join(dir, 'lake', 'watt-lake', anchorRef.key), 'utf8'));
    expect(anchor.trail).toMatchObject({ seq: anchorRef.seq, hash: anchorRef.hash });
    const log = readdirSync(path.join(dir, 'logs')).find((f) => f.startsWith('purge_'))!;
    expect(readFileSync(path.join(dir, 'logs', log), 'utf8')).toContain(anchorRef.hash);

    expect((await runWatt(['purge', '--verify-trail'], { cwd: dir, env })).code).toBe(0);
    expect((await runWatt(['verify'], { cwd: dir, env })).code).toBe(0);
    expect(await auditTrail.run({}, createContext(dir, []))).toEqual([]);

    rewriteTrail(path.join(env.WATT_HOME!, 'catalog.db'), fromSeq);

    const chainOnly = new Database(path.join(env.WATT_HOME!, 'catalog.db'), { readonly: true });
    const { verifyTrail } = await import('../../src/trail/trail.js');
    expect(verifyTrail(chainOnly).ok).toBe(true); // the chain alone no longer tells
    chainOnly.close();

    const trail = await runWatt(['purge', '--verify-trail'], { cwd: dir, env });
    expect(trail.code).toBe(1);
    expect(trail.stderr).toMatch(/anchor .*_audit\/.*rewritten/);
    const verify = await runWatt(['verify', '--json'], { cwd: dir, env });
    expect(verify.code).toBe(1);
    // The forged trail is broken; verify also finds the purge's entries covered by no anchor that matches them (issue 21).
    const kinds = (JSON.parse(verify.stdout).findings as { kind: string }[]).map((f) => f.kind);
    expect(kinds).toContain('trail_broken');
    expect(kinds.every((k) => k === 'trail_broken' || k === 'anchor_missing')).toBe(true);
    const prevLakeRoot = process.env.WATT_LAKE_ROOT;
    delete process.env.WATT_LAKE_ROOT;
    try {
      expect(await auditTrail.run({}, createContext(dir, []))).toEqual([{ file: '.watt/catalog.db', message: expect.stringMatching(/does not match its anchor/) }]);
    } finally {
      if (prevLakeRoot !== undefined) process.env.WATT_LAKE_ROOT = prevLakeRoot;
    }
  }, 60_000);
});
