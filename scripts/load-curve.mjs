#!/usr/bin/env node
// A realistic French utility export, as a new user brings it (issue 17): a half-hourly load
// curve per delivery point (PDL/PRM, 14 digits), `;`-separated, decimal commas, CRLF line ends,
// local times of Europe/Paris without an offset across both daylight-saving changes of the year
// (the spring-forward hour is absent, the fall-back hour appears twice), in windows-1252 or UTF-8
// with a BOM. Used by tests/cli/ingest-dialect.test.ts and bench/ingest.mjs (dialect path).
//
//   node scripts/load-curve.mjs OUT.csv [--pdls N] [--encoding windows-1252|utf-8-bom|utf-8] [--year YYYY]
//
// Local times come from the platform's IANA database (Intl), never from hand-written offsets.
import { writeFileSync } from 'node:fs';

export const HEADER = ['PDL', 'horodatage', 'conso_kwh', 'type_mesure', 'puissance_souscrite_kva'];
/** A label with accents, so that the encoding matters. */
export const MEASURE = 'Énergie active soutirée';
const ZONE = 'Europe/Paris';

/** `YYYY-MM-DD HH:MM:SS` wall clock of `ms` in Europe/Paris. */
function localOf(fmt, ms) {
  const p = Object.fromEntries(fmt.formatToParts(new Date(ms)).map((x) => [x.type, x.value]));
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second}`;
}

/**
 * The load curve of `pdls` delivery points over `year` (local midnight to midnight, Paris), or
 * over its first `days` days.
 * @returns `text` (the CSV as a string, CRLF), `bytes` (encoded), `rows`, `pdls` (the identifiers),
 * `sumWh` (exact sum of conso_kwh in Wh, an integer), `utcInstants` (per PDL: distinct UTC
 * half-hours = rows per PDL)
 */
export function loadCurve({ pdls = 3, year = 2025, encoding = 'windows-1252', days = undefined } = {}) {
  const fmt = new Intl.DateTimeFormat('en-CA', { timeZone: ZONE, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
  // Local midnight of 1 January in Paris is 23:00 UTC the day before (winter time, +01:00).
  const start = Date.UTC(year - 1, 11, 31, 23, 0, 0);
  // `days`: only the first days of the year (tests that need no daylight-saving change).
  const end = days === undefined ? Date.UTC(year, 11, 31, 23, 0, 0) : start + days * 86_400_000;
  const ids = Array.from({ length: pdls }, (_, i) => String(30001234567890 + i * 104_729).padStart(14, '0'));
  const lines = [HEADER.join(';')];
  let sumWh = 0;
  let seed = 17;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648);
  for (const [k, pdl] of ids.entries()) {
    const kva = [6, 9, 12][k % 3];
    for (let t = start; t < end; t += 1_800_000) {
      const hour = new Date(t).getUTCHours();
      const base = hour >= 6 && hour <= 21 ? 250 : 110;
      const wh = base + (next() % 400);
      sumWh += wh;
      const kwh = `${Math.floor(wh / 1000)},${String(wh % 1000).padStart(3, '0')}`;
      lines.push([pdl, localOf(fmt, t), kwh, MEASURE, kva].join(';'));
    }
  }
  const text = lines.join('\r\n') + '\r\n';
  const rows = lines.length - 1;
  let bytes;
  if (encoding === 'windows-1252') bytes = Buffer.from(text, 'latin1'); // every character here is in Latin-1, which windows-1252 extends
  else if (encoding === 'utf-8-bom') bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text, 'utf8')]);
  else bytes = Buffer.from(text, 'utf8');
  return { text, bytes, rows, pdls: ids, sumWh, perPdl: rows / pdls };
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const arg = (name) => (process.argv.indexOf(name) > 0 ? process.argv[process.argv.indexOf(name) + 1] : undefined);
  const out = process.argv[2];
  if (!out || out.startsWith('--')) {
    process.stderr.write('usage: node scripts/load-curve.mjs OUT.csv [--pdls N] [--encoding windows-1252|utf-8-bom|utf-8] [--year YYYY]\n');
    process.exit(2);
  }
  const curve = loadCurve({ pdls: Number(arg('--pdls') ?? 12), year: Number(arg('--year') ?? 2025), encoding: arg('--encoding') ?? 'windows-1252' });
  writeFileSync(out, curve.bytes);
  process.stdout.write(`${out}: ${curve.rows} rows, ${curve.pdls.length} PDLs, ${curve.bytes.length} bytes, sum ${curve.sumWh / 1000} kWh\n`);
}
