import { execFileSync } from 'node:child_process';
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BufferSource } from '../src/dicom/byte-source.ts';
import { type DataElement, type Dataset, findElement, putElement } from '../src/dicom/dataset.ts';
import { writeChunksAtomic } from '../src/dicom/file-io.ts';
import { readDicom } from '../src/dicom/read.ts';
import { tag, Tags } from '../src/dicom/tag.ts';
import { encodePart10 } from '../src/dicom/write.ts';
import { PYDICOM, plant } from './helpers.ts';

/** Synthetic PHI planted by the tests (invented people and places, never real data). */
export const PHI = {
  '(0010,0010)': 'DOE^JOHN^QUINCY',
  '(0010,0020)': 'PID4711X',
  '(0010,1000)': 'OPID99887',
  '(0010,0030)': '19671231',
  '(0010,1040)': '742 Evergreen Terrace, Springfield',
  '(0010,2154)': '555-867-5309',
  '(0010,1001)': 'ROE^JANE',
  '(0008,0050)': 'ACC24681357',
  '(0008,0090)': 'SMITHERS^WAYLON',
  '(0008,0080)': 'Shelbyville Memorial',
  '(0008,0081)': '1 Hospital Way, Shelbyville',
  '(0008,1010)': 'STNSHELBY01',
  '(0018,1000)': 'SERIAL55501',
  '(0008,1030)': 'CT head for John Doe PID4711X',
  '(0008,103E)': 'Series of DOE born 1967-12-31',
  '(0020,4000)': 'call 555-867-5309 about Waylon Smithers',
  '(0008,1070)': 'BURNS^MONTGOMERY',
  '(0008,0020)': '20240315',
  '(0008,0021)': '20240315',
  '(0008,0030)': '101112',
  '(0020,0010)': 'STUDY8642',
  '(0010,4000)': 'Patient Quincy prefers mornings',
  '(0040,0275)[0].(0040,1001)': 'RPID4711',
  '(0040,0275)[0].(0032,1060)': 'Requested by Dr. Hibbert',
  '(0008,9215)[0].(0008,0100)': '113076',
  '(0008,9215)[0].(0008,0102)': 'DCM',
  '(0008,9215)[0].(0008,0104)': 'Derived for DOE JOHN',
  '(0008,1032)[0].(0008,0100)': 'P-4711',
  '(0008,1032)[0].(0008,0102)': 'L',
  '(0008,1032)[0].(0008,0104)': 'Procedure on Quincy',
  '(6000,0022)': 'overlay by Waylon',
  '(6000,4000)': 'Shelbyville overlay comment',
};

/** Strings that must not survive anywhere in a de-identified output. */
export const PLANTED_TOKENS = [
  'DOE', 'JOHN', 'QUINCY', 'PID4711X', 'OPID99887', '19671231', '1967-12-31', 'Evergreen', '867-5309', 'ROE^JANE', 'JANE',
  'ACC24681357', 'SMITHERS', 'WAYLON', 'Shelbyville', 'STNSHELBY01', 'SERIAL55501', 'BURNS', 'MONTGOMERY', '20240315',
  'STUDY8642', 'RPID4711', 'Hibbert', 'PRIVATE-SECRET-1', 'PRIVATE-SECRET-2', 'PRIVATE-SECRET-3',
];

const ascii = (s: string): Buffer => Buffer.from(s, 'latin1');

