import { loadSchema, convertCell, CellError, isRfc3339DateTime, compileSchema, refusalWithoutRe2 } from '../../src/records/schema.js';
import { Pseudonymiser, loadPseudonymisationKey } from '../../src/records/pseudonymise.js';
import { assetPath } from '../../src/paths.js';
import { UsageError } from '../../src/errors.js';
import { mkdtempSync, statSync, writeFileSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const schema = loadSchema(assetPath('schemas', 'energy_consumption.schema.json'));

function validateRow(row: Record<string, string>) {
  const typed: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) {
    const value = convertCell(v, schema.types.get(k));
    if (value instanceof CellError) return { column: k, reason: value.reason };
    typed[k] = value;
  }
  return schema.validate(typed) ? null : schema.validate.errors![0];
}

const good = {
  record_id: 'REC-001',
  customer_id: 'CUST-001',
  meter_id: 'METER-01',
  reading_ts: '2025-01-01T08:00:00Z',
  consumption_kwh: '12.4',
  tariff_eur_kwh: '0.18',
  is_peak: 'false',
};

describe('energy consumption schema', () => {
  it('marks customer_id and meter_id as personal data and requires the seed columns', () => {
    expect([...schema.personal].sort()).toEqual(['customer_id', 'meter_id']);
    expect(schema.required).toEqual(['record_id', 'customer_id', 'meter_id', 'reading_ts', 'consumption_kwh', 'tariff_eur_kwh', 'is_peak']);
    expect(schema.id).toBe('urn:watt:schema:energy_consumption:1');
  });
  it('accepts a seed row and booleans in any case', () => {
    expect(validateRow(good)).toBeNull();
    expect(validateRow({ ...good, is_peak: 'TRUE' })).toBeNull();
    expect(validateRow({ ...good, is_peak: 'False' })).toBeNull();
  });
  it.each([
    ['is_peak', 'yes', 'must be true or false'],
    ['consumption_kwh', 'abc', 'is not a number'],
    ['consumption_kwh', '12,4', 'is not a number'],
  ])('rejects %s=%j: %s', (column, value, reason) => {
    expect(validateRow({ ...good, [column]: value })).toEqual({ column, reason });
  });
  it('rejects a negative kWh with the minimum', () => {
    expect(validateRow({ ...good, consumption_kwh: '-1.5' })).toMatchObject({ keyword: 'minimum', instancePath: '/consumption_kwh' });
  });
  it('treats an empty required cell as missing', () => {
    expect(validateRow({ ...good, meter_id: '' })).toMatchObject({ keyword: 'required', params: { missingProperty: 'meter_id' } });
  });
  it('rejects a month 13 date-time', () => {
    expect(validateRow({ ...good, reading_ts: '2025-13-01T08:00:00Z' })).toMatchObject({ keyword: 'format', instancePath: '/reading_ts' });
  });
});

describe('RFC 3339 date-time', () => {
  it.each(['2025-01-01T08:00:00Z', '2024-02-29T23:59:59+01:00', '2025-06-30T00:00:00.123z', '2016-12-31T23:59:60Z'])('accepts %s', (t) => {
    expect(isRfc3339DateTime(t)).toBe(true);
  });
  it.each(['2025-13-01T08:00:00Z', '2025-02-29T08:00:00Z', '2025-04-31T08:00:00Z', '2025-01-01T24:00:00Z', '2025-01-01T08:60:00Z', '2025-01-01T08:00:00', '2025-01-01', '2025-01-01T08:00:00+0100', 'yesterday'])(
    'rejects %s',
    (t) => {
      expect(isRfc3339DateTime(t)).toBe(false);
    },
  );
});

describe('schema loading errors', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'watt-schema-'));
  it('refuses a missing file, invalid JSON and unknown personal-data actions with usage errors', () => {
    expect(() => loadSchema(path.join(dir, 'nope.json'))).toThrow(UsageError);
    writeFileSync(path.join(dir, 'bad.json'), '{ not json');
    expect(() => loadSchema(path.join(dir, 'bad.json'))).toThrow(/not valid JSON/);
    writeFileSync(path.join(dir, 'drop.json'), JSON.stringify({ type: 'object', properties: { a: { type: 'string', 'x-personal-data': 'drop' } } }));
    expect(() => loadSchema(path.join(dir, 'drop.json'))).toThrow(/supported: "pseudonymise", or false/);
  });
});

