import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { charsetFor } from '../src/dicom/charset.ts';
import { type Dataset, findElement } from '../src/dicom/dataset.ts';
import { tag, Tags } from '../src/dicom/tag.ts';
import { makeProfile } from '../src/deid/profile.ts';
import { deidentifyFile } from '../src/pipeline/deid-file.ts';
import { CHARSETS, PYDICOM, dcmdump, parse, plant, tempDir } from './helpers.ts';
import { addElements, makePlanted, SAMPLES } from './fixtures.ts';

const key = Buffer.alloc(32, 0x33);
const dir = tempDir();
const ct = makePlanted(SAMPLES[0]!, dir);

async function run(path: string, options: string[]) {
  const out = tempDir();
  const r = await await deidentifyFile(path, out, { profile: makeProfile(options), key });
  assert.equal(r.status, 'released', JSON.stringify(r));
  if (r.status !== 'released') throw new Error('not released');
  return { ds: parse(join(out, r.output.path)).dataset, dump: dcmdump(join(out, r.output.path)), outcome: r };
}
const str = (ds: Dataset, t: number): string => findElement(ds, t)?.value?.toString('latin1').replace(/[\0 ]+$/, '') ?? '<absent>';
const days = (da: string): number => Date.UTC(+da.slice(0, 4), +da.slice(4, 6) - 1, +da.slice(6, 8)) / 86_400_000;

test('Basic Profile: dates emptied or dummied, no original date, LongitudinalTemporalInformationModified REMOVED', async () => {
  const { ds, dump } = await run(ct, []);
  assert.equal(str(ds, Tags.StudyDate), '');
  assert.equal(str(ds, Tags.SeriesDate), '19000101');
  assert.equal(str(ds, Tags.LongitudinalTemporalInformationModified), 'REMOVED');
  assert.ok(!dump.includes('20240315'));
});

test('retain-longitudinal-modified-dates shifts every date by one per-patient offset, keeping intervals', async () => {
  const p = plant(ct, dir, 'dates.dcm', { '(0008,0021)': '20240320', '(0008,0023)': '20240401' });
  const { ds } = await run(p, ['retain-longitudinal-modified-dates']);
  const study = str(ds, Tags.StudyDate);
  const series = str(ds, Tags.SeriesDate);
  const content = str(ds, Tags.ContentDate);
  assert.notEqual(study, '20240315');
  assert.equal(days(series) - days(study), 5);
  assert.equal(days(content) - days(study), 17);
  assert.equal(str(ds, Tags.LongitudinalTemporalInformationModified), 'MODIFIED');
  // Same patient, same offset in another file.
  const again = await run(plant(ct, dir, 'dates2.dcm', { '(0008,0020)': '20240101' }), ['retain-longitudinal-modified-dates']);
  assert.equal(days('20240315') - days('20240101'), days(study) - days(str(again.ds, Tags.StudyDate)));
});

test('retain-longitudinal-full-dates keeps dates; retain-uids keeps UIDs; retain-patient-characteristics keeps sex', async () => {
  const p = plant(ct, dir, 'chars.dcm', { '(0010,0040)': 'F', '(0010,1010)': '056Y' });
  const inUid = str(parse(p).dataset, Tags.SOPInstanceUID);
  const { ds } = await run(p, ['retain-longitudinal-full-dates', 'retain-uids', 'retain-patient-characteristics']);
  assert.equal(str(ds, Tags.StudyDate), '20240315');
  assert.equal(str(ds, Tags.SOPInstanceUID), inUid);
  assert.equal(str(ds, tag(0x0010, 0x0040)), 'F');
  assert.equal(str(ds, tag(0x0010, 0x1010)), '056Y');
  const basic = await run(p, []);
  assert.equal(str(basic.ds, tag(0x0010, 0x0040)), '');
  assert.equal(str(basic.ds, tag(0x0010, 0x1010)), '<absent>');
});

test('clean-descriptors keeps descriptions but removes the patient identity and PHI patterns from them', async () => {
  const { ds } = await run(ct, ['clean-descriptors']);
  assert.equal(str(ds, Tags.StudyDescription), 'CT head for *** *** ***');
  assert.equal(str(ds, Tags.SeriesDescription), 'Series of *** born ***');
  assert.equal(str(ds, tag(0x0020, 0x4000)), 'call *** about *** ***');
  const basic = await run(ct, []);
  assert.equal(str(basic.ds, Tags.StudyDescription), '<absent>');
});

test('retain-device-identity and retain-institution-identity keep those attributes', async () => {
  const { ds } = await run(ct, ['retain-device-identity', 'retain-institution-identity']);
  assert.equal(str(ds, Tags.StationName), 'STNSHELBY01');
  assert.equal(str(ds, Tags.InstitutionName), 'Shelbyville Memorial');
  const basic = await run(ct, []);
  assert.equal(str(basic.ds, Tags.StationName), '');
});

