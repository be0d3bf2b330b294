import type { FastifyInstance, FastifyRequest } from 'fastify';
import * as prom from 'prom-client';

/**
 * Failed keys cost something (issue 22, item 4): wrong or missing `X-API-KEY`s are counted per
 * client address with @fastify/rate-limit (in memory, fixed window), and an address over the
 * limit gets 429 with `Retry-After` for the rest of the window, before its key is even looked
 * at: a brute force goes at {@link AUTH_FAILURES_PER_WINDOW} guesses a minute, not thousands a
 * second, and a right guess inside a blocked window gets nothing. Requests with the right key
 * are not counted. Client addresses are the limiter's keys in memory only: never logged, never
 * in a metric label (the metric counts outcomes, not who).
 */

/** Wrong keys accepted per client address and window before 429 (OWASP's brute-force guidance: a few per minute). */
export const AUTH_FAILURES_PER_WINDOW = 20;
/** The window, ms. */
export const AUTH_WINDOW_MS = 60_000;

/** The limiter `requireKey` uses. */
export interface AuthLimit {
  /** Whether this client may try a key now; if not, seconds until it may (for `Retry-After`). */
  check(req: FastifyRequest): Promise<{ allowed: true } | { allowed: false; retryAfterS: number }>;
  /** Count a wrong or missing key from this client (and in the metric). */
  failed(req: FastifyRequest): Promise<void>;
}

/**
 * Register @fastify/rate-limit on `app` (not globally: only failed keys count) and the metric
 * `watt_http_auth_rejected_total{reason="wrong_key"|"rate_limited"}` in `registry`.
 * @param limit failures per window (default {@link AUTH_FAILURES_PER_WINDOW}); windowMs default {@link AUTH_WINDOW_MS}
 */
export async function installAuthLimit(app: FastifyInstance, registry: prom.Registry, limit = AUTH_FAILURES_PER_WINDOW, windowMs = AUTH_WINDOW_MS): Promise<AuthLimit> {
  const { default: rateLimit } = await import('@fastify/rate-limit');
  await app.register(rateLimit, { global: false });
  const rejected = new prom.Counter({
    name: 'watt_http_auth_rejected_total',
    help: 'Requests refused by the API-key check: wrong_key (401: missing or wrong X-API-KEY), rate_limited (429: too many wrong keys from one client address)',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  rejected.inc({ reason: 'wrong_key' }, 0);
  rejected.inc({ reason: 'rate_limited' }, 0);
  const limiter = app.createRateLimit({ max: limit, timeWindow: windowMs, keyGenerator: (req) => req.ip });
  return {
    async check(req) {
      const state = await limiter(req, { increment: false });
      if (state.isAllowed || state.remaining > 0) return { allowed: true };
      rejected.inc({ reason: 'rate_limited' });
      return { allowed: false, retryAfterS: Math.max(1, state.ttlInSeconds) };
    },
    async failed(req) {
      rejected.inc({ reason: 'wrong_key' });
      await limiter(req);
    },
  };
}
