import { InterruptedError, UsageError, WattError } from '../errors.js';
import type { Env } from '../config.js';
import { isLoopback, parseApiKeys } from './auth.js';
import type { LogLine } from './app.js';
import { buildApp } from './app.js';
import { loadPredictor } from './predictor.js';

/**
 * `watt serve`'s core: check the auth configuration, build the app, listen, and live until a
 * signal. SIGTERM: drain (src/serve/drain.ts: readiness fails, every accepted request is answered,
 * further requests on kept-alive connections get 503), close, resolve (exit 0).
 * SIGINT: the same, then exit 130. SIGHUP: reload the model (the current one stays on failure).
 * The three signals are caught from before the model loads: one that comes while the server
 * starts stops it without opening the port (SIGHUP: the model is loaded again once started); one
 * that comes while the port opens, or just after the `listening` line, drains as usual.
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
  /** `--drain-timeout`: seconds the drain after SIGTERM may take before open connections are cut. */
  shutdownTimeoutS: number;
  cacheSize?: number;
  /** `--metrics-auth`: /metrics asks for the API key. */
  metricsAuth?: boolean;
  /** `--auth-failures`: wrong keys per client address and minute before 429. */
  authFailuresPerMinute?: number;

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
  // The stop signals are caught from here on, before the model loads and long before the port
  // opens: the kernel accepts connections as soon as the listening socket exists, and whoever
  // reads the `listening` line may send SIGTERM at once. Installed after that line (as before),
  // a server descheduled right after writing it (a loaded host: the reader woken by the write
  // runs first) met SIGTERM with no handler, died of it, and every accepted connection was reset.
  const stopping = stopSignals(log);
  try {
    const watt = await buildApp({
      keys,
      logClientIp: options.logClientIp,
      log,
      metricsAuth: options.metricsAuth,
      authFailuresPerMinute: options.authFailuresPerMinute,

      home: options.home,
      env,
      corsOrigins: options.corsOrigins,
      load: () => loadPredictor({ model: options.model, home: options.home, cacheSize: options.cacheSize }),
    });
    const { app } = watt;
    stopping.onHup(() => void watt.reload());
    // A signal received while the model loaded waits for the event loop's poll phase: go through
    // one (the check phase of this turn, then the next turn's poll, then its check).
    for (let i = 0; i < 2; i++) await new Promise((r) => setImmediate(r));
    const before = stopping.received();
    if (before) {
      // Stopped while starting: the port is never opened, nothing was accepted.
      log({ level: 'info', msg: `${before} while starting: stopping without opening the port` });
      await app.close();
      log({ level: 'info', msg: 'stopped', before_listening: true, accepted_while_draining: 0 });
      if (before === 'SIGINT') throw new InterruptedError('interrupted: server stopped');
      return;
    }
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

    // A signal that came while the port was opening is handled here at once, like a later one.
    const signal = await stopping.first;
    stopping.onAgain(() => app.server.closeAllConnections());
    watt.startClosing();
    log({ level: 'info', msg: `${signal}: draining: readiness fails, accepted requests are answered, then the server stops`, drain_timeout_s: options.shutdownTimeoutS });
    // Drain (drain.ts): readiness already fails; accept the backlog, answer every accepted
    // request, close idle keep-alive connections, then close; cut what is left at the timeout.
    const outcome = await watt.drain(options.shutdownTimeoutS * 1000);
    if (outcome.cut) log({ level: 'error', msg: `drain timeout of ${options.shutdownTimeoutS} s over: ${outcome.cut} connection(s) cut` });
    await app.close();
    stopping.dispose();
    log({ level: 'info', msg: 'stopped', accepted_while_draining: outcome.acceptedWhileDraining });
    if (outcome.cut) throw new WattError(`stopped after ${signal}, but ${outcome.cut} connection(s) still open were cut after ${options.shutdownTimeoutS} s`, 1, { hint: 'raise --drain-timeout' });
    if (signal === 'SIGINT') throw new InterruptedError('interrupted: server stopped');
  } finally {
    stopping.dispose();
  }
}

/** The process's stop and reload signals while `watt serve` runs (see {@link stopSignals}). */
interface StopSignals {
  /** The first SIGTERM or SIGINT. */
  first: Promise<NodeJS.Signals>;
  /** The first stop signal received so far, if any. */
  received(): NodeJS.Signals | undefined;
  /** What a second stop signal does (default: a warning only). */
  onAgain(cut: () => void): void;
  /** What SIGHUP does; one received before this is set is acted on at once. */
  onHup(reload: () => void): void;
  /** Remove the handlers (the default actions apply again). Idempotent. */
  dispose(): void;
}

/**
 * Catch SIGTERM, SIGINT and SIGHUP for `watt serve` from now on, so that none of them kills the
 * process with its default action while it starts, listens or drains. The first SIGTERM/SIGINT
 * resolves `first`; a second one logs a warning and runs {@link StopSignals.onAgain}'s action.
 */
function stopSignals(log: LogLine): StopSignals {
  let first: NodeJS.Signals | undefined;
  let resolveFirst!: (signal: NodeJS.Signals) => void;
  const firstP = new Promise<NodeJS.Signals>((r) => (resolveFirst = r));
  let again: (() => void) | undefined;
  let reload: (() => void) | undefined;
  let hupPending = false;
  const stop = (signal: NodeJS.Signals) => {
    if (first) {
      log({ level: 'warn', msg: again ? `${signal} again: cutting open connections` : `${signal} again: already stopping` });
      again?.();
      return;
    }
    first = signal;
    resolveFirst(signal);
  };
  const onTerm = () => stop('SIGTERM');
  const onInt = () => stop('SIGINT');
  const onHup = () => {
    if (!reload) {
      hupPending = true;
      return;
    }
    log({ level: 'info', msg: 'SIGHUP: reloading the model' });
    reload();
  };
  process.on('SIGTERM', onTerm).on('SIGINT', onInt).on('SIGHUP', onHup);
  return {
    first: firstP,
    received: () => first,
    onAgain(cut) {
      again = cut;
    },
    onHup(r) {
      reload = r;
      if (hupPending) {
        hupPending = false;
        onHup();
      }
    },
    dispose() {
      process.off('SIGTERM', onTerm).off('SIGINT', onInt).off('SIGHUP', onHup);
    },
  };
}
