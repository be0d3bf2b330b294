import type { CheckDefinition } from './types.js';
import fileExists from './file-exists.js';
import markdownSections from './markdown-sections.js';
import documentFacts from './document-facts.js';
import csvColumns from './csv-columns.js';
import notTracked from './not-tracked.js';
import secrets from './secrets.js';
import tomlValid from './toml-valid.js';
import retentionDeclared from './retention-declared.js';
import auditTrail from './audit-trail.js';
import personalData from './personal-data.js';
import dataInventory from './data-inventory.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyCheck = CheckDefinition<any>;

/**
 * The check types a rule may use, by `check.type`. Adding a type: one file in this folder that
 * default-exports `defineCheck({...})`, and one line below.
 */
export const CHECKS: ReadonlyMap<string, AnyCheck> = new Map(
  [
    fileExists,
    markdownSections,
    documentFacts,
    csvColumns,
    notTracked,
    secrets,
    tomlValid,
    retentionDeclared,
    auditTrail,
    personalData,
    dataInventory,
  ].map((check) => [check.type, check as AnyCheck]),
);
