/**
 * Overlay planes kept in the spare high bits of Pixel Data (retired Overlay Bit Position) are
 * cleared by the Basic Profile together with their 60xx group; pixels without a declared overlay
 * are left byte for byte. Also: a deflated dataset with more than 1 MiB of pixel data is read
 * from its inflated bytes.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { BufferSource } from '../src/dicom/byte-source.ts';
import { type DataElement, findElement, putElement } from '../src/dicom/dataset.ts';
import { readDicom } from '../src/dicom/read.ts';
import { tag, Tags } from '../src/dicom/tag.ts';
import { encodePart10 } from '../src/dicom/write.ts';
import { clearSpareBits } from '../src/deid/overlay-bits.ts';
import { makeProfile } from '../src/deid/profile.ts';
import { deidentifyFile } from '../src/pipeline/deid-file.ts';
import { PYDICOM, parse, tempDir } from './helpers.ts';

const dir = tempDir('custos-overlay-');
const key = Buffer.alloc(32, 0x41);
const us = (n: number): Buffer => { const b = Buffer.alloc(2); b.writeUInt16LE(n); return b; };
const cs = (s: string): Buffer => Buffer.from(s.length % 2 ? `${s} ` : s, 'latin1');

/** CT_small re-made as rows×columns 12-bit unsigned pixels; `overlay`: a 60xx plane in bit 12 over a box. */
function make(name: string, opts: { overlay: boolean; rows?: number; columns?: number }): { path: string; pixels: Buffer } {
  const src = new BufferSource(readFileSync(join(PYDICOM, 'CT_small.dcm')));
  const f = readDicom(src);
  const rows = opts.rows ?? 128, columns = opts.columns ?? 128;
  const pixels = Buffer.alloc(rows * columns * 2);
  for (let i = 0; i < rows * columns; i++) pixels.writeUInt16LE((i * 5) & 0x0fff, i * 2);
  const els: DataElement[] = [
    { tag: tag(0x0028, 0x0010), vr: 'US', value: us(rows) }, { tag: tag(0x0028, 0x0011), vr: 'US', value: us(columns) },
    { tag: tag(0x0028, 0x0101), vr: 'US', value: us(12) }, { tag: tag(0x0028, 0x0102), vr: 'US', value: us(11) },
    { tag: tag(0x0028, 0x0103), vr: 'US', value: us(0) },
  ];
  if (opts.overlay) {
    for (let y = 10; y < 20; y++) for (let x = 10; x < 60; x++) { const o = (y * columns + x) * 2; pixels.writeUInt16LE(pixels.readUInt16LE(o) | 0x1000, o); }
    els.push(
      { tag: tag(0x6000, 0x0010), vr: 'US', value: us(rows) }, { tag: tag(0x6000, 0x0011), vr: 'US', value: us(columns) },
      { tag: tag(0x6000, 0x0040), vr: 'CS', value: cs('G') }, { tag: tag(0x6000, 0x0050), vr: 'SS', value: Buffer.from([1, 0, 1, 0]) },
      { tag: tag(0x6000, 0x0100), vr: 'US', value: us(16) }, { tag: tag(0x6000, 0x0102), vr: 'US', value: us(12) },
    );
  }
  els.push({ tag: Tags.PixelData, vr: 'OW', value: pixels });
  for (const el of els) putElement(f.dataset, el);
  const path = join(dir, name);
  writeFileSync(path, Buffer.concat(encodePart10(f.meta, f.dataset, f.transferSyntax, src).map((c) => (Buffer.isBuffer(c) ? c : src.read(c.offset, c.length)))));
  return { path, pixels };
}

async function deid(path: string): Promise<Buffer> {
  const out = tempDir();
  const r = await deidentifyFile(path, out, { profile: makeProfile([]), key });
  if (r.status !== 'released') throw new Error(JSON.stringify(r));
  const f = parse(join(out, r.output.path));
  assert.equal(f.dataset.elements.some((e) => e.tag >>> 24 === 0x60), false, 'the 60xx group is removed');
  return findElement(f.dataset, Tags.PixelData)!.value!;
}

test('overlay bits in the spare high bits of Pixel Data are cleared with their 60xx group; the stored bits are kept', async () => {
  const { path, pixels } = make('overlay.dcm', { overlay: true });
  const out = await deid(path);
  assert.equal(out.length, pixels.length);
  let highBits = 0;
  for (let o = 0; o < out.length; o += 2) {
    if (out.readUInt16LE(o) & 0xf000) highBits++;
    assert.equal(out.readUInt16LE(o), pixels.readUInt16LE(o) & 0x0fff);
  }
  assert.equal(highBits, 0);
});

test('without a declared overlay the pixel data is released byte for byte', async () => {
  const { path, pixels } = make('plain.dcm', { overlay: false });
  assert.ok((await deid(path)).equals(pixels));
});

test('a deflated dataset with more than 1 MiB of pixel data is de-identified (its values come from the inflated bytes)', async () => {
  const { path, pixels } = make('big.dcm', { overlay: false, rows: 1024, columns: 1024 });
  const deflated = join(dir, 'big-deflated.dcm');
  execFileSync('dcmconv', ['+td', path, deflated]);
  assert.ok((await deid(deflated)).equals(pixels));
});

test('signed pixels: the spare bits above High Bit take the sign, so whole-cell readers see the same values', () => {
  const px = Buffer.alloc(8);
  px.writeUInt16LE(0x1ffe, 0); // -2 in 12 bits with overlay bit 12 set, no sign extension
  px.writeUInt16LE(0xf7ff, 2); // +2047 with junk in the high nibble
  px.writeUInt16LE(0xf800, 4); // -2048, sign-extended already
  px.writeUInt16LE(0x0001, 6);
  const out = clearSpareBits({ tag: Tags.PixelData, vr: 'OW', value: px }, new BufferSource(Buffer.alloc(0)), { bitsAllocated: 16, bitsStored: 12, highBit: 11, signed: true, little: true }).value!;
  assert.deepEqual([0, 2, 4, 6].map((o) => out.readInt16LE(o)), [-2, 2047, -2048, 1]);
  assert.equal(px.readUInt16LE(0), 0x1ffe, 'the input is not modified');
});
