import type { Command } from 'commander';
import { UsageError } from '../errors.js';

/** `watt purge`: not implemented yet (see its issue). */
export function registerPurge(program: Command): Command {
  return program
    .command('purge')
    .description('not implemented yet')
    .action(() => {
      throw new UsageError('watt purge is not implemented yet');
    });
}
