import type { ByteSource } from '../dicom/byte-source.ts';
import { type DataElement, type DicomFile, asciiValue } from '../dicom/dataset.ts';
import { type PixelDescription, pixelDescription } from '../dicom/frames.ts';
import { frameGeometries } from '../dicom/geometry.ts';
import { Tags } from '../dicom/tag.ts';
import type { TransferSyntax } from '../dicom/transfer-syntax.ts';
import { type CoarseVolume, type DefaceOptions, type RealFrame, anteriorRendering, applyCut, coarsen, detectFace, otsuThreshold } from '../deid/deface.ts';
import { greyPng } from '../deid/png.ts';
import { type SliceGeometry, type VolumeGeometry, assembleVolume } from '../deid/volume.ts';
import { namesHeadOrNeck } from '../deid/hold-back.ts';
import { isCustosError } from '../errors.ts';
import { decodedFrames, encodeFrames } from './clean-pixels.ts';

/** One instance of a series, read (pixel data may be left in the source). */
export interface SeriesMember { source: ByteSource; file: DicomFile }

/** New pixel data for an instance whose voxels the defacing changed. */
export interface PixelOverride { pixelData: DataElement; transferSyntax: TransferSyntax; photometricInterpretation: string; samplesPerPixel: number }

/** What the receipt and the console show of a series' defacing (no PHI: geometry, volumes, counts). */
export interface DefaceReport {
  outcome: 'defaced' | 'no-face';
  modality: 'CT' | 'MR';
  slices: number;
  acquisition: 'axial' | 'sagittal' | 'coronal' | 'oblique';
  voxelMm: [number, number, number];
  why?: string;
  brainMl?: number;
  headMl?: number;
  removedMl?: number;
  voxelsChanged?: number;
  instancesChanged?: number;
  /** The cut: voxels with normal·p > offsetMm (patient coordinates, LPS) were filled with air. */
  plane?: { normal: [number, number, number]; offsetMm: number };
  ears: boolean;
  /** Volumes (frames of reference) in the series, when more than one; the figures are the first defaced one's. */
  volumes?: number;
  transferSyntax?: { from: string; to: string; note?: string };
}

export type SeriesDefaceResult =
  | { status: 'defaced'; pixels: Array<PixelOverride | undefined>; report: DefaceReport; renders: { before: Buffer; after: Buffer } }
  | { status: 'no-face'; report: DefaceReport }
  | { status: 'held'; code: 'VOLUME_GEOMETRY' | 'DEFACE_UNCERTAIN' | 'PIXEL_DECODE'; message: string };

type Samples = Int16Array | Uint16Array | Uint8Array;

function samplesOf(bytes: Uint8Array, d: PixelDescription): Samples {
  if (d.bitsAllocated === 8) return new Uint8Array(bytes);
  const copy = new Uint8Array(bytes); // aligned, and ours to change
  return d.pixelRepresentation === 1 ? new Int16Array(copy.buffer, 0, copy.length >> 1) : new Uint16Array(copy.buffer, 0, copy.length >> 1);
}

function acquisitionOf(normal: readonly number[]): DefaceReport['acquisition'] {
  const a = normal.map(Math.abs);
  const m = Math.max(...a);
  if (m < 0.95) return 'oblique';
  return a[2] === m ? 'axial' : a[0] === m ? 'sagittal' : 'coronal';
}

/**
 * Deface one series (PS3.15 E.3.3): assemble the volume, find the head and its face from the data,
 * fill the face side of the shear plane with air in every frame, and re-encode the changed instances
 * losslessly. When the header names the head or neck, finding no head is doubt, not an answer.
 */
export async function defaceSeries(members: readonly SeriesMember[], options: DefaceOptions): Promise<SeriesDefaceResult> {
  const first = members[0]!.file.dataset;
  const region = [Tags.StudyDescription, Tags.SeriesDescription, Tags.ProtocolName, Tags.BodyPartExamined].map((t) => asciiValue(first, t)).join(' ');
  const o = { ...options, describedAsHead: namesHeadOrNeck(region) };
  // One volume per Frame of Reference (a series may hold two, e.g. before and after the patient moved).
  const groups = new Map<string, number[]>();
  members.forEach((m, i) => {
    const f = asciiValue(m.file.dataset, FRAME_OF_REFERENCE_UID);
    groups.set(f, [...(groups.get(f) ?? []), i]);
  });
  if (groups.size === 1) return defaceVolume(members, o);
  const pixels: Array<PixelOverride | undefined> = members.map(() => undefined);
  let defaced: Extract<SeriesDefaceResult, { status: 'defaced' }> | undefined;
  let faceless: DefaceReport | undefined;
  for (const indexes of groups.values()) {
    const r = await defaceVolume(indexes.map((i) => members[i]!), o);
    // Never released half done: one volume held holds the series.
    if (r.status === 'held') return { ...r, message: `one of the series' ${groups.size} frames of reference: ${r.message}` };
    if (r.status === 'defaced') { indexes.forEach((i, k) => { pixels[i] = r.pixels[k]; }); defaced ??= r; } else faceless ??= r.report;
  }
  if (defaced) return { ...defaced, pixels, report: { ...defaced.report, volumes: groups.size } };
  return { status: 'no-face', report: { ...faceless!, volumes: groups.size } };
}

const FRAME_OF_REFERENCE_UID = 0x00200052;

