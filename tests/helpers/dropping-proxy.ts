/**
 * A stand-in for a store failure: an HTTP proxy on 127.0.0.1 in front of s3rver or Azurite that
 * forwards every request, except those a predicate picks, whose connection it destroys without an
 * answer (as a load balancer dropping a connection would). The SDK retries and gives up: a real
 * network failure at a chosen request, not a mock.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface DroppingProxy {
  /** `http://127.0.0.1:<port>`. */
  endpoint: string;
  /** Requests dropped so far, as `METHOD path`. */
  dropped: string[];
  /** Replace the predicate (e.g. to let everything through for the next run). */
  drop(predicate: (method: string, path: string) => boolean): void;
  /** Hold matching requests this long before forwarding them (a store that is slow to answer). */
  stall(predicate: (method: string, path: string) => boolean, ms: number): void;
  /** Requests held so far, as `METHOD path`. */
  stalled: string[];
  stop(): Promise<void>;
}

export async function startDroppingProxy(target: string, predicate: (method: string, path: string) => boolean): Promise<DroppingProxy> {
  const to = new URL(target);
  let pick = predicate;
  let slow: { pick: (method: string, path: string) => boolean; ms: number } | undefined;
  const dropped: string[] = [];
  const stalled: string[] = [];
  const server = http.createServer(async (req, res) => {
    const url = decodeURIComponent(req.url ?? '/');
    if (pick(req.method ?? 'GET', url)) {
      dropped.push(`${req.method} ${url}`);
      req.resume();
      req.socket.destroy();
      return;
    }
    if (slow?.pick(req.method ?? 'GET', url)) {
      stalled.push(`${req.method} ${url}`);
      req.pause();
      await new Promise((r) => setTimeout(r, slow!.ms));
      if (req.socket.destroyed) return;
      req.resume();
    }
    const upstream = http.request(
      { host: to.hostname, port: to.port, method: req.method, path: req.url, headers: { ...req.headers, host: to.host } },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    dropped,
    stalled,
    drop(p) {
      pick = p;
    },
    stall(p, ms) {
      slow = { pick: p, ms };
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