test('retain-safe-private keeps only private attributes on the safe list, with their creator', async () => {
  const p = join(dir, 'private.dcm');
  plant(ct, dir, 'private.dcm', {});
  const ascii = (s: string) => Buffer.from(s, 'latin1');
  addElements(p, [
    { tag: tag(0x0043, 0x0010), vr: 'LO', value: ascii('GEMS_PARM_01') },
    { tag: tag(0x0043, 0x1027), vr: 'SH', value: ascii('1.375:1 ') },
    { tag: tag(0x0043, 0x1028), vr: 'LO', value: ascii('PRIVATE-UNSAFE') },
  ]);
  const { ds, dump } = await run(p, ['retain-safe-private']);
  assert.equal(str(ds, tag(0x0043, 0x0010)), 'GEMS_PARM_01');
  assert.equal(str(ds, tag(0x0043, 0x1027)), '1.375:1');
  assert.equal(findElement(ds, tag(0x0043, 0x1028)), undefined);
  assert.ok(!dump.includes('PRIVATE-SECRET'));
  const basic = await run(p, []);
  assert.equal(findElement(basic.ds, tag(0x0043, 0x1027)), undefined);
  assert.equal(findElement(basic.ds, tag(0x0043, 0x0010)), undefined);
});

test('the method code sequence lists the profile and the options applied', async () => {
  const { ds } = await run(ct, ['clean-descriptors', 'retain-uids']);
  const codes = findElement(ds, Tags.DeidentificationMethodCodeSequence)!.items!.map((it) => str(it, Tags.CodeValue));
  assert.deepEqual(codes, ['113100', '113105', '113110']);
  assert.equal(str(ds, Tags.PatientIdentityRemoved), 'YES');
});

test('instances with burned-in text or risky kinds are held back with a reason, never written', async () => {
  const burned = plant(ct, dir, 'burned.dcm', { '(0028,0301)': 'YES' });
  for (const [path, code] of [[burned, 'BURNED_IN_ANNOTATION'], [join(PYDICOM, 'SC_rgb_rle.dcm'), 'BURNED_IN_RISK'], [join(PYDICOM, 'GDCMJ2K_TextGBR.dcm'), 'BURNED_IN_RISK']] as const) {
    const out = tempDir();
    const r = await deidentifyFile(path, out, { profile: makeProfile([]), key });
    assert.equal(r.status, 'held');
    if (r.status === 'held') {
      assert.equal(r.reason.code, code);
      assert.match(r.reason.message, /clean-pixel-data/);
    }
  }
});

test('clean-recognizable-visual-features holds back head volumes and volumes of unknown body part', async () => {
  const head = plant(ct, dir, 'head.dcm', { '(0018,0015)': 'CHEST', '(0018,1030)': 'BRAIN ROUTINE' });
  const chest = plant(ct, dir, 'chest.dcm', { '(0018,0015)': 'CHEST', '(0008,1030)': 'CT chest' });
  const unknown = plant(ct, dir, 'unknown.dcm', { '(0008,1030)': 'CT' });
  const opts = { profile: makeProfile(['clean-recognizable-visual-features']), key };
  assert.equal((await deidentifyFile(head, tempDir(), opts)).status, 'held');
  assert.equal((await deidentifyFile(chest, tempDir(), opts)).status, 'released');
  assert.equal((await deidentifyFile(unknown, tempDir(), opts)).status, 'held');
  assert.equal((await deidentifyFile(head, tempDir(), { profile: makeProfile([]), key })).status, 'released');
});

test('non-ASCII names are removed from ISO 2022 text without mangling the rest', async () => {
  const src = join(CHARSETS, 'chrJapMulti.dcm');
  const p = plant(src, dir, 'jap.dcm', {});
  const f = parse(p);
  const cs = charsetFor(str(f.dataset, Tags.SpecificCharacterSet));
  const name = cs.decode(findElement(f.dataset, Tags.PatientName)!.value!, 'PN').trim();
  addElements(p, [{ tag: tag(0x0020, 0x4000), vr: 'LT', value: cs.encode(`検査 ${name.split('^')[0]} 様`, 'LT') }]);
  const { ds } = await run(p, ['clean-descriptors']);
  const out = cs.decode(findElement(ds, tag(0x0020, 0x4000))!.value!, 'LT').trim();
  assert.equal(out, '検査 *** 様');
  assert.equal(str(ds, Tags.SpecificCharacterSet), str(f.dataset, Tags.SpecificCharacterSet));
});
