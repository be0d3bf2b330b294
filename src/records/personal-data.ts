/**
 * Personal-data detectors: which columns of a table hold data about an identifiable person
 * (GDPR Art. 4(1)), judged from the column's name (French and English) and from the shape of a
 * sample of its values. Shared by `watt schema infer` (guesses marked `x-personal-data`), ingest's
 * personal-data guard (an unmarked personal column fails the run) and `watt audit-rgpd` (data
 * files committed to a repository).
 *
 * Pure functions, no I/O. A finding carries a one-line reason that names the detector and the
 * evidence (column name, or how many sampled values had the shape) and NEVER a value: reasons are
 * printed in messages, schemas and reports.
 *
 * Entry points:
 * - {@link detectPersonalData}: name + values of one column -> the detectors that fired.
 * - {@link detectByColumnName} / {@link detectByValues}: either kind of evidence alone.
 * - {@link PERSONAL_DATA_DETECTORS}: every detector, each usable alone (`matchesName`,
 *   `matchesValue`), with true and false examples checked by the unit tests (as gitleaks' rules).
 * - Value predicates: {@link isPdl}, {@link isEmail}, {@link isPhoneNumber}, {@link isIban},
 *   {@link isPersonName}, {@link isPostalAddress}.
 */

/** Identifier of a detector (stable: used in messages, schemas, audit findings). */
export type PersonalDataDetectorId =
  | 'pdl'
  | 'email'
  | 'phone'
  | 'iban'
  | 'person-name'
  | 'postal-address'
  | 'customer-identifier'
  | 'meter-identifier'
  | 'contract-identifier';

/** What made a detector fire. */
export type PersonalDataEvidence = 'name' | 'values';

/** One detector that fired on one column. Holds no value of the column. */
export interface PersonalDataFinding {
  /** The detector. */
  detector: PersonalDataDetectorId;
  /** What it detects, in words (`PDL/PRM delivery point`). */
  label: string;
  /** Whether the column's name or its values made it fire. */
  evidence: PersonalDataEvidence;
  /**
   * One line, no value: `column name "PDL" names a PDL/PRM delivery point` or
   * `1000 of 1000 sampled values look like a PDL/PRM delivery point (14 digits)`.
   */
  reason: string;
  /** For value evidence: sampled non-empty values that had the shape, and how many were sampled. */
  matched?: number;
  sampled?: number;
}

/** A detector: a name test over folded tokens and, for most, a value-shape test. */
export interface PersonalDataDetector {
  id: PersonalDataDetectorId;
  /** What it detects, in words. */
  label: string;
  /** The value shape in words, for reasons (`14 digits`); absent when only names count. */
  shape?: string;
  /** Whether a column name says the column holds this kind of data. */
  matchesName(column: string): boolean;
  /** Whether one value has this shape; absent for detectors that only judge names. */
  matchesValue?(value: string): boolean;
  /**
   * Share of the sampled non-empty values (0-1) that must have the shape for the detector to fire
   * on values. Strong shapes (IBAN with its checksum, e-mail) need fewer.
   */
  minShare: number;
  /** Column names and values the detector must fire on, and must not: checked by the tests. */
  examples: { names: string[]; notNames: string[]; values?: string[]; notValues?: string[] };
}

/** Options of {@link detectByValues} and {@link detectPersonalData}. */
export interface DetectOptions {
  /** At most this many non-empty values are examined (default 1000). */
  maxValues?: number;
  /** Fewer non-empty values than this never fire a value detector (default 1). */
  minValues?: number;
}

// ---------------------------------------------------------------------------------------------
// Column names
// ---------------------------------------------------------------------------------------------

/**
 * The words of a column name, folded: accents stripped, lower case, split at any non-letter or
 * digit and at camelCase boundaries. `NuméroClient` -> [`numero`, `client`];
 * `usage_point_id` -> [`usage`, `point`, `id`].
 */
export function columnNameTokens(column: string): string[] {
  return column
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((t) => t.length > 0);
}

/** Whether `tokens` contains `phrase` (a space-separated run of tokens) contiguously. */
function hasPhrase(tokens: string[], phrase: string): boolean {
  const words = phrase.split(' ');
  outer: for (let i = 0; i + words.length <= tokens.length; i++) {
    for (let j = 0; j < words.length; j++) if (tokens[i + j] !== words[j]) continue outer;
    return true;
  }
  return false;
}

