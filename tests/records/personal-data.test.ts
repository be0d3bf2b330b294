import {
  PERSONAL_DATA_DETECTORS,
  columnNameTokens,
  describeFindings,
  detectByColumnName,
  detectByValues,
  detectPersonalData,
  isEmail,
  isIban,
  isPdl,
  isPhoneNumber,
  personalDataDetector,
} from '../../src/records/personal-data.js';

describe('each detector on its own examples (true and false, as gitleaks rules carry them)', () => {
  for (const d of PERSONAL_DATA_DETECTORS) {
    describe(d.id, () => {
      test.each(d.examples.names)('fires on the column name %j', (name) => expect(d.matchesName(name)).toBe(true));
      test.each(d.examples.notNames)('does not fire on the column name %j', (name) => expect(d.matchesName(name)).toBe(false));
      if (d.matchesValue) {
        const matches = d.matchesValue;
        test.each(d.examples.values ?? [])('fires on the value %j', (value) => expect(matches(value)).toBe(true));
        test.each(d.examples.notValues ?? [])('does not fire on the value %j', (value) => expect(matches(value)).toBe(false));
      }
    });
  }
});

describe('columnNameTokens', () => {
  test('folds accents, case, separators and camelCase', () => {
    expect(columnNameTokens('NuméroClient')).toEqual(['numero', 'client']);
    expect(columnNameTokens('usage_point_id')).toEqual(['usage', 'point', 'id']);
    expect(columnNameTokens('PRM ID')).toEqual(['prm', 'id']);
    expect(columnNameTokens('customerIDNumber')).toEqual(['customer', 'id', 'number']);
  });
});

describe('value predicates', () => {
  test('PDL: 14 digits, not a compact timestamp', () => {
    expect(isPdl('09876543210123')).toBe(true);
    expect(isPdl('20250330023000')).toBe(false);
  });
  test('IBAN: the mod-97 check digit is verified', () => {
    expect(isIban('FR7630006000011234567890189')).toBe(true);
    expect(isIban('FR7630006000011234567890188')).toBe(false);
  });
  test('e-mail and phone', () => {
    expect(isEmail('x@example.org')).toBe(true);
    expect(isPhoneNumber('+33 (0)6 12 34 56 78')).toBe(true);
  });
});

describe('detectPersonalData', () => {
  const pdls = Array.from({ length: 50 }, (_, i) => String(30001234567000 + i * 7919));

  test('a PDL column fires by name and by values, the reason names both and no value', () => {
    const findings = detectPersonalData('PDL', pdls);
    expect(findings.map((f) => f.detector)).toEqual(['pdl']);
    expect(findings[0]!.evidence).toBe('name');
    expect(findings[0]!.reason).toBe('column name "PDL" names a PDL/PRM delivery point; 50 of 50 sampled values look like a PDL/PRM delivery point (14 digits)');
    for (const v of pdls) expect(JSON.stringify(findings)).not.toContain(v);
  });

  test('a PDL column under an innocent name fires by values', () => {
    const findings = detectPersonalData('site', pdls);
    expect(findings).toEqual([expect.objectContaining({ detector: 'pdl', evidence: 'values', matched: 50, sampled: 50 })]);
  });

  test('the columns of a load curve other than the PDL are not personal', () => {
    expect(detectPersonalData('horodatage', ['2025-01-01 00:30:00', '2025-01-01 01:00:00'])).toEqual([]);
    expect(detectPersonalData('conso_kwh', ['0,110', '0,254', '1,02'])).toEqual([]);
    expect(detectPersonalData('type_mesure', ['CONS', 'CONS'])).toEqual([]);
    expect(detectPersonalData('puissance_souscrite_kva', ['6', '9', '12'])).toEqual([]);
  });

  test('value detectors need a share of the sample: a few phone-shaped codes among many do not fire', () => {
    const values = ['0612345678', ...Array.from({ length: 9 }, (_, i) => `A${i}`)];
    expect(detectByValues(values).map((f) => f.detector)).toEqual([]);
  });

  test('one e-mail in five free-text cells is enough (a strong shape)', () => {
    const values = ['ok', 'rappeler', 'jean.dupont@example.fr', 'RAS', 'ok'];
    expect(detectByValues(values).map((f) => f.detector)).toEqual(['email']);
  });

  test('empty cells are skipped; an empty sample never fires on values', () => {
    expect(detectByValues(['', '  ', ''])).toEqual([]);
    expect(detectByValues(['', 'jean.dupont@example.fr', ''])[0]).toMatchObject({ matched: 1, sampled: 1 });
  });

  test('minValues and maxValues bound the sample', () => {
    expect(detectByValues(['jean.dupont@example.fr'], { minValues: 5 })).toEqual([]);
    const many = [...Array.from({ length: 10 }, () => 'x'), ...Array.from({ length: 100 }, () => 'a@example.org')];
    expect(detectByValues(many, { maxValues: 10 })).toEqual([]);
  });

  test('a name naming a PDL does not also report a customer identifier', () => {
    expect(detectByColumnName('id_pdl').map((f) => f.detector)).toEqual(['pdl']);
    expect(detectByColumnName('customer_id').map((f) => f.detector)).toEqual(['customer-identifier']);
    expect(detectByColumnName('record_id')).toEqual([]);
  });

  test('the seed sample columns: customer_id and meter_id are personal, the readings are not', () => {
    expect(detectByColumnName('customer_id')[0]!.detector).toBe('customer-identifier');
    expect(detectByColumnName('meter_id')[0]!.detector).toBe('meter-identifier');
    for (const c of ['record_id', 'reading_ts', 'consumption_kwh', 'tariff_eur_kwh', 'is_peak']) expect(detectByColumnName(c)).toEqual([]);
  });

  test('describeFindings joins reasons on one line', () => {
    const line = describeFindings(detectPersonalData('email', ['a@example.org', '06 12 34 56 78']));
    expect(line).toContain('column name "email" names an e-mail address');
    expect(line).not.toContain('\n');
    expect(line).not.toContain('a@example.org');
  });

  test('personalDataDetector finds a detector by id', () => {
    expect(personalDataDetector('iban').label).toBe('bank account number (IBAN)');
  });
});
