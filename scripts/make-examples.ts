/**
 * Writes examples/: a small synthetic CT series (three 64x64 slices) carrying invented PHI, so the
 * README's first command has input on any machine. Everything here is made up; no real data.
 * Usage: node scripts/make-examples.ts
 */
import { mkdirSync } from 'node:fs';
import { BufferSource } from '../src/dicom/byte-source.ts';
import type { DataElement, Dataset } from '../src/dicom/dataset.ts';
import { writeChunksAtomic } from '../src/dicom/file-io.ts';
import { tag, Tags } from '../src/dicom/tag.ts';
import { transferSyntax, EXPLICIT_VR_LITTLE_ENDIAN } from '../src/dicom/transfer-syntax.ts';
import type { VR } from '../src/dicom/vr.ts';
import { encodePart10 } from '../src/dicom/write.ts';

const s = (g: number, e: number, vr: VR, v: string): DataElement => ({ tag: tag(g, e), vr, value: Buffer.from(v, 'latin1') });
const us = (g: number, e: number, v: number): DataElement => { const b = Buffer.alloc(2); b.writeUInt16LE(v); return { tag: tag(g, e), vr: 'US', value: b }; };

const ROOT = '2.25.1234567890123456789';
const CT = '1.2.840.10008.5.1.4.1.1.2';
const N = 64;
mkdirSync(new URL('../examples/', import.meta.url), { recursive: true });
for (let i = 1; i <= 3; i++) {
  const sop = `${ROOT}.3.${i}`;
  const pixels = Buffer.alloc(N * N * 2);
  for (let y = 0; y < N; y++) for (let x = 0; x < N; x++) {
    const r = Math.hypot(x - N / 2, y - N / 2);
    pixels.writeUInt16LE(r < 24 ? 1000 + 40 * i + ((x * y) % 50) : 0, (y * N + x) * 2);
  }
  const ds: Dataset = {
    elements: [
      s(0x0008, 0x0005, 'CS', 'ISO_IR 100'), s(0x0008, 0x0008, 'CS', 'ORIGINAL\\PRIMARY\\AXIAL'),
      s(0x0008, 0x0016, 'UI', CT), s(0x0008, 0x0018, 'UI', sop), s(0x0008, 0x0020, 'DA', '20250102'),
      s(0x0008, 0x0021, 'DA', '20250102'), s(0x0008, 0x0023, 'DA', '20250102'), s(0x0008, 0x0030, 'TM', '093000'),
      s(0x0008, 0x0033, 'TM', '093015'), s(0x0008, 0x0050, 'SH', 'SYNACC0001'), s(0x0008, 0x0060, 'CS', 'CT'),
      s(0x0008, 0x0070, 'LO', 'CUSTOS SYNTHETIC'), s(0x0008, 0x0080, 'LO', 'Example General Hospital'),
      s(0x0008, 0x0090, 'PN', 'ROE^RICHARD'), s(0x0008, 0x1010, 'SH', 'SYNCT01'), s(0x0008, 0x1030, 'LO', 'CT chest for Jane Doe'),
      s(0x0008, 0x103e, 'LO', 'Axial 5mm'), s(0x0010, 0x0010, 'PN', 'DOE^JANE'), s(0x0010, 0x0020, 'LO', 'SYN-0001'),
      s(0x0010, 0x0030, 'DA', '19700101'), s(0x0010, 0x0040, 'CS', 'F'), s(0x0018, 0x0015, 'CS', 'CHEST'),
      s(0x0018, 0x0050, 'DS', '5'), s(0x0018, 0x0060, 'DS', '120'), s(0x0018, 0x5100, 'CS', 'HFS'), s(0x0020, 0x000d, 'UI', `${ROOT}.1`),
      s(0x0020, 0x000e, 'UI', `${ROOT}.2`), s(0x0020, 0x0010, 'SH', 'SYN1'), s(0x0020, 0x0011, 'IS', '1'),
      s(0x0020, 0x0012, 'IS', '1'), s(0x0020, 0x0013, 'IS', String(i)), s(0x0020, 0x0032, 'DS', `-160\\-160\\${-5 * i}`),
      s(0x0020, 0x0037, 'DS', '1\\0\\0\\0\\1\\0'), s(0x0020, 0x0052, 'UI', `${ROOT}.4`), s(0x0020, 0x1040, 'LO', ''),
    ],
  };
  ds.elements.push(
    us(0x0028, 0x0002, 1), s(0x0028, 0x0004, 'CS', 'MONOCHROME2'), us(0x0028, 0x0010, N), us(0x0028, 0x0011, N),
    s(0x0028, 0x0030, 'DS', '5\\5'), us(0x0028, 0x0100, 16), us(0x0028, 0x0101, 12), us(0x0028, 0x0102, 11), us(0x0028, 0x0103, 0),
    s(0x0028, 0x1050, 'DS', '40'), s(0x0028, 0x1051, 'DS', '400'), s(0x0028, 0x1052, 'DS', '-1024'), s(0x0028, 0x1053, 'DS', '1'),
    { tag: Tags.PixelData, vr: 'OW', value: pixels },
  );
  const meta: Dataset = {
    elements: [
      { tag: Tags.FileMetaInformationVersion, vr: 'OB', value: Buffer.from([0, 1]) }, s(0x0002, 0x0002, 'UI', CT), s(0x0002, 0x0003, 'UI', sop),
      s(0x0002, 0x0010, 'UI', EXPLICIT_VR_LITTLE_ENDIAN), s(0x0002, 0x0012, 'UI', '2.25.98151796231520834727839040263839741466'),
    ],
  };
  const src = new BufferSource(Buffer.alloc(0));
  writeChunksAtomic(new URL(`../examples/synthetic-ct-${i}.dcm`, import.meta.url).pathname, encodePart10(meta, ds, transferSyntax(EXPLICIT_VR_LITTLE_ENDIAN), src), src);
}
console.log('wrote examples/synthetic-ct-{1,2,3}.dcm');
