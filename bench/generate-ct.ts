/**
 * Generates a realistic CT series for benchmarks: N slices of 512x512x16-bit, explicit VR little
 * endian, built from the header of the Debian sample CT_small.dcm with new UIDs, positions and
 * synthetic pixel data. Kept out of git (bench/corpus/).
 * Usage: node bench/generate-ct.ts [N=500] [outDir=bench/corpus/ct-N]
 */
import { readFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { BufferSource } from '../src/dicom/byte-source.ts';
import { type DataElement, putElement } from '../src/dicom/dataset.ts';
import { writeChunksAtomic } from '../src/dicom/file-io.ts';
import { readDicom } from '../src/dicom/read.ts';
import { Tags, tag } from '../src/dicom/tag.ts';
import { encodePart10 } from '../src/dicom/write.ts';

export const SAMPLE = '/usr/lib/python3/dist-packages/pydicom/data/test_files/CT_small.dcm';

export function generateCT(n: number, outDir: string, slicesPerStudy = 125, root = '2.25.31415926535897932384626433832795'): string[] {
  mkdirSync(outDir, { recursive: true });
  const src = new BufferSource(readFileSync(SAMPLE));
  const base = readDicom(src);
  const us = (t: number, v: number): DataElement => { const b = Buffer.alloc(2); b.writeUInt16LE(v); return { tag: t, vr: 'US', value: b }; };
  const str = (t: number, vr: 'UI' | 'IS' | 'DS', v: string): DataElement => ({ tag: t, vr, value: Buffer.from(v.length % 2 ? v + (vr === 'UI' ? '\0' : ' ') : v, 'latin1') });
  const pixels = Buffer.alloc(512 * 512 * 2);
  const paths: string[] = [];
  for (let i = 0; i < n; i++) {
    for (let p = 0; p < 512 * 512; p++) pixels.writeUInt16LE((p * 7 + i * 13) & 0x0fff, p * 2);
    const ds = { elements: base.dataset.elements.filter((e) => e.tag !== Tags.PixelData) };
    const sop = `${root}.3.${i + 1}`;
    for (const el of [
      us(tag(0x0028, 0x0010), 512), us(tag(0x0028, 0x0011), 512), str(Tags.SOPInstanceUID, 'UI', sop),
      str(Tags.StudyInstanceUID, 'UI', `${root}.1.${Math.floor(i / slicesPerStudy)}`), str(Tags.SeriesInstanceUID, 'UI', `${root}.2.${Math.floor(i / slicesPerStudy)}`),
      str(tag(0x0020, 0x0013), 'IS', String(i + 1)), str(tag(0x0020, 0x0032), 'DS', `-158.1\\-179.0\\${(-75 - i).toFixed(1)}`),
      { tag: Tags.PixelData, vr: 'OW' as const, value: Buffer.from(pixels) },
    ]) putElement(ds, el);
    const meta = { elements: base.meta.elements.map((e) => (e.tag === Tags.MediaStorageSOPInstanceUID ? str(e.tag, 'UI', sop) : e)) };
    const path = join(outDir, `ct-${String(i + 1).padStart(5, '0')}.dcm`);
    writeChunksAtomic(path, encodePart10(meta, ds, base.transferSyntax, src), src);
    paths.push(path);
  }
  return paths;
}

if (import.meta.main) {
  const n = Number(process.argv[2] ?? 500);
  const out = process.argv[3] ?? join('bench', 'corpus', `ct-${n}`);
  generateCT(n, out);
  console.log(`wrote ${n} slices to ${out}`);
}
