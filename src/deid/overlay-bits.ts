import type { ByteSource } from '../dicom/byte-source.ts';
import { type DataElement, type Dataset, findElement } from '../dicom/dataset.ts';
import { groupOf, tag } from '../dicom/tag.ts';

/*
 * Overlays stored in the unused high bits of Pixel Data (PS3.3 C.9.2, Overlay Bit Position; retired
 * from the standard in 2004 but still written by older devices). The Basic Profile removes the 60xx
 * groups (PS3.15 E.1-1), which leaves such overlay bits — often text — in the pixels, where a viewer
 * that ignores Bits Stored shows them. Custos clears the bits outside Bits Stored when the instance
 * declares an overlay plane (a 60xx group) and the pixel cell has spare bits; without a 60xx group
 * nothing says the spare bits hold anything, and pixel data is not touched (header-only work stays so).
 */

export interface SpareBits { bitsAllocated: 16 | 32; bitsStored: number; highBit: number; signed: boolean; little: boolean }

const u16 = (ds: Dataset, t: number, little: boolean): number | undefined => {
  const v = findElement(ds, t)?.value;
  return v && v.length >= 2 ? (little ? v.readUInt16LE(0) : v.readUInt16BE(0)) : undefined;
};

/** When `ds` (the original dataset) may carry overlay bits in native Pixel Data: its cell layout, else undefined. */
export function overlayBitsToClear(ds: Dataset, little: boolean, encapsulated: boolean): SpareBits | undefined {
  if (encapsulated || !ds.elements.some((e) => (groupOf(e.tag) & 0xff00) === 0x6000 && (groupOf(e.tag) & 1) === 0)) return undefined;
  const bitsAllocated = u16(ds, tag(0x0028, 0x0100), little);
  const bitsStored = u16(ds, tag(0x0028, 0x0101), little);
  if ((bitsAllocated !== 16 && bitsAllocated !== 32) || !bitsStored || bitsStored >= bitsAllocated) return undefined;
  const highBit = u16(ds, tag(0x0028, 0x0102), little) ?? bitsStored - 1;
  if (highBit < bitsStored - 1 || highBit >= bitsAllocated) return undefined;
  return { bitsAllocated, bitsStored, highBit, signed: u16(ds, tag(0x0028, 0x0103), little) === 1, little };
}

/**
 * Pixel Data with every bit outside [highBit - bitsStored + 1, highBit] cleared — for signed pixels
 * the bits above highBit take the sign, so a reader using the whole cell sees the same values.
 * Returns a new element (the input is not modified: it may be a view of the source).
 */
export function clearSpareBits(el: DataElement, source: ByteSource, s: SpareBits): DataElement {
  const bytes = Buffer.from(el.value ?? source.read(el.range!.offset, el.range!.length)); // a copy
  const low = s.highBit - s.bitsStored + 1;
  const width = s.bitsAllocated / 8;
  const n = Math.floor(bytes.length / width);
  if (s.bitsAllocated === 16) {
    const keep = ((1 << s.bitsStored) - 1) << low;
    for (let i = 0; i < n; i++) {
      const o = i * 2;
      let v = (s.little ? bytes.readUInt16LE(o) : bytes.readUInt16BE(o)) & keep;
      if (s.signed && (v >> s.highBit) & 1) v |= 0xffff & ~((1 << (s.highBit + 1)) - 1);
      if (s.little) bytes.writeUInt16LE(v, o); else bytes.writeUInt16BE(v, o);
    }
  } else {
    const keep = Number((((1n << BigInt(s.bitsStored)) - 1n) << BigInt(low)) & 0xffffffffn);
    const above = Number(0xffffffffn & ~((1n << BigInt(s.highBit + 1)) - 1n));
    for (let i = 0; i < n; i++) {
      const o = i * 4;
      let v = ((s.little ? bytes.readUInt32LE(o) : bytes.readUInt32BE(o)) & keep) >>> 0;
      if (s.signed && (v >>> s.highBit) & 1) v = (v | above) >>> 0;
      if (s.little) bytes.writeUInt32LE(v, o); else bytes.writeUInt32BE(v, o);
    }
  }
  return { tag: el.tag, vr: el.vr, value: bytes };
}
