import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BufferSource } from '../src/dicom/byte-source.ts';
import { findElement } from '../src/dicom/dataset.ts';
import { readDicom } from '../src/dicom/read.ts';
import { Tags } from '../src/dicom/tag.ts';
import { makeProfile } from '../src/deid/profile.ts';
import type { PixelReport } from '../src/pipeline/clean-pixels.ts';
import { deidentifyFile } from '../src/pipeline/deid-file.ts';
import { closeOcr } from '../src/pipeline/ocr.ts';
import { PYDICOM, dcmdump, plant, tempDir } from './helpers.ts';
import { BURNED, framesOf, independentOcr, renderFrame, writeImage } from './burned-in.ts';

after(closeOcr);

const key = Buffer.alloc(32, 0x44);
const dir = tempDir();
const PHI_TEXT = [
  { text: BURNED.name, x: 12, y: 30, size: 22, color: 'white' },
  { text: BURNED.id, x: 300, y: 30, size: 18, color: 'gray85' },
  { text: BURNED.date, x: 330, y: 360, size: 14, color: 'white' },
];

// 8-bit ultrasound with the identity burned in at three sizes and shades, plus a clinical label.
const us8 = join(dir, 'us8.dcm');
writeImage(us8, { frames: [renderFrame(512, 384, [...PHI_TEXT, { text: 'LIVER', x: 200, y: 200, size: 18, color: 'white' }])], rows: 384, columns: 512, sop: '2.25.3001' });
const variants: Array<[string, string, string[]]> = [
  ['us8-rle.dcm', 'dcmcrle', []],
  ['us8-jpegls.dcm', 'dcmcjpls', ['+el']],
  ['us8-jpeg-lossy.dcm', 'dcmcjpeg', ['+eb', '+un']],
];
for (const [name, tool, args] of variants) execFileSync(tool, [...args, us8, join(dir, name)], { stdio: 'pipe' });
// Secondary capture in colour: green and red text on grey.
const rgb = join(dir, 'sc-rgb.dcm');
writeImage(rgb, { frames: [renderFrame(400, 300, [{ text: BURNED.name, x: 10, y: 40, size: 26, color: 'lime' }, { text: BURNED.id, x: 10, y: 260, size: 20, color: 'red' }], { rgb: true })], rows: 300, columns: 400, rgb: true, sop: '2.25.3002', sopClass: '1.2.840.10008.5.1.4.1.1.7', modality: 'OT' });
// 16-bit (12 stored) with text at full white, flagged YES.
const g16 = renderFrame(256, 256, [{ text: BURNED.id, x: 8, y: 24, size: 18, color: 'white' }]);
const px16 = Buffer.alloc(g16.length * 2);
for (let i = 0; i < g16.length; i++) px16.writeUInt16LE(g16[i]! * 16, i * 2);
const ct16 = join(dir, 'ct16.dcm');
writeImage(ct16, { frames: [px16], rows: 256, columns: 256, bits: 16, modality: 'CT', sopClass: '1.2.840.10008.5.1.4.1.1.2', sop: '2.25.3003', burnedIn: 'YES' });
// Multi-frame cine: the name on every frame, the ID only on the last.
const mf = join(dir, 'us-multiframe.dcm');
writeImage(mf, {
  frames: [0, 1, 2].map((i) => renderFrame(320, 240, [{ text: BURNED.name, x: 10, y: 28, size: 20, color: 'white' }, ...(i === 2 ? [{ text: BURNED.id, x: 150, y: 220, size: 16, color: 'white' }] : [])])),
  rows: 240, columns: 320, sop: '2.25.3004', sopClass: '1.2.840.10008.5.1.4.1.1.3.1',
});

const settings = (mode: 'phi' | 'all' = 'phi') => ({ profile: makeProfile(['clean-pixel-data']), key, pixels: { mode, rules: [], allow: [] } });
const outside = (x: number, y: number, boxes: PixelReport['boxes']) => boxes.every((b) => x < b.x || x >= b.x + b.width || y < b.y || y >= b.y + b.height);