/** Private block with a nested private sequence, two levels deep (as vendors write them, PS3.5 7.8). */
function privateElements(): DataElement[] {
  const inner: Dataset = {
    elements: [
      { tag: tag(0x0010, 0x0010), vr: 'PN', value: ascii('DOE^JOHN') },
      { tag: tag(0x0011, 0x0010), vr: 'LO', value: ascii('CUSTOS TEST INNER ') },
      { tag: tag(0x0011, 0x1001), vr: 'LO', value: ascii('PRIVATE-SECRET-3') },
    ],
  };
  return [
    { tag: tag(0x0009, 0x0010), vr: 'LO', value: ascii('CUSTOS TEST PRIVATE ') },
    { tag: tag(0x0009, 0x1001), vr: 'LO', value: ascii('PRIVATE-SECRET-1') },
    { tag: tag(0x0009, 0x1002), vr: 'SQ', items: [{ elements: [{ tag: tag(0x0009, 0x0010), vr: 'LO', value: ascii('CUSTOS TEST PRIVATE ') }, { tag: tag(0x0009, 0x1003), vr: 'LO', value: ascii('PRIVATE-SECRET-2') }, { tag: tag(0x0009, 0x1004), vr: 'SQ', items: [inner] }] }] },
  ];
}

/** Add elements to a file with Custos's own writer (dcmodify cannot create private sequences). */
export function addElements(path: string, els: DataElement[]): void {
  const src = new BufferSource(readFileSync(path));
  const f = readDicom(src);
  for (const el of els) putElement(f.dataset, el);
  writeChunksAtomic(path, encodePart10(f.meta, f.dataset, f.transferSyntax, src), src);
}

export function uidOf(path: string, t = Tags.SOPInstanceUID): string {
  const f = readDicom(new BufferSource(readFileSync(path)));
  return findElement(f.dataset, t)!.value!.toString('latin1').replace(/[\0 ]+$/, '');
}

export interface Sample { name: string; source: string; prepare?: (dest: string) => void }

/** Real Debian sample files covering every transfer syntax family, plus derived ones made with dcmtk. */
export const SAMPLES: Sample[] = [
  { name: 'ct-explicit-le.dcm', source: join(PYDICOM, 'CT_small.dcm') },
  { name: 'mr-implicit-le.dcm', source: join(PYDICOM, 'MR_small_implicit.dcm') },
  { name: 'mr-explicit-be.dcm', source: join(PYDICOM, 'MR_small_bigendian.dcm') },
  { name: 'mr-rle.dcm', source: join(PYDICOM, 'MR_small_RLE.dcm') },
  { name: 'mr-jpeg-ls.dcm', source: join(PYDICOM, 'MR_small_jpeg_ls_lossless.dcm') },
  { name: 'mr-j2k.dcm', source: join(PYDICOM, 'MR_small_jp2klossless.dcm') },
  {
    name: 'mr-jpeg-extended.dcm',
    source: '/usr/share/doc/dicom3tools/examples/0051.dcm',
    prepare: (dest) => execFileSync('dcmcjpeg', ['+ee', dest, dest], { stdio: 'pipe' }),
  },
  { name: 'mr-jpeg-lossless.dcm', source: '/usr/share/doc/libgdcm3.0/examples/00191113.dcm' },
  { name: 'mr-siemens-mosaic.dcm', source: '/usr/share/doc/dicom3tools/examples/0051.dcm' },
  { name: 'sr.dcm', source: join(PYDICOM, 'test-SR.dcm') },
  { name: 'rtplan.dcm', source: join(PYDICOM, 'rtplan.dcm') },
  { name: 'ecg.dcm', source: join(PYDICOM, 'waveform_ecg.dcm') },
  {
    name: 'ct-deflated.dcm',
    source: join(PYDICOM, 'CT_small.dcm'),
    prepare: (dest) => execFileSync('dcmconv', ['+td', dest, dest], { stdio: 'pipe' }),
  },
];

/** Copy a sample, plant the synthetic PHI, a reference to `referenced` and the private block. */
export function makePlanted(sample: Sample, dir: string, referenced?: string): string {
  const dest = join(dir, sample.name);
  copyFileSync(sample.source, dest);
  sample.prepare?.(dest);
  const assignments: Record<string, string> = { ...PHI };
  if (referenced) {
    assignments['(0008,1140)[0].(0008,1150)'] = '1.2.840.10008.5.1.4.1.1.2';
    assignments['(0008,1140)[0].(0008,1155)'] = referenced;
  }
  plant(dest, dir, sample.name, assignments);
  addElements(dest, privateElements());
  return dest;
}
