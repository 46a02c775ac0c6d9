/** Ambiguous VRs (PS3.5 A.1 c): "US or SS" attributes read in implicit VR follow Pixel Representation, so an explicit copy says SS for signed pixels. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { BufferSource } from '../src/dicom/byte-source.ts';
import { readDicom } from '../src/dicom/read.ts';
import { transferSyntax } from '../src/dicom/transfer-syntax.ts';
import { encodeDataset, encodePart10 } from '../src/dicom/write.ts';
import { putElement } from '../src/dicom/dataset.ts';
import { PYDICOM } from './helpers.ts';

test('Smallest/Largest Image Pixel Value of signed pixels read in implicit VR are SS, and stay SS when written explicitly', () => {
  const src = new BufferSource(readFileSync(join(PYDICOM, 'MR_small_implicit.dcm')));
  const f = readDicom(src);
  assert.equal(f.transferSyntax.explicitVR, false);
  for (const tag of [0x00280106, 0x00280107]) assert.equal(f.dataset.elements.find((e) => e.tag === tag)?.vr, 'SS', tag.toString(16));
  const explicit = Buffer.concat(encodeDataset(f.dataset, transferSyntax('1.2.840.10008.1.2.1')).map((c) => (Buffer.isBuffer(c) ? c : src.read(c.offset, c.length))));
  const at = explicit.indexOf(Buffer.from([0x28, 0x00, 0x06, 0x01]));
  assert.equal(explicit.toString('latin1', at + 4, at + 6), 'SS');
});

test('pixel-value attributes inside sequence items (Real World Value Mapping) follow Pixel Representation too', () => {
  const src = new BufferSource(readFileSync(join(PYDICOM, 'MR_small_implicit.dcm')));
  const f = readDicom(src);
  const mapping = { tag: 0x00409096, vr: 'SQ' as const, items: [{ elements: [{ tag: 0x00409216, vr: 'US' as const, value: Buffer.from([0x00, 0x80]) }] }] };
  putElement(f.dataset, mapping);
  const implicit = transferSyntax('1.2.840.10008.1.2');
  const bytes = Buffer.concat(encodePart10(f.meta, f.dataset, implicit, src).map((c) => (Buffer.isBuffer(c) ? c : src.read(c.offset, c.length))));
  const again = readDicom(new BufferSource(bytes));
  const item = again.dataset.elements.find((e) => e.tag === 0x00409096)!.items![0]!;
  assert.equal(item.elements[0]!.vr, 'SS');
  assert.equal(item.elements[0]!.value!.readInt16LE(0), -32768);
});

test('8-bit waveform data read in implicit VR is OB, 16-bit stays OW (PS3.3 C.10.9.1)', () => {
  const src = new BufferSource(readFileSync(join(PYDICOM, 'MR_small_implicit.dcm')));
  const f = readDicom(src);
  const item = (bits: number) => ({ elements: [
    { tag: 0x54001004, vr: 'US' as const, value: Buffer.from([bits, 0]) },
    { tag: 0x54001010, vr: 'OW' as const, value: Buffer.from([1, 2, 3, 4]) },
  ] });
  putElement(f.dataset, { tag: 0x54000100, vr: 'SQ', items: [item(8), item(16)] });
  const implicit = transferSyntax('1.2.840.10008.1.2');
  const bytes = Buffer.concat(encodePart10(f.meta, f.dataset, implicit, src).map((c) => (Buffer.isBuffer(c) ? c : src.read(c.offset, c.length))));
  const items = readDicom(new BufferSource(bytes)).dataset.elements.find((e) => e.tag === 0x54000100)!.items!;
  assert.deepEqual(items.map((it) => it.elements.find((e) => e.tag === 0x54001010)!.vr), ['OB', 'OW']);
});
