import { randomBytes } from 'node:crypto';
import { UsageError } from '../errors.js';
import type { Logger } from '../log.js';
import { DEFAULT_PSEUDONYM_SCHEME, generatePseudonymisationKey, schemeLabel, type PseudonymisationKey, type PseudonymScheme } from '../records/pseudonymise.js';
import { lakeKeyId, lakeScheme, type LakeIndex } from './lake-index.js';

/**
 * One lake, one key: which pseudonymisation key an ingest uses, and whether the lake prefix
 * (its manifests' key ids) agrees. Key ids are `keyIdOf()` fingerprints, safe to print.
 */

/** What the key decisions need from the ingest options. */
export interface KeyOptions {
  /** The configured key (WATT_PSEUDONYMISATION_KEY or `$WATT_HOME/pseudonymisation.key`), if any. */
  pseudonymisationKey: PseudonymisationKey | undefined;
  /** `--new-key`: a different key id (or pseudonym scheme) than the lake's is a deliberate rotation. */
  newKey?: boolean;
  /** `--pseudonym-scheme`: the scheme of a new prefix, or of a rotation (default {@link DEFAULT_PSEUDONYM_SCHEME}). */
  pseudonymScheme?: PseudonymScheme;
  dryRun?: boolean;
  /** WATT_HOME, where a first run's key is generated. */
  home: string;
  logger: Logger;
}

/**
 * The key this run pseudonymises with: the configured one; else, for a lake prefix without any
 * manifest, a key generated in `<home>` (the first-run convenience); a dry run without a key uses
 * a throwaway one (it writes no pseudonym).
 * @throws UsageError (2) when no key is configured and the lake prefix already holds runs: a second
 * key would give the same data subjects other pseudonyms.
 */
export function resolveKey(options: KeyOptions, index: LakeIndex, destination: string): PseudonymisationKey {
  if (options.pseudonymisationKey) return options.pseudonymisationKey;
  if (index.manifests.length > 0) {
    const lakeKey = lakeKeyId(index);
    throw new UsageError(
      `no pseudonymisation key is configured, and ${destination} already holds ${index.manifests.length} run${index.manifests.length > 1 ? 's' : ''}${lakeKey ? ` made with key id ${lakeKey.keyId}` : ''}: watt will not generate a second key for a lake that has data`,
      { hint: 'set WATT_PSEUDONYMISATION_KEY to the key this lake was ingested with (or put it in $WATT_HOME/pseudonymisation.key)' },
    );
  }
  if (options.dryRun) {
    options.logger.debug('dry run without a configured key: pseudonyms computed with a throwaway key, no key file created');
    return { key: Buffer.from(randomBytes(32).toString('hex'), 'utf8'), source: 'generated' };
  }
  const key = generatePseudonymisationKey(options.home);
  if (key.source === 'generated') {
    options.logger.warn(`no WATT_PSEUDONYMISATION_KEY: generated a new key in ${key.file} (mode 0600) for the empty lake ${destination}; keep it secret and back it up, or pseudonyms will change`);
  }
  return key;
}

/**
 * One prefix, one pseudonym scheme (records/pseudonymise.ts PseudonymScheme): a prefix without
 * manifests gets `--pseudonym-scheme` or the default (v2); a prefix with runs keeps the scheme of
 * its newest manifest (v1 when it records none), unless `--new-key` rotates: a rotation lands
 * `--pseudonym-scheme` or the default (v2), with the configured key (the same key or a new one).
 * @returns the scheme this run writes, and the lake's scheme it rotates away from, if it does.
 * @throws UsageError (2) when `--pseudonym-scheme` differs from the prefix's scheme without `--new-key`.
 */
export function resolveScheme(options: KeyOptions, index: LakeIndex, destination: string): { scheme: PseudonymScheme; from?: PseudonymScheme } {
  const lake = lakeScheme(index);
  if (!lake) return { scheme: options.pseudonymScheme ?? DEFAULT_PSEUDONYM_SCHEME };
  if (options.newKey) {
    const scheme = options.pseudonymScheme ?? DEFAULT_PSEUDONYM_SCHEME;
    return scheme === lake.scheme ? { scheme } : { scheme, from: lake.scheme };
  }
  if (options.pseudonymScheme && options.pseudonymScheme !== lake.scheme) {
    throw new UsageError(
      `--pseudonym-scheme ${schemeLabel(options.pseudonymScheme)}: ${destination} is pseudonymised with scheme ${schemeLabel(lake.scheme)} (manifest ${lake.manifest}), and a prefix never mixes schemes`,
      { hint: 'leave out --pseudonym-scheme to keep the lake\'s scheme, or pass --new-key to rotate on purpose (keep the old key to erase data subjects from earlier runs)' },
    );
  }
  return { scheme: lake.scheme };
}

/**
 * One lake, one key: compare the key id with the lake prefix's (its newest manifest's).
 * @returns the lake key id rotated away from, when `newKey` lands a different key on purpose.
 * @throws UsageError (2) when they differ and `newKey` is not set, naming both ids and a manifest.
 */
export function checkKeyId(options: KeyOptions, index: LakeIndex, keyId: string, destination: string, schemeFrom?: PseudonymScheme): string | undefined {
  const lakeKey = lakeKeyId(index);
  const legacy = index.manifests.filter((m) => !m.key_id).length;
  if (legacy) options.logger.warn(`${legacy} manifest${legacy > 1 ? 's' : ''} under ${destination} predate key ids: their key cannot be checked`, { step: 'key' });
  if (!lakeKey || lakeKey.keyId === keyId) {
    if (options.newKey && schemeFrom) {
      options.logger.warn(`pseudonym scheme rotation: ${destination} moves from ${schemeLabel(schemeFrom)} to ${schemeLabel(options.pseudonymScheme ?? DEFAULT_PSEUDONYM_SCHEME)} with the same key id ${keyId} (--new-key)`, { step: 'key', from_scheme: schemeFrom });
    } else if (options.newKey) options.logger.warn(`--new-key: nothing to rotate, ${destination} ${lakeKey ? 'is already pseudonymised with key id ' + keyId : 'has no key id yet'}`, { step: 'key' });
    return undefined;
  }
  if (!options.newKey) {
    throw new UsageError(
      `the pseudonymisation key has id ${keyId}, but ${destination} was ingested with key id ${lakeKey.keyId} (manifest ${lakeKey.manifest}): the same data subjects would get other pseudonyms`,
      { hint: 'configure the key this lake was ingested with, or pass --new-key to rotate on purpose (recorded in the catalog, the log and the audit trail)' },
    );
  }
  options.logger.warn(`key rotation: ${destination} moves from key id ${lakeKey.keyId} to ${keyId}${schemeFrom ? ` and from scheme ${schemeLabel(schemeFrom)} to ${schemeLabel(options.pseudonymScheme ?? DEFAULT_PSEUDONYM_SCHEME)}` : ''} (--new-key); keep the old key to erase data subjects from earlier runs`, {
    step: 'key',
    from_key_id: lakeKey.keyId,
    to_key_id: keyId,
  });
  return lakeKey.keyId;
}
