// The meter readings every ingest bench generates: the seed's columns, 20,000 customers with one
// meter each, hourly readings from 2025-01-01T00:00:00Z (20,000 rows an hour), ~75 bytes a row.
import { createWriteStream } from 'node:fs';
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
  const out = createWriteStream(file);
  out.write(HEADER);
  const t0 = Date.UTC(2025, 0, 1);
  let chunk = '';
  for (let i = from; i < to; i++) {
    const c = i % 20000;
    const ts = new Date(t0 + Math.floor(i / 20000) * 3600_000).toISOString().replace('.000Z', 'Z');
    const hour = Math.floor(i / 20000) % 24;
    chunk += `${recordId(i)},CUST-${String(c).padStart(6, '0')},METER-${String(c).padStart(6, '0')},${ts},${((i * 7919) % 3000 / 100).toFixed(2)},0.${17 + (hour % 7)},${hour >= 7 && hour < 23 ? 'true' : 'false'}\n`;
    if (chunk.length > 1 << 16) {
      if (!out.write(chunk)) await once(out, 'drain');
      chunk = '';
    }
  }
  out.end(chunk);
  await once(out, 'finish');
}
