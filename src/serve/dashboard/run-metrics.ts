import * as prom from 'prom-client';
import { openCatalogReadOnly } from '../../catalog/runs.js';
import { lakeLabel } from '../../metrics.js';

/**
 * The batch runs' metrics in `watt serve`'s `/metrics`, read from the catalog at each scrape:
 * the same names and labels (`verb`, `lake`, `prefix`) as the textfiles the verbs write
 * (src/metrics.ts), one series per verb and prefix for its latest run. A Prometheus that scrapes
 * the server needs no node_exporter to alert on "no successful ingest of this prefix for 26 h".
 */

interface LastRun {
  command: string;
  prefix: string | null;
  destination: string | null;
  status: string;
  started_at: string;
  finished_at: string | null;
  exit_code: number | null;
  rows: number | null;
  rejected: number | null;
  objects: number | null;
  detail: string | null;
  last_success: string | null;
}

/** The latest finished run of each verb and prefix, with the end of its latest successful run. */
function lastRuns(home: string): LastRun[] {
  const opened = openCatalogReadOnly(home);
  if (!opened) return [];
  try {
    const cols = (opened.db.prepare('PRAGMA table_info(runs)').all() as Array<{ name: string }>).map((c) => c.name);
    if (!cols.includes('prefix')) return [];
    return opened.db
      .prepare(
        `WITH ranked AS (
           SELECT command, prefix, destination, status, started_at, finished_at, exit_code, rows, rejected, objects, detail,
             ROW_NUMBER() OVER (PARTITION BY command, COALESCE(prefix, '') ORDER BY started_at DESC) AS n
           FROM runs WHERE status != 'running')
         SELECT r.*, (SELECT MAX(s.finished_at) FROM runs s WHERE s.command = r.command AND COALESCE(s.prefix, '') = COALESCE(r.prefix, '') AND s.status IN ('succeeded', 'skipped')) AS last_success
         FROM ranked r WHERE n = 1`,
      )
      .all() as LastRun[];
  } catch {
    return [];
  } finally {
    opened.db.close();
  }
}

/** Add the run gauges to `registry` (values collected from `<home>/catalog.db` at each scrape). */
export function registerRunMetrics(registry: prom.Registry, home: string): void {
  const labelNames = ['verb', 'lake', 'prefix'] as const;
  // One read of the catalog fills every gauge: prom-client calls each gauge's collect(), the first
  // of a scrape reads, the others find the values set.
  let readAt = 0;
  const collect = () => {
    const now = Date.now();
    if (now - readAt < 500) return;
    readAt = now;
    fill();
  };
  const all: prom.Gauge[] = [];
  const gauge = (name: string, help: string, extra: string[] = []) => {
    const g = new prom.Gauge({ name, help, labelNames: [...labelNames, ...extra], registers: [registry], collect });
    all.push(g);
    return g;
  };
  const last = gauge('watt_run_last_timestamp_seconds', 'End of the last run (Unix time, seconds)');
  const lastSuccessTs = gauge('watt_run_last_success_timestamp_seconds', 'End of the last successful run (Unix time, seconds)');
  const success = gauge('watt_run_last_success', '1 if the last run succeeded (exit code 0), else 0');
  const exit = gauge('watt_run_last_exit_code', 'Exit code of the last run (0 ok, 1 data, 2 usage, 3 storage, 4 locked, 130 interrupted)');
  const duration = gauge('watt_run_duration_seconds', 'Wall time of the last run (seconds)');
  const landed = gauge('watt_run_rows_landed', 'Rows written to the lake (ingest) or erased (purge --subject) by the last run');
  const rejected = gauge('watt_run_rows_rejected', 'Rows rejected by validation in the last run');
  const deleted = gauge('watt_run_objects_deleted', 'Lake objects, files and catalog rows deleted by the last run');
  const findings = gauge('watt_audit_findings', 'Findings of the last audit, by severity', ['severity']);
  function fill(): void {
    for (const g of all) g.reset();
    for (const r of lastRuns(home)) {
      const labels = { verb: r.command, prefix: r.prefix ?? '', lake: r.destination && r.prefix ? lakeLabel(r.destination, r.prefix) : '' };
      const end = r.finished_at ? Date.parse(r.finished_at) / 1000 : undefined;
      if (end !== undefined) last.set(labels, end);
      if (r.last_success) lastSuccessTs.set(labels, Date.parse(r.last_success) / 1000);
      const ok = r.exit_code === 0 || (r.exit_code === null && ['succeeded', 'skipped'].includes(r.status));
      success.set(labels, ok ? 1 : 0);
      if (r.exit_code !== null) exit.set(labels, r.exit_code);
      if (end !== undefined) duration.set(labels, Math.max(0, end - Date.parse(r.started_at) / 1000));
      if (r.command === 'ingest' && r.rows !== null) landed.set(labels, r.rows);
      if (r.command === 'erasure' && r.rows !== null) landed.set(labels, r.rows);
      if (r.rejected !== null) rejected.set(labels, r.rejected);
      if (r.command === 'purge' || r.command === 'erasure') deleted.set(labels, r.objects ?? 0); // a cancelled or failed purge deleted nothing
      if (r.command === 'audit-rgpd' && r.detail) {
        try {
          const f = (JSON.parse(r.detail) as { findings?: Record<string, number> }).findings;
          if (f) for (const severity of ['error', 'warning', 'info']) findings.set({ ...labels, severity }, f[severity] ?? 0);
        } catch {
          // no findings recorded
        }
      }
    }
  }
}
