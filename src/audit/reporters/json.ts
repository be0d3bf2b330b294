import type { Reporter } from './types.js';

/** `--format json`: the `AuditReport` as is (shape documented in src/audit/types.ts), pretty-printed. */
const json: Reporter = (report) => JSON.stringify(report, null, 2) + '\n';
export default json;
