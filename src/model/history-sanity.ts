import { DataError } from '../errors.js';
import type { IgnitionRecord } from './history.js';

/**
 * Sanity checks of a user's ignition history before calibration (`watt train --data`), beyond what
 * the JSON Schema can say about one row: likely unit mistakes over the whole file, duplicate
 * nights, rows that contradict themselves, columns without information. A problem that makes the
 * calibration meaningless exits 1 (DataError) naming the line and the likely cause; one that leaves
 * the data usable is a warning, and the rows it concerns are left out of the calibration.
 */

export interface SanityResult {
  /** Indexes (into the records) to leave out of the calibration. */
  dropped: Set<number>;
  warnings: string[];
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

function constant(values: readonly number[]): boolean {
  return values.every((v) => v === values[0]);
}

/**
 * Check one house's history.
 * @param lines the file line of each record (for messages)
 * @throws DataError (exit 1) naming the first offending line and the likely cause.
 */
export function checkHistorySanity(records: readonly IgnitionRecord[], lines: readonly number[], name: string): SanityResult {
  const warnings: string[] = [];
  const dropped = new Set<number>();
  const line = (i: number) => lines[i] ?? i + 2;
  const fail = (message: string, hint: string): never => {
    throw new DataError(`${name}: ${message}`, { hint });
  };
  // duplicate nights: one house, one row per morning (a copy would land in both training and test nights)
  const seen = new Map<string, number>();
  records.forEach((r, i) => {
    const key = `${r.date}|${r.location ?? ''}`;
    const first = seen.get(key);
    if (first !== undefined) {
      fail(
        `line ${line(i)} repeats the date ${r.date}${r.location ? ` (${r.location})` : ''} of line ${line(first)}: a history has one row per morning, and a copy would land in both the training and the test nights`,
        'remove the duplicate rows (or give each house its own file)',
      );
    }
    seen.set(key, i);
  });
  const leads = records.map((r) => r.lead_time_min);
  const outdoor = records.map((r) => r.outdoor_temp_c);
  const indoor = records.map((r) => r.indoor_start_temp_c);
  if (leads.every((v) => v === 0)) fail(`lead_time_min is 0 on every night (line ${line(0)} on): nothing to learn`, 'record the minutes from ignition to the target time');
  if (records.length >= 5 && constant(leads)) {
    fail(`lead_time_min is ${leads[0]} on every night (line ${line(0)} on): a fixed schedule, not the lead each night needed`, 'record the shortest lead that reached the target each morning');
  }
  if (records.length >= 5 && constant(outdoor)) fail(`outdoor_temp_c is ${outdoor[0]} on every night (line ${line(0)} on): likely a placeholder, not a reading`, 'record the outdoor temperature at ignition');
  if (records.length >= 5 && constant(indoor)) fail(`indoor_start_temp_c is ${indoor[0]} on every night (line ${line(0)} on): likely a placeholder, not a reading`, 'record the indoor temperature at ignition');
  // leads in hours: every positive lead at most 9 (a stove that needs under 10 min every morning is not a heating history)
  const positive = leads.filter((v) => v > 0);
  if (records.length >= 5 && positive.length > 0 && Math.max(...positive) <= 9) {
    const i = leads.findIndex((v) => v > 0);
    fail(`lead_time_min is at most ${Math.max(...positive)} on every night (line ${line(i)}: ${leads[i]}): likely hours, not minutes`, 'convert lead_time_min to minutes (× 60)');
  }
  // outdoor in °F: a heating history whose outdoor air is warmer than the room on most nights
  const warmer = records.filter((r) => r.outdoor_temp_c >= r.indoor_start_temp_c).length;
  if (records.length >= 5 && warmer > records.length / 2) {
    const i = records.findIndex((r) => r.outdoor_temp_c >= r.indoor_start_temp_c);
    fail(
      `outdoor_temp_c is at or above the indoor air on ${warmer} of ${records.length} nights (line ${line(i)}: ${records[i]!.outdoor_temp_c} outdoors, ${records[i]!.indoor_start_temp_c} indoors): likely °F, or the two columns swapped`,
      'write temperatures in °C ((°F - 32) × 5/9)',
    );
  }
  // power in W: the schema caps kW at 50; a history mixing W and kW shows a 100× jump
  const powers = records.map((r) => r.stove_power_kw);
  const pMin = Math.min(...powers);
  const pMax = Math.max(...powers);
  if (pMin > 0 && pMax / pMin >= 100) {
    const i = powers.indexOf(pMax);
    fail(`stove_power_kw jumps from ${pMin} to ${pMax} (line ${line(i)}): likely W instead of kW on some rows`, 'write the stove power in kW');
  }
  // indoor at or above the target, yet a positive lead: the household kept the stove on that night
  // (information, not an error: issue 19). Such nights are set aside from the calibration and
  // counted (house-train.ts `keptOn`), never a reason to refuse the history.
  const keptOn: number[] = [];
  records.forEach((r, i) => {
    if (r.indoor_start_temp_c >= r.target_temp_c && r.lead_time_min > 0) keptOn.push(i);
  });
  if (keptOn.length > 0) {
    const first = records[keptOn[0]!]!;
    warnings.push(
      `${name}: ${plural(keptOn.length, 'night')} with the stove kept on (indoor_start_temp_c at or above target_temp_c with a positive lead, first line ${line(keptOn[0]!)}: ${first.indoor_start_temp_c} °C indoors, target ${first.target_temp_c} °C, lead ${first.lead_time_min} min) set aside from the calibration`,
    );
  }
  return { dropped, warnings };
}
