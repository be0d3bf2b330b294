import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { retentionPolicy, type RetentionCategory } from '../config.js';
import { UsageError } from '../errors.js';
import { assetPath } from '../paths.js';

/** Folder of the French templates shipped with watt; its tree mirrors the repository (docs/, .gitleaks.toml). */
export const TEMPLATES_DIR = assetPath('src', 'audit', 'templates');

export interface InitResult {
  /** Repository-relative paths written. */
  written: string[];
  /** Repository-relative paths left alone because they already exist. */
  existing: string[];
}

/**
 * `watt audit-rgpd --init`: write each missing RGPD document from the French templates (register
 * of processing Art. 30, privacy notice Art. 13, retention policy Art. 5(1)(e) with watt's own
 * periods, breach procedure Art. 33-34, inventories, risk register, security runbook,
 * `.gitleaks.toml`). Never overwrites: a file that exists is listed in `existing`.
 * @throws UsageError when `dir` is not a folder or a file cannot be written.
 */
export async function initDocs(dir: string, retention: readonly RetentionCategory[] = retentionPolicy({})): Promise<InitResult> {
  const root = path.resolve(dir);
  if (!(await stat(root).catch(() => undefined))?.isDirectory()) throw new UsageError(`cannot write templates into ${dir}: not a folder`);
  const result: InitResult = { written: [], existing: [] };
  for (const rel of await listTemplates(TEMPLATES_DIR)) {
    const target = path.join(root, rel);
    const content = render(await readFile(path.join(TEMPLATES_DIR, rel), 'utf8'), retention);
    await mkdir(path.dirname(target), { recursive: true });
    try {
      await writeFile(target, content, { flag: 'wx' });
      result.written.push(rel);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') result.existing.push(rel);
      else throw new UsageError(`cannot write ${rel}: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  return result;
}

function render(template: string, retention: readonly RetentionCategory[]): string {
  const rows = retention.map((c) => `| ${c.label || c.id} | ${c.days} jours |`).join('\n');
  return template.replace('{{retention_rows}}', rows);
}

async function listTemplates(dir: string, rel = ''): Promise<string[]> {
  const entries = await readdir(path.join(dir, rel), { withFileTypes: true });
  const out: string[] = [];
  for (const e of entries) {
    const child = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await listTemplates(dir, child)));
    else out.push(child);
  }
  return out.sort();
}
