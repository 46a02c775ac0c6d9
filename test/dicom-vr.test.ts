/** Ambiguous VRs (PS3.5 A.1 c): "US or SS" attributes read in implicit VR follow Pixel Representation, so an explicit copy says SS for signed pixels. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { BufferSource } from '../src/dicom/byte-source.ts';
import { readDicom } from '../src/dicom/read.ts';
import { transferSyntax } from '../src/dicom/transfer-syntax.ts';
import { encodeDataset } from '../src/dicom/write.ts';
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
