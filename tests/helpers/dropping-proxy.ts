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
  stop(): Promise<void>;
}

export async function startDroppingProxy(target: string, predicate: (method: string, path: string) => boolean): Promise<DroppingProxy> {
  const to = new URL(target);
  let pick = predicate;
  const dropped: string[] = [];
  const server = http.createServer((req, res) => {
    const url = decodeURIComponent(req.url ?? '/');
    if (pick(req.method ?? 'GET', url)) {
      dropped.push(`${req.method} ${url}`);
      req.resume();
      req.socket.destroy();
      return;
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
    drop(p) {
      pick = p;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
