/**
 * Synthetic head (and torso) phantoms for the defacing tests and benchmark: skull, brain, CSF, eyes,
 * nose, lips, chin and ears in patient coordinates (LPS, mm), sampled as CT (Hounsfield units) or MR
 * (T1-like intensities) in axial, sagittal or coronal slices, single-frame or enhanced multi-frame.
 * Headers come from the Debian pydicom samples CT_small.dcm and MR_small.dcm, with new UIDs and
 * geometry; nothing in them is a real patient's.
 * Usage: node bench/head-phantom.ts <CT|MR> <axial|sagittal|coronal> <size> <pixelMm> <slices> <sliceMm> <outDir>
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BufferSource } from '../src/dicom/byte-source.ts';
import { type DataElement, type Dataset, putElement } from '../src/dicom/dataset.ts';
import { writeChunksAtomic } from '../src/dicom/file-io.ts';
import { readDicom } from '../src/dicom/read.ts';
import { Tags, tag } from '../src/dicom/tag.ts';
import { encodePart10 } from '../src/dicom/write.ts';
import type { Vec3 } from '../src/deid/volume.ts';

const SAMPLES = '/usr/lib/python3/dist-packages/pydicom/data/test_files';

export const L = { air: 0, soft: 1, fat: 2, bone: 3, csf: 4, brain: 5, eye: 6, nose: 7, lips: 8, chin: 9, ear: 10, organ: 11 } as const;
const CT_HU = [-1000, 40, -100, 1200, 8, 35, 12, 30, 45, 40, 40, 55];
const MR_VALUE = [0, 350, 700, 40, 80, 500, 90, 350, 380, 350, 350, 420];

const inEllipsoid = (p: Vec3, c: Vec3, s: Vec3): boolean => ((p[0] - c[0]) / s[0]) ** 2 + ((p[1] - c[1]) / s[1]) ** 2 + ((p[2] - c[2]) / s[2]) ** 2 <= 1;
const BRAIN_C: Vec3 = [0, 5, 35];
const grow = (s: Vec3, mm: number): Vec3 => [s[0] + mm, s[1] + mm, s[2] + mm];
const BRAIN_S: Vec3 = [62, 80, 62];

/** The head phantom's tissue at a patient position (anterior is -y, superior +z). */
export function headLabel(p: Vec3): number {
  if (inEllipsoid(p, BRAIN_C, BRAIN_S)) return L.brain;
  if (inEllipsoid(p, BRAIN_C, grow(BRAIN_S, 2))) return L.csf;
  if (inEllipsoid(p, BRAIN_C, grow(BRAIN_S, 9))) return L.bone;
  for (const x of [-32, 32]) if (inEllipsoid(p, [x, -72, 2], [12, 12, 12])) return L.eye;
  if (inEllipsoid(p, [0, -92, -20], [14, 18, 24])) return L.nose;
  if (inEllipsoid(p, [0, -84, -55], [22, 8, 8])) return L.lips;
  if (inEllipsoid(p, [0, -72, -85], [20, 14, 14])) return L.chin;
  for (const x of [-80, 80]) if (inEllipsoid(p, [x, 5, 0], [10, 12, 25])) return L.ear;
  if (inEllipsoid(p, BRAIN_C, grow(BRAIN_S, 12))) return L.fat;
  if (inEllipsoid(p, BRAIN_C, grow(BRAIN_S, 15))) return L.soft;
  if (inEllipsoid(p, [0, -15, -35], [58, 72, 55])) return L.soft; // face and jaw
  if (p[2] >= -130 && p[2] <= -40 && (p[0] / 48) ** 2 + ((p[1] - 15) / 48) ** 2 <= 1) return ((p[0] / 10) ** 2 + ((p[1] - 35) / 10) ** 2 <= 1) ? L.bone : L.soft; // neck, vertebra
  return L.air;
}

/** A torso: skin and fat round muscle, a liver-sized organ wrapped in fat, a spine. Not a head. */
export function torsoLabel(p: Vec3): number {
  const e = (p[0] / 160) ** 2 + (p[1] / 110) ** 2;
  if (e > 1) return L.air;
  if (e > 0.92) return L.fat;
  if ((p[0] / 10) ** 2 + ((p[1] - 70) / 12) ** 2 <= 1) return L.bone;
  if (inEllipsoid(p, [-60, -10, 0], [70, 60, 80])) return L.organ;
  if (inEllipsoid(p, [-60, -10, 0], [76, 66, 86])) return L.fat;
  return L.soft;
}

export interface PhantomSpec {
  body?: 'head' | 'torso';
  modality: 'CT' | 'MR';
  acquisition: 'axial' | 'sagittal' | 'coronal' | 'oblique';
  size: number;
  pixelMm: number;
  slices: number;
  sliceMm: number;
  /** One Enhanced CT/MR instance with a frame per slice (PS3.3 C.7.6.16 functional groups). */
  enhanced?: boolean;
  /** Leave this slice out (a gap: broken geometry). */
  drop?: number;
  root?: string;
  /** Series Instance UID (default: from root). */
  series?: string;
  bodyPart?: string;
}

