import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type * as prom from 'prom-client';
import type { Env } from '../../config.js';
import { assetPath } from '../../paths.js';
import type { ApiKeys } from '../auth.js';
import { keyMatches } from '../auth.js';
import type { Predictor } from '../predictor.js';
import { SESSION_COOKIE, SessionStore, clearSessionCookie, dashboardAuth, setSessionCookie } from '../session.js';
import { HourlyCounter, gdprView, ingestPrefixes, lakeView, modelCard, purgePreview, runView, runsView, type PurgePreview } from './data.js';
import { registerRunMetrics } from './run-metrics.js';

/**
 * The dashboard of `watt serve` at `/ui/`: one page (HTML, one script, one style sheet) and the
 * uPlot chart library, all served from the package (no CDN: it works on a machine without
 * internet), reading the JSON endpoints under `/ui/api/`, which need an API key (header) or a
 * session cookie from `POST /ui/login`. See session.ts for the cookie and CSRF, data.ts for
 * what the endpoints return (no personal data, no pseudonym).
 *
 * Why uPlot: ~50 KB minified (~22 KB gzip) for fast time-series line and bar charts, no
 * dependency, MIT; ECharts does more but weighs ~1 MB minified, a third of the budget by itself.
 */

export interface DashboardOptions {
  keys: ApiKeys | null;
  /** WATT_HOME: the catalog read by the endpoints. */
  home: string;
  /** Environment for the lake of the purge preview (DATA_LAKE_*, retention policy). */
  env: Env;
  /** The server's Prometheus registry: the run metrics of the catalog are added to it. */
  registry: prom.Registry;
  predictor: () => Predictor | undefined;
  /** Session lifetime, seconds (tests shorten it). */
  sessionTtlS?: number;
}

interface Asset {
  type: string;
  body: Buffer;
  gzip: Buffer;
  etag: string;
}

const require = createRequire(import.meta.url);

