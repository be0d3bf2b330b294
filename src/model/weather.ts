import { readFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import { assetPath } from '../paths.js';
import { UsageError } from '../errors.js';
import { thermalParams } from './params.js';

/**
 * Real weather: daily NOAA observations (Seattle and New York, 2012-2015) from `samples/weather.csv`
 * (vega-datasets, see samples/README.md), turned into hourly outdoor temperatures and heating-season
 * nights.
 */

/** One day of one location. Temperatures in °C. */
export interface DailyWeather {
  location: string;
  /** YYYY-MM-DD */
  date: string;
  tMinC: number;
  tMaxC: number;
}

/**
 * The outdoor temperature around one target morning. `hourly[k]` is the temperature (°C) at hour
 * `k - 24` relative to midnight of `date` (so index 24 is 00:00 on `date`, index 0 is 00:00 the day
 * before); 49 values.
 */
export interface WeatherNight {
  location: string;
  /** The morning of the target, YYYY-MM-DD. */
  date: string;
  /** Heating season (October to April) it belongs to, e.g. `2014-15`. */
  season: string;
  hourly: Float64Array;
}

/** Path of the weather file shipped with watt. */
export function defaultWeatherFile(): string {
  return assetPath('samples', 'weather.csv');
}

/**
 * Read a daily weather CSV with at least the columns `location`, `date`, `temp_max`, `temp_min`.
 * @throws UsageError if the file is unreadable or a column is missing or not a number.
 */
export function loadDailyWeather(file: string = defaultWeatherFile()): DailyWeather[] {
  let rows: Record<string, string>[];
  try {
    rows = parse(readFileSync(file), { columns: true, skip_empty_lines: true, trim: true }) as Record<string, string>[];
  } catch (err) {
    throw new UsageError(`cannot read weather file ${file}: ${(err as Error).message.split('\n')[0]}`);
  }
  const out: DailyWeather[] = [];
  rows.forEach((row, i) => {
    const tMax = Number(row.temp_max);
    const tMin = Number(row.temp_min);
    if (!row.date || !/^\d{4}-\d{2}-\d{2}$/.test(row.date) || row.temp_max === undefined || row.temp_min === undefined || !Number.isFinite(tMax) || !Number.isFinite(tMin)) {
      throw new UsageError(`weather file ${file}, line ${i + 2}: needs date (YYYY-MM-DD), temp_max and temp_min (°C)`);
    }
    out.push({ location: row.location || 'unknown', date: row.date, tMinC: Math.min(tMin, tMax), tMaxC: Math.max(tMin, tMax) });
  });
  return out;
}

/** The heating season label of a target date: October-December of Y and January-April of Y+1 give `Y-(Y+1)`. */
export function seasonOf(date: string): string {
  const y = Number(date.slice(0, 4));
  const m = Number(date.slice(5, 7));
  const start = m >= 7 ? y : y - 1;
  return `${start}-${String((start + 1) % 100).padStart(2, '0')}`;
}

/** Add `days` to a YYYY-MM-DD date (UTC calendar arithmetic). */
export function addDays(date: string, days: number): string {
  const t = Date.parse(`${date}T00:00:00Z`) + days * 86_400_000;
  return new Date(t).toISOString().slice(0, 10);
}

/**
 * Hourly temperatures from daily extremes: two half-cosines, rising from the day's minimum at
 * `minHour` (06:00) to its maximum at `maxHour` (15:00), then falling to the next day's minimum.
 * @param prev, day, next the three consecutive days (the edges of the file reuse `day`)
 * @returns 24 values (°C) for hours 00..23 of `day`
 */
export function hourlyFromDaily(prev: DailyWeather, day: DailyWeather, next: DailyWeather, minHour = 6, maxHour = 15): number[] {
  const out: number[] = [];
  const halfCos = (a: number, b: number, f: number) => a + ((b - a) * (1 - Math.cos(Math.PI * f))) / 2;
  for (let h = 0; h < 24; h++) {
    if (h < minHour) out.push(halfCos(prev.tMaxC, day.tMinC, (h + 24 - maxHour) / (24 - maxHour + minHour)));
    else if (h <= maxHour) out.push(halfCos(day.tMinC, day.tMaxC, (h - minHour) / (maxHour - minHour)));
    else out.push(halfCos(day.tMaxC, next.tMinC, (h - maxHour) / (24 - maxHour + minHour)));
  }
  return out;
}

/**
 * Every heating-season night (target date in October..April) of every location that has the day
 * before in the file, in file order.
 */
export function heatingSeasonNights(days: DailyWeather[]): WeatherNight[] {
  const { minHour, maxHour, heatingSeasonMonths } = thermalParams().weather;
  const byKey = new Map<string, DailyWeather>();
  for (const d of days) byKey.set(`${d.location}|${d.date}`, d);
  const nights: WeatherNight[] = [];
  for (const day of days) {
    if (!heatingSeasonMonths.includes(Number(day.date.slice(5, 7)))) continue;
    const eve = byKey.get(`${day.location}|${addDays(day.date, -1)}`);
    if (!eve) continue;
    const eve2 = byKey.get(`${day.location}|${addDays(day.date, -2)}`) ?? eve;
    const next = byKey.get(`${day.location}|${addDays(day.date, 1)}`) ?? day;
    const hourly = new Float64Array(49);
    hourly.set(hourlyFromDaily(eve2, eve, day, minHour, maxHour), 0);
    hourly.set(hourlyFromDaily(eve, day, next, minHour, maxHour), 24);
    hourly[48] = hourlyFromDaily(day, next, next, minHour, maxHour)[0]!;
    nights.push({ location: day.location, date: day.date, season: seasonOf(day.date), hourly });
  }
  return nights;
}

/**
 * Outdoor temperature (°C) at `minute` minutes after midnight of the night's target date
 * (negative: the evening before), linearly interpolated between hours; clamped to the 49 h window.
 */
export function outdoorAt(night: WeatherNight, minute: number): number {
  const x = Math.min(48, Math.max(0, minute / 60 + 24));
  const i = Math.min(47, Math.floor(x));
  const f = x - i;
  return night.hourly[i]! * (1 - f) + night.hourly[i + 1]! * f;
}