/** Axes per acquisition: along a row, down a column, and the slice normal (row × column). */
export const AXES: Record<PhantomSpec['acquisition'], { row: Vec3; col: Vec3; normal: Vec3 }> = {
  axial: { row: [1, 0, 0], col: [0, 1, 0], normal: [0, 0, 1] },
  sagittal: { row: [0, 1, 0], col: [0, 0, -1], normal: [-1, 0, 0] },
  coronal: { row: [1, 0, 0], col: [0, 0, -1], normal: [0, 1, 0] },
  // Axial tilted by 20° about the left-right axis (an oblique acquisition along the skull base).
  oblique: { row: [1, 0, 0], col: [0, Math.cos(Math.PI / 9), Math.sin(Math.PI / 9)], normal: [0, -Math.sin(Math.PI / 9), Math.cos(Math.PI / 9)] },
};
const CENTRE: Vec3 = [0, -10, -5];

/** Patient position of pixel (c, r) of slice k. */
export function phantomPoint(s: PhantomSpec, c: number, r: number, k: number): Vec3 {
  const a = AXES[s.acquisition];
  const h = ((s.size - 1) * s.pixelMm) / 2;
  const d = (k - (s.slices - 1) / 2) * s.sliceMm;
  return [0, 1, 2].map((i) => CENTRE[i]! + (c * s.pixelMm - h) * a.row[i]! + (r * s.pixelMm - h) * a.col[i]! + d * a.normal[i]!) as unknown as Vec3;
}

/** Stored value (signed 16-bit) of a label with a little deterministic noise. */
function stored(modality: 'CT' | 'MR', label: number, i: number): number {
  const noise = (((i * 2654435761) >>> 0) % 21) - 10; // -10..10
  return modality === 'CT' ? CT_HU[label]! + 1024 + noise : Math.max(0, MR_VALUE[label]! + noise * 2);
}

/** One slice's stored values. */
export function phantomSlice(s: PhantomSpec, k: number): Int16Array {
  const label = s.body === 'torso' ? torsoLabel : headLabel;
  const out = new Int16Array(s.size * s.size);
  for (let r = 0; r < s.size; r++) for (let c = 0; c < s.size; c++) out[r * s.size + c] = stored(s.modality, label(phantomPoint(s, c, r, k)), (k * s.size + r) * s.size + c);
  return out;
}

const ds = (t: number, v: number, vr: 'DS' | 'IS' = 'DS'): DataElement => str(t, vr, String(v));
function str(t: number, vr: 'UI' | 'IS' | 'DS' | 'CS' | 'LO', v: string): DataElement {
  return { tag: t, vr, value: Buffer.from(v.length % 2 ? v + (vr === 'UI' ? '\0' : ' ') : v, 'latin1') };
}
const us = (t: number, v: number): DataElement => { const b = Buffer.alloc(2); b.writeUInt16LE(v); return { tag: t, vr: 'US', value: b }; };
const seq = (t: number, items: DataElement[][]): DataElement => ({ tag: t, vr: 'SQ', items: items.map((els) => ({ elements: els.sort((a, b) => a.tag - b.tag) })) });
const fmt = (v: number): string => (Math.abs(v) < 1e-9 ? '0' : String(Math.round(v * 1000) / 1000));

