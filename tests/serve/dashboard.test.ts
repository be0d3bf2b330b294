/**
 * The dashboard's JSON endpoints, login and CORS through fastify's inject (no socket), on a real
 * catalog (better-sqlite3) filled through its API; the run metrics in /metrics; the Grafana
 * dashboard shipped in docs/deploy/ queries only metrics watt writes.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import path from 'node:path';
import parsePrometheus from 'parse-prometheus-text-format';
import { buildApp, type WattApp } from '../../src/serve/app.js';
import { parseApiKeys } from '../../src/serve/auth.js';
import { loadPredictor } from '../../src/serve/predictor.js';
import { Catalog } from '../../src/catalog/catalog.js';
import { appendTrail } from '../../src/trail/trail.js';
import { renderRunMetrics } from '../../src/metrics.js';
import { parseCorsOrigins } from '../../src/serve/cors.js';
import { ROOT, scratchDir } from '../helpers/cli.js';

const KEY = 'dashboard-key-0123456789abcdef';
const ORIGIN = 'https://app.example.org';
const PSEUDONYM_PREFIX = 'ab12cd34ef56';
const day = (n: number) => new Date(Date.now() - n * 86_400_000).toISOString();

/** A minute ago: runs before the cancelled purge of the same day. */
const earlier = new Date(Date.now() - 60_000).toISOString();

let watt: WattApp;
let home: string;

beforeAll(async () => {
  home = scratchDir('watt-dashboard-api-');
  const catalog = Catalog.open(home);
  const run = (id: string, fields: Parameters<Catalog['recordRun']>[0]) => catalog.recordRun({ ...fields, run_id: id });
  run('r-ingest-p1-old', { run_id: '', command: 'ingest', status: 'succeeded', started_at: day(5), finished_at: day(5), prefix: 'p1', destination: 'file:///lake/b/p1', rows: 10, rejected: 0, exit_code: 0, source_name: 'export.csv' });
  run('r-ingest-p1', { run_id: '', command: 'ingest', status: 'rejected', started_at: day(1), finished_at: day(1), prefix: 'p1', destination: 'file:///lake/b/p1', rows: 8, rejected: 2, exit_code: 1 });
  run('r-ingest-p2', { run_id: '', command: 'ingest', status: 'failed', started_at: day(1), finished_at: day(1), prefix: 'p2', destination: 'file:///lake/b/p2', exit_code: 2, error: 'source file not found: export.csv', hint: 'check the path' });
  run('r-purge-p1', { run_id: '', command: 'purge', status: 'succeeded', started_at: earlier, finished_at: earlier, prefix: 'p1', destination: 'file:///lake/b/p1', objects: 3, exit_code: 0 });
  run('r-purge-p2', { run_id: '', command: 'purge', status: 'succeeded', started_at: day(0), finished_at: day(0), prefix: 'p2', destination: 'file:///lake/b/p2', objects: 1, exit_code: 0 });
  run('r-erasure', { run_id: '', command: 'erasure', status: 'succeeded', started_at: day(0), finished_at: day(0), prefix: 'p1', destination: 'file:///lake/b/p1', rows: 4, objects: 2, exit_code: 0 });
  run('r-cancelled', { run_id: '', command: 'purge', status: 'cancelled', started_at: day(0), finished_at: day(0), prefix: 'p1', destination: 'file:///lake/b/p1', exit_code: 130, error: 'purge cancelled: nothing was deleted' });
  run('r-audit', { run_id: '', command: 'audit-rgpd', status: 'failed', started_at: day(0), finished_at: day(0), exit_code: 1, detail: JSON.stringify({ findings: { error: 2, warning: 1, info: 0 } }) });
  catalog.addLakeObject({ run_id: 'r-ingest-p1', kind: 'data', uri: 'file:///lake/b/p1/2026/01/02/x.csv', provider: 'local', bucket: 'b', key: 'p1/2026/01/02/x.csv', bytes: 1000, rows: 8, partition_date: '2026-01-02' });
  catalog.addLakeObject({ run_id: 'r-ingest-p1', kind: 'data', uri: 'file:///lake/b/p1/2026/02/03/x.csv', provider: 'local', bucket: 'b', key: 'p1/2026/02/03/x.csv', bytes: 500, rows: 4, partition_date: '2026-02-03' });
  appendTrail(catalog.db, [{ action: 'erasure.rewrite', lake: 'file:///lake/b/p1', key: 'p1/2026/01/02/x.csv', count: 4, run_id: 'r-erasure', detail: { pseudonym_prefix: PSEUDONYM_PREFIX } }]);
  catalog.close();
  watt = await buildApp({ keys: parseApiKeys(KEY), load: () => loadPredictor({ home }), log: () => {}, home, env: { WATT_LAKE_ROOT: path.join(home, 'lake') }, corsOrigins: [ORIGIN] });
});
afterAll(async () => watt?.app.close());

