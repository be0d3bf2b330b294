import type { SplitMetrics } from './model-file.js';
import type { HouseModel } from './house-model.js';

/**
 * The evaluation table printed by `watt train` (plain text, no colours: the command decides).
 * One line per held-out split; minutes, hours, kWh per night, shares in %.
 */
export function evaluationTable(metrics: readonly SplitMetrics[]): string {
  if (metrics.length === 0) return 'no held-out evaluation (too few nights)\n';
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  const kwh = (x: number | null) => (x === null ? 'n/a' : x.toFixed(1));
  const header = ['split', 'test nights', 'MAE min', 'no margin', 'late', 'stove h', 'kWh', '2 h: late', 'kWh', 'p95 lead', 'late', 'kWh', 'on vs 2 h', 'vs p95', 'infeasible refused', 'false refusals', 'at ignition'];
  const rows = metrics.map((m) => [
    m.split,
    String(m.test_rows),
    m.mae_min.toFixed(1),
    m.mae_raw_min.toFixed(1),
    pct(m.late_rate),
    m.stove_on_h_per_night.toFixed(2),
    kwh(m.kwh_per_night),
    pct(m.fixed_2h.late_rate),
    kwh(m.fixed_2h.kwh_per_night),
    `${m.fixed_p95.lead_min} min`,
    pct(m.fixed_p95.late_rate),
    kwh(m.fixed_p95.kwh_per_night),
    `${m.reduction_vs_2h >= 0 ? '-' : '+'}${pct(Math.abs(m.reduction_vs_2h))}`,
    `${m.reduction_vs_p95 >= 0 ? '-' : '+'}${pct(Math.abs(m.reduction_vs_p95))}`,
    m.infeasible_nights ? `${m.infeasible_flagged}/${m.infeasible_nights} (${pct(m.infeasible_recall ?? 0)})` : '-',
    m.false_refusals === null || m.false_refusal_rate === null ? 'n/a' : `${m.false_refusals} (${pct(m.false_refusal_rate)})`,
    pct(m.false_refusal_rate_at_ignition),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  const out = [line(header), ...rows.map(line)];
  for (const m of metrics) out.push(`  ${m.split}: ${m.description}; late = ${m.late_check === 'resimulated' ? 'more than 0.3 K short at the target time, re-simulated' : 'advice shorter than the recorded lead'}`);
  out.push('  stove h and kWh per night from ignition to the target time; "on vs" = stove-on time of the advice against the fixed schedules');
  out.push('  infeasible refused / false refusals: nights the simulator finds out of reach in 9 h, and feasible ones, that watt predict refuses when asked at 22:00 (outdoor temperature then, no --indoor); "at ignition": feasible nights refused when asked at ignition with --indoor');
  return out.join('\n') + '\n';
}

/** Whether the season hold-out meets issue 3's targets: MAE <= 10 min, late <= 2 %, stove-on >= 20 % below the fixed 2 h. */
export function seasonTargets(metrics: readonly SplitMetrics[]): { met: boolean; text: string } | undefined {
  const m = metrics.find((x) => x.split === 'season');
  if (!m || m.late_check !== 'resimulated') return undefined;
  const checks = [
    [`MAE ${m.mae_min.toFixed(1)} min <= 10`, m.mae_min <= 10],
    [`late ${(m.late_rate * 100).toFixed(1)}% <= 2%`, m.late_rate <= 0.02],
    [`stove-on ${(m.reduction_vs_2h * 100).toFixed(1)}% below fixed 2 h >= 20%`, m.reduction_vs_2h >= 0.2],
  ] as const;
  const met = checks.every(([, ok]) => ok);
  return { met, text: `season hold-out targets ${met ? 'met' : 'NOT met'}: ${checks.map(([t, ok]) => `${t} ${ok ? 'ok' : 'FAILED'}`).join(', ')}` };
}

/**
 * What `watt train --data` prints: the calibrated house (value ± sd) and the chronological hold-out
 * (MAE, p90, late, refusals apart, learning curve). Never NaN: empty parts say so.
 */
export function houseReport(m: HouseModel): string {
  const h = m.heating;
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  const b = m.margin.bands;
  const out = [
    `house (${h.nights} nights, class ${m.dpe_class} as prior): H ${h.h_w_per_k.value.toFixed(0)} ± ${h.h_w_per_k.sd.toFixed(0)} W/K, tau ${h.tau_min.value.toFixed(0)} ± ${h.tau_min.sd.toFixed(0)} min, start-up delay ${h.delay_min.value.toFixed(1)} ± ${h.delay_min.sd.toFixed(1)} min (class ${m.dpe_class}: H ${h.prior.h_w_per_k.toFixed(0)} W/K, tau ${h.prior.tau_min.toFixed(0)} min)`,
    `cool-down: ${m.cooldown.evening_air_temp_c.toFixed(1)} °C at ${m.cooldown.stove_off}, tau ${m.cooldown.tau_min.toFixed(0)} min; ${b ? `margin by band of lead and stove headroom, x${Math.min(...b.factor.flat())} to x${Math.max(...b.factor.flat())} (out-of-fold: ${b.oof_nights} nights, late ${pct(b.oof_late_rate)}, +${b.oof_added_min.toFixed(1)} min on average)` : `margin x${m.margin.factor}`}`,
  ];
  if (h.temp_min_weight) out.push(`forecast minimum: the heating meets the outdoor air ${(h.temp_min_weight.value * 100).toFixed(0)} % of the way from the air at ignition to temp_min_c`);
  if (h.structure_choice?.method === 'hold-out') out.push(`structure: ${h.structure_choice.chosen} (raw MAE on ${h.structure_choice.selection_nights} nights: ${h.structure_choice.candidates.map((c) => `${c.name} ${c.mae_min.toFixed(1)}`).join(', ')} min)`);
  if (h.kept_on_nights) out.push(`${h.kept_on_nights} night${h.kept_on_nights > 1 ? 's' : ''} with the stove kept on set aside from the calibration`);
  const e = m.evaluation;
  if (!e) out.push('no held-out evaluation (fewer than 25 nights)');
  else {
    out.push(`hold-out: ${e.description}`);
    out.push(`  answered ${e.answered} of ${e.test_nights} (refused ${e.refused}${e.plain ? `, of which ${e.plain} "keep the stove on low overnight"` : ''}, counted apart), MAE ${e.mae_min.toFixed(1)} min, p90 abs error ${e.p90_abs_err_min.toFixed(1)} min, bias ${e.bias_min >= 0 ? '+' : ''}${e.bias_min.toFixed(1)} min, late (> ${e.late_tolerance_min} min short) ${pct(e.late_rate)}`);
    if (e.baselines) {
      const f = (s: { mae_min: number; bias_min: number; late_rate: number }) => `MAE ${s.mae_min.toFixed(1)} min, bias ${s.bias_min >= 0 ? '+' : ''}${s.bias_min.toFixed(1)} min, late ${pct(s.late_rate)}`;
      out.push(`  baselines on the same nights: without margin ${f(e.baselines.raw)}; lookup schedule by outdoor air ${f(e.baselines.lookup)}`);
    }
    out.push(`  learning curve: ${e.learning_curve.length ? e.learning_curve.map((p) => `first ${p.train_nights} nights MAE ${p.mae_min.toFixed(1)} min, late ${pct(p.late_rate)}${p.refused ? `, ${p.refused} refused` : ''}`).join('; ') : 'history too short'}`);
  }
  if (m.quality) out.push(`quality: ${m.quality.status}${m.quality.reasons.length ? ` (${m.quality.reasons.join('; ')})` : ''}`);
  return out.join('\n') + '\n';
}
