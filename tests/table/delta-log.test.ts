/**
 * The table log (issue 23, item 1): what an analyst's engine sees of the lake through
 * `<prefix>/_delta_log/`, read by an independent reader written from Delta Lake's protocol
 * (tests/helpers/delta-reader.ts) and by DuckDB over the files that reader lists — against what
 * DuckDB's glob reads. The real CLI writes the lake: ingest, ingest, erasure, retention by age.
 * Needs the build (dist/).
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { runWatt, scratchDir } from '../helpers/cli.js';
import { readDeltaTable, readDeltaTableFromCheckpoint } from '../helpers/delta-reader.js';
import { useDuckDb } from '../helpers/duckdb.js';
import { FIXTURES, KEY, PREFIX, SUBJECT, wattEnv } from '../retention/helpers.js';
import { Pseudonymiser } from '../../src/records/pseudonymise.js';
import { commitTableVersion, readTableSnapshot } from '../../src/table/delta-log.js';
import { LocalLake } from '../../src/store/local.js';
import { landRun, readings } from '../helpers/v2-lake.js';
import type { Logger } from '../../src/log.js';

const { rows } = useDuckDb();
const rowsOf = (q: string) => rows(q);
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const sql = (s: string) => `'${s.replace(/'/g, "''")}'`;
const list = (files: string[]) => `[${files.map(sql).join(', ')}]`;
const pseudonym = new Pseudonymiser(Buffer.from(KEY, 'utf8'), 'hmac-sha256-128-b64url').pseudonym(SUBJECT);
const DAY = 86_400_000;

/** README "Committed snapshots": the files of a version, listed by DuckDB from the log alone (no delta extension). */
const logFilesSql = (root: string, version?: number) => `
  SELECT list(${sql(root + '/')} || url_decode(path) ORDER BY path) AS files FROM (
    SELECT coalesce(add.path, remove.path) AS path, arg_max(add IS NOT NULL, version) AS live
    FROM (SELECT add, remove, regexp_extract(filename, '(\\d{20})\\.json$', 1)::BIGINT AS version
          FROM read_ndjson(${sql(root + '/_delta_log/*.json')}, filename = true, columns = {add: 'STRUCT(path VARCHAR)', remove: 'STRUCT(path VARCHAR)'}))
    WHERE (add IS NOT NULL OR remove IS NOT NULL) ${version === undefined ? '' : `AND version <= ${version}`}
    GROUP BY ALL)
  WHERE live`;

const logFiles = (r: Record<string, unknown>[]) => (r[0]!.files as { items: string[] }).items;

async function count(files: string[], where = 'true'): Promise<number> {
  return (await rowsOf(`SELECT count(*) AS n FROM read_parquet(${list(files)}) WHERE ${where}`))[0]!.n as number;
}

/** The data objects the manifests under `root` name (watt's committed runs), as sorted file paths. */
function committed(root: string): string[] {
  const bucket = path.dirname(path.dirname(root));
  const folder = path.join(root, '_manifests');
  return readdirSync(folder)
    .filter((n) => n.endsWith('.json'))
    .flatMap((n) => (JSON.parse(readFileSync(path.join(folder, n), 'utf8')) as { objects: { key: string }[] }).objects.map((o) => path.join(bucket, o.key)))
    .sort();
}

