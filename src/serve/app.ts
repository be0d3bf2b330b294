import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import * as prom from 'prom-client';
import { oneLine } from '../errors.js';
import { wattVersion } from '../paths.js';
import type { ApiKeys } from './auth.js';
import { keyMatches } from './auth.js';
import { openApiDocument } from './openapi.js';
import { refuseOptions, registerCors } from './cors.js';
import { registerDashboard } from './dashboard/index.js';
import type { PredictRequest, Predictor } from './predictor.js';
import { healthSchema, predictBodySchema } from './schemas.js';

/**
 * The fastify application of `watt serve`: routes with JSON Schemas (validated by ajv), API-key
 * auth, request metrics (prom-client) and JSON access logs. Only `watt serve` loads this module
 * (src/commands/serve.ts imports it lazily), so fastify stays out of the other verbs' start-up. Built without listening, so tests can
 * listen on port 0 and talk real HTTP to it.
 */

/** Largest request body accepted (bytes): 16 KiB; larger ones get 413. */
export const BODY_LIMIT_BYTES = 16 * 1024;

/** A JSON log line writer (one object, one line). */
export type LogLine = (entry: Record<string, unknown>) => void;

export interface AppOptions {
  /** Valid keys, or null to serve without auth (loopback + --no-auth only; checked by the caller). */
  keys: ApiKeys | null;
  /** Load (or reload) the model; a rejection leaves the server up, answering 503. */
  load: () => Promise<Predictor>;
  /** Write client IP addresses (personal data) in the access log. Default false. */
  logClientIp?: boolean;
  log: LogLine;
  /** WATT_HOME: with it, the dashboard (`/ui/`), its JSON and the run metrics are served (dashboard/). */
  home?: string;
  /** Environment for the dashboard's purge preview (lake, retention policy). */
  env?: Record<string, string | undefined>;
  /** `--cors-origin`: origins allowed to call the API from a browser (none: same-origin only). */
  corsOrigins?: readonly string[];
  /** Dashboard session lifetime, seconds (default 8 h). */
  sessionTtlS?: number;
}

export interface WattApp {
  app: FastifyInstance;
  /** Load the model again (SIGHUP): on failure the current model stays. Resolves to the outcome. */
  reload(): Promise<{ ok: boolean; version?: string; error?: string }>;
  /** Refuse new requests with 503 (and close their connections) from now on. */
  startClosing(): void;
  /** The model in use, if any. */
  predictor(): Predictor | undefined;
}

interface ErrorBody {
  error: string;
  details: Array<{ field?: string; message: string }>;
  hint?: string;
}

function errorBody(error: string, details: ErrorBody['details'] = [], hint?: string): ErrorBody {
  return hint ? { error, details, hint } : { error, details };
}