/** Files the page loads, by URL name: the only files this route serves. */
function loadAssets(): Map<string, Asset> {
  const files: Record<string, { file: string; type: string }> = {
    'index.html': { file: assetPath('src', 'serve', 'dashboard', 'assets', 'index.html'), type: 'text/html; charset=utf-8' },
    'app.js': { file: assetPath('src', 'serve', 'dashboard', 'assets', 'app.js'), type: 'text/javascript; charset=utf-8' },
    'app.css': { file: assetPath('src', 'serve', 'dashboard', 'assets', 'app.css'), type: 'text/css; charset=utf-8' },
    'uPlot.min.js': { file: require.resolve('uplot/dist/uPlot.iife.min.js'), type: 'text/javascript; charset=utf-8' },
    'uPlot.min.css': { file: require.resolve('uplot/dist/uPlot.min.css'), type: 'text/css; charset=utf-8' },
  };
  const assets = new Map<string, Asset>();
  for (const [name, { file, type }] of Object.entries(files)) {
    const body = readFileSync(file);
    assets.set(name, { type, body, gzip: gzipSync(body, { level: 9 }), etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` });
  }
  return assets;
}

/** Security headers of every dashboard answer: nothing from elsewhere, no framing, no referrer. */
const PAGE_HEADERS = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

/** Purge previews are cached this long (ms): each one lists the lake. */
const PREVIEW_TTL_MS = 60_000;

/** Register the dashboard's routes, session and run metrics on `app`. */
export async function registerDashboard(app: FastifyInstance, options: DashboardOptions): Promise<{ predictions: HourlyCounter }> {
  const { default: cookie } = await import('@fastify/cookie');
  await app.register(cookie);
  const sessions = new SessionStore(options.sessionTtlS);
  const assets = loadAssets();
  const predictions = new HourlyCounter();
  registerRunMetrics(options.registry, options.home);

  const sendAsset = (req: FastifyRequest, reply: FastifyReply, name: string) => {
    const a = assets.get(name);
    if (!a) return reply.code(404).send({ error: `no asset ${name.slice(0, 60)}`, details: [] });
    reply.headers(PAGE_HEADERS).header('content-type', a.type).header('etag', a.etag).header('vary', 'accept-encoding');
    // The page itself may change with the version; assets revalidate by ETag.
    reply.header('cache-control', 'no-cache');
    if (req.headers['if-none-match'] === a.etag) return reply.code(304).send();
    if (/\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) return reply.header('content-encoding', 'gzip').send(a.gzip);
    return reply.send(a.body);
  };

  const unauthorized = (reply: FastifyReply) =>
    reply.code(401).headers(PAGE_HEADERS).send({ error: 'log in first: no session and no valid X-API-KEY header', details: [], hint: 'POST /ui/login with {"key": "<one of WATT_API_KEYS>"}, or send X-API-KEY' });
  const requireViewer = async (req: FastifyRequest, reply: FastifyReply) => {
    if (!dashboardAuth(req, options.keys, sessions)) return unauthorized(reply);
    reply.headers(PAGE_HEADERS).header('cache-control', 'no-store');
  };

  app.get('/', async (_req, reply) => reply.redirect('/ui/', 302));
  app.get('/ui', async (_req, reply) => reply.redirect('/ui/', 302));
  app.get('/ui/', async (req, reply) => sendAsset(req, reply, 'index.html'));
  app.get<{ Params: { name: string } }>('/ui/assets/:name', async (req, reply) => sendAsset(req, reply, req.params.name));

  app.post<{ Body: { key: string } }>(
    '/ui/login',
    { schema: { body: { type: 'object', required: ['key'], additionalProperties: false, properties: { key: { type: 'string', minLength: 1, maxLength: 512 } } } } },
    async (req, reply) => {
      reply.headers(PAGE_HEADERS).header('cache-control', 'no-store');
      if (!options.keys) return reply.code(200).send({ auth: 'none' });
      if (!keyMatches(options.keys, req.body.key)) return reply.code(401).send({ error: 'wrong key', details: [], hint: 'use one of the keys of WATT_API_KEYS' });
      sessions.end(req.cookies?.[SESSION_COOKIE]);
      const { token, expires } = sessions.create();
      setSessionCookie(req, reply, token, options.sessionTtlS);
      return reply.code(200).send({ auth: 'session', expires_at: expires.toISOString() });
    },
  );
  app.post('/ui/logout', async (req, reply) => {
    sessions.end(req.cookies?.[SESSION_COOKIE]);
    clearSessionCookie(req, reply);
    return reply.code(204).headers(PAGE_HEADERS).send();
  });

  app.get('/ui/api/session', { onRequest: requireViewer }, async (req) => ({ auth: dashboardAuth(req, options.keys, sessions) }));
  const daysSchema = { type: 'object', additionalProperties: false, properties: { days: { type: 'string', enum: ['7', '30', '90', '365'] }, prefix: { type: 'string', maxLength: 300 } } };
  app.get<{ Querystring: { days?: string; prefix?: string } }>('/ui/api/runs', { onRequest: requireViewer, schema: { querystring: daysSchema } }, async (req) =>
    runsView(options.home, Number(req.query.days ?? 30), req.query.prefix || undefined),
  );
  app.get<{ Params: { run_id: string } }>(
    '/ui/api/runs/:run_id',
    { onRequest: requireViewer, schema: { params: { type: 'object', properties: { run_id: { type: 'string', pattern: '^[0-9A-Za-z_-]{1,80}$' } } } } },
    async (req, reply) => {
      const run = runView(options.home, req.params.run_id);
      if (!run) return reply.code(404).send({ error: `no run ${req.params.run_id}`, details: [], hint: 'old runs go with the retention period' });
      return run;
    },
  );
  const previews = new Map<string, { at: number; value: Promise<PurgePreview> }>();
  app.get('/ui/api/lake', { onRequest: requireViewer }, async () => {
    const now = Date.now();
    const prefixes = ingestPrefixes(options.home);
    const preview = await Promise.all(
      prefixes.map((prefix) => {
        const cached = previews.get(prefix);
        if (cached && now - cached.at < PREVIEW_TTL_MS) return cached.value;
        const value = purgePreview(options.home, prefix, options.env);
        previews.set(prefix, { at: now, value });
        return value;
      }),
    );
    return { ...lakeView(options.home), purge_preview: preview };
  });
  app.get<{ Querystring: { days?: string } }>('/ui/api/gdpr', { onRequest: requireViewer, schema: { querystring: daysSchema } }, async (req) => gdprView(options.home, Number(req.query.days ?? 90)));
  app.get('/ui/api/model', { onRequest: requireViewer }, async () => {
    const p = options.predictor();
    return {
      model: p ? { version: p.version, origin: p.origin, loaded_at: p.loadedAt, ...modelCard(p.file) } : null,
      predictions: predictions.points(),
    };
  });

  // Predictions served per hour, for the model panel.
  app.addHook('onResponse', async (req, reply) => {
    if (req.routeOptions.url === '/v1/predict' && reply.statusCode === 200) predictions.inc();
  });
  return { predictions };
}
