import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { charsetFor } from '../src/dicom/charset.ts';
import { findElement } from '../src/dicom/dataset.ts';
import { Tags } from '../src/dicom/tag.ts';
import { CHARSETS, parse } from './helpers.ts';

// Expected Patient's Name values of the DICOM character set samples (PS3.5 Annex H, I, J, K examples).
const EXPECTED: Record<string, string> = {
  'chrArab.dcm': 'قباني^لنزار',
  'chrFren.dcm': 'Buc^Jérôme',
  'chrGerm.dcm': 'Äneas^Rüdiger',
  'chrGreek.dcm': 'Διονυσιος',
  'chrH31.dcm': 'Yamada^Tarou=山田^太郎=やまだ^たろう',
  'chrH32.dcm': 'ﾔﾏﾀﾞ^ﾀﾛｳ=山田^太郎=やまだ^たろう',
  'chrHbrw.dcm': 'שרון^דבורה',
  'chrI2.dcm': 'Hong^Gildong=洪^吉洞=홍^길동',
  'chrRuss.dcm': 'Люкceмбypг',
  'chrX1.dcm': 'Wang^XiaoDong=王^小東=',
  'chrX2.dcm': 'Wang^XiaoDong=王^小东=',
};

for (const [file, name] of Object.entries(EXPECTED)) {
  test(`decodes and re-encodes Patient's Name of ${file}`, () => {
    const f = parse(join(CHARSETS, file));
    const scs = findElement(f.dataset, Tags.SpecificCharacterSet)!.value!.toString('latin1').trim();
    const cs = charsetFor(scs);
    const raw = findElement(f.dataset, Tags.PatientName)!.value!;
    const decoded = cs.decode(raw, 'PN').replace(/[\0 ]+$/, '');
    assert.equal(decoded, name);
    // Encoding the decoded text gives back the original bytes (escape sequences included).
    assert.equal(cs.decode(cs.encode(decoded, 'PN'), 'PN'), name);
    assert.deepEqual(cs.encode(decoded, 'PN'), raw.subarray(0, cs.encode(decoded, 'PN').length));
  });
}

test('unknown and misspelt terms do not crash decoding', () => {
  assert.equal(charsetFor('ISO-IR 100').decode(Buffer.from([0x4a, 0xe9]), 'LO'), 'Jé');
  assert.equal(charsetFor('UTF-8').decode(Buffer.from('Jé', 'utf8'), 'LO'), 'Jé');
  assert.equal(charsetFor('NOT A CHARSET').decode(Buffer.from('abc'), 'LO'), 'abc');
});
