import { createHash } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import type { Log, ReportingDescriptor, Result } from 'sarif';
import type { Finding, RuleResult, Severity } from '../types.js';
import type { Reporter } from './types.js';

const LEVEL: Record<Severity, Result.level> = { error: 'error', warning: 'warning', info: 'note' };

/**
 * `--format sarif`: SARIF 2.1.0 for GitHub code scanning (github/codeql-action/upload-sarif).
 * Every rule is described (stable `id`, `helpUri`, default level, article in `properties`); every
 * result has a location relative to `%SRCROOT%` (a missing file is reported at its expected path,
 * line 1) and a `partialFingerprints` value that ignores line numbers, so an alert survives edits
 * above it. Validated in tests with Microsoft's SARIF multitool (`validate --rule-kind "Gh;Sarif"`).
 */
const sarif: Reporter = (report, options = {}) => {
  const index = new Map(report.rules.map((r, i) => [r.id, i]));
  const log: Log = {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'watt-audit-rgpd',
            fullName: 'watt audit-rgpd: GDPR (RGPD) compliance checks',
            version: report.tool.version,
            semanticVersion: report.tool.version,
            rules: report.rules.map(describeRule),
          },
        },
        ...(options.root ? { originalUriBaseIds: { '%SRCROOT%': { uri: pathToFileURL(options.root.endsWith('/') ? options.root : `${options.root}/`).href } } } : {}),
        automationDetails: { id: 'watt-audit-rgpd/' },
        columnKind: 'utf16CodeUnits',
        invocations: [{ executionSuccessful: true }],
        results: report.findings.map((f) => toResult(f, index.get(f.ruleId))),
      },
    ],
  };
  return JSON.stringify(log, null, 2) + '\n';
};
export default sarif;

function describeRule(r: RuleResult): ReportingDescriptor {
  return {
    id: r.id,
    name: r.id
      .split(/[/-]/)
      .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
      .join(''),
    shortDescription: { text: sentence(r.title) },
    fullDescription: { text: sentence(`${r.title} (${r.article})`) },
    help: { text: sentence(`${r.help} Source: ${r.article}`), markdown: `${r.help}\n\nSource: **${r.article}**${r.helpUri ? ` ([texte](${r.helpUri}))` : ''}` },
    ...(r.helpUri ? { helpUri: r.helpUri } : {}),
    defaultConfiguration: { level: LEVEL[r.severity], enabled: r.status !== 'disabled' },
    properties: { tags: ['gdpr', 'rgpd', 'compliance', 'privacy'], precision: 'very-high', article: r.article, checkType: r.checkType },
  };
}

function toResult(f: Finding, ruleIndex: number | undefined): Result {
  const region: { startLine: number; startColumn?: number } = { startLine: f.line ?? 1 };
  if (f.line && f.column) region.startColumn = f.column;
  return {
    ruleId: f.ruleId,
    ...(ruleIndex === undefined ? {} : { ruleIndex }),
    level: LEVEL[f.severity],
    message: { text: sentence(`${f.message} (${f.article})`) },
    locations: [{ physicalLocation: { artifactLocation: { uri: encodePath(f.file), uriBaseId: '%SRCROOT%' }, region } }],
    partialFingerprints: {
      'wattFindingHash/v1': createHash('sha256').update(`${f.ruleId}\0${f.file}\0${f.fingerprint}`).digest('hex').slice(0, 32),
    },
    ...(f.baselined ? { baselineState: 'unchanged' as const } : {}),
    ...(f.commit ? { properties: { commit: f.commit } } : {}),
  };
}

/** Percent-encode each path segment (spaces, accents, `#`, `?`) so the URI reference is valid. */
function encodePath(file: string): string {
  return file.split('/').map((seg) => encodeURIComponent(seg)).join('/');
}

/** SARIF messages should be full sentences ending with a period. */
function sentence(text: string): string {
  const t = text.trim();
  return /[.!?]$/.test(t) ? t : `${t}.`;
}