async function cleanAndCheck(input: string, forbidden: string[], mode: 'phi' | 'all' = 'phi') {
  const out = tempDir();
  const r = await deidentifyFile(input, out, settings(mode));
  assert.equal(r.status, 'released', JSON.stringify(r));
  if (r.status !== 'released') throw new Error('not released');
  const path = join(out, r.output.path);
  const text = await independentOcr(path, tempDir());
  for (const f of forbidden) assert.ok(!text.includes(f), `"${f}" still readable in ${input.split('/').pop()}: ${JSON.stringify(text)}`);
  const dump = dcmdump(path);
  assert.match(dump, /\(0028,0301\) CS \[NO\]/);
  assert.match(dump, /\(0008,0100\) SH \[113101\]/);
  // Every pixel outside the redaction boxes is unchanged.
  const a = await framesOf(input);
  const b = await framesOf(path);
  assert.equal(b.frames.length, a.frames.length);
  const px = a.d.samplesPerPixel * (a.d.bitsAllocated / 8);
  for (const [i, fa] of a.frames.entries()) {
    const fb = b.frames[i]!;
    for (let y = 0; y < a.d.rows; y++) for (let x = 0; x < a.d.columns; x++) {
      if (!outside(x, y, r.pixels!.boxes)) continue;
      const o = (y * a.d.columns + x) * px;
      if (!fa.subarray(o, o + px).equals(fb.subarray(o, o + px))) assert.fail(`pixel ${x},${y} of frame ${i + 1} changed outside the boxes`);
    }
  }
  return { r, path, text, ts: b.ts };
}

test('the planted text is readable before cleaning (independent OCR)', async () => {
  const text = await independentOcr(us8, tempDir());
  assert.ok(text.includes('PID4711X') && text.includes('JOHN'), text);
});

test('8-bit ultrasound, explicit VR LE: the identity is gone, the clinical label stays, syntax kept', async () => {
  const { r, text, ts } = await cleanAndCheck(us8, ['JOHN', 'DOE', 'PID4711', '1967']);
  assert.ok(text.includes('LIVER'), 'a non-identifying annotation should stay in phi mode');
  assert.equal(ts, '1.2.840.10008.1.2.1');
  assert.ok(r.pixels!.boxes.length >= 3);
});

for (const [name] of variants) {
  test(`8-bit ultrasound, ${name}: cleaned and re-encoded without loss`, async () => {
    const { r, ts } = await cleanAndCheck(join(dir, name), ['JOHN', 'DOE', 'PID4711', '1967']);
    const input = readDicom(new BufferSource(readFileSync(join(dir, name)))).transferSyntax.uid;
    if (name.includes('lossy')) {
      assert.equal(ts, '1.2.840.10008.1.2.1');
      assert.match(r.pixels!.transferSyntax.note!, /lossy/);
    } else assert.equal(ts, input);
  });
}

test('colour secondary capture: green and red text removed', async () => {
  await cleanAndCheck(rgb, ['JOHN', 'DOE', 'PID4711']);
});

test('16-bit image with Burned In Annotation YES: text removed', async () => {
  await cleanAndCheck(ct16, ['PID4711']);
});

test('multi-frame cine: text removed from every frame, including text on one frame only', async () => {
  await cleanAndCheck(mf, ['JOHN', 'DOE', 'PID4711']);
});

test('GDCMJ2K_TextGBR.dcm (JPEG 2000, coloured words) in all-text mode: no word remains', async () => {
  const { ts } = await cleanAndCheck(join(PYDICOM, 'GDCMJ2K_TextGBR.dcm'), ['RED', 'GREEN', 'BLUE'], 'all');
  assert.equal(ts, '1.2.840.10008.1.2.4.90');
});

test('a 16-bit CT slice without text is released with its pixel data bit-identical', async () => {
  const p = plant(join(PYDICOM, 'CT_small.dcm'), dir, 'ct-notext.dcm', { '(0028,0301)': 'YES' });
  const out = tempDir();
  const r = await deidentifyFile(p, out, settings());
  assert.equal(r.status, 'released');
  if (r.status !== 'released') return;
  assert.equal(r.pixels!.boxes.length, 0);
  const pin = findElement(readDicom(new BufferSource(readFileSync(p))).dataset, Tags.PixelData)!.value!;
  const pout = findElement(readDicom(new BufferSource(readFileSync(join(out, r.output.path)))).dataset, Tags.PixelData)!.value!;
  assert.ok(pin.equals(pout));
});

test('without the option the same instances stay held back; admin rules blank known regions', async () => {
  const held = await deidentifyFile(us8, tempDir(), { profile: makeProfile([]), key });
  assert.equal(held.status, 'held');
  const copy = join(dir, 'rules.dcm');
  copyFileSync(us8, copy);
  const r = await deidentifyFile(copy, tempDir(), { profile: makeProfile(['clean-pixel-data']), key, pixels: { mode: 'phi', allow: [], rules: [{ name: 'test vendor top band', match: { manufacturer: 'CUSTOS TEST', modality: 'US' }, boxes: [[0, 0, 512, 50]] }] } });
  assert.equal(r.status, 'released');
  if (r.status === 'released') assert.ok(r.pixels!.boxes.some((b) => b.source === 'rule' && b.rule === 'test vendor top band' && b.height === 50));
});