async function watt(dir: string, env: Record<string, string>, args: string[]): Promise<Record<string, unknown>> {
  const r = await runWatt([...args, '--json'], { cwd: dir, env });
  if (r.code !== 0) throw new Error(`watt ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

describe('table log (Delta Lake protocol) of a Parquet lake, written by the CLI', () => {
  const dir = scratchDir('watt-delta-');
  dirs.push(dir);
  const env = wattEnv(dir);
  /** The default erasure grace (10 minutes), not the tests' 0. */
  const graceEnv = { ...env, WATT_ERASURE_GRACE_MINUTES: '' };
  const root = path.join(dir, 'lake', 'watt-lake', PREFIX);
  /** The add and remove actions of one commit, read as JSON lines. */
  const actions = (v: number) => {
    const lines = readFileSync(path.join(root, '_delta_log', `${String(v).padStart(20, '0')}.json`), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, Record<string, unknown> & { path: string }>);
    return { add: lines.filter((l) => l.add).map((l) => l.add!), remove: lines.filter((l) => l.remove).map((l) => l.remove!) };
  };
  const ingestArgs = (file: string) => ['ingest', '--source', path.join(FIXTURES, file), '--format', 'parquet', '--partition-by', 'reading_ts', '--allow-expired'];
  const glob = () => `read_parquet(${sql(path.join(root, '**', '*.parquet'))})`;

  it('each run is one version; readers of the log see exactly the committed objects, the glob does not', async () => {
    // Version 0: the first ingest (4 rows over two days).
    const a = await watt(dir, env, ingestArgs('mixed-a.csv'));
    expect(a.table_version).toBe(0);
    let t = readDeltaTable(root);
    expect(t.version).toBe(0);
    expect(t.protocol).toEqual({ minReaderVersion: 1, minWriterVersion: 2 });
    expect(t.metaData.format.provider).toBe('parquet');
    const fields = Object.fromEntries((JSON.parse(t.metaData.schemaString) as { fields: { name: string; type: string }[] }).fields.map((f) => [f.name, f.type]));
    expect(fields).toEqual({ record_id: 'string', customer_id: 'string', meter_id: 'string', reading_ts: 'timestamp', consumption_kwh: 'decimal(18,6)', tariff_eur_kwh: 'decimal(18,6)', is_peak: 'boolean' });
    expect(t.commitInfo).toMatchObject({ operation: 'WRITE', watt: { command: 'ingest', run_id: a.run_id } });
    expect(t.files.map((f) => f.path.split('/').slice(0, 3).join('-'))).toEqual(['2025-01-01', '2025-01-02']);
    for (const f of t.files) expect(statSync(f.file).size).toBe(f.size);
    expect(await count(t.files.map((f) => f.file))).toBe(4);
    expect(t.files.reduce((n, f) => n + f.numRecords!, 0)).toBe(4);
    // Per-file statistics: the bounds of the timestamp column, as DuckDB reads them from each file.
    for (const add of actions(0).add) {
      const stats = JSON.parse(add.stats as string) as { numRecords: number; minValues: Record<string, string>; maxValues: Record<string, string>; nullCount: Record<string, number> };
      const [m] = await rows(`SELECT strftime(min(reading_ts) AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S.%gZ') AS lo, strftime(max(reading_ts) AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S.%gZ') AS hi, count(*) AS n FROM read_parquet(${sql(path.join(root, add.path))})`);
      expect(stats).toEqual({ numRecords: m!.n, minValues: { reading_ts: m!.lo }, maxValues: { reading_ts: m!.hi }, nullCount: { reading_ts: 0 } });
    }

    // An unfinished run's object (killed before its manifest, inside the grace period): the glob reads it, the log does not name it.
    const leftover = path.join(path.dirname(t.files[0]!.file), 'mixed-a_20250101T000000Z-dead00.parquet');
    copyFileSync(t.files[0]!.file, leftover);
    expect(((await rows(`SELECT count(*) AS n FROM ${glob()}`))[0]!.n as number)).toBeGreaterThan(4);

    // Version 1: the second ingest; version 0 still reads as it was (time travel).
    const b = await watt(dir, env, ingestArgs('mixed-b.csv'));
    expect(b.table_version).toBe(1);
    t = readDeltaTable(root);
    expect(t.files).toHaveLength(3);
    expect(t.files.map((f) => f.file)).toEqual(committed(root));
    expect(t.files.map((f) => f.file)).not.toContain(leftover);
    expect(await count(t.files.map((f) => f.file))).toBe(7);
    expect(readDeltaTable(root, 0).files).toHaveLength(2);
    // The README's DuckDB read of the log (no extension) lists the same files, at each version.
    expect(logFiles(await rows(logFilesSql(root)))).toEqual(t.files.map((f) => f.file));
    expect(logFiles(await rows(logFilesSql(root, 0)))).toEqual(readDeltaTable(root, 0).files.map((f) => f.file));

    // A run that changes nothing (already ingested) commits no version.
    const again = await watt(dir, env, ingestArgs('mixed-a.csv'));
    expect(again.status).toBe('skipped');
    expect(readDeltaTable(root).versions).toEqual([0, 1]);

    // Version 2: the erasure of one subject (3 committed rows in two objects; the unfinished
    // run's copy is not rewritten: erasure rewrites only objects named by the manifests it read,
    // issue 21, and counts the other as unfinished): one DELETE version that removes the two old
    // paths and adds their copies without the subject under new keys; the log's files hold none
    // of the subject's rows. With the default erasure grace (10 min) the old objects stay for
    // readers of version 1, which still reads whole.
    const v1 = readDeltaTable(root, 1).files;
    const erased = await watt(dir, graceEnv, ['purge', '--subject', SUBJECT, '--yes']);
    expect(erased).toMatchObject({ rows_removed: 3, objects_unfinished: 1, table_version: 2, vacuum: { grace_minutes: 10, deleted: [] } });
    t = readDeltaTable(root);
    expect(t.commitInfo).toMatchObject({ operation: 'DELETE', watt: { command: 'purge --subject' } });
    expect(JSON.stringify(t.commitInfo)).not.toContain(pseudonym);
    const commit2 = actions(2);
    expect(commit2.remove.map((r) => r.path).sort()).toEqual((erased.objects as { key: string }[]).map((o) => o.key.slice(PREFIX.length + 1)).sort());
    for (const r of commit2.remove) expect(r).toMatchObject({ dataChange: true, deletionTimestamp: expect.any(Number) });
    expect(commit2.add.map((a) => a.path).sort()).toEqual((erased.objects as { new_key: string }[]).map((o) => o.new_key.slice(PREFIX.length + 1)).sort());
    for (const a of commit2.add) expect(a.path).toMatch(/\.erasure-\d{8}T\d{6}Z-[a-z0-9]+_\d{8}T\d{6}Z-[a-z0-9]+\.parquet$/);
    for (const f of t.files) expect(statSync(f.file).size).toBe(f.size);
    const files2 = t.files.map((f) => f.file);
    expect(files2).toEqual(committed(root));
    expect(await count(files2)).toBe(4);
    expect(await count(files2, `customer_id = ${sql(pseudonym)}`)).toBe(0);
    expect(t.files.reduce((n, f) => n + f.numRecords!, 0)).toBe(4);
    // Version 1 is still whole for a reader that pinned it (its files, the subject's rows included).
    expect(await count(v1.map((f) => f.file))).toBe(7);
    // verify: the old objects are pending (not failures) until the grace ends; watt vacuum keeps
    // them within the grace and deletes them after (--grace 0 stands for "10 minutes later").
    const verified = await watt(dir, graceEnv, ['verify']);
    expect(verified).toMatchObject({ ok: true });
    expect((verified.findings as { kind: string; detail: string }[]).filter((f) => /replaced by an erasure/.test(f.detail)).map((f) => f.kind)).toEqual(['pending', 'pending']);
    expect(await watt(dir, graceEnv, ['vacuum'])).toMatchObject({ deleted: [], pending: [expect.objectContaining({ reason: expect.stringMatching(/within the erasure grace/) }), expect.anything()] });
    const bad = await runWatt(['vacuum'], { cwd: dir, env: { ...env, WATT_ERASURE_GRACE_MINUTES: 'soon' } });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/invalid WATT_ERASURE_GRACE_MINUTES "soon": expected minutes from 0 to 1440/);
    const vacuumed = await watt(dir, graceEnv, ['vacuum', '--grace', '0']);
    expect((vacuumed.deleted as string[]).sort()).toEqual(commit2.remove.map((r) => `${PREFIX}/${r.path}`).sort());
    for (const r of commit2.remove) expect(existsSync(path.join(root, r.path))).toBe(false);
    expect(readDeltaTable(root).version).toBe(2); // the vacuum commits no version: the files it deletes are in none but older ones
    const clean = await watt(dir, graceEnv, ['verify']);
    expect(clean.ok).toBe(true);
    expect((clean.findings as { detail: string }[]).filter((f) => /erasure/.test(f.detail))).toEqual([]);

    // Version 3: retention by age drops January (the cutoff falls between January and February 2025).
    const days = Math.floor((Date.now() - Date.UTC(2025, 0, 20)) / DAY);
    const purged = await watt(dir, env, ['purge', '--days', String(days), '--yes']);
    expect(purged.table_version).toBe(3);
    t = readDeltaTable(root);
    expect(t.commitInfo).toMatchObject({ operation: 'DELETE', watt: { command: 'purge' } });
    expect(t.files.map((f) => f.path.slice(0, 7))).toEqual(['2025/02']);
    expect(actions(3).add).toEqual([]);
    expect(actions(3).remove.map((r) => r.path.slice(0, 7)).sort()).toEqual(['2025/01', '2025/01']);
    expect(t.files.map((f) => f.file)).toEqual(committed(root));
    expect(await count(t.files.map((f) => f.file))).toBe(2);
    expect(t.versions).toEqual([0, 1, 2, 3]);
    expect(logFiles(await rows(logFilesSql(root)))).toEqual(t.files.map((f) => f.file));
    // Every file any version still names is on disk only if the latest names it or an old version does.
    for (const f of t.files) expect(statSync(f.file).isFile()).toBe(true);
  });
});

describe('table log across a killed erasure', () => {
  it.each(['purge:erasure-after-object', 'purge:erasure-after-manifest'])('killed at %s: the latest version still equals the committed objects; the rerun commits one version without the subject', async (failpoint) => {
    const dir = scratchDir('watt-delta-kill-');
    dirs.push(dir);
    const env = wattEnv(dir);
    const root = path.join(dir, 'lake', 'watt-lake', PREFIX);
    for (const file of ['mixed-a.csv', 'mixed-b.csv']) await watt(dir, env, ['ingest', '--source', path.join(FIXTURES, file), '--format', 'parquet', '--allow-expired']);
    expect(readDeltaTable(root).version).toBe(1);
    const killed = await runWatt(['purge', '--subject', SUBJECT], { cwd: dir, env: { ...env, WATT_FAILPOINT: failpoint } });
    expect(killed.code).toBeNull();
    // No version was committed by the killed run: the latest version is still version 1, every
    // file of it on disk and whole (the old object is only vacuumed after the run's version).
    // Killed after the new copy, before the manifest: the manifests still commit the old object,
    // as the log does. Killed after the manifest: the manifests name the copy, the log still the
    // old object (it lags by that object until the next run publishes).
    let t = readDeltaTable(root);
    expect(t.version).toBe(1);
    const files = t.files.map((f) => f.file);
    for (const f of t.files) expect(statSync(f.file).size).toBe(f.size);
    expect(await count(files)).toBe(7);
    if (failpoint.endsWith('object')) expect(files).toEqual(committed(root));
    else expect(committed(root).map((f) => f.replace(/\.erasure-[^_]+/, ''))).toEqual(files);
    const again = await watt(dir, env, ['purge', '--subject', SUBJECT]);
    expect(again.table_version).toBe(2);
    t = readDeltaTable(root);
    expect(t.versions).toEqual([0, 1, 2]);
    expect(t.files.map((f) => f.file)).toEqual(committed(root));
    expect(await count(t.files.map((f) => f.file))).toBe(4);
    expect(await count(t.files.map((f) => f.file), `customer_id = ${sql(pseudonym)}`)).toBe(0);
    // Nothing else is left on disk either: the replaced objects were vacuumed (no grace in these tests).
    expect(((await rows(`SELECT count(*) AS n FROM read_parquet(${sql(path.join(root, '**', '*.parquet'))}) WHERE customer_id = ${sql(pseudonym)}`))[0]!.n as number)).toBe(0);
    expect(await watt(dir, env, ['verify'])).toMatchObject({ ok: true, findings: [] });
  });
});

describe('table log: commits and catch-up on a local lake', () => {
  const silent = { info() {}, warn() {}, debug() {}, error() {} } as unknown as Logger;

  it('a run that died between its manifest and its commit is published by the next version; racing writers get distinct versions', async () => {
    const dir = scratchDir('watt-delta-race-');
    dirs.push(dir);
    const tmp = path.join(dir, 'tmp');
    mkdirSync(tmp);
    const lake = new LocalLake(path.join(dir, 'lake'), 'watt-lake');
    const prefix = 'p/raw';
    // Two runs landed with manifests but no log commit (as if each died after its manifest).
    await landRun(lake, readings(['2025-03-01', '2025-03-02'], 3, ['C1', 'C2']), { prefix, runId: '20250301T000000Z-aaaaaa', format: 'parquet', key: KEY, tmp });
    await landRun(lake, readings(['2025-03-03'], 2, ['C1'], 'B'), { prefix, runId: '20250302T000000Z-bbbbbb', format: 'csv', key: KEY, tmp });
    const op = { operation: 'WRITE' as const, command: 'ingest', runId: '20250303T000000Z-cccccc' };
    // Five writers race for the first version: one wins it, the others find nothing left to commit.
    const results = await Promise.all(Array.from({ length: 5 }, () => commitTableVersion(lake, prefix, op, silent)));
    expect(results.filter((r) => r !== undefined).map((r) => r!.version)).toEqual([0]);
    const t = readDeltaTable(path.join(dir, 'lake', 'watt-lake', prefix));
    expect(t.files.map((f) => [f.path.split('/').slice(0, 3).join('/'), path.extname(f.path), f.numRecords])).toEqual([
      ['year=2025/month=3/day=1', '.parquet', 3],
      ['year=2025/month=3/day=2', '.parquet', 3],
      ['year=2025/month=3/day=3', '.csv', 2],
    ]);
    for (const f of t.files) expect(statSync(f.file).size).toBe(f.size);
    expect(readdirSync(path.join(dir, 'lake', 'watt-lake', prefix, '_delta_log'))).toEqual(['00000000000000000000.json']);
    // watt's own replay agrees with the independent reader.
    const own = await readTableSnapshot(lake, prefix);
    expect([...own.files.keys()].sort()).toEqual(t.files.map((f) => f.path));
  });
});


describe('table log checkpoints', () => {
  const silent = { info() {}, warn() {}, debug() {}, error() {} } as unknown as Logger;

  it('every 10 versions a checkpoint (Parquet, create-if-absent) and _last_checkpoint; a reader starting from it sees what the full replay sees, at every version', async () => {
    const dir = scratchDir('watt-delta-cp-');
    dirs.push(dir);
    const tmp = path.join(dir, 'tmp');
    mkdirSync(tmp);
    const lake = new LocalLake(path.join(dir, 'lake'), 'watt-lake');
    const prefix = 'p/raw';
    const root = path.join(dir, 'lake', 'watt-lake', prefix);
    const op = (runId: string) => ({ operation: 'WRITE' as const, command: 'ingest', runId });
    // 12 versions: 11 runs landed and committed one by one, then one run's manifest deleted
    // (retention) so that the table holds a tombstone past the checkpoint.
    for (let i = 0; i < 11; i++) {
      const runId = `202503${String(i + 1).padStart(2, '0')}T000000Z-r${String(i).padStart(5, '0')}`;
      await landRun(lake, readings([`2025-03-${String(i + 1).padStart(2, '0')}`], 2, ['C1', 'C2'], `T${i}`), { prefix, runId, format: i % 2 ? 'csv' : 'parquet', key: KEY, tmp });
      expect((await commitTableVersion(lake, prefix, op(runId), silent))!.version).toBe(i);
    }
    // Versions 0..10: the checkpoint of version 10 exists, _last_checkpoint names it.
    const log = readdirSync(path.join(root, '_delta_log'));
    expect(log.filter((n) => n.includes('checkpoint')).sort()).toEqual(['00000000000000000010.checkpoint.parquet', '_last_checkpoint']);
    expect(JSON.parse(readFileSync(path.join(root, '_delta_log', '_last_checkpoint'), 'utf8'))).toMatchObject({ version: 10, size: 2 + 11 });
    // The checkpoint is Parquet other engines read: DuckDB sees one action per row.
    const cp = path.join(root, '_delta_log', '00000000000000000010.checkpoint.parquet');
    expect(await rows(`SELECT count(*) FILTER (WHERE add IS NOT NULL) AS adds, count(*) FILTER (WHERE protocol IS NOT NULL) AS protocols, count(*) FILTER (WHERE metaData IS NOT NULL) AS metas, max(protocol.minReaderVersion) AS reader FROM read_parquet(${sql(cp)})`)).toEqual([{ adds: 11, protocols: 1, metas: 1, reader: 1 }]);
    // Version 11: one run's manifest gone (its objects deleted): one remove after the checkpoint.
    const gone = '20250301T000000Z-r00000';
    const dropped = readDeltaTable(root).files.filter((f) => f.path.includes(gone));
    await lake.delete([`${prefix}/_manifests/${gone}.json`, ...dropped.map((f) => `${prefix}/${f.path}`)]);
    expect((await commitTableVersion(lake, prefix, { operation: 'DELETE', command: 'purge', runId: '20250401T000000Z-zzzzzz' }, silent))!.version).toBe(11);
    // The reader that starts from the checkpoint agrees with the full replay at 10 and 11, and
    // with the files the manifests commit.
    for (const v of [10, 11]) {
      const fromCheckpoint = await readDeltaTableFromCheckpoint(root, v);
      expect(fromCheckpoint.checkpoint).toBe(10);
      const full = readDeltaTable(root, v);
      expect(fromCheckpoint.files).toEqual(full.files);
      expect(fromCheckpoint.metaData.schemaString).toBe(full.metaData.schemaString);
      expect(fromCheckpoint.protocol).toEqual(full.protocol);
    }
    const latest = await readDeltaTableFromCheckpoint(root);
    expect(latest.version).toBe(11);
    expect(latest.files.map((f) => f.file)).toEqual(committed(root));
    expect(latest.files.some((f) => f.path.includes(gone))).toBe(false);
    // Before the checkpoint (time travel to 9): the JSON commits from version 0.
    expect((await readDeltaTableFromCheckpoint(root, 9)).checkpoint).toBeUndefined();
    expect((await readDeltaTableFromCheckpoint(root, 9)).files).toHaveLength(10);
    // The checkpoint is never replaced: a second writer of version 10's checkpoint finds it there.
    const before = readFileSync(cp);
    const { writeCheckpoint } = await import('../../src/table/delta-checkpoint.js');
    await writeCheckpoint(lake, prefix, await readTableSnapshot(lake, prefix, 10), silent);
    expect(readFileSync(cp)).toEqual(before);
    expect(JSON.parse(readFileSync(path.join(root, '_delta_log', '_last_checkpoint'), 'utf8')).version).toBe(10);
  });
});
