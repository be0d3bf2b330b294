/**
 * watt serve's app over real HTTP (listening on 127.0.0.1, port 0): every status code, key
 * rotation, the exact JSON of `watt predict --json`, metrics read back by a Prometheus text parser,
 * access logs without client IPs, and the OpenAPI document.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import net from 'node:net';
import parsePrometheus from 'parse-prometheus-text-format';
import { buildApp, type WattApp } from '../../src/serve/app.js';
import { parseApiKeys, keyMatches, isLoopback } from '../../src/serve/auth.js';
import { loadPredictor } from '../../src/serve/predictor.js';
import { predictBodySchema } from '../../src/serve/schemas.js';
import { runWatt, scratchDir } from '../helpers/cli.js';

const KEY_OLD = 'old-key-0123456789abcdef';
const KEY_NEW = 'new-key-fedcba9876543210';

async function start(options: { load?: () => Promise<never>; logClientIp?: boolean; keys?: string | null; metricsAuth?: boolean; authFailuresPerMinute?: number } = {}) {
  const home = scratchDir('watt-serve-home-');
  const lines: Record<string, unknown>[] = [];
  const watt = await buildApp({
    keys: options.keys === null ? null : parseApiKeys(options.keys ?? `${KEY_OLD}, ${KEY_NEW}`),
    load: options.load ?? (() => loadPredictor({ home })),
    logClientIp: options.logClientIp,
    log: (e) => lines.push(e),
    metricsAuth: options.metricsAuth,
    authFailuresPerMinute: options.authFailuresPerMinute,
  });
  const url = await watt.app.listen({ host: '127.0.0.1', port: 0 });
  return { watt, url, lines };
}

function post(url: string, body: unknown, headers: Record<string, string> = { 'x-api-key': KEY_OLD }, contentType = 'application/json') {
  return fetch(`${url}/v1/predict`, {
    method: 'POST',
    headers: { 'content-type': contentType, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

describe('watt serve over HTTP', () => {
  let s: { watt: WattApp; url: string; lines: Record<string, unknown>[] };
  beforeAll(async () => {
    s = await start();
  });
  afterAll(async () => {
    await s.watt.app.close();
  });

  test('200: the same JSON as watt predict --json, for a feasible and an infeasible night', async () => {
    const cwd = scratchDir();
    for (const [body, args] of [
      [{ dpe_class: 'C', outdoor_temp_c: 4 }, ['--dpe', 'C', '--temp', '4']],
      [{ dpe_class: 'E', outdoor_temp_c: -2, indoor_temp_c: 15, target_temp_c: 20, target_time: '06:30', stove_power_kw: 6 }, ['--dpe', 'E', '--temp', '-2', '--indoor', '15', '--target', '20', '--at', '06:30', '--power', '6']],
      [{ dpe_class: 'G', outdoor_temp_c: -10, stove_power_kw: 4 }, ['--dpe', 'G', '--temp', '-10', '--power', '4']],
    ] as const) {
      const res = await post(s.url, body);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      const cli = await runWatt(['predict', ...args, '--json'], { cwd, env: { WATT_HOME: `${cwd}/.watt` } });
      // the CLI adds error, exit_code (1) and hint to its object for an infeasible night (--json
      // on failure); over HTTP that night is a plain 200
      const { error: _e, exit_code: code, hint: _h, model_file: file, ...printed } = JSON.parse(cli.stdout) as Record<string, unknown>;
      expect(code).toBe(cli.code === 0 ? undefined : 1);
      expect(typeof file).toBe('string');
      // the same object, without the server's file path (issue 19: responses never carry one)
      expect(await res.json()).toEqual(printed);
    }
    const infeasible = (await (await post(s.url, { dpe_class: 'G', outdoor_temp_c: -10, stove_power_kw: 4 })).json()) as { feasible: boolean; reason: string };
    expect(infeasible.feasible).toBe(false);
    expect(infeasible.reason).toMatch(/cannot be reached/);
  });

  test('two keys are valid at once (rotation); a missing or wrong key is a 401 with a JSON error', async () => {
    expect((await post(s.url, { dpe_class: 'C', outdoor_temp_c: 4 }, { 'x-api-key': KEY_OLD })).status).toBe(200);
    expect((await post(s.url, { dpe_class: 'C', outdoor_temp_c: 4 }, { 'x-api-key': KEY_NEW })).status).toBe(200);
    for (const headers of [{}, { 'x-api-key': 'wrong-key-0123456789abcdef' }, { 'x-api-key': KEY_OLD.slice(0, -1) }, { 'x-api-key': `${KEY_OLD},${KEY_NEW}` }] as Record<string, string>[]) {
      const res = await post(s.url, { dpe_class: 'C', outdoor_temp_c: 4 }, headers);
      expect(res.status).toBe(401);
      const body = (await res.json()) as { error: string; details: unknown[] };
      expect(body.error).toMatch(/X-API-KEY/);
      expect(body.details).toEqual([]);
    }
  });

  test('400 names every bad field; unknown fields and strings for numbers are errors, not coerced', async () => {
    const res = await post(s.url, { dpe_class: 'H', outdoor_temp_c: '4', stove_power_kw: 80, colour: 'red' });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: string; details: Array<{ field: string; message: string }> };
    expect(body.error).toBe('invalid request body');
    expect(body.details.map((d) => d.field).sort()).toEqual(['colour', 'dpe_class', 'outdoor_temp_c', 'stove_power_kw']);
    // dpe_class is optional in the schema (a house model ignores it) but the shipped class model needs it
    const missingRes = await post(s.url, { outdoor_temp_c: 4 });
    expect(missingRes.status).toBe(400);
    expect(((await missingRes.json()) as { error: string }).error).toMatch(/class/i);
    expect((await post(s.url, '{"dpe_class": "C", ')).status).toBe(400);
    expect((await post(s.url, { dpe_class: 'C', outdoor_temp_c: 4, target_time: '25:00' })).status).toBe(400);
    // temp_min_c (the night's forecast minimum) is part of the contract, bounded like outdoor_temp_c
    expect((await post(s.url, { dpe_class: 'C', outdoor_temp_c: 4, temp_min_c: -3 })).status).toBe(200);
    const tooCold = (await (await post(s.url, { dpe_class: 'C', outdoor_temp_c: 4, temp_min_c: -60 })).json()) as { details: Array<{ field: string }> };
    expect(tooCold.details.map((d) => d.field)).toEqual(['temp_min_c']);
  });

  test("400 with the model's sentence for a night outside its range (as watt predict exits 2)", async () => {
    const res = await post(s.url, { dpe_class: 'C', outdoor_temp_c: 4, stove_power_kw: 30 });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: string; details: unknown[] };
    expect(body.error).toMatch(/30 kW stove.*outside the model's range/);
  });

  test('413 over 16 KiB, 415 for another content type', async () => {
    const big = JSON.stringify({ dpe_class: 'C', outdoor_temp_c: 4, pad: 'x'.repeat(17 * 1024) });
    const res = await post(s.url, big);
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: string }).error).toMatch(/16384 bytes/);
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/xml']) {
      const r = await post(s.url, 'dpe_class=C', { 'x-api-key': KEY_OLD }, type);
      expect(r.status).toBe(415);
      expect(await r.json()).toEqual({ error: 'unsupported content type: send application/json', details: [] });
    }
  });

  test('probes, 404 as JSON, and the OpenAPI document built from the route schemas', async () => {
    expect(await (await fetch(`${s.url}/healthz`)).json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${s.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', model_version: expect.stringMatching(/^default-/), model_origin: 'shipped' });
    const nf = await fetch(`${s.url}/nowhere?customer=CUST-1`);
    expect(nf.status).toBe(404);
    expect(await nf.json()).toMatchObject({ error: 'no route GET /nowhere', details: [] });
    const doc = (await (await fetch(`${s.url}/openapi.json`)).json()) as { openapi: string; components: { schemas: Record<string, unknown> }; paths: Record<string, { post?: { responses: Record<string, unknown> } }> };
    expect(doc.openapi).toBe('3.1.0');
    const { $id: _id, ...bodySchema } = predictBodySchema;
    expect(doc.components.schemas.PredictRequest).toEqual(JSON.parse(JSON.stringify(bodySchema)));
    expect(Object.keys(doc.paths['/v1/predict']!.post!.responses).sort()).toEqual(['200', '400', '401', '413', '415', '503']);
  });

  test('/metrics: requests by route and status, a latency histogram, the model version (parsed back)', async () => {
    await post(s.url, { dpe_class: 'D', outdoor_temp_c: 2 });
    await post(s.url, { dpe_class: 'D', outdoor_temp_c: 2 }, {});
    const res = await fetch(`${s.url}/metrics`);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await res.text();
    const families = parsePrometheus(text);
    const byName = new Map(families.map((f) => [f.name, f]));
    const requests = byName.get('watt_http_requests_total')!;
    expect(requests.type).toBe('COUNTER');
    const count = (status: string) => Number(requests.metrics.find((m) => m.labels?.route === '/v1/predict' && m.labels?.status === status)?.value ?? 0);
    expect(count('200')).toBeGreaterThanOrEqual(1);
    expect(count('401')).toBeGreaterThanOrEqual(1);
    const hist = byName.get('watt_http_request_duration_seconds')!;
    expect(hist.type).toBe('HISTOGRAM');
    // (the parser folds labelled histogram series together: read the one _count line directly)
    const histCount = /^watt_http_request_duration_seconds_count\{route="\/v1\/predict",method="POST"\} (\d+)$/m.exec(text);
    expect(Number(histCount?.[1])).toBe(requests.metrics.filter((m) => m.labels?.route === '/v1/predict').reduce((n, m) => n + Number(m.value), 0));
    // nothing is left counted in flight once the answers are sent (the /metrics request itself is)
    expect(byName.get('watt_http_requests_in_flight')!.metrics.filter((m) => m.labels?.route !== '/metrics').every((m) => m.value === '0')).toBe(true);
    const info = byName.get('watt_model_info')!;
    expect(info.metrics).toEqual([{ labels: { version: expect.stringMatching(/^default-/), origin: 'shipped' }, value: '1' }]);
  });

  test('access logs are JSON objects with route and status, never the client IP or the key', async () => {
    await post(s.url, { dpe_class: 'B', outdoor_temp_c: 1 });
    const access = s.lines.filter((l) => l.msg === 'request');
    expect(access.length).toBeGreaterThan(3);
    expect(access.at(-1)).toMatchObject({ method: 'POST', route: '/v1/predict', status: 200 });
    const text = JSON.stringify(s.lines);
    expect(text).not.toContain('127.0.0.1');
    expect(text).not.toContain(KEY_OLD);
    expect(text).not.toContain('CUST-1');
  });
});

describe('watt serve: unavailable model, closing, no auth, client IPs', () => {
  test('503 on predict and /readyz while no model can be loaded, /healthz stays 200; a reload fixes it', async () => {
    let fail = true;
    const home = scratchDir('watt-serve-home-');
    const s = await start({
      load: (() => (fail ? Promise.reject(new Error('model not found: /nope/model.json')) : loadPredictor({ home }))) as () => Promise<never>,
    });
    try {
      const res = await post(s.url, { dpe_class: 'C', outdoor_temp_c: 4 });
      expect(res.status).toBe(503);
      expect(await res.json()).toMatchObject({ error: 'no model loaded', details: [] });
      const ready = await fetch(`${s.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({ status: 'unavailable', error: expect.stringMatching(/model not found/) });
      expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
      fail = false;
      expect((await s.watt.reload()).ok).toBe(true);
      expect((await post(s.url, { dpe_class: 'C', outdoor_temp_c: 4 })).status).toBe(200);
    } finally {
      await s.watt.app.close();
    }
  });

  test('a failed reload keeps the model in use', async () => {
    let fail = false;
    const home = scratchDir('watt-serve-home-');
    const s = await start({ load: (() => (fail ? Promise.reject(new Error('bad model file')) : loadPredictor({ home }))) as () => Promise<never> });
    try {
      fail = true;
      expect(await s.watt.reload()).toMatchObject({ ok: false, error: 'bad model file' });
      expect((await fetch(`${s.url}/readyz`)).status).toBe(200);
      expect((await post(s.url, { dpe_class: 'C', outdoor_temp_c: 4 })).status).toBe(200);
    } finally {
      await s.watt.app.close();
    }
  });

  test('closing: /readyz fails, a further request on a kept-alive connection gets 503 with Connection: close', async () => {
    const s = await start();
    try {
      // A first request on a keep-alive connection (raw HTTP/1.1: the socket is ours)...
      const { port } = new URL(s.url);
      const socket = net.connect({ host: '127.0.0.1', port: Number(port) });
      let text = '';
      socket.on('data', (c: Buffer) => (text += c.toString()));
      const exchange = async (request: string, until: RegExp) => {
        text = '';
        socket.write(request);
        for (let i = 0; i < 200 && !until.test(text); i++) await new Promise((r) => setTimeout(r, 10));
        return text;
      };
      expect(await exchange('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n', /\{"status":"ok"\}/)).toMatch(/^HTTP\/1\.1 200[\s\S]*Connection: keep-alive/i);
      s.watt.startClosing();
      // ... the next one on it, during the drain, is refused and the connection closed.
      const closed = new Promise<void>((r) => socket.once('close', () => r()));
      const refused = await exchange('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n', /shutting down/);
      expect(refused).toMatch(/^HTTP\/1\.1 503[\s\S]*connection: close[\s\S]*"error":"the server is shutting down"/i);
      await closed;
      // Readiness fails first, so that balancers stop sending (a fresh connection: answered, and closed).
      const ready = await fetch(`${s.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(ready.headers.get('connection')).toBe('close');
      expect(await ready.json()).toMatchObject({ status: 'draining' });
    } finally {
      await s.watt.app.close();
    }
  });

  test('--no-auth accepts requests without a key; --log-client-ip logs the address', async () => {
    const s = await start({ keys: null, logClientIp: true });
    try {
      expect((await post(s.url, { dpe_class: 'C', outdoor_temp_c: 4 }, {})).status).toBe(200);
      expect(s.lines.find((l) => l.msg === 'request')).toMatchObject({ client_ip: '127.0.0.1' });
    } finally {
      await s.watt.app.close();
    }
  });
});

describe('failed keys cost something', () => {
  test('wrong keys from one address: 401 up to the limit, then 429 with Retry-After even for a right key; counted in a metric; no address logged', async () => {
    const s = await start({ authFailuresPerMinute: 5 });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 8; i++) statuses.push((await post(s.url, { dpe_class: 'C', outdoor_temp_c: 4 }, { 'x-api-key': `wrong-key-${i}-0123456789` })).status);
      expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429, 429]);
      const right = await post(s.url, { dpe_class: 'C', outdoor_temp_c: 4 });
      expect(right.status).toBe(429);
      const retry = Number(right.headers.get('retry-after'));
      expect(retry).toBeGreaterThan(0);
      expect(retry).toBeLessThanOrEqual(60);
      expect(await right.json()).toMatchObject({ error: 'too many requests with a wrong X-API-KEY from this client' });
      const metrics = await (await fetch(`${s.url}/metrics`)).text();
      expect(metrics).toMatch(/^watt_http_auth_rejected_total\{reason="wrong_key"\} 5$/m);
      expect(metrics).toMatch(/^watt_http_auth_rejected_total\{reason="rate_limited"\} 4$/m);
      expect(JSON.stringify(s.lines)).not.toContain('127.0.0.1');
    } finally {
      await s.watt.app.close();
    }
  });

  test('right keys are not counted', async () => {
    const s = await start({ authFailuresPerMinute: 2 });
    try {
      for (let i = 0; i < 6; i++) expect((await post(s.url, { dpe_class: 'C', outdoor_temp_c: 4 })).status).toBe(200);
    } finally {
      await s.watt.app.close();
    }
  });

  test('/metrics and /openapi.json answer without a key by default; --metrics-auth puts /metrics behind it', async () => {
    const open = await start();
    try {
      expect((await fetch(`${open.url}/metrics`)).status).toBe(200);
      expect((await fetch(`${open.url}/openapi.json`)).status).toBe(200);
    } finally {
      await open.watt.app.close();
    }
    const closed = await start({ metricsAuth: true });
    try {
      expect((await fetch(`${closed.url}/metrics`)).status).toBe(401);
      expect((await fetch(`${closed.url}/metrics`, { headers: { 'x-api-key': KEY_NEW } })).status).toBe(200);
      expect((await fetch(`${closed.url}/openapi.json`)).status).toBe(200);
    } finally {
      await closed.watt.app.close();
    }
  });
});

describe('API keys', () => {
  test('comma-separated keys, constant-time match, short keys refused without echoing them', () => {
    const keys = parseApiKeys(` ${KEY_OLD} ,${KEY_NEW},, `);
    expect(keys.digests).toHaveLength(2);
    expect(keyMatches(keys, KEY_NEW)).toBe(true);
    expect(keyMatches(keys, ` ${KEY_NEW}`)).toBe(false);
    expect(keyMatches(keys, undefined)).toBe(false);
    expect(keyMatches(keys, [KEY_OLD])).toBe(false);
    expect(() => parseApiKeys(`${KEY_OLD},short-secret`)).toThrow(/key #2 is 12 characters long/);
    try {
      parseApiKeys('short-secret');
    } catch (err) {
      expect((err as Error).message).not.toContain('short-secret');
    }
  });

  test('loopback addresses', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]']) expect(isLoopback(h)).toBe(true);
    for (const h of ['0.0.0.0', '::', '192.168.1.10', 'example.org']) expect(isLoopback(h)).toBe(false);
  });
});