/** Build the app (routes, hooks, metrics) and load the model once. */
export async function buildApp(options: AppOptions): Promise<WattApp> {
  const app = Fastify({
    logger: false,
    bodyLimit: BODY_LIMIT_BYTES,
    return503OnClosing: false, // our onRequest hook answers 503 in the project's error shape
    trustProxy: false,
    // a client gets 30 s to send a whole request (slow bodies hold a connection, not the server)
    requestTimeout: 30_000,
    ajv: {
      // Strict JSON: no type coercion ("4" is not a number), unknown fields are errors rather than
      // silently dropped, and every field error is reported at once (bodies are <= 16 KiB).
      customOptions: { removeAdditional: false, coerceTypes: false, allErrors: true, useDefaults: false },
    },
  });
  // fastify parses text/plain too; this API speaks JSON only, so anything else is a 415.
  app.removeContentTypeParser('text/plain');

  // ---- state ---------------------------------------------------------------------------------
  let current: Predictor | undefined;
  let loadError: string | undefined;
  let closing = false;

  // ---- metrics ---------------------------------------------------------------------------------
  const registry = new prom.Registry();
  prom.collectDefaultMetrics({ register: registry, prefix: 'watt_serve_' });
  const requests = new prom.Counter({ name: 'watt_http_requests_total', help: 'HTTP requests answered, by route template, method and status code', labelNames: ['route', 'method', 'status'] as const, registers: [registry] });
  const latency = new prom.Histogram({
    name: 'watt_http_request_duration_seconds',
    help: 'Time from receiving the request to sending the response (seconds), by route template',
    labelNames: ['route', 'method'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const inFlight = new prom.Gauge({ name: 'watt_http_requests_in_flight', help: 'Requests received and not yet answered, by route template', labelNames: ['route'] as const, registers: [registry] });
  const counted = new WeakMap<FastifyRequest, string>();
  const done = (req: FastifyRequest) => {
    const route = counted.get(req);
    if (route !== undefined) {
      counted.delete(req);
      inFlight.dec({ route });
    }
  };
  const predictions = new prom.Counter({ name: 'watt_predictions_total', help: 'Predictions answered with 200, by feasibility', labelNames: ['feasible'] as const, registers: [registry] });
  const modelInfo = new prom.Gauge({ name: 'watt_model_info', help: 'The model in use (value 1), with its version and origin', labelNames: ['version', 'origin'] as const, registers: [registry] });
  const modelLoaded = new prom.Gauge({ name: 'watt_model_loaded', help: '1 when a model is loaded, 0 while predictions answer 503', registers: [registry] });
  new prom.Gauge({
    name: 'watt_prediction_cache_entries',
    help: 'Entries in the prediction cache of the current model',
    registers: [registry],
    collect() {
      this.set(current?.cacheStats().size ?? 0);
    },
  });
  new prom.Counter({
    name: 'watt_prediction_cache_hits_total',
    help: 'Predictions answered from the cache since the current model was loaded',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(current?.cacheStats().hits ?? 0);
    },
  });

  const setModel = (p: Predictor | undefined, error?: string) => {
    current = p ?? current;
    loadError = error;
    modelInfo.reset();
    if (current) modelInfo.set({ version: current.version, origin: current.origin }, 1);
    modelLoaded.set(current ? 1 : 0);
  };

  const reload = async (): Promise<{ ok: boolean; version?: string; error?: string }> => {
    try {
      const p = await options.load();
      setModel(p);
      options.log({ level: 'info', msg: 'model loaded', model_version: p.version, model_origin: p.origin, model_file: p.file });
      return { ok: true, version: p.version };
    } catch (err) {
      const message = oneLine(err instanceof Error ? err.message : String(err));
      setModel(undefined, message);
      options.log({ level: 'error', msg: current ? `model reload failed, still serving ${current.version}` : 'no model loaded: predictions answer 503', error: message });
      return { ok: false, error: message };
    }
  };

  // ---- hooks -----------------------------------------------------------------------------------
  app.addHook('onRequest', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    counted.set(req, route);
    inFlight.inc({ route });
    if (closing) {
      reply.header('connection', 'close');
      return reply.code(503).send(errorBody('the server is shutting down', [], 'retry on another instance'));
    }
  });
  // Connections that finish a request while the server closes are not kept alive.
  app.addHook('onSend', async (_req, reply) => {
    if (closing) reply.header('connection', 'close');
  });
  app.addHook('onRequestAbort', async (req) => done(req));
  app.addHook('onResponse', async (req, reply) => {
    done(req);
    const route = req.routeOptions.url ?? 'unmatched';
    const status = reply.statusCode;
    requests.inc({ route, method: req.method, status: String(status) });
    latency.observe({ route, method: req.method }, reply.elapsedTime / 1000);
    const entry: Record<string, unknown> = {
      time: new Date().toISOString(),
      level: 'info',
      msg: 'request',
      request_id: req.id,
      method: req.method,
      route,
      status,
      duration_ms: Math.round(reply.elapsedTime * 1000) / 1000,
    };
    if (options.logClientIp) entry.client_ip = req.ip;
    options.log(entry);
  });

  const requireKey = async (req: FastifyRequest, reply: FastifyReply) => {
    if (options.keys && !keyMatches(options.keys, req.headers['x-api-key'])) {
      return reply.code(401).send(errorBody('missing or wrong X-API-KEY header', [], 'send one of the keys of WATT_API_KEYS in the X-API-KEY header'));
    }
  };

  app.setErrorHandler((err: FastifyError, req, reply) => {
    if (err.validation) {
      const details = err.validation.map((e) => {
        const params = e.params as Record<string, unknown>;
        const field =
          typeof params.missingProperty === 'string' ? params.missingProperty
          : typeof params.additionalProperty === 'string' ? params.additionalProperty
          : e.instancePath.replace(/^\//, '').replace(/\//g, '.') || '(body)';
        const message = typeof params.additionalProperty === 'string' ? 'is not a known field' : e.message ?? 'is invalid';
        return { field, message };
      });
      return reply.code(400).send(errorBody('invalid request body', details, 'see GET /openapi.json for the fields'));
    }
    const status = err.statusCode ?? 500;
    if (status === 413) return reply.code(413).send(errorBody(`request body over ${BODY_LIMIT_BYTES} bytes`));
    if (status === 415) return reply.code(415).send(errorBody(`unsupported content type: send application/json`));
    if (status >= 400 && status < 500) {
      // Parser messages may quote the body: say what failed in our words, by code only.
      const what = err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' ? 'request body is empty' : err.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || err instanceof SyntaxError ? 'request body is not valid JSON' : `bad request (${err.code ?? status})`;
      return reply.code(status).send(errorBody(what));
    }
    options.log({ level: 'error', msg: 'internal error', request_id: req.id, error: oneLine(err.message) });
    return reply.code(500).send(errorBody('internal error', [], 'see the server log for this request id'));
  });
  app.setNotFoundHandler((req, reply) => (req.method === 'OPTIONS' ? refuseOptions(req, reply, options.corsOrigins?.length ?? 0) : reply.code(404)).send(errorBody(`no route ${req.method} ${req.url.split('?')[0]!.slice(0, 100)}`, [], 'see GET /openapi.json')));

  // ---- CORS and the dashboard (cors.ts, dashboard/, session.ts) ---------------------------------
  await registerCors(app, options.corsOrigins ?? []);
  if (options.home) await registerDashboard(app, { keys: options.keys, home: options.home, env: options.env ?? process.env, registry, predictor: () => current, sessionTtlS: options.sessionTtlS });

  // ---- routes ----------------------------------------------------------------------------------
  app.post<{ Body: PredictRequest }>('/v1/predict', { onRequest: requireKey, schema: { body: predictBodySchema } }, async (req, reply) => {
    const p = current;
    if (!p) return reply.code(503).send(errorBody('no model loaded', [], loadError ? `${loadError}; fix it, then send SIGHUP to reload` : undefined));
    const answer = p.predict(req.body);
    if (answer.feasible !== undefined) predictions.inc({ feasible: String(answer.feasible) });
    return reply.code(answer.status).type('application/json; charset=utf-8').send(answer.json);
  });
  app.get('/healthz', { schema: { response: { 200: healthSchema } } }, async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const p = current;
    const body = { status: p ? 'ready' : 'unavailable', model_version: p?.version ?? null, model_origin: p?.origin ?? null, loaded_at: p?.loadedAt ?? null };
    return reply.code(p ? 200 : 503).send(p ? body : { ...body, error: loadError ?? 'no model loaded' });
  });
  app.get('/metrics', async (_req, reply) => reply.type(registry.contentType).send(await registry.metrics()));
  const doc = JSON.stringify(openApiDocument(wattVersion()));
  app.get('/openapi.json', async (_req, reply) => reply.type('application/json; charset=utf-8').send(doc));

  await reload();
  return {
    app,
    reload,
    startClosing: () => {
      closing = true;
    },
    predictor: () => current,
  };
}
