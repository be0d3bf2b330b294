/**
 * Issue 22, item 3: `watt serve` stops without losing a request. Reproduced as reported: 64
 * concurrent clients without keep-alive, each connected (the kernel accepted it) when SIGTERM
 * arrives; every one must get an answer, and the server exits 0.
 *
 * The same with the server stalled for a second right after it wrote its `listening` line, the
 * schedule behind the CI flake of 2026-12 (all 64 clients reset, only with a heavy test file in
 * the other Jest worker): the server installed its SIGTERM handler just after that line, so a
 * SIGTERM sent by whoever read the line before the server ran again met no handler, the default
 * action killed the server (exit signal SIGTERM) and the kernel reset every connection. On a
 * loaded host that happens by itself (SIGTERM sent the instant the line is read killed that
 * server in 12 of 30 tries, 2026-12-07); the stall (tests/helpers/stall-after-line.cjs) makes it
 * certain.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { BIN, ROOT, scratchDir } from '../helpers/cli.js';

const KEY = 'drain-test-key-0123456789';
const STALL_HOOK = path.join(ROOT, 'tests', 'helpers', 'stall-after-line.cjs');
const started: ChildProcess[] = [];
afterEach(() => {
  for (const c of started.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
});

/** A started `watt serve`: its port, its stderr so far, how long it took to listen, and how it ended (code, signal, when; stderr complete). */
interface Served {
  child: ChildProcess;
  port: number;
  stderr: () => string;
  startupMs: number;
  exit: Promise<number | null>;
  ended: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
}

/**
 * Start `watt serve --port 0` and wait for its `listening` line (or, with `until`, another line).
 * `stallAfter`: the server stops for `stallMs` right after writing the first stderr line matching
 * it (tests/helpers/stall-after-line.cjs).
 */
async function serve(args: string[] = [], options: { stallAfter?: string; stallMs?: number; until?: RegExp } = {}): Promise<Served> {
  const cwd = scratchDir();
  const spawnedAt = Date.now();
  const stall = options.stallAfter ? { WATT_TEST_STALL_AFTER: options.stallAfter, WATT_TEST_STALL_MS: String(options.stallMs ?? 1000) } : {};
  const child = spawn(process.execPath, [...(options.stallAfter ? ['--require', STALL_HOOK] : []), BIN, 'serve', '--port', '0', ...args], {
    cwd,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1', WATT_HOME: path.join(cwd, '.watt'), WATT_API_KEYS: KEY, ...stall },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.push(child);
  let err = '';
  const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, at: Date.now() })));
  const exit = ended.then((e) => e.code);
  await new Promise<void>((resolve, reject) => {
    child.stderr!.on('data', (c: Buffer) => {
      err += c.toString();
      if ((options.until ?? /"msg":"listening"/).test(err)) resolve();
    });
    void ended.then((e) => reject(new Error(`watt serve ended before the line awaited (code ${e.code}, signal ${e.signal}):\n${err}`)));
  });
  const url = /"msg":"listening"[^\n]*"url":"([^"]+)"/.exec(err);
  return { child, port: url ? Number(new URL(url[1]!).port) : 0, stderr: () => err, startupMs: Date.now() - spawnedAt, exit, ended };
}

interface Outcome {
  status?: number;
  connection?: string;
  error?: string;
  /** When the client saw its end (ms since the epoch). */
  at: number;
}

/**
 * 64 non-keep-alive clients connect to `s`; once every handshake is done, 32 send their request,
 * the server gets SIGTERM, the other 32 send theirs. Every one must be answered 200 with
 * `Connection: close` and the server must exit 0; a failure says how the server ended and when.
 */
