// The meter readings every ingest bench generates: the seed's columns, 20,000 customers with one
// meter each, hourly readings from 2025-01-01T00:00:00Z (20,000 rows an hour), ~75 bytes a row.
import { createWriteStream, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { once } from 'node:events';

export const HEADER = 'record_id,customer_id,meter_id,reading_ts,consumption_kwh,tariff_eur_kwh,is_peak\n';

/**
 * Write readings `from` (inclusive) to `to` (exclusive) to `file`, header first.
 * @param {string} file
 * @param {number} from first reading index
 * @param {number} to reading index after the last
 * @param {(i: number) => string} [recordId] record_id of reading i (default REC-<8 digits>)
 */
export async function writeReadings(file, from, to, recordId = (i) => `REC-${String(i).padStart(8, '0')}`) {
  await writeLines(file, to - from, (k) => readingLine(from + k, recordId));
}

/**
 * The same readings `from`..`to` as {@link writeReadings}, in a random order (a Fisher-Yates
 * permutation from a fixed seed, so every run writes the same file): the shape of an export
 * sorted by something else than meter and time, where consecutive rows rarely share a meter or
 * an hour (issue 23: "speed on unordered exports").
 * @param {string} file
 * @param {number} from
 * @param {number} to
 * @param {number} [seed]
 */
export async function writeReadingsShuffled(file, from, to, seed = 23) {
  const n = to - from;
  const order = new Uint32Array(n);
  for (let k = 0; k < n; k++) order[k] = from + k;
  let state = seed >>> 0 || 1;
  // xorshift32: reproducible, good enough to scatter rows.
  const next = () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state;
  };
  for (let k = n - 1; k > 0; k--) {
    const j = next() % (k + 1);
    const t = order[k];
    order[k] = order[j];
    order[j] = t;
  }
  await writeLines(file, n, (k) => readingLine(order[k]));
}

/** Reading `i` as one CSV line (with its newline). */
function readingLine(i, recordId = (j) => `REC-${String(j).padStart(8, '0')}`) {
  const t0 = Date.UTC(2025, 0, 1);
  const c = i % 20000;
  const ts = new Date(t0 + Math.floor(i / 20000) * 3600_000).toISOString().replace('.000Z', 'Z');
  const hour = Math.floor(i / 20000) % 24;
  return `${recordId(i)},CUST-${String(c).padStart(6, '0')},METER-${String(c).padStart(6, '0')},${ts},${((i * 7919) % 3000 / 100).toFixed(2)},0.${17 + (hour % 7)},${hour >= 7 && hour < 23 ? 'true' : 'false'}\n`;
}

async function writeLines(file, n, line) {
  const out = createWriteStream(file);
  out.write(HEADER);
  let chunk = '';
  for (let k = 0; k < n; k++) {
    chunk += line(k);
    if (chunk.length > 1 << 16) {
      if (!out.write(chunk)) await once(out, 'drain');
      chunk = '';
    }
  }
  out.end(chunk);
  await once(out, 'finish');
}

/** Bytes and count of the data objects (csv/parquet) under a lake folder, and how many are Parquet (0s when there is no lake). */
export function lakeData(dir) {
  let bytes = 0;
  let objects = 0;
  let parquet = 0;
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(csv|parquet)$/.test(e.name)) {
        bytes += statSync(p).size;
        objects++;
        if (e.name.endsWith('.parquet')) parquet++;
      }
    }
  };
  try {
    walk(dir);
  } catch {
    // no lake (nothing landed)
  }
  return { bytes, objects, parquet };
}
