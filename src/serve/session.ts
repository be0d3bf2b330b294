import { createHash, randomBytes } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { keyMatches, type ApiKeys } from './auth.js';

/**
 * Browser sessions of the dashboard. A browser cannot send `X-API-KEY` from a link, so
 * `POST /ui/login` exchanges one of the API keys for a session cookie:
 *
 * - `watt_session`: 32 random bytes (base64url); the server keeps only their SHA-256, in memory
 *   (a restart logs everyone out), with an absolute expiry of {@link SESSION_TTL_S}.
 * - `HttpOnly` (no script reads it), `SameSite=Strict` (never sent on a cross-site request),
 *   `Secure` when the request came over TLS, `Path=/`, `Max-Age`.
 * - CSRF-safe by construction: everything the cookie opens is a read-only GET; the only POSTs are
 *   login (which needs the key itself) and logout, and both accept `application/json` bodies only,
 *   which a cross-site form cannot send without a CORS preflight this server refuses.
 */

/** Cookie name. */
export const SESSION_COOKIE = 'watt_session';
/** Lifetime of a session, seconds: 8 hours (a working day), absolute (not renewed by use). */
export const SESSION_TTL_S = 8 * 3600;
/** Sessions kept at most; the oldest goes first (bounds memory against a flood of logins). */
export const MAX_SESSIONS = 1000;

const digest = (token: string) => createHash('sha256').update(token, 'utf8').digest('base64url');

export class SessionStore {
  /** SHA-256 of the token -> expiry (ms since the epoch), in creation order. */
  private readonly sessions = new Map<string, number>();

  constructor(private readonly ttlS = SESSION_TTL_S) {}

  /** A new session: returns the token for the cookie. */
  create(now = Date.now()): { token: string; expires: Date } {
    const token = randomBytes(32).toString('base64url');
    const expires = now + this.ttlS * 1000;
    this.sessions.set(digest(token), expires);
    while (this.sessions.size > MAX_SESSIONS) this.sessions.delete(this.sessions.keys().next().value!);
    return { token, expires: new Date(expires) };
  }

  /** Whether the token names a live session (an expired one is forgotten). */
  valid(token: string | undefined, now = Date.now()): boolean {
    if (!token || token.length > 100) return false;
    const d = digest(token);
    const expires = this.sessions.get(d);
    if (expires === undefined) return false;
    if (expires <= now) {
      this.sessions.delete(d);
      return false;
    }
    return true;
  }

  /** End a session (logout). */
  end(token: string | undefined): void {
    if (token) this.sessions.delete(digest(token));
  }

  get size(): number {
    return this.sessions.size;
  }
}

/** How a request to the dashboard is authenticated. */
export type DashboardAuth = 'none' | 'session' | 'api-key';

/**
 * Who may read the dashboard's JSON: everyone with `--no-auth` (loopback only), else a live
 * session cookie or a valid `X-API-KEY` header. Undefined when neither.
 */
export function dashboardAuth(req: FastifyRequest, keys: ApiKeys | null, sessions: SessionStore): DashboardAuth | undefined {
  if (!keys) return 'none';
  if (sessions.valid(req.cookies?.[SESSION_COOKIE])) return 'session';
  if (keyMatches(keys, req.headers['x-api-key'])) return 'api-key';
  return undefined;
}

/** Set the session cookie on a reply. */
export function setSessionCookie(req: FastifyRequest, reply: FastifyReply, token: string, ttlS = SESSION_TTL_S): void {
  reply.setCookie(SESSION_COOKIE, token, { httpOnly: true, sameSite: 'strict', secure: req.protocol === 'https', path: '/', maxAge: ttlS });
}

/** Clear the session cookie. */
export function clearSessionCookie(req: FastifyRequest, reply: FastifyReply): void {
  reply.clearCookie(SESSION_COOKIE, { httpOnly: true, sameSite: 'strict', secure: req.protocol === 'https', path: '/' });
}
