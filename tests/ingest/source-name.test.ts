import { redactPatterns, redactValues, REDACTED } from '../../src/ingest/source-name.js';
import { lakeKeyId, findLanded, type LakeIndex } from '../../src/ingest/lake-index.js';
import { compileSchema } from '../../src/records/schema.js';

const anchored = (p: string) => new RegExp(`^(?:${p})$`, 'u');

describe('source file names are redacted of personal identifiers', () => {
  it('replaces each whole match of a personal pattern, anchored or not, and keeps the rest', () => {
    expect(redactPatterns('export_CUST-000777.csv', [anchored('^CUST-[0-9]{6}$')])).toBe(`export_${REDACTED}.csv`);
    expect(redactPatterns('CUST-000001_and_CUST-000002.csv', [anchored('CUST-[0-9]{6}')])).toBe(`${REDACTED}_and_${REDACTED}.csv`);
    expect(redactPatterns('readings_2025.csv', [anchored('^CUST-[0-9]{6}$')])).toBe('readings_2025.csv');
  });

  it('takes the longest match at each position', () => {
    expect(redactPatterns('id-12345.csv', [anchored('[0-9]+')])).toBe(`id-${REDACTED}.csv`);
  });

  it('replaces every occurrence of each value, longest first', () => {
    expect(redactValues('CUST-10_CUST-1.csv', ['CUST-1', 'CUST-10'])).toBe(`${REDACTED}_${REDACTED}.csv`);
    expect(redactValues('plain.csv', [])).toBe('plain.csv');
  });

  it('a personal column pattern compiles anchored (RE2), so only whole identifiers count', () => {
    const schema = compileSchema({
      file: 'inline.json',
      sha256: '0'.repeat(64),
      json: { type: 'object', properties: { customer_id: { type: 'string', pattern: 'CUST-[0-9]+', 'x-personal-data': 'pseudonymise' } } },
    });
    const p = schema.personalPatterns.get('customer_id')!;
    expect(p.test('CUST-12')).toBe(true);
    expect(p.test('x CUST-12')).toBe(false);
    expect(redactPatterns('a_CUST-12_b.csv', schema.personalPatterns.values())).toBe(`a_${REDACTED}_b.csv`);
  });
});

describe('the lake index', () => {
  const m = (key: string, finished_at: string, key_id: string | null, source_sha256 = 'x') => ({ key, bytes: 1, run_id: key, source_sha256, key_id, finished_at, object_uri: null, uri: key });

  it("the lake's key id is its newest manifest's that carries one", () => {
    const index: LakeIndex = { read: 0, manifests: [m('a', '2025-01-01', 'aaaa'), m('b', '2025-01-02', 'bbbb'), m('c', '2025-01-03', null)] };
    expect(lakeKeyId(index)).toEqual({ keyId: 'bbbb', manifest: 'b' });
    expect(lakeKeyId({ read: 0, manifests: [m('c', '2025-01-03', null)] })).toBeUndefined();
  });

  it('finds the newest manifest that landed a source sha256', () => {
    const landed = (key: string, at: string, sha: string) => ({ ...m(key, at, 'k', sha), object_uri: `file:///lake/${key}.csv` });
    const index: LakeIndex = { read: 0, manifests: [landed('a', '1', 's1'), landed('b', '2', 's1'), landed('c', '3', 's2')] };
    expect(findLanded(index, 's1')?.key).toBe('b');
    expect(findLanded(index, 's3')).toBeUndefined();
  });

  it('a manifest naming no data object (every row rejected) does not count as landed (issue 17)', () => {
    const index: LakeIndex = { read: 0, manifests: [{ ...m('a', '1', 'k', 's1'), object_uri: 'file:///lake/a.csv' }, m('b', '2', 'k', 's1'), m('c', '3', 'k', 's2')] };
    expect(findLanded(index, 's1')?.key).toBe('a');
    expect(findLanded(index, 's2')).toBeUndefined();
  });
});

describe('canonicalIdentifier (NFC + trim), fast path included', () => {
  it('one identifier whatever the surrounding white space or Unicode composition; case and inner spaces kept', async () => {
    const { canonicalIdentifier } = await import('../../src/records/identifier.js');
    for (const v of [' CUST-10', 'CUST-10  ', 'CUST-10', '\tCUST-10\n', '\u00a0CUST-10']) expect(canonicalIdentifier(v)).toBe('CUST-10');
    expect(canonicalIdentifier('e\u0301')).toBe('\u00e9');
    expect(canonicalIdentifier('cust-10')).toBe('cust-10');
    expect(canonicalIdentifier('CUST 10')).toBe('CUST 10');
    expect(canonicalIdentifier('   ')).toBe('');
  });
});
