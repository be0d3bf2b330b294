import { stat } from 'node:fs/promises';
import path from 'node:path';
import type Database from 'better-sqlite3';
import { verifyTrail } from '../../trail/trail.js';
import { defineCheck } from './types.js';

/** Options of `audit-trail`: where the catalog is, relative to the audited folder. */
export interface AuditTrailOptions {
  /** Default `.watt/catalog.db` (WATT_HOME's default). */
  catalog?: string;
}

/**
 * `audit-trail`: when a watt catalog is present, the hash chain of its audit trail (deletions and
 * erasures recorded by `watt purge`, GDPR Art. 5(2) and 17) must verify: the same check as
 * `watt purge --verify-trail` (src/trail/trail.ts), including the trail anchors that purges
 * wrote into the lake the environment configures (`<prefix>/_audit/*.json`; local lake default
 * `<root>/lake`), so that a rewrite of the whole chain is caught. No catalog: nothing to check. A
 * file that is not a readable SQLite catalog, or a lake whose anchors cannot be read, is a finding.
 */
export default defineCheck<AuditTrailOptions>({
  type: 'audit-trail',
  description: "the audit trail of watt's catalog, when present, must verify",
  optionsSchema: {
    type: 'object',
    additionalProperties: false,
    properties: { catalog: { type: 'string', minLength: 1 } },
  },
  async run(options, ctx) {
    const rel = options.catalog ?? '.watt/catalog.db';
    const file = path.join(ctx.root, rel);
    if (!(await stat(file).catch(() => undefined))?.isFile()) return [];
    const { default: Database } = await import('better-sqlite3');
    let db;
    try {
      db = new Database(file, { readonly: true, fileMustExist: true });
      const result = verifyTrail(db);
      if (!result.ok) return [{ file: rel, message: `audit trail broken at entry ${result.broken!.seq}: ${result.broken!.reason}` }];
      return await anchorFindings(db, rel, path.dirname(file), ctx.root);
    } catch (err) {
      return [{ file: rel, message: `cannot read ${rel} as a watt catalog: ${(err as Error).message.split('\n')[0]!.slice(0, 120)}` }];
    } finally {
      db?.close();
    }
  },
});

/** The trail against the anchors of the lake the environment configures (item 7 of issue 8). */
async function anchorFindings(db: Database.Database, rel: string, home: string, root: string): Promise<{ file: string; message: string }[]> {
  const { resolveLakeConfig } = await import('../../config.js');
  const { openLake } = await import('../../store/index.js');
  const { checkAnchors } = await import('../../trail/anchor.js');
  const env = { ...process.env, WATT_LAKE_ROOT: process.env.WATT_LAKE_ROOT || path.join(root, 'lake') };
  let lake;
  try {
    const config = resolveLakeConfig({}, env);
    lake = await openLake(config);
    const anchors = await checkAnchors(db, lake, config.prefix, home);
    return anchors.broken.slice(0, 1).map((b) => ({ file: rel, message: `audit trail does not match its anchor ${b.key}: ${b.reason}` }));
  } catch (err) {
    return [{ file: rel, message: `cannot read the trail anchors of the lake: ${(err as Error).message.split('\n')[0]!.slice(0, 120)}` }];
  } finally {
    await lake?.close();
  }
}
