import type { Command } from 'commander';
import { wattHome } from '../config.js';
import { intParser } from './options.js';

/**
 * `watt serve`: predictions over HTTP (`POST /v1/predict`, the JSON of `watt predict --json`),
 * behind `X-API-KEY` (keys in WATT_API_KEYS), with /healthz, /readyz, /metrics, /openapi.json, and
 * a dashboard at /ui/ (run history, lake, GDPR, model; login with a key for a session cookie).
 * fastify and prom-client load only here (`await import()`), never for the other verbs.
 * Exit codes: 0 after SIGTERM, 1 requests cut at the end of the grace period, 2 usage (no key,
 * --no-auth off loopback, port taken), 130 after SIGINT.
 */
export function registerServe(program: Command): Command {
  return program
    .command('serve')
    .description('serve predictions over HTTP (JSON, API keys, Prometheus metrics, health probes)')
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option('--port <n>', 'TCP port (0: any free port)', intParser('--port', 0, 65535), 8080)
    .option('--model <path>', 'model.json (or its folder); default: as watt predict (newest trained, else shipped)')
    .option('--no-auth', 'accept requests without X-API-KEY (loopback only)')
    .option('--log-client-ip', 'write client IP addresses (personal data) in the access log')
    .option('--shutdown-timeout <s>', 'seconds in-flight requests get after SIGTERM', intParser('--shutdown-timeout', 1, 3600), 10)
    .option('--cors-origin <origin>', 'let web pages of this origin call the API (repeatable; default: same-origin only)', (v: string, all: string[] = []) => [...all, v])
    .option('--cache-size <n>', 'predictions kept in the LRU cache (0: none)', intParser('--cache-size', 0, 1_000_000), 10_000)
    .action(async (flags: { host: string; port: number; model?: string; auth: boolean; logClientIp?: boolean; shutdownTimeout: number; cacheSize: number; corsOrigin?: string[] }) => {
      const { runServe } = await import('../serve/index.js');
      const { parseCorsOrigins } = await import('../serve/cors.js');
      await runServe({
        host: flags.host,
        port: flags.port,
        model: flags.model,
        home: wattHome(),
        auth: flags.auth,
        logClientIp: flags.logClientIp,
        shutdownTimeoutS: flags.shutdownTimeout,
        cacheSize: flags.cacheSize,
        corsOrigins: parseCorsOrigins(flags.corsOrigin ?? []),
      });
    });
}
