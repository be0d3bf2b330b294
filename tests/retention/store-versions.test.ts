/**
 * Versioned stores (issue 21): before a purge or an erasure deletes or rewrites, watt reads what the
 * store keeps of old data. S3 with versioning (s3rver behind tests/helpers/versioning-proxy.ts, the
 * only stand-in here: s3rver does not implement versioning): every old version and delete marker of
 * what the run deleted or rewrote is deleted, so the subject's rows survive nowhere. Azure soft
 * delete (a real Azurite setting, Set Blob Service Properties): refused with the setting named, or
 * accepted with --accept-retained-copies, and recorded. Real CLI (needs the build).
 */
import path from 'node:path';
import { rmSync } from 'node:fs';
import Database from 'better-sqlite3';
import { scratchDir } from '../helpers/cli.js';
import { startAzurite, startS3, type AzureServer, type S3Server } from '../helpers/servers.js';
import { startVersioningProxy, type VersioningProxy } from '../helpers/versioning-proxy.js';
import { SUBJECT, ingest, lakeFor, purge, snapshot, wattEnv } from './helpers.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function daysAgo(days: number): string {
  return new Date(Date.now() - days * 86_400_000).toISOString().slice(0, 10);
}

let n = 0;
function setup(serverEnv: Record<string, string>): { dir: string; env: Record<string, string>; prefix: string } {
  const dir = scratchDir('watt-store-versions-');
  dirs.push(dir);
  const prefix = `v${++n}/raw`;
  return { dir, prefix, env: wattEnv(dir, { ...serverEnv, DATA_LAKE_PREFIX: prefix }) };
}

function trailOf(env: Record<string, string>, action: string): { count: number; detail: Record<string, unknown> }[] {
  const db = new Database(path.join(env.WATT_HOME!, 'catalog.db'), { readonly: true });
  try {
    return (db.prepare('SELECT count, detail FROM audit_log WHERE action = ? ORDER BY seq').all(action) as { count: number; detail: string }[]).map((r) => ({ count: r.count, detail: JSON.parse(r.detail) }));
  } finally {
    db.close();
  }
}

describe('S3 bucket with versioning', () => {
  let s3: S3Server;
  let proxy: VersioningProxy;
  let serverEnv: Record<string, string>;
  beforeAll(async () => {
    s3 = await startS3(['watt-lake']);
    proxy = await startVersioningProxy(s3.endpoint, 'watt-lake');
    serverEnv = { ...s3.env, AWS_ENDPOINT_URL_S3: proxy.endpoint };
  });
  afterAll(async () => {
    await proxy.stop();
    await s3.stop();
  });
  beforeEach(() => {
    proxy.status = 'Enabled';
  });

  it('an erasure deletes every old version of the objects it rewrote or deleted: only the current content is left', async () => {
    const { dir, env, prefix } = setup(serverEnv);
    await ingest(dir, env, 'mixed-a.csv', daysAgo(3));
    await ingest(dir, env, 'only-subject.csv', daysAgo(2));
    await ingest(dir, env, 'other.csv', daysAgo(1));
    const r = await purge(dir, env, ['--subject', SUBJECT, '--json']);
    expect(r.code).toBe(0);
    const objects = r.json!.objects as { key: string; action: string; new_key?: string }[];
    expect(objects.map((o) => o.action).sort()).toEqual(['deleted', 'rewritten']);
    for (const o of objects) {
      // The old object (replaced by a copy under a new key, or dropped), vacuumed at the end of the
      // erasure (no erasure grace in these tests): nothing at all, versions and delete marker gone.
      expect(proxy.versions.get(o.key) ?? []).toHaveLength(0);
      // The rewritten object's copy: its current version only.
      if (o.action === 'rewritten') {
        const left = proxy.versions.get(o.new_key!) ?? [];
        expect(left).toHaveLength(1);
        expect(left[0]!.marker).toBe(false);
      }
    }
    const sv = r.json!.store_versions as { setting: string; action: string; versions_deleted: number };
    expect(sv).toEqual({ setting: 'S3 bucket versioning: Enabled', action: 'old-versions-deleted', versions_deleted: expect.any(Number) });
    expect(sv.versions_deleted).toBeGreaterThanOrEqual(3); // the rewritten object's old version; the deleted one's version and marker
    expect(proxy.deletedVersions.length).toBeGreaterThanOrEqual(sv.versions_deleted);
    expect(trailOf(env, 'retention.store_versions')).toEqual([{ count: sv.versions_deleted, detail: { setting: 'S3 bucket versioning: Enabled', action: 'old-versions-deleted' } }]);
    // The manifest of the rewritten object says what happened to the old versions.
    const lake = await lakeFor(env);
    try {
      const snap = await snapshot(lake, prefix);
      expect(snap.recordIds.length).toBeGreaterThan(0);
      const rewritten = objects.find((o) => o.action === 'rewritten')!;
      const runId = /_(\d{8}T\d{6}Z-[a-z0-9]+)\./.exec(rewritten.key)![1]!;
      const manifest = JSON.parse((await (async () => { const c: Buffer[] = []; for await (const x of await lake.get(`${prefix}/_manifests/${runId}.json`)) c.push(Buffer.from(x as Buffer)); return Buffer.concat(c); })()).toString('utf8'));
      expect(manifest.erasures.at(-1).store_versions).toEqual({ setting: 'S3 bucket versioning: Enabled', action: 'old-versions-deleted' });
    } finally {
      await lake.close();
    }
  }, 120_000);

  it('a purge by age leaves no version and no delete marker of what it deleted', async () => {
    const { dir, env } = setup(serverEnv);
    const old = await ingest(dir, env, 'mixed-b.csv', '2020-01-01');
    await ingest(dir, env, 'other.csv', daysAgo(1));
    const r = await purge(dir, env, ['--days', '30', '--json']);
    expect(r.code).toBe(0);
    const deleted = r.json!.keys as string[];
    expect(deleted.some((k) => k.includes(old.run_id))).toBe(true);
    for (const k of deleted) expect(proxy.versions.get(k) ?? []).toEqual([]);
    expect((r.json!.store_versions as { action: string }).action).toBe('old-versions-deleted');
  }, 120_000);

  it('a versioning state it cannot read: refused (exit 2) naming the permission and the flag, nothing changed; accepted with the flag', async () => {
    const { dir, env, prefix } = setup(serverEnv);
    await ingest(dir, env, 'mixed-a.csv', daysAgo(2));
    proxy.status = 'denied';
    const lake = await lakeFor(env);
    try {
      const before = await snapshot(lake, prefix);
      const refused = await purge(dir, env, ['--subject', SUBJECT]);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain('s3:GetBucketVersioning');
      expect(refused.stderr).toContain('--accept-retained-copies');
      expect(refused.stderr).not.toContain(SUBJECT);
      expect(await snapshot(lake, prefix)).toEqual(before);
      const accepted = await purge(dir, env, ['--subject', SUBJECT, '--accept-retained-copies', '--json']);
      expect(accepted.code).toBe(0);
      expect(accepted.json!.store_versions).toEqual(expect.objectContaining({ action: 'accepted' }));
      expect(trailOf(env, 'retention.store_versions')).toEqual([{ count: 0, detail: expect.objectContaining({ action: 'accepted' }) }]);
    } finally {
      await lake.close();
    }
  }, 120_000);
});

