import net from 'node:net';
import type { Server, IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/**
 * Graceful stop that loses no request (issue 22, item 3), for `watt serve`.
 *
 * Node's `server.close()` (and so fastify's `close()`) first destroys every connection that has no
 * request in progress, which includes connections the kernel has accepted whose request has not
 * been read yet, and connections still waiting in the listen backlog get a reset when the
 * listening socket closes: under load most requests in transit at SIGTERM died with ECONNRESET.
 * The drain here does it in the order of Kubernetes' and Envoy's graceful shutdowns:
 *
 * 1. readiness fails at once (`/readyz` answers 503 `draining`) so balancers stop sending;
 * 2. the listener keeps accepting until the backlog is empty (no new connection in two passes of
 *    {@link ACCEPT_QUIET_MS} each followed by a poll of the socket, at most
 *    {@link ACCEPT_WINDOW_MAX_MS}), then stops listening
 *    without touching open connections;
 * 3. every request already accepted, parsed or not, is answered normally, with
 *    `Connection: close`; a further request on a connection that was already used (keep-alive)
 *    gets 503 with `Connection: close` (see {@link ConnectionTracker.servedBefore});
 * 4. idle keep-alive connections (used, no request in progress) are closed;
 * 5. when no connection is left the server closes; at the drain timeout the connections still
 *    open are cut.
 */

/** A pass of the event loop with no new connection for this long means the backlog is empty, ms. */
export const ACCEPT_QUIET_MS = 100;
/** Longest time the listener keeps accepting after SIGTERM (a client flooding it cannot hold the stop), ms. */
export const ACCEPT_WINDOW_MAX_MS = 1000;

interface ConnState {
  /** Requests received on the connection and not yet answered. */
  inFlight: number;
  /** Requests answered on the connection. */
  served: number;
}

/** What a drain did. */
export interface DrainOutcome {
  /** Connections accepted after the signal (from the backlog). */
  acceptedWhileDraining: number;
  /** Connections still open at the drain timeout, cut. */
  cut: number;
}

/** Watches the connections of an HTTP server so it can be drained. */
export interface ConnectionTracker {
  /** Whether a drain has started. */
  readonly draining: boolean;
  /** Whether this socket answered a request before the current one (a kept-alive connection). */
  servedBefore(socket: Socket): boolean;
  /**
   * Drain the server (steps 2-5 above; step 1 and the 503s are the app's, from `draining`) and
   * resolve when no connection is left or `timeoutMs` has passed (connections then cut).
   * The listening socket is closed here; call fastify's `close()` afterwards for its hooks.
   */
  drain(timeoutMs: number): Promise<DrainOutcome>;
}

/**
 * Start tracking `server`'s connections (call before `listen`).
 */
export function trackConnections(server: Server): ConnectionTracker {
  const connections = new Map<Socket, ConnState>();
  let draining = false;
  let accepted = 0;
  let acceptedWhileDraining = 0;
  let onIdle: (() => void) | undefined;

  const closeIfIdle = (socket: Socket, state: ConnState) => {
    // A used keep-alive connection with nothing in progress: close it (its next request would get a 503 anyway).
    if (draining && state.inFlight === 0 && state.served > 0) socket.destroySoon();
  };

  server.on('connection', (socket: Socket) => {
    accepted++;
    if (draining) acceptedWhileDraining++;
    const state: ConnState = { inFlight: 0, served: 0 };
    connections.set(socket, state);
    socket.once('close', () => {
      connections.delete(socket);
      if (connections.size === 0) onIdle?.();
    });
  });
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const state = connections.get(req.socket);
    if (!state) return;
    state.inFlight++;
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      state.inFlight--;
      state.served++;
      closeIfIdle(req.socket, state);
    };
    res.once('finish', end);
    res.once('close', end);
  });

  return {
    get draining() {
      return draining;
    },
    servedBefore(socket: Socket): boolean {
      return (connections.get(socket)?.served ?? 0) > 0;
    },
    async drain(timeoutMs: number): Promise<DrainOutcome> {
      draining = true;
      const started = Date.now();
      // Step 2: accept what the kernel already queued.
      let quiet = 0;
      for (;;) {
        const before = accepted;
        await new Promise((r) => setTimeout(r, ACCEPT_QUIET_MS));
        // A process starved of CPU (a loaded host) can see its timer fire before the event loop
        // polled the listening socket again: wait for the check phase, which comes after the poll
        // phase that accepts every queued connection, and ask for two quiet passes in a row.
        await new Promise((r) => setImmediate(r));
        quiet = accepted === before ? quiet + 1 : 0;
        if (quiet >= 2 || Date.now() - started >= Math.min(ACCEPT_WINDOW_MAX_MS, timeoutMs / 2)) break;
      }
      // Stop listening without node's closeIdleConnections (it would drop accepted, unread requests).
      if (server.listening) net.Server.prototype.close.call(server);
      // Step 4: used keep-alive connections with nothing in progress.
      for (const [socket, state] of connections) closeIfIdle(socket, state);
      // Step 5: wait for the rest, at most until the timeout.
      const left = Math.max(0, timeoutMs - (Date.now() - started));
      const cut = await new Promise<number>((resolve) => {
        if (connections.size === 0) return resolve(0);
        const timer = setTimeout(() => {
          onIdle = undefined;
          const n = connections.size;
          for (const socket of connections.keys()) socket.destroy();
          resolve(n);
        }, left);
        timer.unref();
        onIdle = () => {
          clearTimeout(timer);
          resolve(0);
        };
      });
      return { acceptedWhileDraining, cut };
    },
  };
}
