import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { mkdtempSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { Readable } from 'node:stream';
import { expandSources, spoolStdin, worstExitCode } from '../../src/ingest/sources.js';
import { UsageError } from '../../src/errors.js';

const scratch = () => mkdtempSync(path.join(os.tmpdir(), 'watt-sources-'));

describe('worstExitCode', () => {
  it.each([
    [[], 0],
    [[0, 0], 0],
    [[0, 1, 0], 1],
    [[1, 2], 2],
    [[2, 4, 1], 4],
    [[4, 3, 2], 3],
    [[3, 130, 4], 130],
    [[0, 143], 143],
    [[0, 7], 1], // an unknown code counts as a data failure, never as success
  ])('%j -> %i', (codes, expected) => {
    expect(worstExitCode(codes)).toBe(expected);
  });
});

describe('expandSources', () => {
  it('a FIFO named *.csv in a folder is skipped, never opened (it would block)', async () => {
    const dir = scratch();
    writeFileSync(path.join(dir, 'a.csv'), 'x\n');
    execFileSync('mkfifo', [path.join(dir, 'pipe.csv')]);
    const { sources, skipped } = await expandSources([dir]);
    expect(sources).toEqual([{ kind: 'file', path: path.join(dir, 'a.csv') }]);
    expect(skipped).toEqual([{ path: path.join(dir, 'pipe.csv'), reason: 'not a regular file' }]);
  });

  it('a path that exists is never read as a glob, even with [ or * in its name', async () => {
    const dir = scratch();
    writeFileSync(path.join(dir, 'meters[1].csv'), 'x\n');
    writeFileSync(path.join(dir, 'meters1.csv'), 'y\n');
    const { sources } = await expandSources(['meters[1].csv'], dir);
    expect(sources).toEqual([{ kind: 'file', path: path.join(dir, 'meters[1].csv') }]);
  });

  it('folders and globs keep one order (code points), duplicates once at their first place, stdin where it was given', async () => {
    const dir = scratch();
    mkdirSync(path.join(dir, 'in'));
    for (const n of ['b.csv', 'a.csv', 'Z.csv']) writeFileSync(path.join(dir, 'in', n), 'x\n');
    const { sources } = await expandSources(['in/b.csv', '-', 'in', 'in/*.csv'], dir);
    expect(sources.map((s) => (s.kind === 'stdin' ? '-' : path.basename(s.path)))).toEqual(['b.csv', '-', 'Z.csv', 'a.csv']);
  });

  it('a glob does not match hidden files unless it names them', async () => {
    const dir = scratch();
    writeFileSync(path.join(dir, '.h.csv'), 'x\n');
    writeFileSync(path.join(dir, 'v.csv'), 'x\n');
    expect((await expandSources(['*.csv'], dir)).sources).toHaveLength(1);
    expect((await expandSources(['.*.csv'], dir)).sources).toEqual([{ kind: 'file', path: path.join(dir, '.h.csv') }]);
  });

  it('usage errors: a missing path, a glob matching nothing, - twice', async () => {
    const dir = scratch();
    await expect(expandSources(['nope.csv'], dir)).rejects.toThrow(UsageError);
    await expect(expandSources(['nope/*.csv'], dir)).rejects.toThrow(/no file matches/);
    await expect(expandSources(['-', '-'], dir)).rejects.toThrow(/given twice/);
  });
});

describe('spoolStdin', () => {
  it('writes a 0600 file named stdin in a 0700 folder named after the run, and removes it', async () => {
    const home = scratch();
    const spool = await spoolStdin(Readable.from([Buffer.from('a,b\n'), Buffer.from('1,2\n')]), home, 'RUN');
    expect(path.basename(spool.file)).toBe('stdin');
    expect(spool.bytes).toBe(8);
    expect(statSync(spool.file).mode & 0o777).toBe(0o600);
    expect(statSync(path.dirname(spool.file)).mode & 0o777).toBe(0o700);
    await spool.remove();
    expect(readdirSync(path.join(home, 'tmp'))).toEqual([]);
  });

  it('an aborted read leaves nothing and is an interruption (130)', async () => {
    const home = scratch();
    const controller = new AbortController();
    const endless = new Readable({ read() {} });
    endless.push('a,b\n');
    setTimeout(() => controller.abort(Object.assign(new Error('x'), { signal: 'SIGINT' })), 50);
    await expect(spoolStdin(endless, home, 'RUN', controller.signal)).rejects.toMatchObject({ exitCode: 130 });
    expect(readdirSync(path.join(home, 'tmp'))).toEqual([]);
  });
});
