import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { parquetReadObjects } from 'hyparquet';
import path from 'node:path';

/**
 * A small reader of a Delta Lake table log on a local folder, written from the protocol
 * (delta-io/delta PROTOCOL.md: "Delta Log Entries", "Actions", "Action Reconciliation"), with
 * none of watt's code: the tests' independent check of what watt's log says. Supports what a
 * reader-version-1 table needs: contiguous `_delta_log/<20 digits>.json`
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

/** State carried from a checkpoint into the replay of the commits after it. */
interface Seed {
  from: number;
  protocol?: DeltaSnapshot['protocol'];
  metaData?: DeltaSnapshot['metaData'];
  live: Map<string, { size: number; stats?: string }>;
}

/**
 * Read the snapshot as a reader that trusts checkpoints does (PROTOCOL.md "Checkpoints", "Last
 * Checkpoint File"): `_delta_log/_last_checkpoint` names a version; its
 * `<version>.checkpoint.parquet` (read with hyparquet: one action per row, each a struct column)
 * gives the state at that version, and only the JSON commits after it are replayed. Without a
 * usable checkpoint (none, or newer than `version`), the same as {@link readDeltaTable}.
 */
export async function readDeltaTableFromCheckpoint(root: string, version?: number): Promise<DeltaSnapshot & { checkpoint?: number }> {
  const logDir = path.join(root, '_delta_log');
  const pointer = path.join(logDir, '_last_checkpoint');
  if (!existsSync(pointer)) return readDeltaTable(root, version);
  const last = JSON.parse(readFileSync(pointer, 'utf8')) as { version: number; size: number };
  if (version !== undefined && last.version > version) return readDeltaTable(root, version);
  const body = readFileSync(path.join(logDir, `${String(last.version).padStart(20, '0')}.checkpoint.parquet`));
  const file = body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength) as ArrayBuffer;
  const rows = (await parquetReadObjects({ file })) as Record<string, Record<string, unknown> | null>[];
  if (rows.length !== last.size) throw new Error(`checkpoint ${last.version} holds ${rows.length} actions, _last_checkpoint says ${last.size}`);
  const seed: Seed = { from: last.version + 1, live: new Map() };
  for (const row of rows) {
    const set = Object.entries(row).filter(([, v]) => v !== null && v !== undefined);
    if (set.length !== 1) throw new Error(`a checkpoint row must hold one action, got ${set.map(([k]) => k).join(',') || 'none'}`);
    const [kind, action] = set[0]! as [string, Record<string, unknown>];
    if (kind === 'protocol') seed.protocol = action as DeltaSnapshot['protocol'];
    else if (kind === 'metaData') seed.metaData = action as DeltaSnapshot['metaData'];
    else if (kind === 'add') seed.live.set(action.path as string, { size: Number(action.size), stats: (action.stats as string | null) ?? undefined });
    else if (kind !== 'remove') throw new Error(`unexpected action ${kind} in a checkpoint`);
  }
  return { ...replay(root, version, seed), checkpoint: last.version };
}

/** Read the snapshot of the table at `root` (the latest version, or `version`) from its JSON commits alone. Throws on anything the protocol forbids. */
export function readDeltaTable(root: string, version?: number): DeltaSnapshot {
  return replay(root, version, { from: 0, live: new Map() });
}

function replay(root: string, version: number | undefined, seed: Seed): DeltaSnapshot {
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
  let protocol: DeltaSnapshot['protocol'] | undefined = seed.protocol;
  let metaData: DeltaSnapshot['metaData'] | undefined = seed.metaData;
  let commitInfo: Record<string, unknown> | undefined;
  const live = seed.live;
  for (let v = seed.from; v <= target; v++) {
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
