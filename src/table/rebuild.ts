import { createHash } from 'node:crypto';
import type { Catalog } from '../catalog/catalog.js';
import type { Logger } from '../log.js';
import type { Lake } from '../store/types.js';
import { appendTrail } from '../trail/trail.js';
import { manifestKey } from './layout.js';
import { manifestObjects, type Manifest } from './manifest.js';
import { hashAndCount } from './verify-checks.js';

/** What {@link rebuildManifest} did for one committed run whose manifest is gone. */
export interface ManifestRebuild {
  run_id: string;
  /** The manifest key (`<prefix>/_manifests/<run_id>.json`). */
  key: string;
  /** The manifest is back in the lake (written create-if-absent from the catalog's copy). */
  restored: boolean;
  /** One line, no personal data: what was checked, or why the run was left alone. */
  reason: string;
  /** Objects re-hashed before the manifest was written back. */
  objects_checked: number;
}

/**
 * Rebuild the lost manifest of a run the catalog records as committed (`watt verify --repair`,
 * issue 21: a repair never deletes committed data, and brings back what it can prove).
 *
 * The catalog keeps the text of every manifest watt wrote or rewrote (table `manifest_bodies`,
 * migration 6). The manifest is written back only when (1) that text hashes to the sha256 recorded
 * with it, (2) it names this run, and (3) every object it names (data objects and the quarantine
 * file, which must be present) is in the lake with the sha256, size and row count it states (streamed by
 * {@link hashAndCount}). A `recovery.restore_manifest` trail entry is written first, then the
 * manifest with create-if-absent ({@link Lake.putIfAbsent}): a manifest that reappeared meanwhile is
 * never overwritten. Otherwise the run is reported with the reason and left alone.
 *
 * @param destination URI of the lake folder, as trail entries record it.
 * @param repairRunId the `watt verify --repair` run (named in the trail entry).
 * @throws StorageError (3) from the lake.
 */
export async function rebuildManifest(ctx: { lake: Lake; catalog: Catalog; prefix: string; destination: string; repairRunId: string; logger: Logger; signal?: AbortSignal }, runId: string): Promise<ManifestRebuild> {
  const { lake, catalog } = ctx;
  const key = manifestKey(ctx.prefix, runId);
  const result = (restored: boolean, reason: string, objects_checked = 0): ManifestRebuild => ({ run_id: runId, key, restored, reason, objects_checked });
  const kept = catalog.manifestBody(lake.provider, lake.bucket, key);
  if (!kept) return result(false, `the catalog keeps no copy of its manifest (written before watt kept them, or by another machine): restore ${key} from a backup`);
  if (createHash('sha256').update(kept.body).digest('hex') !== kept.sha256) return result(false, 'the catalog copy of its manifest does not hash to the sha256 recorded with it: left alone');
  let manifest: Partial<Manifest>;
  try {
    manifest = JSON.parse(kept.body) as Partial<Manifest>;
  } catch {
    return result(false, 'the catalog copy of its manifest is not JSON: left alone');
  }
  if (manifest.run_id !== runId) return result(false, `the catalog copy names run ${String(manifest.run_id)}, not ${runId}: left alone`);
  const expected: { key: string; sha256?: string; bytes?: number; rows?: number }[] = manifestObjects(manifest).map((o) => ({ key: o.key, sha256: o.sha256, bytes: o.bytes, rows: o.rows }));
  // The quarantine file has no sha256 in the manifest: it must be present.
  if (manifest.rejects && typeof manifest.rejects.key === 'string') expected.push({ key: manifest.rejects.key });
  let checked = 0;
  for (const e of expected) {
    if (ctx.signal?.aborted) return result(false, 'interrupted before every object was checked: left alone', checked);
    if (!(await lake.head(e.key))) return result(false, `${e.key}, named by the catalog copy, is not in the lake: left alone`, checked);
    const read = await hashAndCount(lake, e.key, ctx.signal);
    checked++;
    if ((e.sha256 !== undefined && read.sha256 !== e.sha256) || (typeof e.bytes === 'number' && read.bytes !== e.bytes)) return result(false, `${e.key} no longer hashes to the catalog copy's sha256 (rewritten since?): left alone`, checked);
    if (typeof e.rows === 'number' && read.rows !== undefined && read.rows !== e.rows) return result(false, `${e.key} holds ${read.rows} rows, the catalog copy says ${e.rows}: left alone`, checked);
  }
  appendTrail(catalog.db, [{ action: 'recovery.restore_manifest', lake: ctx.destination, key, count: checked, run_id: ctx.repairRunId, detail: { run: runId, sha256: kept.sha256, objects: checked } }]);
  const written = await lake.putIfAbsent(key, kept.body, { sha256: kept.sha256, contentType: 'application/json' });
  if (!written) return result(false, `${key} appeared again while the repair checked its objects: not overwritten`, checked);
  ctx.logger.warn(`restored the manifest of committed run ${runId} from the catalog (${checked} objects re-hashed): ${lake.uri(key)}`, { step: 'repair', key });
  return result(true, `manifest rebuilt from the catalog's copy after re-hashing ${checked} object${checked === 1 ? '' : 's'}`, checked);
}
