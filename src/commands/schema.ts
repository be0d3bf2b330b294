import type { Command } from 'commander';
import { intParser } from './options.js';

/**
 * `watt schema infer SOURCE`: print a JSON Schema (draft 2020-12) for a CSV file that
 * `watt ingest --schema` accepts as it is: dialect, types, separators, date-time spelling and
 * zone, `required`, primary key, personal-data guesses. Notes (what to check) go to stderr.
 * Exit codes: 0 printed, 1 an empty file, 2 usage (missing file, bad zone).
 */
export function registerSchema(program: Command): Command {
  const schema = program.command('schema').description('work with the JSON Schema of your own CSV files');
  schema
    .command('infer')
    .description('print a JSON Schema for a CSV file (dialect, types, local times, primary key, personal-data guesses), ready for watt ingest --schema')
    .argument('<source>', 'the CSV file to describe')
    .option('--timezone <zone>', 'IANA time zone of date-times written without an offset, e.g. Europe/Paris')
    .option('--rows <n>', 'rows to read: from the start, then from places through the file (default 5000)', intParser('--rows', 10, 1_000_000))
    .addHelpText(
      'after',
      `
Reads a bounded sample and prints the schema on stdout; notes on stderr. No value of the file
appears in the output. Check the guesses, above all "x-personal-data", then:
  watt schema infer export.csv --timezone Europe/Paris > export.schema.json
  watt ingest --source export.csv --schema export.schema.json`,
    )
    .action(async (source: string, flags: { timezone?: string; rows?: number }) => {
      const { inferSchema } = await import('../ingest/infer-schema.js');
      const result = await inferSchema(source, { timezone: flags.timezone, rows: flags.rows });
      process.stdout.write(JSON.stringify(result.schema, null, 2) + '\n');
      for (const note of result.notes) process.stderr.write(`note: ${note}\n`);
    });
  return schema;
}