const get = (url: string, headers: Record<string, string> = { 'x-api-key': KEY }) => watt.app.inject({ method: 'GET', url, headers });

describe('dashboard JSON endpoints', () => {
  test('refused without a key or session; answered with X-API-KEY', async () => {
    for (const url of ['/ui/api/runs', '/ui/api/runs/r-erasure', '/ui/api/lake', '/ui/api/gdpr', '/ui/api/model', '/ui/api/session']) {
      const r = await get(url, {});
      expect({ url, status: r.statusCode }).toEqual({ url, status: 401 });
      expect(r.json()).toMatchObject({ error: expect.stringMatching(/log in first/) });
    }
    expect((await get('/ui/api/session')).json()).toEqual({ auth: 'api-key' });
  });

  test('runs: one point per day and prefix, statuses and separate row and object counts', async () => {
    const r = await get('/ui/api/runs?days=30');
    expect(r.statusCode).toBe(200);
    const v = r.json() as { points: Array<Record<string, unknown>>; prefixes: string[]; runs: Array<Record<string, unknown>> };
    expect(v.prefixes).toEqual(['p1', 'p2']);
    const p1 = v.points.filter((p) => p.prefix === 'p1');
    expect(p1.map((p) => p.day)).toEqual([day(5), day(1), day(0)].map((d) => d.slice(0, 10)));
    expect(p1[1]).toMatchObject({ rows_landed: 8, rows_rejected: 2, failures: 0 });
    expect(v.points.find((p) => p.prefix === 'p2' && p.day === day(1).slice(0, 10))).toMatchObject({ failures: 1 });
    expect(v.runs.find((x) => x.run_id === 'r-cancelled')).toMatchObject({ status: 'cancelled', verb: 'purge' });
    expect(v.runs.find((x) => x.run_id === 'r-purge-p1')).toMatchObject({ rows: null, objects: 3 });
    expect(v.runs.find((x) => x.run_id === 'r-ingest-p1')).toMatchObject({ rows_in: 10, rows: 8, rejected: 2, objects: 2, source: null });
    const only = (await get('/ui/api/runs?days=30&prefix=p2')).json() as { runs: Array<{ prefix: string }> };
    expect(only.runs.every((x) => x.prefix === 'p2')).toBe(true);
    expect((await get('/ui/api/runs?days=12')).statusCode).toBe(400);
  });

  test('a run in full, without trail details (pseudonym prefixes never reach the page)', async () => {
    const r = await get('/ui/api/runs/r-erasure');
    expect(r.statusCode).toBe(200);
    expect(r.json()).toMatchObject({ run_id: 'r-erasure', verb: 'erasure', rows: 4, objects: 2, trail: [{ action: 'erasure.rewrite', count: 4, detail: null }] });
    expect(r.body).not.toContain(PSEUDONYM_PREFIX);
    const failed = (await get('/ui/api/runs/r-ingest-p2')).json();
    expect(failed).toMatchObject({ status: 'failed', exit_code: 2, error: 'source file not found: export.csv', hint: 'check the path' });
    const detail = (await get('/ui/api/runs/r-ingest-p1')).json() as { objects_list: Array<{ partition_date: string }> };
    expect(detail.objects_list.map((o) => o.partition_date)).toEqual(['2026-01-02', '2026-02-03']);
    expect((await get('/ui/api/runs/nope')).statusCode).toBe(404);
    expect((await get('/ui/api/runs/..%2Fetc')).statusCode).toBe(400);
  });

  test('lake, GDPR and model panels', async () => {
    const lake = (await get('/ui/api/lake')).json() as { partitions: unknown[]; purge_preview: Array<{ prefix: string }> };
    expect(lake.partitions).toEqual([
      { prefix: 'p1', month: '2026-01', objects: 1, bytes: 1000, rows: 8 },
      { prefix: 'p1', month: '2026-02', objects: 1, bytes: 500, rows: 4 },
    ]);
    expect(lake.purge_preview.map((p) => p.prefix)).toEqual(['p1', 'p2']); // an empty local lake: nothing to delete
    const gdpr = (await get('/ui/api/gdpr?days=30')).json() as Record<string, any>;
    expect(gdpr.days).toEqual([{ day: day(0).slice(0, 10), erasures: 1, purges: 2, objects: 6, rows_erased: 4 }]);
    expect(gdpr.trail).toMatchObject({ ok: true, entries: 1 });
    expect(gdpr.last_audit).toMatchObject({ status: 'failed', detail: { findings: { error: 2, warning: 1, info: 0 } } });
    expect(gdpr.last_verify).toBeNull();
    const model = (await get('/ui/api/model')).json() as Record<string, any>;
    expect(model.model.origin).toBe('shipped');
    expect(model.model.splits.length).toBeGreaterThan(0);
    expect(model.model.splits[0]).toMatchObject({ mae_min: expect.any(Number), late_rate: expect.any(Number) });
    const predict = await watt.app.inject({ method: 'POST', url: '/v1/predict', headers: { 'x-api-key': KEY, 'content-type': 'application/json' }, payload: { dpe_class: 'C', outdoor_temp_c: 4 } });
    expect(predict.statusCode).toBe(200);
    const after = (await get('/ui/api/model')).json() as { predictions: Array<{ count: number }> };
    expect(after.predictions.reduce((n, p) => n + p.count, 0)).toBe(1);
  });
});

