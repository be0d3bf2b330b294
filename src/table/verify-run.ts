import { resolveLakeConfig, logDir, wattHome, type Env, type LakeFlags } from '../config.js';
import { createRunLogger } from '../log.js';
import { newRunId } from '../run-id.js';
import { graceMs } from './integrity.js';
import { erasureGraceMs } from '../table/vacuum.js';
import { verifyLake, type VerifyResult } from './verify.js';

export interface RunVerifyOptions extends LakeFlags {
  repair?: boolean;
  /** Grace period in minutes (overrides WATT_RECOVERY_GRACE_MINUTES). */
  grace?: number;
  verbose?: boolean;
  quiet?: boolean;
  signal?: AbortSignal;
}

/**
 * `watt verify` end to end: resolve the lake, log to `verify_<run_id>.log` when repairing (a plain
 * check writes nothing), and run {@link verifyLake}.
 */
export async function runVerify(opts: RunVerifyOptions, env: Env = process.env): Promise<VerifyResult> {
  const config = resolveLakeConfig(opts, env);
  const runId = newRunId();
  const logger = createRunLogger({ fileStem: opts.repair ? 'verify' : undefined, runId, dir: logDir(env), verbose: opts.verbose, quiet: opts.quiet, defaultMeta: { command: 'verify', run_id: runId } });
  try {
    return await verifyLake({ config, home: wattHome(env), repair: opts.repair, graceMs: opts.grace === undefined ? graceMs(env) : opts.grace * 60_000, erasureGraceMs: erasureGraceMs(env), logger, runId, signal: opts.signal });
  } finally {
    await logger.close();
  }
}