/** Whether the tokens, or their concatenation, contain any of the phrases or glued words. */
function nameHas(column: string, phrases: readonly string[], glued: readonly string[] = []): boolean {
  const tokens = columnNameTokens(column);
  if (phrases.some((p) => hasPhrase(tokens, p))) return true;
  const joined = tokens.join('');
  return glued.some((g) => joined === g || tokens.includes(g));
}

/** Words that make a name about an identifier (`id`, `numero`, `ref`, ...). */
const ID_WORDS = new Set(['id', 'ids', 'identifier', 'identifiant', 'ident', 'num', 'numero', 'no', 'nr', 'n', 'number', 'ref', 'reference', 'code', 'key', 'cle', 'serial', 'serie', 'uid', 'uuid', 'pk']);

/**
 * Whether the column names an identifier of one of `entities`: the entity word with an
 * identifier word (`customer_id`, `numero_client`, `meterSerial`), a glued form (`customerid`,
 * `idclient`), or the entity word alone as the whole name (`client`, `compteur`).
 */
function namesIdentifierOf(column: string, entities: readonly string[]): boolean {
  const tokens = columnNameTokens(column);
  const joined = tokens.join('');
  for (const e of entities) {
    if (tokens.length === 1 && tokens[0] === e) return true;
    if (tokens.includes(e) && tokens.some((t) => ID_WORDS.has(t))) return true;
    for (const w of ['id', 'num', 'no', 'ref', 'number', 'numero', 'code']) if (joined === e + w || joined === w + e) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Value shapes
// ---------------------------------------------------------------------------------------------

const FOURTEEN_DIGITS = /^\d{14}$/;
const COMPACT_TIMESTAMP = /^(19|20)\d{2}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])([01]\d|2[0-3])[0-5]\d[0-5]\d$/;

/**
 * A French electricity delivery point (PDL, now PRM: "point de référence mesure", Enedis) or gas
 * delivery point (PCE, GRDF): exactly 14 digits, surrounding spaces ignored. A 14-digit value that
 * reads as a compact timestamp `YYYYMMDDhhmmss` (1900-2099) is not counted.
 * Source: Enedis, "Le PRM : Point de Référence Mesure" (14-digit identifier of a meter point).
 */
export function isPdl(value: string): boolean {
  const v = value.trim();
  return FOURTEEN_DIGITS.test(v) && !COMPACT_TIMESTAMP.test(v);
}

const EMAIL = /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.[A-Za-z]{2,63}$/;

/** An e-mail address (`local@domain.tld`, the WHATWG HTML "valid e-mail address" shape with a TLD). */
export function isEmail(value: string): boolean {
  const v = value.trim();
  return v.length <= 254 && EMAIL.test(v);
}

/** French numbers: 0 or +33 / 0033, then 9 digits starting 1-9, grouped by 2 with optional separators (ARCEP numbering plan). */
const PHONE_FR = /^(?:0|\+33 ?(?:\(0\) ?)?|0033 ?)[1-9](?:[ .-]?\d{2}){4}$/;
/** E.164: `+`, country code 1-9, 8 to 15 digits in all, optional single spaces, dots or dashes between groups (ITU-T E.164). */
const PHONE_E164 = /^\+[1-9](?:[ .-]?\d){7,14}$/;

/** A telephone number, French national form (`06 12 34 56 78`, `+33 6 12 34 56 78`) or E.164 (`+447911123456`). */
export function isPhoneNumber(value: string): boolean {
  const v = value.trim();
  return PHONE_FR.test(v) || PHONE_E164.test(v);
}

/** IBAN lengths by country (ISO 13616 registry, SWIFT): a few frequent ones are checked exactly. */
const IBAN_LENGTHS: Record<string, number> = { FR: 27, DE: 22, BE: 16, ES: 24, IT: 27, NL: 18, LU: 20, CH: 21, GB: 22, PT: 25, AT: 20, IE: 22, MC: 27 };
const IBAN_SHAPE = /^[A-Z]{2}\d{2}[A-Z0-9]{11,30}$/;

/**
 * An International Bank Account Number with a valid ISO 13616 / ISO 7064 MOD 97-10 check: spaces
 * ignored, letters upper-cased; country length checked for the countries listed in the code.
 */
