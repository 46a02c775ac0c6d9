import { IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME } from '../version.ts';
import type { Dataset } from './dataset.ts';
import { Tags } from './tag.ts';
import { encodeMeta } from './write.ts';

const ascii = (s: string): Buffer => Buffer.from(s, 'latin1');

/** File meta information for an instance written by Custos (PS3.10 7.1). */
export function fileMeta(sopClassUID: string, sopInstanceUID: string, transferSyntaxUID: string, sourceAeTitle?: string): Dataset {
  const elements: Dataset['elements'] = [
    { tag: Tags.FileMetaInformationVersion, vr: 'OB', value: Buffer.from([0, 1]) },
    { tag: Tags.MediaStorageSOPClassUID, vr: 'UI', value: ascii(sopClassUID) },
    { tag: Tags.MediaStorageSOPInstanceUID, vr: 'UI', value: ascii(sopInstanceUID) },
    { tag: Tags.TransferSyntaxUID, vr: 'UI', value: ascii(transferSyntaxUID) },
    { tag: Tags.ImplementationClassUID, vr: 'UI', value: ascii(IMPLEMENTATION_CLASS_UID) },
    { tag: Tags.ImplementationVersionName, vr: 'SH', value: ascii(IMPLEMENTATION_VERSION_NAME) },
  ];
  // (0002,0016) Source Application Entity Title: who sent it to us (PS3.10 7.1).
  if (sourceAeTitle) elements.push({ tag: 0x00020016, vr: 'AE', value: ascii(sourceAeTitle.trim()) });
  return { elements };
}

/** Preamble, "DICM" and meta group to put before a dataset received over the network. */
export function part10Prefix(meta: Dataset): Buffer {
  const prefix = Buffer.alloc(132);
  prefix.write('DICM', 128, 'latin1');
  return Buffer.concat([prefix, encodeMeta(meta)]);
}

/** Where the dataset of a Part 10 buffer starts (after preamble and meta group); 0 for a bare dataset. */
export function datasetOffset(part10: Buffer): number {
  if (part10.length < 144 || part10.toString('latin1', 128, 132) !== 'DICM') return 0;
  // The meta group starts with (0002,0000) UL Group Length, explicit VR little endian (PS3.10 7.1).
  if (part10.readUInt16LE(132) !== 0x0002 || part10.readUInt16LE(134) !== 0x0000) return scanMetaEnd(part10, 132);
  return 144 + part10.readUInt32LE(140);
}

/** Meta group without a group length (seen from some writers): walk its explicit VR elements. */
function scanMetaEnd(b: Buffer, pos: number): number {
  while (pos + 8 <= b.length && b.readUInt16LE(pos) === 0x0002) {
    const vr = b.toString('latin1', pos + 4, pos + 6);
    if (['OB', 'OW', 'OF', 'SQ', 'UT', 'UN', 'UC', 'UR', 'OD', 'OL', 'OV', 'SV', 'UV'].includes(vr)) pos += 12 + b.readUInt32LE(pos + 8);
    else pos += 8 + b.readUInt16LE(pos + 6);
  }
  return pos;
}
