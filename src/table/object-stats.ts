import { parquetMetadataAsync } from 'hyparquet';
import { readParquetMetadata } from '../formats/parquet.js';
import { spoolAsyncBuffer, type SpoolCipher } from '../spool-crypto.js';

/**
 * Per-object column statistics recorded in a manifest's `objects[].stats` and published in the
 * table log's `add.stats` (Delta Lake PROTOCOL.md "Per-file Statistics": `minValues`,
 * `maxValues`, `nullCount`). Only the timestamp columns (TIMESTAMP logical type), the ones
 * readers filter a lake of readings by: ISO 8601 UTC strings truncated to the millisecond, as
 * Spark writes them (Delta readers widen a timestamp `maxValues` by 1 ms for that reason).
 */
export interface ObjectStats {
  min: Record<string, string>;
  max: Record<string, string>;
  null_count: Record<string, number>;
}

/**
 * Statistics of the timestamp columns of a local Parquet file, from its footer (the min/max and
 * null counts of every row group; a column with a row group without them is left out).
 * @param cipher the file is an encrypted spool (src/spool-crypto.ts): its footer is decrypted in memory
 * @returns undefined when the file has no timestamp column with statistics, or cannot be read
 */
export async function parquetTimestampStats(file: string, cipher?: SpoolCipher): Promise<ObjectStats | undefined> {
  let meta: Awaited<ReturnType<typeof readParquetMetadata>>;
  try {
    meta = cipher ? await parquetMetadataAsync(spoolAsyncBuffer(file, cipher)) : await readParquetMetadata(file);
  } catch {
    return undefined;
  }
  const stats: ObjectStats = { min: {}, max: {}, null_count: {} };
  meta.schema.slice(1).forEach((element, i) => {
    if (element.logical_type?.type !== 'TIMESTAMP' && element.converted_type !== 'TIMESTAMP_MICROS' && element.converted_type !== 'TIMESTAMP_MILLIS') return;
    let min: number | undefined;
    let max: number | undefined;
    let nulls = 0;
    for (const group of meta.row_groups) {
      const s = group.columns[i]?.meta_data?.statistics;
      const lo = s?.min_value ?? s?.min;
      const hi = s?.max_value ?? s?.max;
      if (!(lo instanceof Date) || !(hi instanceof Date) || s?.null_count === undefined) {
        if (Number(group.num_rows) > 0 && Number(s?.null_count ?? -1) !== Number(group.num_rows)) return; // no usable statistics
        nulls += Number(group.num_rows);
        continue;
      }
      min = min === undefined ? lo.getTime() : Math.min(min, lo.getTime());
      max = max === undefined ? hi.getTime() : Math.max(max, hi.getTime());
      nulls += Number(s.null_count);
    }
    if (min === undefined || max === undefined) return;
    stats.min[element.name] = new Date(min).toISOString();
    stats.max[element.name] = new Date(max).toISOString();
    stats.null_count[element.name] = nulls;
  });
  return Object.keys(stats.min).length ? stats : undefined;
}