describe('login and session cookie', () => {
  test('wrong keys at login count against the same per-address limit as X-API-KEY: 429 with Retry-After, then even the right key waits', async () => {
    const limited = await buildApp({ keys: parseApiKeys(KEY), load: () => loadPredictor({ home }), log: () => {}, home, env: { WATT_LAKE_ROOT: path.join(home, 'lake') }, authFailuresPerMinute: 3 });
    try {
      const login = (key: string) => limited.app.inject({ method: 'POST', url: '/ui/login', payload: { key } });
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) statuses.push((await login(`wrong-key-${i}-0000000000`)).statusCode);
      expect(statuses).toEqual([401, 401, 401, 429, 429]);
      const right = await login(KEY);
      expect(right.statusCode).toBe(429);
      expect(Number(right.headers['retry-after'])).toBeGreaterThan(0);
      expect(right.headers['set-cookie']).toBeUndefined();
    } finally {
      await limited.app.close();
    }
  });

  test('a wrong key is refused; the right one gives an HttpOnly SameSite=Strict cookie that logout ends', async () => {
    const wrong = await watt.app.inject({ method: 'POST', url: '/ui/login', payload: { key: 'wrong-key-000000000000' } });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.headers['set-cookie']).toBeUndefined();
    const ok = await watt.app.inject({ method: 'POST', url: '/ui/login', payload: { key: KEY } });
    expect(ok.statusCode).toBe(200);
    const cookie = String(ok.headers['set-cookie']);
    expect(cookie).toMatch(/^watt_session=[A-Za-z0-9_-]{43};/);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect(cookie).toMatch(/Max-Age=28800/);
    expect(cookie).not.toMatch(/Secure/); // plain HTTP here; Secure when the request came over TLS
    const session = cookie.split(';')[0]!;
    expect((await get('/ui/api/session', { cookie: session })).json()).toEqual({ auth: 'session' });
    const out = await watt.app.inject({ method: 'POST', url: '/ui/logout', headers: { cookie: session } });
    expect(out.statusCode).toBe(204);
    expect((await get('/ui/api/runs', { cookie: session })).statusCode).toBe(401);
  });

  test('CSRF: a form post (not JSON) cannot log in; the session opens GETs only', async () => {
    const form = await watt.app.inject({ method: 'POST', url: '/ui/login', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: `key=${KEY}` });
    expect(form.statusCode).toBe(415);
    const ok = await watt.app.inject({ method: 'POST', url: '/ui/login', payload: { key: KEY } });
    const session = String(ok.headers['set-cookie']).split(';')[0]!;
    const predict = await watt.app.inject({ method: 'POST', url: '/v1/predict', headers: { cookie: session, 'content-type': 'application/json' }, payload: { dpe_class: 'C', outdoor_temp_c: 4 } });
    expect(predict.statusCode).toBe(401); // the prediction API wants the key itself
  });
});

