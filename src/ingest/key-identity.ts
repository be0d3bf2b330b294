import { randomBytes } from 'node:crypto';
import { UsageError } from '../errors.js';
import type { Logger } from '../log.js';
import { generatePseudonymisationKey, type PseudonymisationKey } from '../records/pseudonymise.js';
import { lakeKeyId, type LakeIndex } from './lake-index.js';

/**
 * One lake, one key: which pseudonymisation key an ingest uses, and whether the lake prefix
 * (its manifests' key ids) agrees. Key ids are `keyIdOf()` fingerprints, safe to print.
 */

/** What the key decisions need from the ingest options. */
export interface KeyOptions {
  /** The configured key (WATT_PSEUDONYMISATION_KEY or `$WATT_HOME/pseudonymisation.key`), if any. */
  pseudonymisationKey: PseudonymisationKey | undefined;
  /** `--new-key`: a different key id than the lake's is a deliberate rotation. */
  newKey?: boolean;
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
 * One lake, one key: compare the key id with the lake prefix's (its newest manifest's).
 * @returns the lake key id rotated away from, when `newKey` lands a different key on purpose.
 * @throws UsageError (2) when they differ and `newKey` is not set, naming both ids and a manifest.
 */
export function checkKeyId(options: KeyOptions, index: LakeIndex, keyId: string, destination: string): string | undefined {
  const lakeKey = lakeKeyId(index);
  const legacy = index.manifests.filter((m) => !m.key_id).length;
  if (legacy) options.logger.warn(`${legacy} manifest${legacy > 1 ? 's' : ''} under ${destination} predate key ids: their key cannot be checked`, { step: 'key' });
  if (!lakeKey || lakeKey.keyId === keyId) {
    if (options.newKey) options.logger.warn(`--new-key: nothing to rotate, ${destination} ${lakeKey ? 'is already pseudonymised with key id ' + keyId : 'has no key id yet'}`, { step: 'key' });
    return undefined;
  }
  if (!options.newKey) {
    throw new UsageError(
      `the pseudonymisation key has id ${keyId}, but ${destination} was ingested with key id ${lakeKey.keyId} (manifest ${lakeKey.manifest}): the same data subjects would get other pseudonyms`,
      { hint: 'configure the key this lake was ingested with, or pass --new-key to rotate on purpose (recorded in the catalog, the log and the audit trail)' },
    );
  }
  options.logger.warn(`key rotation: ${destination} moves from key id ${lakeKey.keyId} to ${keyId} (--new-key); keep the old key to erase data subjects from earlier runs`, {
    step: 'key',
    from_key_id: lakeKey.keyId,
    to_key_id: keyId,
  });
  return lakeKey.keyId;
}
