import type { Command } from 'commander';
import { UsageError } from '../errors.js';

export function registerIngest(program: Command): Command {
  return program
    .command('ingest')
    .description('not implemented yet')
    .action(() => {
      throw new UsageError('watt ingest is not implemented yet');
    });
}
