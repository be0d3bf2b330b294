import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Option, type Command } from 'commander';
import { retentionPolicy } from '../config.js';
import { DataError, UsageError } from '../errors.js';
import type { Painter, ReportFormat } from '../audit/reporters/index.js';
import type { FailOn } from '../audit/types.js';
import { recordRunMetrics } from '../metrics.js';

const FORMATS = ['text', 'json', 'sarif', 'junit', 'markdown'] as const;
const FAIL_ON = ['error', 'warning', 'never'] as const;

interface AuditFlags {
  dir: string;
  config?: string;
  format: ReportFormat;
  output?: string;
  failOn: FailOn;
  init?: boolean;
  history: boolean;
  baseline?: string;
  writeBaseline?: string;
  json?: boolean;
  explain?: boolean;
}

/**
 * `watt audit-rgpd`: check the repository's GDPR documents and hygiene (rules in
 * src/audit/rules/default.json), print a report, exit 1 on findings at or above `--fail-on`.
 */
export function registerAudit(program: Command): Command {
  return program
    .command('audit-rgpd')
    .description('check the GDPR (RGPD) documents and secret hygiene of a repository, for CI')
    .option('--dir <path>', 'repository to audit', '.')
    .option('--config <file>', 'rule configuration extending the defaults [default: <dir>/watt-audit.json if present]')
    .addOption(new Option('--format <format>', 'report format').choices(FORMATS).default('text'))
    .option('--output <file>', 'write the report to a file instead of stdout')
    .addOption(new Option('--fail-on <severity>', 'exit 1 on findings at or above this severity').choices(FAIL_ON).default('error'))
    .option('--no-history', 'scan only the files of the tree for secrets, not every commit reachable from HEAD')
    .option('--baseline <file>', 'report the findings listed in this baseline as notes (they no longer fail the run)')
    .option('--write-baseline <file>', 'record the findings of this run in a baseline file (rule, file, fingerprint; never a secret)')
    .option('--json', 'same as --format json')
    .option('--explain', 'show, for each fact a document states, the sentence and line that satisfied it')
    .option('--init', 'write the missing RGPD documents from French templates and a commented watt-audit.toml (never overwrites), then exit')
    .action(async (flags: AuditFlags) => {
      if (flags.json) flags.format = 'json';
      const retention = retentionPolicy();
      if (flags.init) {
        const { initDocs } = await import('../audit/init.js');
        const result = await initDocs(flags.dir, retention);
        for (const file of result.written) process.stdout.write(`wrote ${file}\n`);
        process.stdout.write(
          result.written.length > 0
            ? `${result.written.length} template(s) written, ${result.existing.length} existing file(s) left untouched: replace every "À compléter", say in watt-audit.toml where your documents live if not under docs/, then run watt audit-rgpd\n`
            : `nothing to write: all ${result.existing.length} documents exist\n`,
        );
        return;
      }
      const [{ runAudit }, { REPORTERS }, { failsAt }] = await Promise.all([
        import('../audit/engine.js'),
        import('../audit/reporters/index.js'),
        import('../audit/types.js'),
      ]);
      // The policy watt purge applies is compared only when one is configured (WATT_RETENTION_POLICY,
      // or [retention] of the repository's watt-audit.toml, which wins).
      const configured = process.env.WATT_RETENTION_POLICY ? retention : undefined;
      const report = await runAudit({ dir: flags.dir, configFile: flags.config, retention: configured, history: flags.history, baseline: flags.baseline, explain: flags.explain });
      if (flags.writeBaseline) {
        const { writeBaseline } = await import('../audit/baseline.js');
        const n = await writeBaseline(flags.writeBaseline, report);
        process.stderr.write(`watt: baseline of ${n} finding(s) written to ${flags.writeBaseline}\n`);
      }
      const paint = flags.format === 'text' && !flags.output ? await chalkPainter() : undefined;
      const rendered = REPORTERS[flags.format](report, { paint, root: path.resolve(flags.dir) });
      if (flags.output) {
        await writeFile(flags.output, rendered).catch((err: Error) => {
          throw new UsageError(`cannot write the report to ${flags.output}: ${err.message.split('\n')[0]}`);
        });
      } else {
        process.stdout.write(rendered);
      }
      const s = report.summary;
      recordRunMetrics({ findings: { error: s.errors, warning: s.warnings, info: s.infos } });
      if (failsAt(report, flags.failOn)) {
        throw new DataError(`GDPR audit failed: ${s.errors} error(s), ${s.warnings} warning(s) in ${s.failed} rule(s) (--fail-on ${flags.failOn})`, {
          hint: flags.output ? `see ${flags.output}` : 'fix the findings above; watt audit-rgpd --init writes missing documents',
        });
      }
      if (flags.output) process.stderr.write(`watt: GDPR audit: ${s.errors} error(s), ${s.warnings} warning(s); report written to ${flags.output}\n`);
    });
}

async function chalkPainter(): Promise<Painter | undefined> {
  const { default: chalk } = await import('chalk');
  if (chalk.level === 0) return undefined;
  return { red: chalk.red, yellow: chalk.yellow, blue: chalk.cyan, green: chalk.green, dim: chalk.dim, bold: chalk.bold };
}