/** Write the phantom as a series under outDir; returns the file paths. */
export function writePhantom(outDir: string, s: PhantomSpec): string[] {
  mkdirSync(outDir, { recursive: true });
  const root = s.root ?? '2.25.1122334455667788990011';
  const src = new BufferSource(readFileSync(join(SAMPLES, s.modality === 'CT' ? 'CT_small.dcm' : 'MR_small.dcm')));
  const base = readDicom(src);
  const a = AXES[s.acquisition];
  const iop = [...a.row, ...a.col].map(fmt).join('\\');
  const drop = (t: number): boolean => [Tags.PixelData, tag(0x0020, 0x1041), tag(0x0028, 0x1050), tag(0x0028, 0x1051)].includes(t);
  const common = (e: Dataset): void => {
    for (const el of [
      us(tag(0x0028, 0x0010), s.size), us(tag(0x0028, 0x0011), s.size),
      str(Tags.StudyInstanceUID, 'UI', `${root}.1`), str(Tags.SeriesInstanceUID, 'UI', s.series ?? `${root}.2`), str(tag(0x0020, 0x0052), 'UI', `${root}.4`),
      str(tag(0x0018, 0x0015), 'CS', s.bodyPart ?? (s.body === 'torso' ? 'CHEST' : 'HEAD')),
      str(Tags.SeriesDescription, 'LO', `${s.body === 'torso' ? 'TORSO' : 'HEAD'} PHANTOM ${s.acquisition.toUpperCase()}`),
      ds(tag(0x0018, 0x0050), s.sliceMm),
    ]) putElement(e, el);
  };
  const ks = Array.from({ length: s.slices }, (_, k) => k).filter((k) => k !== s.drop);
  const paths: string[] = [];
  const write = (dataset: Dataset, sop: string, sopClass: string, name: string): void => {
    const meta = { elements: base.meta.elements.map((e) => (e.tag === Tags.MediaStorageSOPInstanceUID ? str(e.tag, 'UI', sop) : e.tag === Tags.MediaStorageSOPClassUID ? str(e.tag, 'UI', sopClass) : e)) };
    const path = join(outDir, name);
    writeChunksAtomic(path, encodePart10(meta, dataset, base.transferSyntax, src), src);
    paths.push(path);
  };
  if (!s.enhanced) {
    for (const k of ks) {
      const d: Dataset = { elements: base.dataset.elements.filter((e) => !drop(e.tag)) };
      common(d);
      const sop = `${root}.3.${k + 1}`;
      const p = phantomPoint(s, 0, 0, k);
      for (const el of [
        str(Tags.SOPInstanceUID, 'UI', sop), ds(tag(0x0020, 0x0013), k + 1, 'IS'),
        str(tag(0x0020, 0x0032), 'DS', p.map(fmt).join('\\')), str(tag(0x0020, 0x0037), 'DS', iop),
        str(tag(0x0028, 0x0030), 'DS', `${s.pixelMm}\\${s.pixelMm}`),
        { tag: Tags.PixelData, vr: 'OW' as const, value: Buffer.from(phantomSlice(s, k).buffer) },
      ]) putElement(d, el);
      write(d, sop, s.modality === 'CT' ? '1.2.840.10008.5.1.4.1.1.2' : '1.2.840.10008.5.1.4.1.1.4', `${s.modality.toLowerCase()}-${String(k + 1).padStart(4, '0')}.dcm`);
    }
    return paths;
  }
  // Enhanced CT/MR: the plane geometry and rescale in functional groups.
  const sopClass = s.modality === 'CT' ? '1.2.840.10008.5.1.4.1.1.2.1' : '1.2.840.10008.5.1.4.1.1.4.1';
  const moved = [tag(0x0020, 0x0032), tag(0x0020, 0x0037), tag(0x0028, 0x0030), tag(0x0028, 0x1052), tag(0x0028, 0x1053), tag(0x0018, 0x0050)];
  const d: Dataset = { elements: base.dataset.elements.filter((e) => !drop(e.tag) && !moved.includes(e.tag)) };
  common(d);
  d.elements = d.elements.filter((e) => e.tag !== tag(0x0018, 0x0050));
  const sop = `${root}.3.1`;
  const shared = [
    seq(tag(0x0028, 0x9110), [[str(tag(0x0028, 0x0030), 'DS', `${s.pixelMm}\\${s.pixelMm}`), ds(tag(0x0018, 0x0050), s.sliceMm)]]),
    seq(tag(0x0020, 0x9116), [[str(tag(0x0020, 0x0037), 'DS', iop)]]),
    ...(s.modality === 'CT' ? [seq(tag(0x0028, 0x9145), [[ds(tag(0x0028, 0x1052), -1024), ds(tag(0x0028, 0x1053), 1), str(tag(0x0028, 0x1054), 'LO', 'HU')]])] : []),
  ];
  const perFrame = ks.map((k, i) => [
    seq(tag(0x0020, 0x9111), [[{ tag: tag(0x0020, 0x9157), vr: 'UL' as const, value: Buffer.from(new Uint32Array([i + 1]).buffer) }]]),
    seq(tag(0x0020, 0x9113), [[str(tag(0x0020, 0x0032), 'DS', phantomPoint(s, 0, 0, k).map(fmt).join('\\'))]]),
  ]);
  const pixels = Buffer.concat(ks.map((k) => Buffer.from(phantomSlice(s, k).buffer)));
  for (const el of [
    str(Tags.SOPInstanceUID, 'UI', sop), str(Tags.SOPClassUID, 'UI', sopClass), ds(tag(0x0020, 0x0013), 1, 'IS'),
    ds(tag(0x0028, 0x0008), ks.length, 'IS'),
    seq(tag(0x5200, 0x9229), [shared]),
    seq(tag(0x5200, 0x9230), perFrame),
    { tag: Tags.PixelData, vr: 'OW' as const, value: pixels },
  ]) putElement(d, el);
  write(d, sop, sopClass, `${s.modality.toLowerCase()}-enhanced.dcm`);
  return paths;
}

if (import.meta.main) {
  const [modality, acquisition, size, pixelMm, slices, sliceMm, out] = process.argv.slice(2);
  const paths = writePhantom(out!, { modality: modality as 'CT', acquisition: acquisition as 'axial', size: Number(size), pixelMm: Number(pixelMm), slices: Number(slices), sliceMm: Number(sliceMm) });
  console.log(`wrote ${paths.length} file(s) to ${out}`);
}
