import { rm } from 'node:fs/promises';
import { readSpoolStream } from '../spool-crypto.js';
import type { DataFormat } from '../table/manifest.js';
import type { TransformOutcome } from './transform-plan.js';

/**
 * Remove from a run's spooled data files (before their upload) the rows of subjects erased from
 * the prefix while the run was transforming (issue 21: an ingest that started before an erasure
 * and commits after it must not bring the subject back). `pseudonyms` are the subjects'
 * pseudonyms under the run's key id (from the catalog's `erasures`, {@link Catalog.erasedSince});
 * rows holding one in any personal `column` are dropped with the erasure's own rewriters, so
 * kept rows stay byte-identical. The filtered copy is a new encrypted spool file (its own cipher,
 * src/spool-crypto.ts) beside the old one, which is removed. A partition left empty is dropped.
 * `outcome` is updated in place (files, ciphers, sha256, bytes, rows).
 * @returns the rows removed.
 * @throws DataError when a spool file cannot be read back (not expected: watt wrote it).
 */
export async function filterErasedSubjects(outcome: TransformOutcome, format: DataFormat, columns: readonly string[], pseudonyms: readonly string[], signal?: AbortSignal): Promise<number> {
  if (!pseudonyms.length || !columns.length) return 0;
  const subjects = new Set(pseudonyms);
  // The erasure's rewriters (and the Parquet reader) load only when a subject was erased meanwhile.
  const { rewriteCsv, rewriteParquet } = await import('../retention/erasure.js');
  let removed = 0;
  const kept: TransformOutcome['partitions'] = [];
  for (const p of outcome.partitions) {
    const out = `${p.file}.erased`;
    let r;
    try {
      r =
        format === 'parquet'
          ? await rewriteParquet(p.file, columns, subjects, out, signal, p.cipher, true)
          : await rewriteCsv(readSpoolStream(p.file, p.cipher, { signal }), columns, subjects, out, signal, true);
    } catch (err) {
      // A copy cut short goes now (beside a staged object, no spool clean-up would find it).
      await rm(out, { force: true });
      throw err;
    }
    if (r.removed === 0) {
      await rm(out, { force: true });
      kept.push(p);
      continue;
    }
    removed += r.removed;
    if (r.kept === 0) {
      await rm(out, { force: true });
      await rm(p.file, { force: true });
      continue;
    }
    if (!r.cipher) throw new Error('the filtered spool copy has no cipher');
    await rm(p.file, { force: true });
    kept.push({ ...p, file: out, cipher: r.cipher, rows: r.kept, sha256: r.sha256, bytes: r.bytes });
  }
  outcome.partitions = kept;
  outcome.rows -= removed;
  return removed;
}
