import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import path from 'node:path';
import { filesUnder, runWatt, scratchDir, BIN } from '../helpers/cli.js';

const KEY = { WATT_PSEUDONYMISATION_KEY: 'test-key-0123456789abcdef0123456789abcdef' };
const HEADER = 'record_id,customer_id,meter_id,reading_ts,consumption_kwh,tariff_eur_kwh,is_peak';

/**
 * Writes `rows` readings (line n+1 holds REC-n). Rows listed in `bad` get a negative kWh; row
 * `quoted` carries a quoted field with a newline, in an extra column, so that line numbers past
 * it are shifted by one.
 */
async function writeSource(file: string, rows: number, bad: number[] = []): Promise<void> {
  const out = createWriteStream(file);
  out.write(HEADER + '\n');
  let chunk = '';
  for (let i = 0; i < rows; i++) {
    const kwh = bad.includes(i) ? '-1' : ((i % 300) / 10).toFixed(1);
    chunk += `REC-${i},CUST-${i % 1000},METER-${i % 1000},2025-01-01T08:00:00Z,${kwh},0.18,${i % 2 ? 'true' : 'false'}\n`;
    if (chunk.length > 65536) {
      if (!out.write(chunk)) await once(out, 'drain');
      chunk = '';
    }
  }
  out.end(chunk);
  await once(out, 'finish');
}

/** Every file of the lake under `cwd` (none when the lake folder was never created). */
const lakeFiles = (cwd: string) => (existsSync(path.join(cwd, 'lake')) ? filesUnder(path.join(cwd, 'lake')) : []);

describe('watt ingest on a file large enough to be checked in parallel ranges', () => {
  it('reports the right line numbers in both halves and keeps every row once, in order', async () => {
    const cwd = scratchDir();
    const src = path.join(cwd, 'large.csv');
    const rows = 120_000; // ~9 MB: above the 4 MiB parallel threshold
    const bad = [5, 59_999, 60_001, 119_998];
    await writeSource(src, rows, bad);
    const r = await runWatt(['ingest', '--source', src, '--quarantine', '--json', '--verbose'], { cwd, env: KEY });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/checking 2 ranges in parallel worker threads/);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ rows: rows - bad.length, rejected: bad.length });
    const lake = path.join(cwd, 'lake', 'watt-lake', 'watt-about-it', 'raw');
    const rejects = readFileSync(path.join(lake, '_rejects', `${out.run_id}.jsonl`), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(rejects.map((e) => e.line)).toEqual(bad.map((i) => i + 2));
    const body = readFileSync(new URL(out.destination), 'utf8').trimEnd().split('\n');
    expect(body[0]).toBe(HEADER);
    const ids = body.slice(1).map((l) => Number(l.slice(4, l.indexOf(','))));
    const expected = Array.from({ length: rows }, (_, i) => i).filter((i) => !bad.includes(i));
    expect(ids).toEqual(expected);
    // The object's sha256 in the manifest (hashed while the two ranges' parts were joined) is
    // the sha256 of the object's bytes.
    const manifest = JSON.parse(readFileSync(path.join(lake, '_manifests', `${out.run_id}.json`), 'utf8'));
    const bytes = readFileSync(new URL(out.destination));
    expect(manifest.objects).toHaveLength(1);
    expect(manifest.objects[0]).toMatchObject({ sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length });
    // The object was built in the lake's temp folder while the second range ran, then moved onto its key.
    expect(readdirSync(path.join(cwd, 'lake', 'watt-lake', '.watt-tmp'))).toEqual([]);
  });

  it('a run killed after its ranges leaves its staged object only in the lake temp folder; the next run removes it and lands every row once', async () => {
    const cwd = scratchDir();
    const src = path.join(cwd, 'large.csv');
    const rows = 120_000;
    await writeSource(src, rows);
    const killed = await runWatt(['ingest', '--source', src, '--json'], { cwd, env: { ...KEY, WATT_FAILPOINT: 'ingest:after-spool' } });
    expect(killed.code).toBeNull(); // SIGKILL
    const tmp = path.join(cwd, 'lake', 'watt-lake', '.watt-tmp');
    const staged = readdirSync(tmp);
    expect(staged).toHaveLength(1);
    const object = readFileSync(path.join(tmp, staged[0]!), 'utf8');
    // The whole object, pseudonymised (no raw identifier), private, under no key.
    expect(object.split('\n').filter(Boolean)).toHaveLength(rows + 1);
    expect(object).not.toMatch(/CUST-|METER-/);
    expect(statSync(path.join(tmp, staged[0]!)).mode & 0o777).toBe(0o600);
    expect(existsSync(path.join(cwd, 'lake', 'watt-lake', 'watt-about-it'))).toBe(false);

    const again = await runWatt(['ingest', '--source', src, '--json'], { cwd, env: KEY });
    expect(again.code).toBe(0);
    expect(readdirSync(tmp)).toEqual([]);
    const body = readFileSync(new URL(JSON.parse(again.stdout).destination), 'utf8').trimEnd().split('\n');
    expect(body.slice(1).map((l) => Number(l.slice(4, l.indexOf(','))))).toEqual(Array.from({ length: rows }, (_, i) => i));
  });

  it('names the line of an invalid UTF-8 byte deep in the second range (lines counted only then)', async () => {
    const cwd = scratchDir();
    const src = path.join(cwd, 'large.csv');
    await writeSource(src, 120_000);
    const text = readFileSync(src);
    const at = text.indexOf('REC-100000,');
    const broken = Buffer.concat([text.subarray(0, at + 4), Buffer.from([0xff]), text.subarray(at + 4)]);
    writeFileSync(src, broken);
    const r = await runWatt(['ingest', '--source', src], { cwd, env: KEY });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/invalid UTF-8 at line 100002\b/);
    expect(lakeFiles(cwd)).toEqual([]);
  });

  it('fails strict runs with the first error by line, across ranges, and writes nothing', async () => {
    const cwd = scratchDir();
    const src = path.join(cwd, 'large.csv');
    await writeSource(src, 120_000, [100_000]);
    const r = await runWatt(['ingest', '--source', src], { cwd, env: KEY });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/watt: 1 invalid row in large\.csv, nothing was written \(first: line 100002, column consumption_kwh: "-1" must be >= 0\)/);
    // No object and no staged file: at most the lake's empty temp folder, where the object was being built.
    expect(lakeFiles(cwd)).toEqual([]);
  });

  it('stops on Ctrl-C with exit 130, leaves nothing in the lake and no spool file', async () => {
    const cwd = scratchDir();
    const src = path.join(cwd, 'large.csv');
    await writeSource(src, 400_000);
    const child = spawn(process.execPath, [BIN, 'ingest', '--source', src, '--verbose'], { cwd, env: { PATH: process.env.PATH, NO_COLOR: '1', ...KEY } });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
      // Interrupt once the rows are being checked (spool files exist by then).
      if (/checking 2 ranges/.test(stderr)) child.kill('SIGINT');
    });
    const [code] = await once(child, 'close');
    expect(code).toBe(130);
    expect(stderr).toMatch(/watt: .*interrupted; nothing was left in the lake/);
    expect(lakeFiles(cwd)).toEqual([]);
    expect(readdirSync(path.join(cwd, '.watt', 'tmp'))).toEqual([]);
  });
});
