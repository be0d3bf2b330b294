import { InterruptedError, UsageError, WattError } from '../errors.js';
import type { Env } from '../config.js';
import { isLoopback, parseApiKeys } from './auth.js';
import type { LogLine } from './app.js';
import { buildApp } from './app.js';
import { loadPredictor } from './predictor.js';

/**
 * `watt serve`'s core: check the auth configuration, build the app, listen, and live until a
 * signal. SIGTERM: refuse new requests (503), let in-flight ones finish, close, resolve (exit 0).
 * SIGINT: the same, then exit 130. SIGHUP: reload the model (the current one stays on failure).
 */
export interface ServeOptions {
  host: string;
  /** TCP port; 0 picks a free one (printed in the `listening` log line). */
  port: number;
  /** `--model`: a model.json or its folder; else the newest under `<home>/models/`, else the shipped one. */
  model?: string;
  /** WATT_HOME (absolute). */
  home: string;
  /** false with `--no-auth`: only allowed on loopback. */
  auth: boolean;
  logClientIp?: boolean;
  /** Seconds in-flight requests get after SIGTERM before their connections are cut. */
  shutdownTimeoutS: number;
  cacheSize?: number;
  /** `--cors-origin`, checked (parseCorsOrigins). */
  corsOrigins?: string[];
  env?: Env;
  log?: LogLine;
}

/** One JSON line on stderr, with the time first. */
export const stderrJsonLine: LogLine = (entry) => {
  process.stderr.write(JSON.stringify(entry.time ? entry : { time: new Date().toISOString(), ...entry }) + '\n');
};

/**
 * Serve until a signal.
 * @throws UsageError (exit 2) with no API key and no `--no-auth`, `--no-auth` off loopback, a key
 *   too short, or a port that cannot be bound; InterruptedError (130) after SIGINT; WattError (1)
 *   when the grace period ran out with requests still in flight.
 */
export async function runServe(options: ServeOptions): Promise<void> {
  const env = options.env ?? process.env;
  const log = options.log ?? stderrJsonLine;
  let keys = null;
  if (!options.auth) {
    if (!isLoopback(options.host)) {
      throw new UsageError(`--no-auth is refused on ${options.host}: without API keys the server may only listen on loopback`, { hint: 'set WATT_API_KEYS, or use --host 127.0.0.1' });
    }
    if (env.WATT_API_KEYS) log({ level: 'warn', msg: '--no-auth: WATT_API_KEYS is ignored, every request is accepted' });
  } else {
    keys = parseApiKeys(env.WATT_API_KEYS);
    if (keys.digests.length === 0) {
      throw new UsageError('no API key: set WATT_API_KEYS (comma-separated, 16+ characters each)', { hint: 'for local use only: watt serve --host 127.0.0.1 --no-auth' });
    }
  }
  const watt = await buildApp({
    keys,
    logClientIp: options.logClientIp,
    log,
    home: options.home,
    env,
    corsOrigins: options.corsOrigins,
    load: () => loadPredictor({ model: options.model, home: options.home, cacheSize: options.cacheSize }),
  });
  const { app } = watt;
  let address: string;
  try {
    address = await app.listen({ host: options.host, port: options.port });
  } catch (err) {
    await app.close();
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(`cannot listen on ${options.host}:${options.port}: ${code ?? (err as Error).message}`, {
      hint: code === 'EADDRINUSE' ? 'another process uses that port: pick another with --port' : 'check --host and --port',
    });
  }
  log({ level: 'info', msg: 'listening', url: address, auth: keys ? `api-key (${keys.digests.length} key${keys.digests.length > 1 ? 's' : ''})` : 'none', model_version: watt.predictor()?.version ?? null, pid: process.pid });

  await new Promise<void>((resolve, reject) => {
    let stopping = false;
    const onHup = () => {
      log({ level: 'info', msg: 'SIGHUP: reloading the model' });
      void watt.reload();
    };
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) {
        log({ level: 'warn', msg: `${signal} again: cutting open connections` });
        app.server.closeAllConnections();
        return;
      }
      stopping = true;
      watt.startClosing();
      log({ level: 'info', msg: `${signal}: finishing in-flight requests, refusing new ones`, grace_s: options.shutdownTimeoutS });
      let cut = false;
      const timer = setTimeout(() => {
        cut = true;
        log({ level: 'error', msg: `grace period of ${options.shutdownTimeoutS} s over: cutting the connections still open` });
        app.server.closeAllConnections();
      }, options.shutdownTimeoutS * 1000);
      timer.unref();
      app.close().then(
        () => {
          clearTimeout(timer);
          process.off('SIGTERM', onTerm).off('SIGINT', onInt).off('SIGHUP', onHup);
          log({ level: 'info', msg: 'stopped' });
          if (cut) reject(new WattError(`stopped after ${signal}, but requests in flight were cut after ${options.shutdownTimeoutS} s`, 1, { hint: 'raise --shutdown-timeout' }));
          else if (signal === 'SIGINT') reject(new InterruptedError('interrupted: server stopped'));
          else resolve();
        },
        (err: unknown) => reject(err),
      );
    };
    const onTerm = () => stop('SIGTERM');
    const onInt = () => stop('SIGINT');
    process.on('SIGTERM', onTerm).on('SIGINT', onInt).on('SIGHUP', onHup);
  });
}