export function isIban(value: string): boolean {
  const v = value.replace(/[ \u00a0]/g, '').toUpperCase();
  if (!IBAN_SHAPE.test(v)) return false;
  const expected = IBAN_LENGTHS[v.slice(0, 2)];
  if (expected !== undefined && v.length !== expected) return false;
  const rearranged = v.slice(4) + v.slice(0, 4);
  let remainder = 0;
  for (let i = 0; i < rearranged.length; i++) {
    const c = rearranged.charCodeAt(i);
    const digits = c >= 65 ? String(c - 55) : String.fromCharCode(c);
    for (let j = 0; j < digits.length; j++) remainder = (remainder * 10 + (digits.charCodeAt(j) - 48)) % 97;
  }
  return remainder === 1;
}

/** Frequent French and English given names (INSEE "Fichier des prénoms" and US SSA top names), folded. */
const GIVEN_NAMES = new Set(
  (
    'jean pierre michel andre philippe alain bernard jacques daniel christian patrick nicolas christophe francois laurent stephane ' +
    'frederic eric david olivier thierry julien sebastien pascal vincent guillaume thomas antoine alexandre romain maxime hugo lucas ' +
    'louis gabriel arthur jules leo paul raphael adam nathan mathieu matthieu benoit claude gerard rene marcel henri yves didier serge ' +
    'marie nathalie isabelle sylvie catherine francoise christine monique valerie sandrine sophie stephanie celine veronique nicole ' +
    'anne martine julie aurelie camille emma lea chloe manon ines jade louise alice lina rose anna juliette sarah laura pauline ' +
    'charlotte emilie caroline virginie helene elodie audrey brigitte chantal jacqueline annie dominique patricia sandra ' +
    'james john robert michael william richard joseph charles mark steven george kevin brian edward ronald mary jennifer linda ' +
    'elizabeth barbara susan jessica karen nancy lisa betty margaret emily amanda melissa deborah rebecca laura emma olivia ava ' +
    'mohamed mohammed ahmed ali fatima yasmine karim mehdi nadia samir'
  ).split(' '),
);

const NAME_WORD = "[A-ZÀ-ÖØ-Ý][a-zà-öø-ÿ'’]+(?:-[A-ZÀ-ÖØ-Ý][a-zà-öø-ÿ'’]+)?";
const UPPER_WORD = "[A-ZÀ-ÖØ-Ý]{2,}(?:[-' ][A-ZÀ-ÖØ-Ý]{2,})?";
/** `Jean Dupont`, `Jean-Pierre de la Tour`, `DUPONT Jean`, `Dupont, Jean`. */
const PERSON_NAME = new RegExp(`^(?:${NAME_WORD}(?: (?:de|du|des|de la|van|von|le|la|di|da|el|ben|mc|o'))?(?: ${NAME_WORD}){1,3}|${UPPER_WORD},? ${NAME_WORD}(?:[ -]${NAME_WORD})?|${NAME_WORD}, ${NAME_WORD})$`, 'u');
/** A civility before a name: `M. Dupont`, `Mme Martin`, `Mrs Smith`, `Dr. Who`. */
const CIVILITY = /^(?:M\.|Mr\.?|Mme\.?|Mlle\.?|Mrs\.?|Ms\.?|Miss|Dr\.?|Monsieur|Madame|Mademoiselle) \S/u;

/**
 * A person's name: a civility and a name (`Mme Martin`), or two to four capitalised words of which
 * one is a frequent given name (`Jean Dupont`, `DUPONT Jean`, `Dupont, Marie`). Names without a
 * frequent given name are not counted: the test errs on the side of fewer false alarms, and names
 * are judged by column name too.
 */
export function isPersonName(value: string): boolean {
  const v = value.trim().replace(/\s+/g, ' ');
  if (v.length > 80) return false;
  if (CIVILITY.test(v)) return true;
  if (!PERSON_NAME.test(v)) return false;
  return columnNameTokens(v).some((t) => GIVEN_NAMES.has(t));
}

const STREET_TYPES =
  'rue|avenue|av|bd|boulevard|chemin|ch|allee|place|pl|impasse|imp|route|rte|quai|cours|square|passage|voie|lotissement|residence|hameau|lieu-dit|faubourg|fbg|sentier|montee|rond-point|' +
  'street|st|road|rd|lane|ln|avenue|ave|drive|dr|way|court|ct|close|crescent|terrace|boulevard|blvd|place|square|highway|hwy';
