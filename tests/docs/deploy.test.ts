/**
 * The deployment recipes of docs/deploy/ that can run on this machine, run as written: the
 * crontab's command lines (paths moved into a scratch folder) and `systemd-analyze verify` of the
 * unit files. The Dockerfile and the Kubernetes CronJob need an engine and a cluster: not here.
 */
import { describe, expect, test } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { BIN, ROOT, scratchDir } from '../helpers/cli.js';

const DEPLOY = path.join(ROOT, 'docs', 'deploy');

describe('docs/deploy/crontab', () => {
  test('each line runs as written: silent, exit 0, data landed, metrics written', () => {
    const s = scratchDir('watt-cron-');
    const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    for (const dir of ['var/lib/watt', 'srv/exports', 'etc/watt', 'bin', 'var/log/watt', 'var/lib/node_exporter/textfile']) mkdirSync(path.join(s, dir), { recursive: true });
    copyFileSync(path.join(ROOT, 'samples', 'sample_energy_consumption.csv'), path.join(s, 'srv/exports', `readings-${yesterday}.csv`));
    writeFileSync(path.join(s, 'etc/watt/watt.env'), 'WATT_PSEUDONYMISATION_KEY=cron-test-key-0123456789abcdef0123456789\n');
    symlinkSync(BIN, path.join(s, 'bin', 'watt'));
    const text = readFileSync(path.join(DEPLOY, 'crontab'), 'utf8');
    const vars = Object.fromEntries([...text.matchAll(/^([A-Z_]+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!.replace(/(^|:)\//g, `$1${s}/`)]));
    const lines = text.split('\n').filter((l) => /^[0-9*]/.test(l)).map((l) => l.split(/\s+/).slice(5).join(' '));
    expect(lines.length).toBe(3);
    for (const line of lines) {
      const command = line.replace(/\\%/g, '%').replace(/(^|[\s"=])\/(var|srv|etc)\//g, `$1${s}/$2/`);
      const r = spawnSync('/bin/sh', ['-c', command], { env: { ...vars, PATH: `${s}/bin:${path.dirname(process.execPath)}:/usr/bin:/bin`, HOME: s }, encoding: 'utf8' });
      expect({ line, code: r.status, stdout: r.stdout, stderr: r.stderr }).toEqual({ line, code: 0, stdout: '', stderr: '' });
    }
    expect(readdirSync(path.join(s, 'var/lib/node_exporter/textfile')).sort()).toEqual(['watt_ingest_watt_about_it_raw.prom', 'watt_purge_watt_about_it_raw.prom']);
    expect(readFileSync(path.join(s, 'var/lib/node_exporter/textfile/watt_ingest_watt_about_it_raw.prom'), 'utf8')).toMatch(/^watt_run_rows_landed\{verb="ingest",lake="[^"]*",prefix="watt-about-it\/raw"\} 5$/m);
    const partition = yesterday.replace(/-/g, '/');
    expect(existsSync(path.join(s, 'var/lib/watt/lake/watt-lake/watt-about-it/raw', partition))).toBe(true);
  });
});

const systemdAnalyze = ['/usr/bin/systemd-analyze', '/bin/systemd-analyze'].find((f) => existsSync(f));

describe('docs/deploy systemd units', () => {
  (systemdAnalyze ? test : test.skip)('systemd-analyze verify reports nothing about them', () => {
    const dir = scratchDir('watt-units-');
    const units = readdirSync(DEPLOY).filter((f) => /\.(service|timer)$/.test(f));
    expect(units.sort()).toEqual(['watt-ingest.service', 'watt-ingest.timer', 'watt-purge.service', 'watt-purge.timer', 'watt-serve.service']);
    for (const u of units) copyFileSync(path.join(DEPLOY, u), path.join(dir, u));
    const r = spawnSync(systemdAnalyze!, ['verify', '--man=no', ...units.map((u) => path.join(dir, u))], { encoding: 'utf8' });
    // systemd-analyze exits 0 even for an unknown key: any line it prints about our files is a fault
    expect(r.status).toBe(0);
    expect(r.stdout + r.stderr).not.toMatch(/watt-/);
  });
});
