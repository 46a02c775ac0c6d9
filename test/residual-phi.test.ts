import assert from 'node:assert/strict';
import { test } from 'node:test';
import { scanResidualPhi } from '../src/deid/residual-phi.ts';
import { makeDenyList } from '../src/deid/scrub.ts';
import { tag } from '../src/dicom/tag.ts';

const lo = (t: number, v: string) => ({ tag: t, vr: 'LO' as const, value: Buffer.from(v.length % 2 ? `${v} ` : v, 'latin1') });

test('residual PHI scan: a name left in free text (even in a sequence) is found by path, never by value; UIDs and clean text pass', () => {
  const deny = makeDenyList(['Doe', 'Jane', 'MRN12345']);
  const ds = { elements: [
    lo(tag(0x0008, 0x1030), 'CT chest for Jane Doe'),
    { tag: tag(0x0008, 0x0018), vr: 'UI' as const, value: Buffer.from('2.25.12345\0', 'latin1') },
    lo(tag(0x0008, 0x103e), 'AXIAL 2.5'),
    { tag: tag(0x0040, 0x0275), vr: 'SQ' as const, items: [{ elements: [lo(tag(0x0032, 0x1060), 'ref mrn12345 follow-up')] }] },
  ] };
  const r = scanResidualPhi(ds, deny);
  assert.equal(r.checked, 3);
  assert.deepEqual(r.found, ['(0008,1030)', '(0040,0275)[0].(0032,1060)']);
  assert.ok(!JSON.stringify(r).includes('Doe'));
  assert.deepEqual(scanResidualPhi(ds, makeDenyList([])), { checked: 0, found: [] });
});