/** `12 rue de la Paix`, `3bis, avenue Foch`, `221B Baker Street`. */
const STREET_ADDRESS = new RegExp(`^\\d{1,5} ?(?:bis|ter|quater|[a-z])?,? (?:${STREET_TYPES})\\.? \\S`, 'i');
/** `Baker Street 221`, `Hauptstrasse 5` style: a street word followed by a number at the end. */
const STREET_FIRST = new RegExp(`\\b(?:${STREET_TYPES})\\.? [\\p{L}' -]+,? \\d{1,5}\\b`, 'iu');
/** `221B Baker Street`, `10 Downing St`: a number, words, then an English street type. */
const STREET_LAST = /^\d{1,5}[a-z]?,? [\p{L}' -]+ (?:street|st|road|rd|lane|ln|avenue|ave|drive|dr|way|court|ct|close|crescent|terrace|boulevard|blvd|place|square|highway|hwy)\.?$/iu;
/** A French postcode and commune: `75002 Paris`, `69100 VILLEURBANNE`. */
const POSTCODE_CITY = /\b(?:0[1-9]|[1-8]\d|9[0-8])\d{3} [A-Za-zÀ-ÿ][A-Za-zÀ-ÿ' -]+$/u;

/**
 * A postal address: a house number then a street type (`12 rue de la Paix`, `221B Baker Street`),
 * a street type then a number, or a line ending in a French postcode and commune (`75002 Paris`).
 * Street types in French and English (La Poste's and USPS' abbreviations).
 */
export function isPostalAddress(value: string): boolean {
  const v = value
    .trim()
    .replace(/\s+/g, ' ')
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '');
  if (v.length < 6 || v.length > 200) return false;
  return STREET_ADDRESS.test(v) || STREET_LAST.test(v) || STREET_FIRST.test(v) || POSTCODE_CITY.test(v);
}

// ---------------------------------------------------------------------------------------------
// The detectors
// ---------------------------------------------------------------------------------------------

/** Person words that make a compound `..._name` column a person's name (`customer_name`). */
const PERSON_CONTEXT = ['customer', 'client', 'user', 'utilisateur', 'holder', 'titulaire', 'contact', 'owner', 'proprietaire', 'occupant', 'abonne', 'subscriber', 'person', 'personne', 'full', 'first', 'last', 'family', 'given', 'middle', 'maiden', 'birth', 'naissance', 'jeune', 'fille', 'usage', 'complet', 'tenant', 'locataire', 'resident', 'beneficiaire', 'payer', 'payeur', 'signataire', 'interlocuteur', 'representant'];
/** Words after which `adresse` / `address` is not postal (`adresse_mail`, `ip_address`). */
const NON_POSTAL_ADDRESS = ['mail', 'email', 'courriel', 'ip', 'mac', 'web', 'url', 'http', 'site', 'electronique', 'memory', 'memoire', 'bus', 'modbus', 'wallet', 'contract', 'contrat', 'hash'];

/**
 * Every detector, in the order findings are reported. Names are judged on folded tokens (see
 * {@link columnNameTokens}); each detector's `examples` are checked by
 * tests/records/personal-data.test.ts.
 */
export const PERSONAL_DATA_DETECTORS: readonly PersonalDataDetector[] = [
  {
    id: 'pdl',
    label: 'PDL/PRM delivery point',
    shape: '14 digits',
    matchesName: (c) => nameHas(c, ['pdl', 'prm', 'pce', 'point de livraison', 'point livraison', 'point de reference mesure', 'point reference mesure', 'point de comptage', 'usage point', 'delivery point', 'metering point', 'mpan', 'mprn', 'ean'], ['usagepointid', 'usagepoint', 'pointdelivraison', 'idpdl', 'numpdl', 'idprm', 'numprm']),
    matchesValue: isPdl,
    minShare: 0.5,
    examples: {
      names: ['PDL', 'prm', 'pce', 'usage_point_id', 'usagePointId', 'Point de livraison', 'numero_pdl', 'id_prm', 'point_de_reference_mesure', 'PRM_ID'],
      notNames: ['conso_kwh', 'horodatage', 'pdlx', 'premium', 'timestamp'],
      values: ['09876543210123', '12345678901234', ' 30001234567890 '],
      notValues: ['1234567890123', '123456789012345', '20250101003000', '1234567890123a', ''],
    },
  },
  {
    id: 'email',
    label: 'e-mail address',
    shape: 'an e-mail address',
    matchesName: (c) => nameHas(c, ['email', 'e mail', 'mail', 'courriel', 'adresse mail', 'mel'], ['email', 'emailaddress', 'adressemail', 'mailaddress', 'courriel']),
    matchesValue: isEmail,
    minShare: 0.2,
    examples: {
      names: ['email', 'E-mail', 'adresse_mail', 'Courriel', 'contactEmail', 'customer_email_address', 'mail'],
      notNames: ['emailing_opt_in_count', 'mailbox_size', 'main', 'domain'],
      values: ['jean.dupont@example.fr', 'a+b@sub.example.co.uk', ' x_y@mail.com '],
      notValues: ['jean.dupont@', '@example.fr', 'jean dupont@example.fr', 'no-at-sign.example.fr', 'a@b'],
    },
  },
  {
    id: 'phone',
    label: 'telephone number',
    shape: 'a telephone number (French or E.164)',
    matchesName: (c) => nameHas(c, ['phone', 'telephone', 'tel', 'tel fixe', 'mobile', 'portable', 'gsm', 'msisdn', 'fax', 'cellphone', 'mobile number', 'numero de telephone'], ['phonenumber', 'telephone', 'tel', 'numtel', 'notel', 'mobilephone', 'cellphone']),
    matchesValue: isPhoneNumber,
    minShare: 0.5,
    examples: {
      names: ['phone', 'Téléphone', 'tel', 'num_tel', 'mobile', 'portable', 'phoneNumber', 'contact_phone', 'msisdn'],
      notNames: ['telemetry', 'hotel', 'automobile', 'portability'],
      values: ['06 12 34 56 78', '0612345678', '+33 6 12 34 56 78', '+33612345678', '01.23.45.67.89', '+447911123456', '+1 415 555 2671', '0033 6 12 34 56 78'],
      notValues: ['12 34 56 78', '0012345678', '612345678', '+0612345678', '2025-01-01', '0,110', '+33'],
    },
  },
  {
    id: 'iban',
    label: 'bank account number (IBAN)',
    shape: 'an IBAN with a valid check digit',
    matchesName: (c) => nameHas(c, ['iban', 'rib', 'bank account', 'compte bancaire', 'numero de compte', 'account number', 'bic iban', 'coordonnees bancaires'], ['iban', 'rib', 'bankaccount', 'comptebancaire', 'accountnumber']),
    matchesValue: isIban,
    minShare: 0.1,
    examples: {
      names: ['IBAN', 'iban_client', 'RIB', 'bank_account', 'compte_bancaire', 'accountNumber'],
      notNames: ['ribbon', 'library', 'account_type', 'banking_hours'],
      values: ['FR1420041010050500013M02606', 'FR14 2004 1010 0505 0001 3M02 606', 'DE89370400440532013000', 'GB82WEST12345698765432', 'be68539007547034'],
      notValues: ['FR1420041010050500013M02607', 'FR142004101005050001', 'DE89370400440532013001', 'XX00', '12345678901234'],
    },
  },
  {
    id: 'person-name',
    label: "person's name",
    shape: "a person's name",
    matchesName: (c) => {
      const tokens = columnNameTokens(c);
      const joined = tokens.join('');
      if (['firstname', 'lastname', 'surname', 'givenname', 'familyname', 'fullname', 'prenom', 'prenoms', 'nomprenom', 'prenomnom', 'nomcomplet', 'forename', 'middlename', 'maidenname', 'nomdenaissance', 'nomdusage', 'nomdefamille', 'nomjeunefille', 'patronyme', 'nom', 'name', 'titulaire', 'holder', 'civilite'].includes(joined)) return true;
      if (tokens.some((t) => ['prenom', 'prenoms', 'surname', 'firstname', 'lastname', 'fullname', 'forename', 'patronyme', 'givenname', 'familyname'].includes(t))) return true;
      if (tokens.includes('nom') || tokens.includes('name') || tokens.includes('names')) return tokens.some((t) => PERSON_CONTEXT.includes(t));
      return false;
    },
    matchesValue: isPersonName,
    minShare: 0.5,
    examples: {
      names: ['nom', 'prenom', 'Prénom', 'first_name', 'lastName', 'surname', 'customer_name', 'nom_client', 'full_name', 'titulaire', 'NomPrenom', 'name'],
      notNames: ['station_name', 'file_name', 'nom_station', 'tariff_name', 'nombre', 'nominal_power', 'product'],
      values: ['Jean Dupont', 'Marie-Claire Martin', 'DUPONT Jean', 'Dupont, Marie', 'Mme Martin', 'M. Durand', 'Jean de la Fontaine'],
      notValues: ['Heures Pleines', 'Paris', 'Base', 'HC', 'Tarif Bleu', 'Electricite De France', '12 rue de la Paix', 'jean dupont'],
    },
  },
  {
    id: 'postal-address',
    label: 'postal address',
    shape: 'a postal address',
    matchesName: (c) => {
      const tokens = columnNameTokens(c);
      if (tokens.some((t) => NON_POSTAL_ADDRESS.includes(t))) return false;
      const joined = tokens.join('');
      if (tokens.some((t) => ['address', 'adresse', 'addresses', 'adresses', 'addr', 'adr', 'street', 'rue', 'voie', 'postcode', 'zipcode', 'zip', 'postal', 'lieudit'].includes(t))) return true;
      if (['codepostal', 'cp', 'numerovoie', 'nomvoie', 'libellevoie', 'ligneadresse', 'complementadresse', 'lieudit', 'streetaddress', 'addressline'].includes(joined)) return true;
      return hasPhrase(tokens, 'code postal') || hasPhrase(tokens, 'lieu dit');
    },
    matchesValue: isPostalAddress,
    minShare: 0.5,
    examples: {
      names: ['adresse', 'Address', 'street', 'code_postal', 'CP', 'zip', 'adresse_postale', 'ligne_adresse_1', 'postcode', 'customer_address'],
      notNames: ['adresse_mail', 'email_address', 'ip_address', 'mac_address', 'route_id', 'streaming', 'cpu'],
      values: ['12 rue de la Paix', '3bis, avenue Foch', '221B Baker Street', '5 allée des Tilleuls 69100 Villeurbanne', '75002 Paris', '10 Downing St'],
      notValues: ['Paris', 'rue', '2025-01-01', '0,110', 'Heures Creuses', '12 kWh'],
    },
  },
  {
    id: 'customer-identifier',
    label: 'customer identifier',
    matchesName: (c) => namesIdentifierOf(c, ['customer', 'client', 'abonne', 'subscriber', 'household', 'foyer', 'menage', 'user', 'utilisateur', 'person', 'personne', 'subject', 'consumer', 'consommateur', 'account', 'compte', 'souscripteur', 'tenant', 'locataire', 'patient', 'employee', 'salarie', 'member', 'adherent']),
    minShare: 1,
    examples: {
      names: ['customer_id', 'id_client', 'numero_client', 'NumClient', 'customerId', 'client', 'ref_client', 'household_id', 'user_id', 'account_number', 'idclient'],
      notNames: ['record_id', 'customer_segment', 'client_version', 'reading_id', 'compteur_type'],
    },
  },
  {
    id: 'meter-identifier',
    label: 'meter identifier',
    matchesName: (c) => namesIdentifierOf(c, ['meter', 'compteur', 'linky', 'gazpar', 'smartmeter', 'device', 'appareil', 'equipement']) || nameHas(c, ['meter serial', 'serial number', 'numero de serie'], ['meterid', 'idcompteur', 'numcompteur', 'numerocompteur', 'serialnumber']),
    minShare: 1,
    examples: {
      names: ['meter_id', 'compteur', 'numero_compteur', 'meterSerial', 'id_compteur', 'linky_id', 'serial_number', 'meterid'],
      notNames: ['meter_reading_kwh', 'compteur_type', 'parameter', 'diameter'],
    },
  },
  {
    id: 'contract-identifier',
    label: 'contract identifier',
    matchesName: (c) => namesIdentifierOf(c, ['contract', 'contrat', 'agreement', 'subscription', 'abonnement', 'policy', 'police', 'invoice', 'facture', 'bill', 'order', 'commande']),
    minShare: 1,
    examples: {
      names: ['contract_id', 'contrat', 'numero_contrat', 'ref_contrat', 'contractNumber', 'id_abonnement', 'invoice_number', 'numero_facture'],
      notNames: ['contract_type', 'type_contrat', 'contractual_power_kva', 'order_by'],
    },
  },
];

const BY_ID = new Map(PERSONAL_DATA_DETECTORS.map((d) => [d.id, d]));

/** The detector with this id. @throws Error for an unknown id (a programming error). */
export function personalDataDetector(id: PersonalDataDetectorId): PersonalDataDetector {
  const d = BY_ID.get(id);
  if (!d) throw new Error(`unknown personal-data detector ${id}`);
  return d;
}

/** `a label` or `an label`. */
function article(label: string): string {
  return `${/^[aeiou]/i.test(label) ? 'an' : 'a'} ${label}`;
}

/** A column name as quoted in reasons: JSON-quoted, cut at 60 characters. */
function quoteColumn(column: string): string {
  return JSON.stringify(column.length > 60 ? column.slice(0, 57) + '...' : column);
}

/**
 * The detectors whose name test fires on `column`. The `pdl` detector fires before the
 * identifier detectors; an identifier detector does not also fire when a more specific detector
 * (PDL, e-mail, phone, IBAN) already fired on the name.
 */
export function detectByColumnName(column: string): PersonalDataFinding[] {
  const out: PersonalDataFinding[] = [];
  for (const d of PERSONAL_DATA_DETECTORS) {
    if (!d.matchesName(column)) continue;
    if (d.id.endsWith('-identifier') && out.some((f) => ['pdl', 'email', 'phone', 'iban'].includes(f.detector))) continue;
    out.push({ detector: d.id, label: d.label, evidence: 'name', reason: `column name ${quoteColumn(column)} names ${article(d.label)}` });
  }
  return out;
}

/**
 * The detectors whose value shape fires on a sample of one column's values: at least
 * `minShare` of the non-empty values (trimmed) have the shape, and at least `minValues` values were
 * examined. Values are never copied into a finding.
 * @param values cells of one column as read (strings; empty cells are skipped)
 */
export function detectByValues(values: readonly string[], options: DetectOptions = {}): PersonalDataFinding[] {
  const maxValues = options.maxValues ?? 1000;
  const minValues = options.minValues ?? 1;
  const sample: string[] = [];
  for (const v of values) {
    if (sample.length >= maxValues) break;
    if (typeof v === 'string' && v.trim() !== '') sample.push(v);
  }
  if (sample.length < minValues || sample.length === 0) return [];
  const out: PersonalDataFinding[] = [];
  for (const d of PERSONAL_DATA_DETECTORS) {
    if (!d.matchesValue) continue;
    const needed = d.minShare * sample.length;
    let matched = 0;
    let left = sample.length;
    for (const v of sample) {
      // Stop as soon as the values left cannot bring the share up to minShare (same verdict, less work).
      if (matched + left < needed) break;
      if (d.matchesValue(v)) matched++;
      left--;
    }
    if (matched > 0 && matched >= needed) {
      out.push({ detector: d.id, label: d.label, evidence: 'values', matched, sampled: sample.length, reason: `${matched} of ${sample.length} sampled values look like ${article(d.label)}${d.shape ? ` (${d.shape})` : ''}` });
    }
  }
  return out;
}

/**
 * Every detector that fires on one column, by its name and by a sample of its values; a detector
 * that fires both ways is reported once, by name, with the value evidence appended to its reason.
 * @param column the column's name as written in the header
 * @param values a sample of its cells (strings); pass `[]` to judge the name alone
 * @returns findings (empty when nothing fired), in {@link PERSONAL_DATA_DETECTORS} order; no value
 * of the column appears in them
 */
export function detectPersonalData(column: string, values: readonly string[] = [], options: DetectOptions = {}): PersonalDataFinding[] {
  const byName = detectByColumnName(column);
  const byValues = detectByValues(values, options);
  const out: PersonalDataFinding[] = [];
  for (const d of PERSONAL_DATA_DETECTORS) {
    const n = byName.find((f) => f.detector === d.id);
    const v = byValues.find((f) => f.detector === d.id);
    if (n && v) out.push({ ...n, matched: v.matched, sampled: v.sampled, reason: `${n.reason}; ${v.reason}` });
    else if (n) out.push(n);
    else if (v) out.push(v);
  }
  return out;
}

/**
 * One line for a column's findings, as messages and schema descriptions print it:
 * `PDL/PRM delivery point: column name "PDL" names a PDL/PRM delivery point; 10 of 10 sampled ...`.
 * Findings of several detectors are joined with ` | `.
 */
export function describeFindings(findings: readonly PersonalDataFinding[]): string {
  return findings.map((f) => f.reason).join(' | ');
}
