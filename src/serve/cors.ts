import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { UsageError, oneLine } from '../errors.js';

/**
 * CORS for the prediction API (`watt serve --cors-origin ORIGIN`, repeatable), with
 * @fastify/cors: preflights from the listed origins are answered (204, allowed method POST/GET,
 * headers Content-Type and X-API-KEY, cached 10 minutes) and their requests get
 * `Access-Control-Allow-Origin`; any other origin gets no CORS header (same-origin only, the
 * default). The dashboard (`/ui`) never answers cross-origin: its session cookie is for the page
 * the server itself serves.
 */

/** Seconds a browser may cache a preflight answer. */
export const PREFLIGHT_MAX_AGE_S = 600;

/**
 * Check `--cors-origin` values: `scheme://host[:port]`, as browsers send in `Origin`.
 * @throws UsageError naming the bad value (`*` is refused: name the origins).
 */
export function parseCorsOrigins(values: readonly string[]): string[] {
  return values.map((raw) => {
    const value = raw.trim();
    let url: URL | undefined;
    try {
      url = new URL(value);
    } catch {
      url = undefined;
    }
    if (!url || !['http:', 'https:'].includes(url.protocol) || url.origin !== value.replace(/\/$/, '')) {
      throw new UsageError(`--cors-origin "${value.slice(0, 80)}" is not an origin`, { hint: 'give scheme://host[:port], e.g. --cors-origin https://app.example.org (no path; * is not accepted)' });
    }
    return url.origin;
  });
}

/** Register CORS on `app` (before its routes). With no origin, no route answers cross-origin. */
export async function registerCors(app: FastifyInstance, origins: readonly string[]): Promise<void> {
  const allowed = new Set(origins);
  // The dashboard and its JSON are same-origin only, whatever --cors-origin says.
  app.addHook('onRoute', (route) => {
    if (route.url.startsWith('/ui') || route.url === '/') route.config = { ...(route.config as object), cors: false } as typeof route.config;
  });
  const { default: cors } = await import('@fastify/cors');
  await app.register(cors, {
    origin: (origin, cb) => cb(null, origin !== undefined && allowed.has(origin) ? origin : false),
    methods: ['GET', 'POST'],
    allowedHeaders: ['Content-Type', 'X-API-KEY'],
    maxAge: PREFLIGHT_MAX_AGE_S,
    strictPreflight: true,
  });
}

/**
 * The answer to an `OPTIONS` no CORS rule accepted (instead of a bare 404): 403 naming the
 * origin when a browser sent one, else 204 with `Allow` (a plain OPTIONS asks what the server
 * accepts).
 */
export function refuseOptions(req: FastifyRequest, reply: FastifyReply, configured: number): FastifyReply {
  const origin = req.headers.origin;
  if (typeof origin === 'string' && origin !== '') {
    return reply.code(403).send({
      error: `cross-origin requests from ${oneLine(origin).slice(0, 100)} are not allowed`,
      details: [],
      hint: configured ? 'this origin is not one of --cors-origin' : 'start watt serve with --cors-origin ORIGIN to allow a web app on another origin',
    });
  }
  return reply.code(204).header('allow', 'GET, HEAD, POST, OPTIONS').send();
}
