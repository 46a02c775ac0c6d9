/**
 * Series assembly into a volume (pure): slices ordered along the normal of Image Orientation
 * (Patient), with one grid, one spacing and no gaps (PS3.3 C.7.6.2.1.1). Patient coordinates are LPS.
 */
export type Vec3 = readonly [number, number, number];

/** The geometry of one slice (a single-frame instance or one frame of an enhanced one). */
export interface SliceGeometry {
  frameOfReferenceUID: string;
  /** Image Position (Patient) of the first pixel's centre, mm. */
  position: Vec3 | undefined;
  /** Image Orientation (Patient): row direction (along a row), column direction (down a column). */
  orientation: readonly number[] | undefined;
  /** Pixel Spacing: [between rows, between columns] in mm. */
  pixelSpacing: readonly number[] | undefined;
  rows: number;
  columns: number;
}

export interface VolumeGeometry {
  rows: number;
  columns: number;
  slices: number;
  /** Position of voxel (0, 0, 0): the first slice's first pixel centre. */
  origin: Vec3;
  /** Unit vectors: along a row (column index grows), down a column (row index grows), slice to slice. */
  rowDir: Vec3;
  colDir: Vec3;
  normal: Vec3;
  /** mm between columns, rows, slices. */
  spacing: Vec3;
  /** For each slice of the volume, in order, the index of its input slice. */
  order: number[];
}

export type VolumeResult = { ok: true; geometry: VolumeGeometry } | { ok: false; reason: string };

/** A volume needs this many slices before a face could be rendered from it, or found in it. */
export const MIN_SLICES = 16;

export const dot = (a: Vec3, b: Vec3): number => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
export const cross = (a: Vec3, b: Vec3): Vec3 => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
const norm = (a: Vec3): number => Math.hypot(a[0], a[1], a[2]);
const sub = (a: Vec3, b: Vec3): Vec3 => [a[0] - b[0], a[1] - b[1], a[2] - b[2]];

/** Order slices into a regular volume, or say why they are not one (the series is then held back). */
export function assembleVolume(slices: readonly SliceGeometry[]): VolumeResult {
  if (slices.length < MIN_SLICES) return { ok: false, reason: `${slices.length} slice(s): at least ${MIN_SLICES} are needed to assemble a volume` };
  const first = slices[0]!;
  const frames = new Set(slices.map((s) => s.frameOfReferenceUID));
  if (frames.size > 1 || !first.frameOfReferenceUID) return { ok: false, reason: frames.size > 1 ? `${frames.size} frames of reference in one series` : 'no Frame of Reference UID' };
  for (const [i, s] of slices.entries()) {
    if (!s.position || s.position.some((v) => !Number.isFinite(v))) return { ok: false, reason: `slice ${i + 1}: Image Position (Patient) missing or not numeric` };
    if (!s.orientation || s.orientation.length !== 6 || s.orientation.some((v) => !Number.isFinite(v))) return { ok: false, reason: `slice ${i + 1}: Image Orientation (Patient) missing or not six numbers` };
    if (!s.pixelSpacing || s.pixelSpacing.length !== 2 || s.pixelSpacing.some((v) => !(v > 0))) return { ok: false, reason: `slice ${i + 1}: Pixel Spacing missing or not positive` };
    if (s.rows !== first.rows || s.columns !== first.columns) return { ok: false, reason: `slice ${i + 1}: ${s.rows}×${s.columns} where the series has ${first.rows}×${first.columns}` };
    if (Math.abs(s.pixelSpacing[0]! - first.pixelSpacing![0]!) > 1e-3 || Math.abs(s.pixelSpacing[1]! - first.pixelSpacing![1]!) > 1e-3) return { ok: false, reason: `slice ${i + 1}: pixel spacing differs within the series` };
    if (s.orientation.some((v, k) => Math.abs(v - first.orientation![k]!) > 1e-3)) return { ok: false, reason: `slice ${i + 1}: orientation differs within the series` };
  }
  const o = first.orientation!;
  const rowDir: Vec3 = [o[0]!, o[1]!, o[2]!];
  const colDir: Vec3 = [o[3]!, o[4]!, o[5]!];
  if (Math.abs(norm(rowDir) - 1) > 1e-2 || Math.abs(norm(colDir) - 1) > 1e-2 || Math.abs(dot(rowDir, colDir)) > 1e-2) return { ok: false, reason: 'Image Orientation (Patient) is not two orthogonal unit vectors' };
  const n = cross(rowDir, colDir);
  const normal: Vec3 = [n[0] / norm(n), n[1] / norm(n), n[2] / norm(n)];
  const along = slices.map((s, i) => ({ i, d: dot(s.position!, normal) })).sort((a, b) => a.d - b.d);
  const gaps = along.slice(1).map((a, k) => a.d - along[k]!.d);
  if (gaps.some((g) => g < 1e-3)) return { ok: false, reason: 'two slices at the same position (duplicates, or more than one volume in the series)' };
  const median = [...gaps].sort((a, b) => a - b)[gaps.length >> 1]!;
  const worst = gaps.reduce((m, g) => Math.max(m, Math.abs(g - median) / median), 0);
  if (worst > 0.1) return { ok: false, reason: `slice spacing is irregular (a gap differs from ${median.toFixed(2)} mm by ${(worst * 100).toFixed(0)} %): missing or extra slices` };
  // Slices stacked along the normal (no gantry tilt or shear): each position on the line through the first.
  const p0 = slices[along[0]!.i]!.position!;
  const [dr, dc] = first.pixelSpacing! as [number, number];
  for (const a of along) {
    const off = sub(slices[a.i]!.position!, p0);
    const inPlane = Math.hypot(dot(off, rowDir), dot(off, colDir));
    if (inPlane > 0.1 * Math.min(dr, dc) + 1e-3) return { ok: false, reason: 'slices are not stacked along the normal (tilted or sheared acquisition)' };
  }
  return {
    ok: true,
    geometry: { rows: first.rows, columns: first.columns, slices: slices.length, origin: p0, rowDir, colDir, normal, spacing: [dc, dr, median], order: along.map((a) => a.i) },
  };
}

/** Patient position (mm, LPS) of voxel (column, row, slice). */
export function voxelToPatient(g: VolumeGeometry, c: number, r: number, k: number): Vec3 {
  const [sc, sr, sk] = g.spacing;
  return [0, 1, 2].map((a) => g.origin[a]! + c * sc * g.rowDir[a]! + r * sr * g.colDir[a]! + k * sk * g.normal[a]!) as unknown as Vec3;
}

/** Voxel coordinates (column, row, slice; fractional) of a patient position. */
export function patientToVoxel(g: VolumeGeometry, p: Vec3): Vec3 {
  const d = sub(p, g.origin);
  return [dot(d, g.rowDir) / g.spacing[0], dot(d, g.colDir) / g.spacing[1], dot(d, g.normal) / g.spacing[2]];
}
