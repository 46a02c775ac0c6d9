import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BufferSource } from '../src/dicom/byte-source.ts';
import { type DataElement, type Dataset, findElement } from '../src/dicom/dataset.ts';
import { writeChunksAtomic } from '../src/dicom/file-io.ts';
import { encapsulatedFrames, nativeFrames, pixelDescription } from '../src/dicom/frames.ts';
import { decodeFrame, initCodecs } from '../src/dicom/codecs.ts';
import { readDicom } from '../src/dicom/read.ts';
import { Tags, tag } from '../src/dicom/tag.ts';
import { EXPLICIT_VR_LITTLE_ENDIAN, transferSyntax } from '../src/dicom/transfer-syntax.ts';
import type { VR } from '../src/dicom/vr.ts';
import { encodePart10 } from '../src/dicom/write.ts';

/** Synthetic text burned into test images (invented identities). */
export const BURNED = { name: 'DOE JOHN', id: 'PID4711X', date: '1967-12-31' };

export interface TextSpec { text: string; x: number; y: number; size: number; color: string }

/** Render a frame with ImageMagick: a tissue-like gradient with text drawn on it; raw gray or rgb bytes. */
export function renderFrame(width: number, height: number, texts: TextSpec[], opts: { rgb?: boolean; seed?: number } = {}): Buffer {
  const args = ['-size', `${width}x${height}`, 'gradient:gray25-gray45', '-attenuate', '0.3', '+noise', 'Uniform', '-font', 'DejaVu-Sans'];
  for (const t of texts) args.push('-fill', t.color, '-pointsize', String(t.size), '-annotate', `+${t.x}+${t.y}`, t.text);
  args.push('-depth', '8', `${opts.rgb ? 'rgb' : 'gray'}:-`);
  return execFileSync('/usr/bin/convert', args, { maxBuffer: 64 << 20 });
}

const s = (g: number, e: number, vr: VR, v: string): DataElement => ({ tag: tag(g, e), vr, value: Buffer.from(v.length % 2 ? v + (vr === 'UI' ? '\0' : ' ') : v, 'latin1') });
const us = (g: number, e: number, v: number): DataElement => { const b = Buffer.alloc(2); b.writeUInt16LE(v); return { tag: tag(g, e), vr: 'US', value: b }; };

/** An ultrasound / secondary capture instance with the synthetic identity in its header and the given frames. */
export function writeImage(path: string, o: { frames: Buffer[]; rows: number; columns: number; rgb?: boolean; bits?: 8 | 16; modality?: string; sopClass?: string; sop: string; burnedIn?: 'YES' | 'NO' }): void {
  const bits = o.bits ?? 8;
  const els: DataElement[] = [
    s(0x0008, 0x0016, 'UI', o.sopClass ?? '1.2.840.10008.5.1.4.1.1.6.1'), s(0x0008, 0x0018, 'UI', o.sop), s(0x0008, 0x0020, 'DA', '20240315'),
    s(0x0008, 0x0060, 'CS', o.modality ?? 'US'), s(0x0008, 0x0070, 'LO', 'CUSTOS TEST'), s(0x0010, 0x0010, 'PN', 'DOE^JOHN'),
    s(0x0010, 0x0020, 'LO', BURNED.id), s(0x0010, 0x0030, 'DA', '19671231'), s(0x0020, 0x000d, 'UI', '2.25.77'), s(0x0020, 0x000e, 'UI', '2.25.78'),
    us(0x0028, 0x0002, o.rgb ? 3 : 1), s(0x0028, 0x0004, 'CS', o.rgb ? 'RGB' : 'MONOCHROME2'),
    ...(o.frames.length > 1 ? [s(0x0028, 0x0008, 'IS', String(o.frames.length))] : []),
    us(0x0028, 0x0010, o.rows), us(0x0028, 0x0011, o.columns), us(0x0028, 0x0100, bits), us(0x0028, 0x0101, bits === 16 ? 12 : 8),
    us(0x0028, 0x0102, bits === 16 ? 11 : 7), us(0x0028, 0x0103, 0), ...(o.rgb ? [us(0x0028, 0x0006, 0)] : []),
    ...(o.burnedIn ? [s(0x0028, 0x0301, 'CS', o.burnedIn)] : []),
    { tag: Tags.PixelData, vr: bits === 16 ? 'OW' : 'OB', value: Buffer.concat(o.frames) },
  ];
  els.sort((a, b) => a.tag - b.tag);
  const ds: Dataset = { elements: els };
  const meta: Dataset = { elements: [
    { tag: Tags.FileMetaInformationVersion, vr: 'OB', value: Buffer.from([0, 1]) }, s(0x0002, 0x0002, 'UI', o.sopClass ?? '1.2.840.10008.5.1.4.1.1.6.1'),
    s(0x0002, 0x0003, 'UI', o.sop), s(0x0002, 0x0010, 'UI', EXPLICIT_VR_LITTLE_ENDIAN), s(0x0002, 0x0012, 'UI', '2.25.5'),
  ] };
  const src = new BufferSource(Buffer.alloc(0));
  writeChunksAtomic(path, encodePart10(meta, ds, transferSyntax(EXPLICIT_VR_LITTLE_ENDIAN), src), src);
}

/** Decoded frames (little endian, interleaved) of a file, with its description. */
export async function framesOf(path: string) {
  const src = new BufferSource(readFileSync(path));
  const f = readDicom(src);
  const d = pixelDescription(f.dataset, f.transferSyntax.littleEndian)!;
  const px = findElement(f.dataset, Tags.PixelData)!;
  if (!px.encapsulated) return { d, ts: f.transferSyntax.uid, frames: nativeFrames(px, d, src).map((x) => (f.transferSyntax.littleEndian || d.bitsAllocated === 8 ? Buffer.from(x) : Buffer.from(x).swap16())) };
  await initCodecs();
  return { d, ts: f.transferSyntax.uid, frames: encapsulatedFrames(px, d, src).map((x) => Buffer.from(decodeFrame(f.transferSyntax.uid, x, d).pixels)) };
}

/**
 * Independent OCR: every frame rendered to PNG by ImageMagick (plain, and thresholded so coloured text
 * is not missed) and read by Debian's tesseract command. Returns the text found, upper-cased.
 */
export async function independentOcr(path: string, dir: string): Promise<string> {
  const { d, frames } = await framesOf(path);
  let text = '';
  for (const [i, f] of frames.entries()) {
    const raw = join(dir, `frame-${i}.raw`);
    let bytes = f;
    if (d.bitsAllocated === 16) { bytes = Buffer.alloc(f.length / 2); for (let k = 0; k < bytes.length; k++) bytes[k] = Math.min(255, f.readUInt16LE(k * 2) >> 4); }
    writeFileSync(raw, bytes);
    const fmt = d.samplesPerPixel === 3 ? 'rgb' : 'gray';
    for (const extra of [[], ['-colorspace', 'gray', '-threshold', '60%', '-negate']]) {
      const png = join(dir, `frame-${i}.png`);
      execFileSync('/usr/bin/convert', ['-size', `${d.columns}x${d.rows}`, '-depth', '8', `${fmt}:${raw}`, ...extra, '-scale', '200%', png]);
      text += execFileSync('tesseract', [png, '-'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).toUpperCase() + '\n';
    }
  }
  return text;
}
