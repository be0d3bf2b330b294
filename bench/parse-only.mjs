// Baseline for bench:ingest: csv-parse 7 alone streaming the file (arrays, no validation), counting rows.
import { createReadStream } from 'node:fs';
import { parse } from 'csv-parse';
let rows = 0;
for await (const _ of createReadStream(process.argv[2]).pipe(parse({ from_line: 2 }))) rows++;
console.log(rows);
