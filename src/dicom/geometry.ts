import { type Dataset, type DicomFile, asciiValue, findElement } from './dataset.ts';
import { tag } from './tag.ts';
import type { SliceGeometry, Vec3 } from '../deid/volume.ts';

/** Where an image's planes sit in patient space (PS3.3 C.7.6.2) and how its values map to real ones (C.11.1). */
const T = {
  FrameOfReferenceUID: tag(0x0020, 0x0052),
  ImagePositionPatient: tag(0x0020, 0x0032),
  ImageOrientationPatient: tag(0x0020, 0x0037),
  PixelSpacing: tag(0x0028, 0x0030),
  Rows: tag(0x0028, 0x0010),
  Columns: tag(0x0028, 0x0011),
  RescaleIntercept: tag(0x0028, 0x1052),
  RescaleSlope: tag(0x0028, 0x1053),
  // Enhanced multi-frame functional groups (PS3.3 C.7.6.16)
  SharedFunctionalGroupsSequence: tag(0x5200, 0x9229),
  PerFrameFunctionalGroupsSequence: tag(0x5200, 0x9230),
  PixelMeasuresSequence: tag(0x0028, 0x9110),
  PlanePositionSequence: tag(0x0020, 0x9113),
  PlaneOrientationSequence: tag(0x0020, 0x9116),
  PixelValueTransformationSequence: tag(0x0028, 0x9145),
} as const;

const numbers = (ds: Dataset | undefined, t: number): number[] | undefined => {
  if (!ds) return undefined;
  const s = asciiValue(ds, t);
  if (!s) return undefined;
  return s.split('\\').map((x) => Number(x.trim()));
};

const us = (ds: Dataset, t: number, little: boolean): number => {
  const v = findElement(ds, t)?.value;
  return v && v.length >= 2 ? (little ? v.readUInt16LE(0) : v.readUInt16BE(0)) : 0;
};

/** The first item of a sequence in a functional group item. */
const macro = (group: Dataset | undefined, t: number): Dataset | undefined => (group ? findElement(group, t)?.items?.[0] : undefined);

export interface FrameGeometry extends SliceGeometry { slope: number; intercept: number }

/**
 * The geometry and rescale of each frame: from the image's own attributes, or for an enhanced
 * multi-frame image from its per-frame functional groups, else the shared ones.
 */
export function frameGeometries(file: DicomFile, frames: number): FrameGeometry[] {
  const ds = file.dataset;
  const little = file.transferSyntax.littleEndian;
  const rows = us(ds, T.Rows, little);
  const columns = us(ds, T.Columns, little);
  const frameOfReferenceUID = asciiValue(ds, T.FrameOfReferenceUID);
  const shared = findElement(ds, T.SharedFunctionalGroupsSequence)?.items?.[0];
  const perFrame = findElement(ds, T.PerFrameFunctionalGroupsSequence)?.items;
  const pick = (f: number, seq: number, attr: number): number[] | undefined =>
    numbers(macro(perFrame?.[f], seq), attr) ?? numbers(macro(shared, seq), attr);
  const out: FrameGeometry[] = [];
  for (let f = 0; f < frames; f++) {
    const enhanced = shared !== undefined || perFrame !== undefined;
    const position = enhanced ? pick(f, T.PlanePositionSequence, T.ImagePositionPatient) : numbers(ds, T.ImagePositionPatient);
    const orientation = enhanced ? pick(f, T.PlaneOrientationSequence, T.ImageOrientationPatient) : numbers(ds, T.ImageOrientationPatient);
    const pixelSpacing = enhanced ? pick(f, T.PixelMeasuresSequence, T.PixelSpacing) : numbers(ds, T.PixelSpacing);
    const slope = (enhanced ? pick(f, T.PixelValueTransformationSequence, T.RescaleSlope) : numbers(ds, T.RescaleSlope))?.[0];
    const intercept = (enhanced ? pick(f, T.PixelValueTransformationSequence, T.RescaleIntercept) : numbers(ds, T.RescaleIntercept))?.[0];
    out.push({
      frameOfReferenceUID, rows, columns,
      position: position && position.length === 3 ? (position as unknown as Vec3) : undefined,
      orientation, pixelSpacing,
      slope: slope !== undefined && Number.isFinite(slope) && slope !== 0 ? slope : 1,
      intercept: intercept !== undefined && Number.isFinite(intercept) ? intercept : 0,
    });
  }
  return out;
}