async function defaceVolume(members: readonly SeriesMember[], o: DefaceOptions & { describedAsHead: boolean }): Promise<SeriesDefaceResult> {
  const modality = asciiValue(members[0]!.file.dataset, Tags.Modality).toUpperCase();
  if (modality !== 'CT' && modality !== 'MR') return { status: 'held', code: 'DEFACE_UNCERTAIN', message: `defacing covers CT and MR, not ${modality || '(no modality)'}` };
  const descs: PixelDescription[] = [];
  const slices: Array<SliceGeometry & { member: number; frame: number; slope: number; intercept: number }> = [];
  for (const [m, { file }] of members.entries()) {
    const d = pixelDescription(file.dataset, file.transferSyntax.littleEndian);
    if (!d) return { status: 'held', code: 'VOLUME_GEOMETRY', message: `instance ${m + 1} of the series has no pixel data` };
    if (d.samplesPerPixel !== 1 || (d.bitsAllocated !== 8 && d.bitsAllocated !== 16)) return { status: 'held', code: 'VOLUME_GEOMETRY', message: `instance ${m + 1}: ${d.samplesPerPixel} sample(s) of ${d.bitsAllocated} bits: a volume needs one grey sample of 8 or 16 bits` };
    descs.push(d);
    frameGeometries(file, d.numberOfFrames).forEach((g, f) => slices.push({ ...g, member: m, frame: f }));
  }
  const assembled = assembleVolume(slices);
  if (!assembled.ok) return { status: 'held', code: 'VOLUME_GEOMETRY', message: `the series' geometry cannot be established: ${assembled.reason}` };
  const g: VolumeGeometry = assembled.geometry;
  const base = { modality, slices: g.slices, acquisition: acquisitionOf(g.normal), voxelMm: [...g.spacing] as [number, number, number], ears: o.ears } as const;

  // Every frame decoded once, kept as samples in volume order.
  const decoded: Array<{ frames: Uint8Array[]; desc: PixelDescription }> = [];
  try {
    for (const [m, { file, source }] of members.entries()) decoded.push(await decodedFrames(file, source, descs[m]!));
  } catch (e) {
    return { status: 'held', code: 'PIXEL_DECODE', message: isCustosError(e) ? e.message : `pixel data could not be decoded: ${(e as Error).message}` };
  }
  const samples = decoded.map((x) => x.frames.map((f) => samplesOf(f, x.desc)));
  const slice = (k: number) => slices[g.order[k]!]!;
  const frameAt = (k: number): Samples => samples[slice(k).member]![slice(k).frame]!;
  const real = (k: number): RealFrame => ({ data: frameAt(k), slope: slice(k).slope, intercept: slice(k).intercept });

  const before = coarsen(g, real);
  const found = detectFace(before, modality, o);
  if (found.kind === 'not-head') {
    if (o.describedAsHead) return { status: 'held', code: 'DEFACE_UNCERTAIN', message: `described as a head, but no head was found in the data (${found.why}): not released without review` };
    return { status: 'no-face', report: { outcome: 'no-face', ...base, why: found.why } };
  }
  if (found.kind === 'uncertain') return { status: 'held', code: 'DEFACE_UNCERTAIN', message: `the face could not be located with confidence: ${found.why}` };

  // Air: -1000 HU for CT; for MR the lowest value of the volume. Clamped to what the frames can hold.
  let changed = 0;
  const touched = new Set<number>();
  for (let k = 0; k < g.slices; k++) {
    const s = slice(k);
    const d = descs[s.member]!;
    const lo = d.pixelRepresentation === 1 ? -(2 ** (d.bitsStored - 1)) : 0;
    const hi = d.pixelRepresentation === 1 ? 2 ** (d.bitsStored - 1) - 1 : 2 ** d.bitsStored - 1;
    const wanted = modality === 'CT' ? Math.round((-1000 - s.intercept) / s.slope) : minOf(frameAt(k));
    const air = Math.min(hi, Math.max(lo, modality === 'CT' ? wanted : Math.min(wanted, 0 > lo ? 0 : lo)));
    const n = applyCut(g, k, frameAt(k), found.cut, air);
    if (n) { changed += n; touched.add(s.member); }
  }
  const after = coarsen(g, real);
  const threshold = modality === 'CT' ? -400 : otsuThreshold(before.values) / 2;
  const renders = { before: render(before, threshold), after: render(after, threshold) };

  const pixels: Array<PixelOverride | undefined> = members.map(() => undefined);
  let transferSyntax: DefaceReport['transferSyntax'];
  for (const m of touched) {
    const { file } = members[m]!;
    const ts = { transferSyntax: { from: file.transferSyntax.uid, to: file.transferSyntax.uid } as NonNullable<DefaceReport['transferSyntax']> };
    const frames = samples[m]!.map((x) => new Uint8Array(x.buffer, x.byteOffset, x.byteLength));
    try {
      const enc = encodeFrames(frames, decoded[m]!.desc, file.transferSyntax, ts);
      pixels[m] = { ...enc, samplesPerPixel: 1 };
    } catch (e) {
      return { status: 'held', code: 'PIXEL_DECODE', message: `defaced pixels could not be encoded: ${(e as Error).message}` };
    }
    transferSyntax ??= ts.transferSyntax;
  }
  const n = found.cut.normal;
  return {
    status: 'defaced',
    pixels,
    renders,
    report: {
      outcome: 'defaced', ...base, brainMl: Math.round(found.brainMl), headMl: Math.round(found.headMl), removedMl: Math.round(found.removedMl),
      voxelsChanged: changed, instancesChanged: touched.size,
      plane: { normal: [round3(n[0]), round3(n[1]), round3(n[2])], offsetMm: Math.round(found.cut.offset * 10) / 10 },
      ...(transferSyntax ? { transferSyntax } : {}),
    },
  };
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

function minOf(a: Samples): number {
  let m = Infinity;
  for (let i = 0; i < a.length; i++) if (a[i]! < m) m = a[i]!;
  return m;
}

function render(v: CoarseVolume, threshold: number): Buffer {
  const img = anteriorRendering(v, threshold);
  return greyPng(img.width, img.height, img.pixels);
}
