import { truncateSync, writeFileSync } from 'node:fs';
import { createDeflateRaw } from 'node:zlib';
import type { DataElement } from '../src/dicom/dataset.ts';
import { Tags } from '../src/dicom/tag.ts';
import { DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN, transferSyntax } from '../src/dicom/transfer-syntax.ts';
import { encodeDataset, encodeMeta } from '../src/dicom/write.ts';

const ascii = (s: string): Buffer => Buffer.from(s.length % 2 ? `${s}\0` : s, 'latin1');

/**
 * A deflate bomb: a Deflated Explicit VR Little Endian instance of about 2 MB whose dataset inflates
 * to `inflated` bytes (a valid header, then pixel data of zeros). Made by streaming zeros through
 * zlib, so the test never holds the inflated form.
 */
export async function deflateBomb(inflated = 2 ** 31): Promise<Buffer> {
  const el = (tag: number, vr: DataElement['vr'], v: string): DataElement => ({ tag, vr, value: ascii(v) });
  const header: DataElement[] = [
    el(Tags.SOPClassUID, 'UI', '1.2.840.10008.5.1.4.1.1.7'), el(Tags.SOPInstanceUID, 'UI', '2.25.666.1.1'), el(Tags.Modality, 'CS', 'OT'),
    el(Tags.StudyInstanceUID, 'UI', '2.25.666'), el(Tags.SeriesInstanceUID, 'UI', '2.25.666.1'),
  ];
  const meta: DataElement[] = [
    { tag: Tags.MediaStorageSOPClassUID, vr: 'UI', value: ascii('1.2.840.10008.5.1.4.1.1.7') },
    { tag: Tags.MediaStorageSOPInstanceUID, vr: 'UI', value: ascii('2.25.666.1.1') },
    { tag: Tags.TransferSyntaxUID, vr: 'UI', value: ascii(DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN) },
  ];
  // The meta group and the header, written by the project's own writer; the pixel data element is appended raw.
  const prefix = Buffer.alloc(132);
  prefix.write('DICM', 128, 'latin1');
  const metaBytes = encodeMeta({ elements: meta });
  const headerDs = Buffer.concat(encodeDataset({ elements: header }, transferSyntax('1.2.840.10008.1.2.1')) as Buffer[]);
  const pixelLength = inflated - headerDs.length - 12;
  const pixelHeader = Buffer.alloc(12);
  pixelHeader.writeUInt16LE(0x7fe0, 0); pixelHeader.writeUInt16LE(0x0010, 2); pixelHeader.write('OB', 4, 'latin1'); pixelHeader.writeUInt32LE(pixelLength, 8);
  const z = createDeflateRaw({ level: 9 });
  const out: Buffer[] = [];
  z.on('data', (d: Buffer) => out.push(d));
  const done = new Promise<void>((resolve, reject) => { z.on('end', resolve); z.on('error', reject); });
  const write = (b: Buffer): Promise<void> => new Promise((resolve) => { if (z.write(b)) resolve(); else z.once('drain', resolve); });
  await write(headerDs);
  await write(pixelHeader);
  const zeros = Buffer.alloc(64 << 20);
  for (let left = pixelLength; left > 0; left -= zeros.length) await write(left >= zeros.length ? zeros : zeros.subarray(0, left));
  z.end();
  await done;
  return Buffer.concat([prefix, metaBytes, ...out]);
}

/**
 * A large Secondary Capture instance written as a sparse file: a valid header, then `frames` frames
 * of 512 × 512 16-bit zeros that take no disk until read. Returns its size in bytes.
 */
export function largeInstanceFile(path: string, frames: number, uid: string): number {
  const us = (tag: number, v: number): DataElement => { const b = Buffer.alloc(2); b.writeUInt16LE(v); return { tag, vr: 'US', value: b }; };
  const el = (tag: number, vr: DataElement['vr'], v: string): DataElement => ({ tag, vr, value: ascii(v) });
  const sc = '1.2.840.10008.5.1.4.1.1.7';
  const header: DataElement[] = [
    el(Tags.SOPClassUID, 'UI', sc), el(Tags.SOPInstanceUID, 'UI', `${uid}.1.1`), el(Tags.Modality, 'CS', 'OT'),
    el(Tags.PatientID, 'LO', 'SYNTH-LARGE'),
    el(Tags.StudyInstanceUID, 'UI', uid), el(Tags.SeriesInstanceUID, 'UI', `${uid}.1`),
    us(0x00280002, 1), el(0x00280004, 'CS', 'MONOCHROME2'), el(0x00280008, 'IS', String(frames)),
    us(0x00280010, 512), us(0x00280011, 512), us(0x00280100, 16), us(0x00280101, 16), us(0x00280102, 15), us(0x00280103, 0),
  ];
  const meta: DataElement[] = [
    { tag: Tags.MediaStorageSOPClassUID, vr: 'UI', value: ascii(sc) },
    { tag: Tags.MediaStorageSOPInstanceUID, vr: 'UI', value: ascii(`${uid}.1.1`) },
    { tag: Tags.TransferSyntaxUID, vr: 'UI', value: ascii('1.2.840.10008.1.2.1') },
  ];
  const prefix = Buffer.alloc(132);
  prefix.write('DICM', 128, 'latin1');
  const pixelLength = frames * 512 * 512 * 2;
  const pixelHeader = Buffer.alloc(12);
  pixelHeader.writeUInt16LE(0x7fe0, 0); pixelHeader.writeUInt16LE(0x0010, 2); pixelHeader.write('OW', 4, 'latin1'); pixelHeader.writeUInt32LE(pixelLength, 8);
  const head = Buffer.concat([prefix, encodeMeta({ elements: meta }), ...(encodeDataset({ elements: header }, transferSyntax('1.2.840.10008.1.2.1')) as Buffer[]), pixelHeader]);
  writeFileSync(path, head);
  truncateSync(path, head.length + pixelLength);
  return head.length + pixelLength;
}
