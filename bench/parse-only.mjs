// Floors for bench:ingest: csv-parse 7 alone streaming the file (arrays, no validation), counting rows.
//   node bench/parse-only.mjs FILE          64 KiB reads (Node's default), timed by the caller with
//                                           Node start-up included: the floor bench:ingest always had;
//   node bench/parse-only.mjs FILE --fast   1 MiB reads, and the parse alone timed in-process (from
//                                           the first read to the last record, no start-up or module
//                                           load), printed as parse_seconds=S (and its CPU time,
//                                           parse_cpu_seconds) on stderr: the strict floor.
import { createReadStream } from 'node:fs';
import { parse } from 'csv-parse';
const fast = process.argv.includes('--fast');
const t = process.hrtime.bigint();
const cpu = process.cpuUsage();
let rows = 0;
for await (const _ of createReadStream(process.argv[2], { highWaterMark: fast ? 1 << 20 : 1 << 16 }).pipe(parse({ from_line: 2 }))) rows++;
if (fast) {
  const c = process.cpuUsage(cpu);
  process.stderr.write(`parse_seconds=${Number(process.hrtime.bigint() - t) / 1e9} parse_cpu_seconds=${(c.user + c.system) / 1e6}\n`);
}
console.log(rows);
