import type { Command } from 'commander';
import { UsageError } from '../errors.js';

/** `watt predict`: not implemented yet (see its issue). */
export function registerPredict(program: Command): Command {
  return program
    .command('predict')
    .description('not implemented yet')
    .action(() => {
      throw new UsageError('watt predict is not implemented yet');
    });
}
