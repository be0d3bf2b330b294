import type { Command } from 'commander';
import { UsageError } from '../errors.js';

/** `watt audit-rgpd`: not implemented yet (see its issue). */
export function registerAudit(program: Command): Command {
  return program
    .command('audit-rgpd')
    .description('not implemented yet')
    .action(() => {
      throw new UsageError('watt audit-rgpd is not implemented yet');
    });
}
