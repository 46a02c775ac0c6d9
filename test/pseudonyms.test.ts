import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dateOffsetDays, keyIdOf, patientPseudonym, pseudonymousUID, recipientKey } from '../src/deid/pseudonyms.ts';
import { shiftDA, shiftDT } from '../src/deid/dates.ts';
import { dateRenderings, makeDenyList, nameTokens, scrubText } from '../src/deid/scrub.ts';

const k1 = Buffer.alloc(32, 1);
const k2 = Buffer.alloc(32, 2);
const UID = /^2\.25\.(0|[1-9]\d*)$/;

test('UIDs map under 2.25, valid, at most 64 characters, stable per key, different across keys', () => {
  const a = pseudonymousUID(k1, '1.2.840.113619.2.1.1.322987881.621.736170080.681');
  assert.match(a, UID);
  assert.ok(a.length <= 64);
  assert.equal(pseudonymousUID(k1, '1.2.840.113619.2.1.1.322987881.621.736170080.681'), a);
  assert.notEqual(pseudonymousUID(k2, '1.2.840.113619.2.1.1.322987881.621.736170080.681'), a);
  assert.notEqual(pseudonymousUID(k1, '1.2.3'), pseudonymousUID(k1, '1.2.4'));
});

test('recipient keys make datasets unlinkable; key ids do not reveal keys', () => {
  const ra = recipientKey(k1, 'vendor-a');
  const rb = recipientKey(k1, 'vendor-b');
  assert.notEqual(patientPseudonym(ra, 'id\0\0P1').id, patientPseudonym(rb, 'id\0\0P1').id);
  assert.notEqual(pseudonymousUID(ra, '1.2.3'), pseudonymousUID(rb, '1.2.3'));
  assert.match(keyIdOf(k1), /^[0-9a-f]{16}$/);
  assert.ok(!k1.toString('hex').includes(keyIdOf(k1)));
});

test('patient pseudonyms fit LO and PN; date offsets are in the past and stable', () => {
  const p = patientPseudonym(k1, 'id\0\0P1');
  assert.ok(p.id.length <= 64 && /^[A-Z0-9-]+$/.test(p.id));
  assert.match(p.name, /^CUSTOS\^[A-Z0-9]+$/);
  const d = dateOffsetDays(k1, 'id\0\0P1');
  assert.ok(d <= -1 && d >= -3652);
  assert.equal(dateOffsetDays(k1, 'id\0\0P1'), d);
});

test('date shifting keeps intervals, precision, times and offsets', () => {
  assert.equal(shiftDA('20240301', -1), '20240229');
  assert.equal(shiftDA('20240315\\20240316', -10), '20240305\\20240306');
  assert.equal(shiftDA('202403', -40), '202401');
  assert.equal(shiftDA('garbage', -1), '');
  assert.equal(shiftDT('20240301120000.5+0100', -1), '20240229120000.5+0100');
});

test('scrubbing removes deny-listed names, IDs and dates, and PHI patterns', () => {
  const deny = makeDenyList([...nameTokens('DOE^JOHN'), 'PID-4711-X', ...dateRenderings('19671231')]);
  assert.equal(scrubText('CT for john doe', deny, false), 'CT for *** ***');
  assert.equal(scrubText('ref PID-4711-X born 31/12/1967', deny, false), 'ref *** born ***');
  assert.equal(scrubText('Johnson study', deny, false), 'Johnson study'); // whole words only
  assert.equal(scrubText('call 555-123-4567 or mail a.b@example.org', deny, true), 'call *** or mail ***');
  assert.equal(scrubText('seen 2023-04-05 by Dr. House, MRN 12345678', deny, true), 'seen *** by ***, ***');
  assert.equal(scrubText('CHEST PA 2 VIEWS', deny, true), 'CHEST PA 2 VIEWS');
  assert.equal(scrubText('Ünal^Zoë', makeDenyList(nameTokens('Ünal^Zoë')), false), '***^***');
});
