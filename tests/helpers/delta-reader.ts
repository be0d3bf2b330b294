import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * A small reader of a Delta Lake table log on a local folder, written from the protocol
 * (delta-io/delta PROTOCOL.md: "Delta Log Entries", "Actions", "Action Reconciliation"), with
 * none of watt's code: the tests' independent check of what watt's log says. Supports what a
 * reader-version-1 table without checkpoints needs: contiguous `_delta_log/<20 digits>.json`
 * commits from 0, newline-delimited JSON actions, `protocol`, `metaData`, `add`, `remove`,
 * `commitInfo`; time travel by version.
 */
export interface DeltaSnapshot {
  version: number;
  protocol: { minReaderVersion: number; minWriterVersion: number };
  metaData: { id: string; format: { provider: string }; schemaString: string; partitionColumns: string[] };
  /** The `commitInfo` of the snapshot's own commit. */
  commitInfo: Record<string, unknown> | undefined;
  /** The live files: path decoded and resolved against the table root, size from the log, numRecords from `stats`. */
  files: { path: string; file: string; size: number; numRecords: number | undefined }[];
  /** Every version present in the log. */
  versions: number[];
}

/** Read the snapshot of the table at `root` (the latest version, or `version`). Throws on anything the protocol forbids. */
export function readDeltaTable(root: string, version?: number): DeltaSnapshot {
  const logDir = path.join(root, '_delta_log');
  const versions = readdirSync(logDir)
    .filter((n) => /^\d{20}\.json$/.test(n))
    .map((n) => Number(n.slice(0, 20)))
    .sort((a, b) => a - b);
  versions.forEach((v, i) => {
    if (v !== i) throw new Error(`log not contiguous: version ${i} missing`);
  });
  const target = version ?? versions.length - 1;
  if (target < 0 || target >= versions.length) throw new Error(`no version ${target}`);
  let protocol: DeltaSnapshot['protocol'] | undefined;
  let metaData: DeltaSnapshot['metaData'] | undefined;
  let commitInfo: Record<string, unknown> | undefined;
  const live = new Map<string, { size: number; stats?: string }>();
  for (let v = 0; v <= target; v++) {
    const text = readFileSync(path.join(logDir, `${String(v).padStart(20, '0')}.json`), 'utf8');
    const seenAdd = new Set<string>();
    const seenRemove = new Set<string>();
    let metaInCommit = 0;
    commitInfo = undefined;
    for (const line of text.split('\n')) {
      if (line === '') continue;
      const action = JSON.parse(line) as Record<string, Record<string, unknown>>;
      const kinds = Object.keys(action);
      if (kinds.length !== 1) throw new Error(`commit ${v}: an action line must hold one action, got ${kinds.join(',')}`);
      if (action.protocol) protocol = action.protocol as DeltaSnapshot['protocol'];
      else if (action.metaData) {
        metaInCommit++;
        metaData = action.metaData as DeltaSnapshot['metaData'];
      } else if (action.commitInfo) commitInfo = action.commitInfo;
      else if (action.add) {
        const p = action.add.path as string;
        // "at most one file action of the same type for any path" in a commit.
        if (seenAdd.has(p)) throw new Error(`commit ${v}: two adds of ${p}`);
        seenAdd.add(p);
        for (const field of ['path', 'partitionValues', 'size', 'modificationTime', 'dataChange']) {
          if (!(field in action.add)) throw new Error(`commit ${v}: add without required ${field}`);
        }
        live.set(p, { size: action.add.size as number, stats: action.add.stats as string | undefined });
      } else if (action.remove) {
        const p = action.remove.path as string;
        if (seenRemove.has(p)) throw new Error(`commit ${v}: two removes of ${p}`);
        seenRemove.add(p);
        if (seenAdd.has(p)) throw new Error(`commit ${v}: ${p} both added and removed`);
        if (!('dataChange' in action.remove)) throw new Error(`commit ${v}: remove without dataChange`);
        live.delete(p);
      }
    }
    if (metaInCommit > 1) throw new Error(`commit ${v}: more than one metaData`);
    if (v === 0 && (!protocol || !metaData)) throw new Error('version 0 must hold protocol and metaData');
  }
  if (protocol!.minReaderVersion > 1) throw new Error(`reader version ${protocol!.minReaderVersion} not supported by this reader`);
  return {
    version: target,
    protocol: protocol!,
    metaData: metaData!,
    commitInfo,
    versions,
    files: [...live].map(([p, a]) => {
      const decoded = p.split('/').map(decodeURIComponent).join('/');
      return { path: decoded, file: path.join(root, decoded), size: a.size, numRecords: a.stats ? (JSON.parse(a.stats) as { numRecords?: number }).numRecords : undefined };
    }).sort((a, b) => (a.path < b.path ? -1 : 1)),
  };
}
