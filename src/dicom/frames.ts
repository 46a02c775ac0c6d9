import { CustosError } from '../errors.ts';
import type { ByteSource } from './byte-source.ts';
import { type DataElement, type Dataset, findElement, asciiValue } from './dataset.ts';
import { Tags, tag } from './tag.ts';

/** Image Pixel attributes needed to cut and decode frames (PS3.3 C.7.6.3). */
export interface PixelDescription {
  rows: number;
  columns: number;
  samplesPerPixel: number;
  bitsAllocated: number;
  bitsStored: number;
  pixelRepresentation: number;
  planarConfiguration: number;
  photometricInterpretation: string;
  numberOfFrames: number;
}

const us = (ds: Dataset, t: number, little: boolean): number | undefined => {
  const v = findElement(ds, t)?.value;
  if (!v || v.length < 2) return undefined;
  return little ? v.readUInt16LE(0) : v.readUInt16BE(0);
};
const str = asciiValue;

export function pixelDescription(ds: Dataset, littleEndian: boolean): PixelDescription | undefined {
  const rows = us(ds, tag(0x0028, 0x0010), littleEndian);
  const columns = us(ds, tag(0x0028, 0x0011), littleEndian);
  const bitsAllocated = us(ds, tag(0x0028, 0x0100), littleEndian);
  if (!rows || !columns || !bitsAllocated || !findElement(ds, Tags.PixelData)) return undefined;
  return {
    rows,
    columns,
    bitsAllocated,
    samplesPerPixel: us(ds, tag(0x0028, 0x0002), littleEndian) ?? 1,
    bitsStored: us(ds, tag(0x0028, 0x0101), littleEndian) ?? bitsAllocated,
    pixelRepresentation: us(ds, tag(0x0028, 0x0103), littleEndian) ?? 0,
    planarConfiguration: us(ds, tag(0x0028, 0x0006), littleEndian) ?? 0,
    photometricInterpretation: str(ds, tag(0x0028, 0x0004)) || 'MONOCHROME2',
    numberOfFrames: Math.max(1, parseInt(str(ds, tag(0x0028, 0x0008)) || '1', 10) || 1),
  };
}

function elementBytes(el: DataElement, source: ByteSource): Buffer {
  if (el.value) return el.value;
  if (el.range) return source.read(el.range.offset, el.range.length);
  return Buffer.alloc(0);
}

/** Native pixel data cut into frames (PS3.5 8.1.1); bit-packed (1-bit) frames are rounded to whole bytes. */
export function nativeFrames(el: DataElement, d: PixelDescription, source: ByteSource): Buffer[] {
  const bits = d.rows * d.columns * d.samplesPerPixel * d.bitsAllocated;
  const frameSize = Math.ceil(bits / 8);
  const all = elementBytes(el, source);
  if (all.length < frameSize * d.numberOfFrames) {
    throw new CustosError('DICOM_TRUNCATED', `pixel data holds ${all.length} bytes, ${d.numberOfFrames} frame(s) need ${frameSize * d.numberOfFrames}`);
  }
  return Array.from({ length: d.numberOfFrames }, (_, i) => all.subarray(i * frameSize, (i + 1) * frameSize));
}

/**
 * Each native frame in turn, read from the source one at a time where frames are whole bytes (a
 * large multi-frame instance read from disk is never held whole); each view is valid only during `fn`.
 */
export function forEachNativeFrame(el: DataElement, d: PixelDescription, source: ByteSource, fn: (frame: Buffer, index: number) => void): void {
  const bits = d.rows * d.columns * d.samplesPerPixel * d.bitsAllocated;
  if (!el.range || bits % 8 !== 0) { nativeFrames(el, d, source).forEach((f, i) => fn(f, i)); return; }
  const frameSize = bits / 8;
  if (el.range.length < frameSize * d.numberOfFrames) {
    throw new CustosError('DICOM_TRUNCATED', `pixel data holds ${el.range.length} bytes, ${d.numberOfFrames} frame(s) need ${frameSize * d.numberOfFrames}`);
  }
  for (let i = 0; i < d.numberOfFrames; i++) fn(source.read(el.range.offset + i * frameSize, frameSize), i);
}

/**
 * Encapsulated pixel data cut into frames (PS3.5 A.4): one fragment per frame when the counts agree,
 * all fragments for a single frame, else the Basic Offset Table groups fragments.
 */
export function encapsulatedFrames(el: DataElement, d: PixelDescription, source: ByteSource): Buffer[] {
  const v = elementBytes(el, source);
  const items: Array<{ offset: number; data: Buffer }> = [];
  for (let o = 0; o + 8 <= v.length;) {
    const len = v.readUInt32LE(o + 4);
    if (o + 8 + len > v.length) throw new CustosError('DICOM_TRUNCATED', 'encapsulated pixel data item runs past its end');
    items.push({ offset: o, data: v.subarray(o + 8, o + 8 + len) });
    o += 8 + len;
  }
  const [bot, ...fragments] = items;
  if (!bot) throw new CustosError('DICOM_BAD_LENGTH', 'encapsulated pixel data has no Basic Offset Table item');
  if (fragments.length === 0) return [];
  if (d.numberOfFrames === 1) return [Buffer.concat(fragments.map((f) => f.data))];
  if (fragments.length === d.numberOfFrames) return fragments.map((f) => f.data);
  const offsets = Array.from({ length: bot.data.length / 4 }, (_, i) => bot.data.readUInt32LE(i * 4));
  if (offsets.length !== d.numberOfFrames) throw new CustosError('DICOM_BAD_LENGTH', `cannot split ${fragments.length} fragments into ${d.numberOfFrames} frames without an offset table`);
  const base = fragments[0]!.offset;
  return offsets.map((start, i) => {
    const end = offsets[i + 1] ?? Infinity;
    return Buffer.concat(fragments.filter((f) => f.offset - base >= start && f.offset - base < end).map((f) => f.data));
  });
}