describe('Azure with soft delete for blobs (Azurite)', () => {
  let azure: AzureServer;
  beforeAll(async () => {
    azure = await startAzurite(['watt-lake']);
  });
  afterAll(async () => azure.stop());

  async function softDelete(enabled: boolean, days = 7): Promise<void> {
    const { BlobServiceClient } = await import('@azure/storage-blob');
    await BlobServiceClient.fromConnectionString(azure.connectionString).setProperties({ deleteRetentionPolicy: enabled ? { enabled, days } : { enabled } });
  }

  it('refused while soft delete is on (exit 2, the setting and its days named, nothing changed); accepted and recorded with the flag', async () => {
    const { dir, env, prefix } = setup(azure.env);
    await ingest(dir, env, 'mixed-a.csv', daysAgo(2));
    await softDelete(true, 7);
    const lake = await lakeFor(env);
    try {
      const before = await snapshot(lake, prefix);
      const refused = await purge(dir, env, ['--subject', SUBJECT]);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(/soft delete for blobs: on, 7 days/);
      expect(refused.stderr).toContain('--accept-retained-copies');
      expect(await snapshot(lake, prefix)).toEqual(before);
      const age = await purge(dir, env, ['--days', '30']);
      expect(age.code).toBe(2);

      const accepted = await purge(dir, env, ['--subject', SUBJECT, '--accept-retained-copies', '--json']);
      expect(accepted.code).toBe(0);
      expect(accepted.json!.rows_removed).toBeGreaterThan(0);
      expect(accepted.json!.store_versions).toEqual({ setting: 'Azure soft delete for blobs: on, 7 days', action: 'accepted', days: 7, versions_deleted: 0 });
      expect(trailOf(env, 'retention.store_versions')).toEqual([{ count: 0, detail: { setting: 'Azure soft delete for blobs: on, 7 days', action: 'accepted', days: 7 } }]);
    } finally {
      await lake.close();
      await softDelete(false);
    }
  }, 120_000);

  it('soft delete off: the erasure runs without the flag and records nothing about versions', async () => {
    const { dir, env } = setup(azure.env);
    await ingest(dir, env, 'mixed-a.csv', daysAgo(2));
    const r = await purge(dir, env, ['--subject', SUBJECT, '--json']);
    expect(r.code).toBe(0);
    expect((r.json!.store_versions as { action: string }).action).toBe('none');
    expect(trailOf(env, 'retention.store_versions')).toEqual([]);
  }, 120_000);
});
