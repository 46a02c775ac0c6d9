import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Dataset, findElement } from '../src/dicom/dataset.ts';
import { tag } from '../src/dicom/tag.ts';
import { DICTIONARY_EDITION, outsideDecision } from '../src/deid/outside-e1-1.ts';
import { makeProfile, rowFor, TABLE_EDITION } from '../src/deid/profile.ts';
import { SAFE_PRIVATE_EDITION, isSafePrivate } from '../src/deid/safe-private.ts';
import { deidentifyFile } from '../src/pipeline/deid-file.ts';
import { REPO, dcmdump, parse, tempDir } from './helpers.ts';
import { addElements, makePlanted, SAMPLES } from './fixtures.ts';

const key = Buffer.alloc(32, 0x35);
const dir = tempDir();
const ct = makePlanted(SAMPLES[0]!, dir);
const ascii = (s: string) => Buffer.from(s.length % 2 ? `${s} ` : s, 'latin1');
const uid = (s: string) => Buffer.from(s.length % 2 ? `${s}\0` : s, 'latin1');
const str = (ds: Dataset, t: number): string => findElement(ds, t)?.value?.toString('latin1').replace(/[\0 ]+$/, '') ?? '<absent>';
const DICTIONARY = '/usr/share/libdcmtk17/dicom.dic';

async function run(path: string, options: string[]) {
  const out = tempDir();
  const r = await deidentifyFile(path, out, { profile: makeProfile(options), key });
  if (r.status !== 'released') throw new Error(`not released: ${JSON.stringify(r)}`);
  return { ds: parse(join(out, r.output.path)).dataset, dump: dcmdump(join(out, r.output.path)) };
}

test('every standard attribute of the data dictionary outside Table E.1-1 has a generated decision stamped with its edition', () => {
  const dic = readFileSync(DICTIONARY, 'utf8');
  assert.equal(DICTIONARY_EDITION, /PS 3\.6-(\d{4}[a-e])/.exec(dic)?.[1]);
  assert.match(TABLE_EDITION, /^\d{4}[a-e]$/);
  let checked = 0;
  const missing: string[] = [];
  for (const line of dic.split('\n')) {
    const m = /^\(([0-9A-F]{4}),([0-9A-F]{4})\)\t/.exec(line);
    if (!m) continue;
    const g = parseInt(m[1]!, 16);
    if (g <= 4 || g === 0xfffe || m[2] === '0000') continue;
    const t = tag(g, parseInt(m[2]!, 16));
    if (rowFor(t)) continue;
    checked++;
    if (!outsideDecision(t)) missing.push(`(${m[1]},${m[2]})`);
  }
  assert.ok(checked > 4000, `${checked} attributes checked`);
  assert.deepEqual(missing, []);
  // The documented list holds one line per attribute (ranges on one line) with its decision.
  const doc = readFileSync(join(REPO, 'docs/deid-outside-e1-1.tsv'), 'utf8').trim().split('\n');
  assert.ok(doc.length > 4000);
  assert.match(doc.find((l) => l.startsWith('(0008,1167)'))!, /\tU\tinstance UID$/);
});

test('outside Table E.1-1: instance UIDs are mapped, unknown and retired text attributes removed, text under a numeric tag scrubbed, well-known UIDs kept', async () => {
  const p = join(dir, 'outside.dcm');
  copyFileSync(ct, p);
  addElements(p, [
    { tag: tag(0x0008, 0x1167), vr: 'UI', value: uid('1.2.826.0.1.3680043.9.7433.55.1') }, // Multi-frame Source SOP Instance UID
    { tag: tag(0x0018, 0xfff0), vr: 'LO', value: ascii('NEW-ATTRIBUTE-SECRET') }, // not in the dictionary edition
    { tag: tag(0x0018, 0x0050), vr: 'LO', value: ascii('DOE JOHN QUINCY') }, // Slice Thickness written as text
    { tag: tag(0x0028, 0x0304), vr: 'UI', value: uid('1.2.840.10008.1.5.1') }, // a well-known palette
    { tag: tag(0x0040, 0xa067), vr: 'PN', value: ascii('TRIAL^AUTHOR') }, // retired Document Author (Trial)
  ]);
  const { ds, dump } = await run(p, []);
  const mapped = str(ds, tag(0x0008, 0x1167));
  assert.notEqual(mapped, '1.2.826.0.1.3680043.9.7433.55.1');
  assert.match(mapped, /^2\.25\.\d+$/);
  assert.equal(findElement(ds, tag(0x0018, 0xfff0)), undefined);
  assert.ok(!dump.includes('NEW-ATTRIBUTE-SECRET'));
  assert.ok(!str(ds, tag(0x0018, 0x0050)).includes('QUINCY'));
  assert.equal(str(ds, tag(0x0028, 0x0304)), '1.2.840.10008.1.5.1');
  assert.equal(findElement(ds, tag(0x0040, 0xa067)), undefined);
  const kept = await run(p, ['retain-uids']);
  assert.equal(str(kept.ds, tag(0x0008, 0x1167)), '1.2.826.0.1.3680043.9.7433.55.1');
});

test('the safe private list is PS3.15 Table E.3.10-1 with its edition: listed attributes kept, unlisted removed, a safe UID read as UN mapped', async () => {
  assert.equal(SAFE_PRIVATE_EDITION, '2026d');
  assert.ok(isSafePrivate('SIEMENS MR HEADER', 0x0019, 0x0c)); // B Value
  assert.ok(!isSafePrivate('SIEMENS MR HEADER', 0x0019, 0x08)); // not in the table (the old hand-picked list kept it)
  assert.ok(isSafePrivate('Philips Imaging DD 001 ', 0x2001, 0x03));
  const p = join(dir, 'safe.dcm');
  copyFileSync(ct, p);
  addElements(p, [
    { tag: tag(0x0019, 0x0010), vr: 'LO', value: ascii('SIEMENS MR HEADER') },
    { tag: tag(0x0019, 0x1008), vr: 'CS', value: ascii('IMAGE NUM 4') },
    { tag: tag(0x0019, 0x100c), vr: 'IS', value: ascii('1000') },
    { tag: tag(0x0099, 0x0010), vr: 'LO', value: ascii('NQHeader') },
    { tag: tag(0x0099, 0x1002), vr: 'UN', value: uid('1.2.826.0.1.3680043.9.7433.77.2') }, // Analyzed Series UID
  ]);
  const { ds } = await run(p, ['retain-safe-private']);
  assert.equal(str(ds, tag(0x0019, 0x100c)), '1000');
  assert.equal(findElement(ds, tag(0x0019, 0x1008)), undefined);
  const series = findElement(ds, tag(0x0099, 0x1002))!;
  assert.equal(series.vr, 'UI');
  assert.match(series.value!.toString('latin1').replace(/\0+$/, ''), /^2\.25\.\d+$/);
});
