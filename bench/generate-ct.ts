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
  return generateSeries(n, outDir, { sample: SAMPLE, size: 512, prefix: 'ct', slicesPerStudy, root });
}

/**
 * N slices of size×size×16-bit from a sample's header (a CT or an MR): new UIDs, positions and
 * synthetic 12-bit pixel data; one study and series per `slicesPerStudy` slices. Texture 'ramp' (the
 * default) is a pattern shifted per slice; 'phantom' an ellipse of tissue in air, both with noise,
 * which lossless codecs compress by about as much as a real slice, where they shrink a ramp to
 * almost nothing.
 */
export function generateSeries(n: number, outDir: string, o: { sample: string; size: number; prefix: string; slicesPerStudy: number; root: string; texture?: 'ramp' | 'phantom' }): string[] {
  const { size, slicesPerStudy, root } = o;
  mkdirSync(outDir, { recursive: true });
  const src = new BufferSource(readFileSync(o.sample));
  const base = readDicom(src);
  const us = (t: number, v: number): DataElement => { const b = Buffer.alloc(2); b.writeUInt16LE(v); return { tag: t, vr: 'US', value: b }; };
  const str = (t: number, vr: 'UI' | 'IS' | 'DS', v: string): DataElement => ({ tag: t, vr, value: Buffer.from(v.length % 2 ? v + (vr === 'UI' ? '\0' : ' ') : v, 'latin1') });
  const pixels = Buffer.alloc(size * size * 2);
  const paths: string[] = [];
  for (let i = 0; i < n; i++) {
    if (o.texture === 'phantom') phantom(pixels, size, i);
    else for (let p = 0; p < size * size; p++) pixels.writeUInt16LE((p * 7 + i * 13) & 0x0fff, p * 2);
    const ds = { elements: base.dataset.elements.filter((e) => e.tag !== Tags.PixelData) };
    const sop = `${root}.3.${i + 1}`;
    for (const el of [
      us(tag(0x0028, 0x0010), size), us(tag(0x0028, 0x0011), size), str(Tags.SOPInstanceUID, 'UI', sop),
      str(Tags.StudyInstanceUID, 'UI', `${root}.1.${Math.floor(i / slicesPerStudy)}`), str(Tags.SeriesInstanceUID, 'UI', `${root}.2.${Math.floor(i / slicesPerStudy)}`),
      str(tag(0x0020, 0x0013), 'IS', String(i + 1)), str(tag(0x0020, 0x0032), 'DS', `-158.1\\-179.0\\${(-75 - i).toFixed(1)}`),
      { tag: Tags.PixelData, vr: 'OW' as const, value: Buffer.from(pixels) },
    ]) putElement(ds, el);
    const meta = { elements: base.meta.elements.map((e) => (e.tag === Tags.MediaStorageSOPInstanceUID ? str(e.tag, 'UI', sop) : e)) };
    const path = join(outDir, `${o.prefix}-${String(i + 1).padStart(5, '0')}.dcm`);
    writeChunksAtomic(path, encodePart10(meta, ds, base.transferSyntax, src), src);
    paths.push(path);
  }
  return paths;
}

/**
 * An ellipse of tissue (about 1000, noise of ±128) growing and shrinking along the series, in air
 * (about 24, noise of ±8): lossless JPEG-LS and JPEG 2000 take a slice to about 42 % of its size.
 */
function phantom(pixels: Buffer, size: number, slice: number): void {
  let seed = (slice * 2654435761 + 1) >>> 0;
  const rx = size * (0.4 + 0.05 * Math.sin(slice / 40));
  const ry = size * 0.35;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      seed = (seed * 1664525 + 1013904223) >>> 0; // a linear congruential generator: cheap, deterministic noise
      const dx = (x - size / 2) / rx;
      const dy = (y - size / 2) / ry;
      const v = dx * dx + dy * dy <= 1 ? 872 + (seed >>> 24) : 16 + (seed >>> 28);
      pixels.writeUInt16LE(v, (y * size + x) * 2);
    }
  }
}

if (import.meta.main) {
  const n = Number(process.argv[2] ?? 500);
  const out = process.argv[3] ?? join('bench', 'corpus', `ct-${n}`);
  generateCT(n, out);
  console.log(`wrote ${n} slices to ${out}`);
}