describe('the page and its assets', () => {
  test('served from the package with a strict CSP; first load under 300 KB gzip', async () => {
    const page = await get('/ui/', { 'accept-encoding': 'gzip' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-security-policy']).toMatch(/default-src 'none'; script-src 'self'/);
    const html = gunzipSync(page.rawPayload).toString('utf8');
    const assets = [...html.matchAll(/(?:src|href)="(\/ui\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    expect(assets.sort()).toEqual(['/ui/assets/app.css', '/ui/assets/app.js', '/ui/assets/uPlot.min.css', '/ui/assets/uPlot.min.js']);
    expect(html).not.toMatch(/https?:\/\//); // nothing from the internet
    let total = page.rawPayload.length;
    for (const a of assets) {
      const r = await get(a, { 'accept-encoding': 'gzip' });
      expect({ a, status: r.statusCode, encoding: r.headers['content-encoding'] }).toEqual({ a, status: 200, encoding: 'gzip' });
      total += r.rawPayload.length;
      const etag = String(r.headers.etag);
      expect((await get(a, { 'if-none-match': etag })).statusCode).toBe(304);
    }
    expect(total).toBeLessThan(300 * 1024);
    expect((await get('/ui/assets/..%2F..%2Fpackage.json')).statusCode).toBe(404);
    expect((await get('/', {})).headers.location).toBe('/ui/');
  });

  test('the endpoints are documented in /openapi.json', async () => {
    const doc = (await get('/openapi.json', {})).json() as { paths: Record<string, unknown> };
    for (const p of ['/ui/login', '/ui/logout', '/ui/api/runs', '/ui/api/runs/{run_id}', '/ui/api/lake', '/ui/api/gdpr', '/ui/api/model']) expect(Object.keys(doc.paths)).toContain(p);
  });
});

describe('CORS', () => {
  const preflight = (origin?: string, url = '/v1/predict') =>
    watt.app.inject({ method: 'OPTIONS', url, headers: { ...(origin ? { origin } : {}), 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,x-api-key' } });

  test('a listed origin gets its preflight answered and the header on its requests', async () => {
    const r = await preflight(ORIGIN);
    expect(r.statusCode).toBe(204);
    expect(r.headers['access-control-allow-origin']).toBe(ORIGIN);
    expect(String(r.headers['access-control-allow-headers'])).toMatch(/X-API-KEY/i);
    const health = await get('/healthz', { origin: ORIGIN });
    expect(health.headers['access-control-allow-origin']).toBe(ORIGIN);
  });

  test('any other origin gets a clear 403 and no CORS header; a plain OPTIONS gets Allow', async () => {
    const r = await preflight('https://evil.example');
    expect(r.statusCode).toBe(403);
    expect(r.headers['access-control-allow-origin']).toBeUndefined();
    expect(r.json()).toMatchObject({ error: 'cross-origin requests from https://evil.example are not allowed' });
    const plain = await watt.app.inject({ method: 'OPTIONS', url: '/v1/predict' });
    expect(plain.statusCode).toBe(204);
    expect(plain.headers.allow).toMatch(/POST/);
  });

  test('--cors-origin takes origins only', () => {
    expect(parseCorsOrigins(['https://app.example.org', 'http://localhost:3000/'])).toEqual(['https://app.example.org', 'http://localhost:3000']);
    for (const bad of ['*', 'app.example.org', 'https://app.example.org/path', 'ftp://x.org']) expect(() => parseCorsOrigins([bad])).toThrow(/is not an origin/);
  });

  test('the dashboard never answers cross-origin, even to a listed origin', async () => {
    const r = await get('/ui/api/runs', { 'x-api-key': KEY, origin: ORIGIN });
    expect(r.statusCode).toBe(200);
    expect(r.headers['access-control-allow-origin']).toBeUndefined();
  });
});

type Family = { name: string; metrics: Array<{ labels?: Record<string, string>; value?: string; buckets?: unknown }> };

describe('run metrics', () => {
  test('/metrics carries the batch runs of every verb and prefix, labelled like the textfiles', async () => {
    const families = parsePrometheus((await get('/metrics', {})).body) as Family[];
    const series = (name: string) => families.find((f) => f.name === name)?.metrics ?? [];
    const deleted = series('watt_run_objects_deleted').filter((m) => m.labels?.verb === 'purge');
    expect(deleted.map((m) => [m.labels!.prefix, m.labels!.lake, Number(m.value)]).sort()).toEqual([
      ['p1', 'file:///lake/b', 0], // the latest purge of p1 is the cancelled one
      ['p2', 'file:///lake/b', 1],
    ]);
    expect(series('watt_run_last_success').find((m) => m.labels?.verb === 'ingest' && m.labels.prefix === 'p2')?.value).toBe('0');
    expect(series('watt_run_last_exit_code').find((m) => m.labels?.verb === 'ingest' && m.labels.prefix === 'p2')?.value).toBe('2');
    expect(series('watt_audit_findings').find((m) => m.labels?.severity === 'error')?.value).toBe('2');
  });
});

describe('docs/deploy/grafana-dashboard.json', () => {
  test('parses, and every metric it queries is one watt writes (textfiles or /metrics)', async () => {
    const dash = JSON.parse(readFileSync(path.join(ROOT, 'docs', 'deploy', 'grafana-dashboard.json'), 'utf8')) as { panels: Array<{ title: string; targets?: Array<{ expr: string }> }>; templating: { list: Array<{ query: { query: string } }> } };
    const exprs = [...dash.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)), ...dash.templating.list.map((v) => v.query.query)];
    expect(exprs.length).toBeGreaterThan(10);
    const queried = new Set(exprs.flatMap((e) => [...e.matchAll(/\bwatt_[a-z_]+/g)].map((m) => m[0]!.replace(/_(bucket|sum|count)$/, ''))));
    const textfile = await renderRunMetrics({ verb: 'ingest', lake: 'file:///l', prefix: 'p', exitCode: 0, startedAt: 0, endedAt: 1000, values: { rows_landed: 1, rows_rejected: 1, bytes: 1, objects_deleted: 1, files: { succeeded: 1 }, findings: { error: 0, warning: 0, info: 0 } } });
    const written = new Set([...textfile.matchAll(/^# TYPE (\S+)/gm), ...(await get('/metrics', {})).body.matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1]!));
    for (const name of queried) expect({ name, written: written.has(name) }).toEqual({ name, written: true });
    expect(dash.panels.every((p) => (p.targets ?? []).every((t) => !/\bverb="(purge|ingest)"/.test(t.expr) || /prefix/.test(t.expr) || /objects_deleted|findings/.test(t.expr)))).toBe(true);
  });
});