describe('pseudonymisation (GDPR Art. 4(5))', () => {
  const keyA = Buffer.from('a'.repeat(64));
  const keyB = Buffer.from('b'.repeat(64));
  it('is stable for one key, keyed, and not the identifier', () => {
    const a = new Pseudonymiser(keyA, 'hmac-sha256');
    const p = a.pseudonym('CUST-001');
    expect(p).toMatch(/^[0-9a-f]{64}$/);
    expect(new Pseudonymiser(keyA, 'hmac-sha256').pseudonym('CUST-001')).toBe(p);
    expect(new Pseudonymiser(keyB, 'hmac-sha256').pseudonym('CUST-001')).not.toBe(p);
    expect(a.pseudonym('CUST-002')).not.toBe(p);
  });
  it('stays correct past its memo size', () => {
    const small = new Pseudonymiser(keyA, 'hmac-sha256', 2);
    const first = ['x', 'y', 'z', 'w'].map((v) => small.pseudonym(v));
    expect(['x', 'y', 'z', 'w'].map((v) => new Pseudonymiser(keyA, 'hmac-sha256').pseudonym(v))).toEqual(first);
  });
  it('generates a key once, mode 0600, then reuses it', () => {
    const home = mkdtempSync(path.join(os.tmpdir(), 'watt-home-'));
    const first = loadPseudonymisationKey(home, {});
    expect(first.source).toBe('generated');
    expect(statSync(first.file!).mode & 0o777).toBe(0o600);
    const second = loadPseudonymisationKey(home, {});
    expect(second.source).toBe('file');
    expect(second.key.equals(first.key)).toBe(true);
    expect(readFileSync(first.file!, 'utf8').trim()).toMatch(/^[0-9a-f]{64}$/);
  });
  it('prefers WATT_PSEUDONYMISATION_KEY and refuses a short one without echoing it', () => {
    const home = mkdtempSync(path.join(os.tmpdir(), 'watt-home-'));
    expect(loadPseudonymisationKey(home, { WATT_PSEUDONYMISATION_KEY: 'k'.repeat(40) }).source).toBe('env');
    expect(() => loadPseudonymisationKey(home, { WATT_PSEUDONYMISATION_KEY: 'short-secret' })).toThrow(/too short \(12 characters/);
    try {
      loadPseudonymisationKey(home, { WATT_PSEUDONYMISATION_KEY: 'short-secret' });
    } catch (err) {
      expect((err as Error).message).not.toContain('short-secret');
    }
  });
});

describe('schema patterns cannot hang a run', () => {
  const schemaWith = (pattern: string) => ({
    file: 'inline.json',
    sha256: '0'.repeat(64),
    json: { type: 'object', properties: { record_id: { type: 'string', pattern } } },
  });

  it('compiles patterns with RE2: ^(a+)+$ against 41 characters answers at once', () => {
    const schema = compileSchema(schemaWith('^(a+)+$'));
    expect(schema.validate({ record_id: 'a'.repeat(40) + '!' })).toBe(false);
    expect(schema.validate({ record_id: 'a'.repeat(41) })).toBe(true);
  });

  it('refuses at load what RE2 cannot run (backreference), quoting short patterns only', () => {
    expect(() => compileSchema(schemaWith('^(a)\\1$'))).toThrow(/pattern at \/properties\/record_id\/pattern \("\^\(a\)\\\\1\$"\) is refused/);
    const long = '(x)\\1' + 'y'.repeat(90);
    let message = '';
    try {
      compileSchema(schemaWith(long));
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/a 95-character pattern/);
    expect(message).not.toContain('yyyy');
  });

  it('without RE2, refuses backreferences and nested quantifiers, accepts plain patterns', () => {
    expect(refusalWithoutRe2('^(a+)+$')).toMatch(/nests quantifiers/);
    expect(refusalWithoutRe2('^(?:ab*)*$')).toMatch(/nests quantifiers/);
    expect(refusalWithoutRe2('^(a{2,})+$')).toMatch(/nests quantifiers/);
    expect(refusalWithoutRe2('^(a)\\1$')).toMatch(/backreference/);
    expect(refusalWithoutRe2('^CUST-[0-9]{6}$')).toBeUndefined();
    expect(refusalWithoutRe2('^(CUST|CLI)-[0-9]+$')).toBeUndefined();
  });
});
