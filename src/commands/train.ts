import type { Command } from 'commander';
import { UsageError } from '../errors.js';

/** `watt train`: not implemented yet (see its issue). */
export function registerTrain(program: Command): Command {
  return program
    .command('train')
    .description('not implemented yet')
    .action(() => {
      throw new UsageError('watt train is not implemented yet');
    });
}
