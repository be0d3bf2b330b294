import { stat } from 'node:fs/promises';
import path from 'node:path';
import { verifyTrail } from '../../retention/trail.js';
import { defineCheck } from './types.js';

/** Options of `audit-trail`: where the catalog is, relative to the audited folder. */
export interface AuditTrailOptions {
  /** Default `.watt/catalog.db` (WATT_HOME's default). */
  catalog?: string;
}

/**
 * `audit-trail`: when a watt catalog is present, the hash chain of its audit trail (deletions and
 * erasures recorded by `watt purge`, GDPR Art. 5(2) and 17) must verify: the same check as
 * `watt purge --verify-trail` (src/retention/trail.ts). No catalog: nothing to check. A file that
 * is not a readable SQLite catalog is a finding (deletions can no longer be proven).
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
      if (result.ok) return [];
      return [{ file: rel, message: `audit trail broken at entry ${result.broken!.seq}: ${result.broken!.reason}` }];
    } catch (err) {
      return [{ file: rel, message: `cannot read ${rel} as a watt catalog: ${(err as Error).message.split('\n')[0]!.slice(0, 120)}` }];
    } finally {
      db?.close();
    }
  },
});
