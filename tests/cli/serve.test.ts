/**
 * `watt serve` as a user runs it: the real CLI spawned, real HTTP, real signals.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { BIN, ROOT, runWatt, scratchDir } from '../helpers/cli.js';

const KEY = 'serve-test-key-0123456789';

interface Server {
  child: ChildProcess;
  url: string;
  stderr: () => string;
  exit: Promise<number | null>;
  waitFor: (re: RegExp) => Promise<void>;
}

const started: ChildProcess[] = [];
afterEach(() => {
  for (const c of started.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
});

function serve(args: string[], env: Record<string, string>, cwd = scratchDir()): Promise<Server> {
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', ...args], {
    cwd,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1', WATT_HOME: path.join(cwd, '.watt'), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.push(child);
  let err = '';
  const waiters: Array<{ re: RegExp; resolve: () => void }> = [];
  child.stderr!.on('data', (c: Buffer) => {
    err += c.toString();
    for (const w of waiters.splice(0)) if (w.re.test(err)) w.resolve();
    else waiters.push(w);
  });
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const waitFor = (re: RegExp) =>
    new Promise<void>((resolve, reject) => {
      if (re.test(err)) return resolve();
      waiters.push({ re, resolve });
      void exit.then(() => reject(new Error(`watt serve exited before ${re}: ${err}`)));
    });
  return waitFor(/"msg":"listening"/).then(() => ({
    child,
    url: /"url":"([^"]+)"/.exec(err)![1]!,
    stderr: () => err,
    exit,
    waitFor,
  }));
}

function predictBody() {
  return JSON.stringify({ dpe_class: 'C', outdoor_temp_c: 4 });
}

describe('watt serve (spawned CLI)', () => {
  test('refuses to start without an API key (exit 2), and --no-auth off loopback (exit 2)', async () => {
    const cwd = scratchDir();
    const none = await runWatt(['serve', '--port', '0'], { cwd });
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/no API key: set WATT_API_KEYS/);
    const open = await runWatt(['serve', '--port', '0', '--host', '0.0.0.0', '--no-auth'], { cwd });
    expect(open.code).toBe(2);
    expect(open.stderr).toMatch(/--no-auth is refused on 0\.0\.0\.0/);
    const short = await runWatt(['serve', '--port', '0'], { cwd, env: { WATT_API_KEYS: 'abc' } });
    expect(short.code).toBe(2);
    expect(short.stderr).not.toContain('abc');
  });

  test('SIGTERM: the request in flight finishes with its answer, new connections are refused, exit 0', async () => {
    const s = await serve([], { WATT_API_KEYS: KEY });
    const body = predictBody();
    const { port } = new URL(s.url);
    // A request whose body is only half sent when SIGTERM arrives: truly in flight.
    const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/v1/predict', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-api-key': KEY } }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, body: text }));
      });
      req.on('error', reject);
      req.write(body.slice(0, 10));
      // once the server counts it in flight, SIGTERM
      void (async () => {
        while (!/^watt_http_requests_in_flight\{route="\/v1\/predict"\} 1$/m.test(await (await fetch(`${s.url}/metrics`)).text())) await new Promise((r) => setTimeout(r, 20));
        s.child.kill('SIGTERM');
        await s.waitFor(/SIGTERM: draining/);
        // once the backlog is accepted the listening socket is closed: a new client cannot get in
        let refused = false;
        // (the drain accepts the backlog until 100 ms pass with no new client, at most 1 s: try every 50 ms for 5 s)
        for (let i = 0; i < 100 && !refused; i++) {
          refused = await fetch(`${s.url}/healthz`).then(() => false, () => true);
          if (!refused) await new Promise((r) => setTimeout(r, 50));
        }
        expect(refused).toBe(true);
        req.end(body.slice(10));
      })().catch(reject);
    });
    const answer = await response;
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toMatchObject({ feasible: true, lead_time_min: expect.any(Number), inputs: { dpe_class: 'C', outdoor_temp_c: 4 } });
    expect(await s.exit).toBe(0);
    expect(s.stderr()).toMatch(/"msg":"stopped"/);
  });

  test('SIGHUP reloads the model: a newly trained model is served without a restart', async () => {
    const cwd = scratchDir();
    const s = await serve([], { WATT_API_KEYS: KEY }, cwd);
    const ask = async () => (await (await fetch(`${s.url}/v1/predict`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': KEY }, body: predictBody() })).json()) as { model_version: string; model_origin: string };
    expect(await ask()).toMatchObject({ model_origin: 'shipped' });
    const model = JSON.parse(readFileSync(path.join(ROOT, 'models', 'default', 'model.json'), 'utf8')) as { version: string };
    model.version = 'reload-test';
    mkdirSync(path.join(cwd, '.watt', 'models', 'reload-test'), { recursive: true });
    writeFileSync(path.join(cwd, '.watt', 'models', 'reload-test', 'model.json'), JSON.stringify(model));
    s.child.kill('SIGHUP');
    await s.waitFor(/"msg":"model loaded","model_version":"reload-test"/);
    expect(await ask()).toMatchObject({ model_version: 'reload-test', model_origin: 'watt-home' });
    const ready = (await (await fetch(`${s.url}/readyz`)).json()) as { model_version: string };
    expect(ready.model_version).toBe('reload-test');
    // a broken model file: the reload fails loudly and the working model stays
    writeFileSync(path.join(cwd, '.watt', 'models', 'reload-test', 'model.json'), '{ not json');
    s.child.kill('SIGHUP');
    await s.waitFor(/model reload failed, still serving reload-test/);
    expect(await ask()).toMatchObject({ model_version: 'reload-test' });
    s.child.kill('SIGTERM');
    expect(await s.exit).toBe(0);
  });
});