async function sixtyFourClientsAtSigterm(s: Served): Promise<void> {
  const body = JSON.stringify({ dpe_class: 'C', outdoor_temp_c: 4 });
  const request = `POST /v1/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\nX-API-KEY: ${KEY}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  const sockets: net.Socket[] = [];
  const outcomes: Promise<Outcome>[] = [];
  const connected: Promise<void>[] = [];
  for (let i = 0; i < 64; i++) {
    const socket = net.connect({ host: '127.0.0.1', port: s.port });
    sockets.push(socket);
    connected.push(new Promise((r) => socket.once('connect', () => r())));
    outcomes.push(
      new Promise<Outcome>((resolve) => {
        let text = '';
        socket.on('data', (c: Buffer) => (text += c.toString()));
        socket.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message, at: Date.now() }));
        socket.on('close', () => {
          const status = /^HTTP\/1\.1 (\d{3})/.exec(text);
          resolve(status ? { status: Number(status[1]), connection: /\r\nconnection: (\w+)/i.exec(text)?.[1], at: Date.now() } : { error: text ? 'bad response' : 'closed without an answer', at: Date.now() });
        });
      }),
    );
  }
  // Every client's TCP handshake is done (the kernel accepted it): half send their request, then the signal, then the others.
  await Promise.all(connected);
  for (const socket of sockets.slice(0, 32)) socket.write(request);
  const termAt = Date.now();
  s.child.kill('SIGTERM');
  for (const socket of sockets.slice(32)) socket.write(request);
  const results = await Promise.all(outcomes);
  // How the server ended, collected before any assertion so that a failure says it (a server
  // that never ends is reported as such after 20 s; afterEach kills it).
  const ended = await Promise.race([s.ended, new Promise<undefined>((r) => setTimeout(() => r(undefined), 20_000).unref())]);
  const failed = results.filter((r) => r.error);
  const firstFailure = failed.length ? Math.min(...failed.map((r) => r.at)) : undefined;
  const diagnosis = [
    `clients: ${results.filter((r) => r.status === 200 && r.connection === 'close').length}/64 answered 200 with Connection: close; ` +
      `failures: ${JSON.stringify(Object.entries(failed.reduce<Record<string, number>>((n, r) => ({ ...n, [r.error!]: (n[r.error!] ?? 0) + 1 }), {})))}; ` +
      `other statuses: ${JSON.stringify(results.filter((r) => !r.error && (r.status !== 200 || r.connection !== 'close')).map((r) => [r.status, r.connection]))}`,
    `server: listening ${s.startupMs} ms after spawn; ${ended ? `exit code ${ended.code}, signal ${ended.signal}, ${ended.at - termAt} ms after SIGTERM` : 'still running 20 s after the last client ended'}`,
    `first client failure: ${firstFailure === undefined ? 'none' : `${firstFailure - termAt} ms after SIGTERM`}; last client end: ${Math.max(...results.map((r) => r.at)) - termAt} ms after SIGTERM`,
    `server stderr:\n${s.stderr()}`,
  ].join('\n');
  const ok = failed.length === 0 && results.every((r) => r.status === 200 && r.connection === 'close') && ended?.code === 0 && /"msg":"stopped"/.test(s.stderr());
  if (!ok) throw new Error(`the drain lost requests or did not end with 0:\n${diagnosis}`);
  expect(results.filter((r) => r.error)).toEqual([]);
  expect(results.map((r) => r.status)).toEqual(Array(64).fill(200));
  expect(results.every((r) => r.connection === 'close')).toBe(true);
  expect(await s.exit).toBe(0);
  expect(s.stderr()).toMatch(/"msg":"stopped"/);
  // no client address in the log
  expect(s.stderr()).not.toMatch(/client_ip|127\.0\.0\.1:(?!\d+")/);
}

describe('watt serve: SIGTERM under load', () => {
  test('64 concurrent non-keep-alive clients connected when SIGTERM arrives (half with the request sent, half sending it just after): every one is answered 200, exit 0', async () => {
    await sixtyFourClientsAtSigterm(await serve());
  }, 60_000);

  test('the same with the server stalled for 1 s right after its listening line (as a loaded host schedules it): SIGTERM is already handled, every client answered, exit 0', async () => {
    await sixtyFourClientsAtSigterm(await serve([], { stallAfter: '"msg":"listening"', stallMs: 1000 }));
  }, 60_000);

  test('SIGTERM while the server starts (model loaded, port not open yet): it stops without listening, exit 0', async () => {
    const s = await serve([], { stallAfter: '"msg":"model loaded"', stallMs: 500, until: /"msg":"model loaded"/ });
    s.child.kill('SIGTERM');
    const ended = await s.ended;
    expect({ code: ended.code, signal: ended.signal }).toEqual({ code: 0, signal: null });
    expect(s.stderr()).toMatch(/"msg":"SIGTERM while starting: stopping without opening the port"/);
    expect(s.stderr()).toMatch(/"msg":"stopped","before_listening":true/);
    expect(s.stderr()).not.toMatch(/"msg":"listening"/);
  }, 60_000);

  test('an idle keep-alive connection is closed by the drain and the server exits 0 at once', async () => {
    const s = await serve(['--drain-timeout', '30']);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const first = await new Promise<{ status?: number; socketClosed: Promise<void> }>((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port: s.port, path: '/healthz', agent }, (res) => {
        res.resume();
        const socketClosed = new Promise<void>((r) => req.socket!.once('close', () => r()));
        res.on('end', () => resolve({ status: res.statusCode, socketClosed }));
      });
      req.on('error', reject);
    });
    expect(first.status).toBe(200);
    const t0 = Date.now();
    s.child.kill('SIGTERM');
    await first.socketClosed;
    expect(await s.exit).toBe(0);
    // not held for the 30 s drain timeout by the idle connection
    expect(Date.now() - t0).toBeLessThan(10_000);
    agent.destroy();
  }, 60_000);
});
