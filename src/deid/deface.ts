import { type Vec3, type VolumeGeometry, dot, voxelToPatient } from './volume.ts';

/*
 * Clean Recognizable Visual Features (PS3.15 E.3.3) for head CT and MR: find the brain from the data,
 * fit a plane to the anterior-inferior side of its convex hull in the sagittal projection (as
 * quickshear does), and fill everything in front of and below that plane, plus a margin, with air.
 * The brain lies behind the plane by construction, so its voxels are never changed. Detection runs on
 * a coarse copy of the volume (about 2 mm voxels); the cut is a plane in patient space and is applied
 * to the full-resolution frames. Pure: no I/O. Thresholds and their reasons: docs/deid.md.
 */

/** A coarse copy of a volume in real values (Hounsfield units for CT, the scanner's intensity for MR). */
export interface CoarseVolume { geometry: VolumeGeometry; values: Float32Array }

/** One frame in real values: stored value × slope + intercept. */
export interface RealFrame { data: ArrayLike<number>; slope: number; intercept: number }

export interface DefaceOptions {
  /** Remove the ears too (lateral protrusions beside the brain's lower half). */
  ears: boolean;
  /** Added in front of the plane fitted to the brain, mm. */
  marginMm: number;
  /** How far beyond the brain's half-width the sides of the head are kept when ears are removed, mm. */
  earMarginMm: number;
}

export const DEFAULT_DEFACE: DefaceOptions = { ears: false, marginMm: 2, earMarginMm: 15 };

/**
 * What is removed: voxels with normal·p > offset (the face side of the shear plane); in front of the
 * brain's most anterior point and below its level (brow and eyes, which the shear plane can leave in
 * part); and, with ears, beside the brain's lower half.
 */
export interface FaceCut {
  normal: Vec3;
  offset: number;
  front: { anterior: number; belowSuperior: number };
  ears?: { centreX: number; halfWidth: number; superiorMax: number; superiorMin: number };
}

export type Detection =
  | { kind: 'head'; cut: FaceCut; brainMl: number; headMl: number; removedMl: number }
  | { kind: 'not-head'; why: string }
  | { kind: 'uncertain'; why: string };

/** Brain volumes accepted as plausible, mL (a neonate's is about 400, an adult's up to about 1,900). */
const BRAIN_ML: readonly [number, number] = [300, 2600];
/** A head, measured across at the brain's centre, is at most this wide (mm); a torso is wider. */
const MAX_HEAD_WIDTH_MM = 240;
/** Share of the shell around the brain that must be bone (CT): a skull, not fat or muscle. */
const MIN_BONE_SHELL = 0.25;

const ANTERIOR: Vec3 = [0, -1, 0]; // LPS: +y is posterior
const SUPERIOR: Vec3 = [0, 0, 1];
const LEFT: Vec3 = [1, 0, 0];

/** Average blocks of voxels to about `targetMm`: the coarse volume detection runs on. */
export function coarsen(g: VolumeGeometry, frame: (k: number) => RealFrame, targetMm = 2): CoarseVolume {
  const f = g.spacing.map((s) => Math.max(1, Math.round(targetMm / s))) as unknown as [number, number, number];
  const cols = Math.ceil(g.columns / f[0]);
  const rows = Math.ceil(g.rows / f[1]);
  const slices = Math.ceil(g.slices / f[2]);
  const sum = new Float64Array(cols * rows * slices);
  const count = new Uint32Array(cols * rows * slices);
  for (let k = 0; k < g.slices; k++) {
    const { data, slope, intercept } = frame(k);
    const base = Math.floor(k / f[2]) * rows;
    for (let r = 0; r < g.rows; r++) {
      const rowBase = (base + Math.floor(r / f[1])) * cols;
      const src = r * g.columns;
      for (let c = 0; c < g.columns; c++) {
        const i = rowBase + Math.floor(c / f[0]);
        sum[i]! += data[src + c]! * slope + intercept;
        count[i]!++;
      }
    }
  }
  const values = new Float32Array(sum.length);
  for (let i = 0; i < values.length; i++) values[i] = sum[i]! / count[i]!;
  // The coarse voxel's centre is the centre of its block.
  const origin = voxelToPatient(g, (f[0] - 1) / 2, (f[1] - 1) / 2, (f[2] - 1) / 2);
  return {
    geometry: { ...g, rows, columns: cols, slices, origin, spacing: [g.spacing[0] * f[0], g.spacing[1] * f[1], g.spacing[2] * f[2]], order: [] },
    values,
  };
}

/** Otsu's threshold over a histogram of the values (between background and tissue, for MR). */
export function otsuThreshold(values: Float32Array): number {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) { if (v < lo) lo = v; if (v > hi) hi = v; }
  if (!(hi > lo)) return lo;
  const bins = 256;
  const hist = new Float64Array(bins);
  for (const v of values) hist[Math.min(bins - 1, Math.floor(((v - lo) / (hi - lo)) * bins))]!++;
  const total = values.length;
  let sumAll = 0;
  for (let i = 0; i < bins; i++) sumAll += i * hist[i]!;
  let w0 = 0;
  let sum0 = 0;
  let best = 0;
  let at = 0;
  for (let i = 0; i < bins; i++) {
    w0 += hist[i]!;
    if (w0 === 0 || w0 === total) continue;
    sum0 += i * hist[i]!;
    const m0 = sum0 / w0;
    const m1 = (sumAll - sum0) / (total - w0);
    const between = w0 * (total - w0) * (m0 - m1) ** 2;
    if (between > best) { best = between; at = i; }
  }
  return lo + ((at + 1) / bins) * (hi - lo);
}

class Grid {
  readonly nx: number;
  readonly ny: number;
  readonly nz: number;
  readonly n: number;
  constructor(g: VolumeGeometry) {
    this.nx = g.columns; this.ny = g.rows; this.nz = g.slices; this.n = this.nx * this.ny * this.nz;
  }
  /** Calls fn with each 6-neighbour index of i that lies inside the grid. */
  neighbours(i: number, fn: (j: number) => void): void {
    const x = i % this.nx;
    const y = Math.floor(i / this.nx) % this.ny;
    const z = Math.floor(i / (this.nx * this.ny));
    if (x > 0) fn(i - 1);
    if (x < this.nx - 1) fn(i + 1);
    if (y > 0) fn(i - this.nx);
    if (y < this.ny - 1) fn(i + this.nx);
    if (z > 0) fn(i - this.nx * this.ny);
    if (z < this.nz - 1) fn(i + this.nx * this.ny);
  }
  onBorder(i: number): boolean {
    const x = i % this.nx;
    const y = Math.floor(i / this.nx) % this.ny;
    const z = Math.floor(i / (this.nx * this.ny));
    return x === 0 || y === 0 || z === 0 || x === this.nx - 1 || y === this.ny - 1 || z === this.nz - 1;
  }
}

/** 6-connected components of a mask: a label per voxel (0 = none) and each label's size. */
function components(grid: Grid, mask: Uint8Array): { labels: Int32Array; sizes: number[] } {
  const labels = new Int32Array(grid.n);
  const sizes = [0];
  const queue = new Int32Array(grid.n);
  for (let s = 0; s < grid.n; s++) {
    if (!mask[s] || labels[s]) continue;
    const label = sizes.length;
    let head = 0;
    let tail = 0;
    queue[tail++] = s;
    labels[s] = label;
    while (head < tail) {
      const i = queue[head++]!;
      grid.neighbours(i, (j) => { if (mask[j] && !labels[j]) { labels[j] = label; queue[tail++] = j; } });
    }
    sizes.push(tail);
  }
  return { labels, sizes };
}

function erode(grid: Grid, mask: Uint8Array, times: number): Uint8Array {
  let cur: Uint8Array = mask;
  for (let t = 0; t < times; t++) {
    const next = new Uint8Array(grid.n);
    for (let i = 0; i < grid.n; i++) {
      if (!cur[i]) continue;
      let keep = 1;
      grid.neighbours(i, (j) => { if (!cur[j]) keep = 0; });
      next[i] = keep;
    }
    cur = next;
  }
  return cur;
}

function dilateWithin(grid: Grid, mask: Uint8Array, within: Uint8Array, times: number): Uint8Array {
  let cur: Uint8Array = mask;
  for (let t = 0; t < times; t++) {
    const next = cur.slice();
    for (let i = 0; i < grid.n; i++) if (cur[i]) grid.neighbours(i, (j) => { if (within[j]) next[j] = 1; });
    cur = next;
  }
  return cur;
}

/** The head: what is not air connected to the volume's border (so air in sinuses and mouth counts as head). */
function headMask(grid: Grid, tissue: Uint8Array): Uint8Array {
  // The largest tissue component (a table or a head holder apart from it is left out).
  const { labels, sizes } = components(grid, tissue);
  let big = 0;
  for (let l = 1; l < sizes.length; l++) if (sizes[l]! > sizes[big]!) big = l;
  const body = new Uint8Array(grid.n);
  for (let i = 0; i < grid.n; i++) body[i] = labels[i] === big && big > 0 ? 1 : 0;
  const outside = new Uint8Array(grid.n);
  const queue = new Int32Array(grid.n);
  let tail = 0;
  for (let i = 0; i < grid.n; i++) if (!body[i] && grid.onBorder(i)) { outside[i] = 1; queue[tail++] = i; }
  for (let head = 0; head < tail; head++) {
    grid.neighbours(queue[head]!, (j) => { if (!body[j] && !outside[j]) { outside[j] = 1; queue[tail++] = j; } });
  }
  const out = new Uint8Array(grid.n);
  for (let i = 0; i < grid.n; i++) out[i] = outside[i] ? 0 : 1;
  return out;
}

/**
 * Find the head and the face in a coarse volume. A head: a soft-tissue body of brain size enclosed
 * by the skull (bone for CT, a dark layer for MR), inside a body no wider than a head. Anything else
 * is not a head; a head whose brain cannot be separated cleanly is uncertain.
 */
export function detectFace(v: CoarseVolume, modality: 'CT' | 'MR', o: DefaceOptions = DEFAULT_DEFACE): Detection {
  const g = v.geometry;
  const grid = new Grid(g);
  const voxelMl = (g.spacing[0] * g.spacing[1] * g.spacing[2]) / 1000;
  const vals = v.values;
  // Air, and the soft tissue a brain is made of (CT: -20..120 HU; MR: above Otsu's threshold).
  let airT: number;
  let inner: (x: number) => boolean;
  let barrier: (x: number) => boolean;
  if (modality === 'CT') {
    airT = -400;
    inner = (x) => x >= -20 && x <= 120;
    barrier = (x) => x >= 250;
  } else {
    const t = otsuThreshold(vals);
    airT = t / 2;
    inner = (x) => x >= t;
    barrier = (x) => x < t;
  }
  const tissue = new Uint8Array(grid.n);
  for (let i = 0; i < grid.n; i++) tissue[i] = vals[i]! > airT ? 1 : 0;
  const head = headMask(grid, tissue);
  let headVoxels = 0;
  for (let i = 0; i < grid.n; i++) headVoxels += head[i]!;
  if (headVoxels * voxelMl < BRAIN_ML[0]) return { kind: 'not-head', why: 'too little tissue in the volume for a head' };
  // Skin and what lies just under it (about 4 mm) are never brain.
  const shell = Math.max(1, Math.round(4 / Math.min(g.spacing[0], g.spacing[1], g.spacing[2])));
  const core = erode(grid, head, shell);
  const cand = new Uint8Array(grid.n);
  for (let i = 0; i < grid.n; i++) cand[i] = core[i] && inner(vals[i]!) ? 1 : 0;
  // One voxel of erosion cuts thin bridges (optic nerves, vessels through foramina).
  const seeds = erode(grid, cand, 1);
  const { labels, sizes } = components(grid, seeds);
  // Enclosed: touches neither the air nor the skin (the volume's own border is neutral: a cut field of view).
  const touching = new Uint32Array(sizes.length);
  for (let i = 0; i < grid.n; i++) {
    const l = labels[i]!;
    if (!l) continue;
    let t = 0;
    grid.neighbours(i, (j) => { if (!core[j]) t = 1; });
    touching[l]! += t;
  }
  let brainLabel = 0;
  for (let l = 1; l < sizes.length; l++) {
    const ml = sizes[l]! * voxelMl;
    if (touching[l]! > 0.01 * sizes[l]! || ml < BRAIN_ML[0] * 0.5) continue;
    if (!brainLabel || sizes[l]! > sizes[brainLabel]!) brainLabel = l;
  }
  if (!brainLabel) return { kind: 'not-head', why: 'no soft-tissue body of brain size enclosed within the body' };
  let brain: Uint8Array = new Uint8Array(grid.n);
  for (let i = 0; i < grid.n; i++) brain[i] = labels[i] === brainLabel ? 1 : 0;
  brain = dilateWithin(grid, brain, cand, 1);
  let brainVoxels = 0;
  for (let i = 0; i < grid.n; i++) brainVoxels += brain[i]!;
  const brainMl = brainVoxels * voxelMl;
  // The shell around it: bone for a skull (CT); a torso's organs are wrapped in fat and muscle.
  const around = dilateWithin(grid, brain, head, 3);
  let shellN = 0;
  let barrierN = 0;
  for (let i = 0; i < grid.n; i++) if (around[i] && !brain[i]) { shellN++; if (barrier(vals[i]!)) barrierN++; }
  if (modality === 'CT' && barrierN < MIN_BONE_SHELL * shellN) return { kind: 'not-head', why: `the enclosed body is not wrapped in bone (${Math.round((100 * barrierN) / Math.max(1, shellN))} % of its shell)` };

  // Patient coordinates of brain voxels: centroid, width, the sagittal hull.
  const pts: Array<[number, number]> = [];
  let cx = 0; let cs = 0;
  const half = [0.5 * g.spacing[0], 0.5 * g.spacing[1], 0.5 * g.spacing[2]];
  forEachVoxel(g, brain, (p) => { cx += p[0]; cs += p[2]; });
  cx /= brainVoxels; cs /= brainVoxels;
  let halfWidth = 0;
  let pole: [number, number] = [-Infinity, 0]; // the most anterior brain point (anterior, superior)
  const extent = (dir: Vec3): number => Math.abs(dot(dir, g.rowDir)) * half[0]! + Math.abs(dot(dir, g.colDir)) * half[1]! + Math.abs(dot(dir, g.normal)) * half[2]!;
  const exX = extent(LEFT);
  forEachVoxel(g, brain, (p) => {
    halfWidth = Math.max(halfWidth, Math.abs(p[0] - cx) + exX);
    pts.push([dot(p, ANTERIOR), dot(p, SUPERIOR)]);
    if (dot(p, ANTERIOR) > pole[0]) pole = [dot(p, ANTERIOR), dot(p, SUPERIOR)];
  });
  // The head's width across at the brain's centre (a torso holding an enclosed organ is wider).
  let minX = Infinity; let maxX = -Infinity;
  const slab = Math.max(half[0]!, half[1]!, half[2]!) * 2;
  forEachVoxel(g, head, (p) => { if (Math.abs(p[2] - cs) <= slab) { minX = Math.min(minX, p[0]); maxX = Math.max(maxX, p[0]); } });
  if (maxX - minX > MAX_HEAD_WIDTH_MM) return { kind: 'not-head', why: `the body is ${Math.round(maxX - minX)} mm wide at the enclosed body's level: wider than a head` };
  if (brainMl < BRAIN_ML[0] || brainMl > BRAIN_ML[1]) return { kind: 'uncertain', why: `the brain found measures ${Math.round(brainMl)} mL, outside ${BRAIN_ML[0]}-${BRAIN_ML[1]} mL` };

  const plane = shearPlane(pts);
  if (!plane) return { kind: 'uncertain', why: 'the brain\'s outline gives no anterior-inferior edge to cut along' };
  // In patient space: n = a·ANTERIOR + s·SUPERIOR; the coarse voxel's own extent is added so that every
  // full-resolution voxel of the brain stays behind the plane, then the margin.
  const normal: Vec3 = [ANTERIOR[0] * plane.n[0] + SUPERIOR[0] * plane.n[1], ANTERIOR[1] * plane.n[0] + SUPERIOR[1] * plane.n[1], ANTERIOR[2] * plane.n[0] + SUPERIOR[2] * plane.n[1]];
  const offset = plane.offset + 2 * extent(normal) + o.marginMm;
  const cut: FaceCut = {
    normal,
    offset,
    front: { anterior: pole[0] + 2 * extent(ANTERIOR) + o.marginMm, belowSuperior: pole[1] },
    ...(o.ears ? { ears: { centreX: cx, halfWidth: halfWidth + o.earMarginMm, superiorMax: cs + 10, superiorMin: cs - 90 } } : {}),
  };
  const test = cutTest(cut);
  let removed = 0;
  forEachVoxel(g, head, (p) => { if (test(p)) removed++; });
  const removedMl = removed * voxelMl;
  if (removed > 0.6 * headVoxels) return { kind: 'uncertain', why: `the cut would remove ${Math.round((100 * removed) / headVoxels)} % of the head` };
  return { kind: 'head', cut, brainMl, headMl: headVoxels * voxelMl, removedMl };
}

function forEachVoxel(g: VolumeGeometry, mask: Uint8Array, fn: (p: Vec3) => void): void {
  let i = 0;
  for (let k = 0; k < g.slices; k++) for (let r = 0; r < g.rows; r++) for (let c = 0; c < g.columns; c++, i++) if (mask[i]) fn(voxelToPatient(g, c, r, k));
}

/**
 * The shear line (quickshear, Schimke et al. 2011): in the sagittal projection (a = anterior,
 * s = superior), the supporting line of the brain's convex hull parallel to the chord from its most
 * anterior to its most inferior point; everything beyond it (anterior-inferior) is the face side.
 */
export function shearPlane(pts: ReadonlyArray<readonly [number, number]>): { n: [number, number]; offset: number } | undefined {
  if (pts.length < 3) return undefined;
  let A = pts[0]!;
  let I = pts[0]!;
  for (const p of pts) {
    if (p[0] > A[0] || (p[0] === A[0] && p[1] < A[1])) A = p;
    if (p[1] < I[1] || (p[1] === I[1] && p[0] > I[0])) I = p;
  }
  const d: [number, number] = [I[0] - A[0], I[1] - A[1]];
  const len = Math.hypot(d[0], d[1]);
  if (len < 1e-6) return undefined;
  // Of the chord's two normals, the one pointing anterior-inferior (a up, s down).
  let n: [number, number] = [-d[1] / len, d[0] / len];
  if (n[0] - n[1] < 0) n = [-n[0], -n[1]];
  if (n[0] <= 0 || n[1] >= 0) return undefined; // not facing forward and down: no face side
  let offset = -Infinity;
  for (const p of pts) offset = Math.max(offset, n[0] * p[0] + n[1] * p[1]);
  return { n, offset };
}

/** Whether a patient position falls in what the cut removes. */
export function cutTest(cut: FaceCut): (p: Vec3) => boolean {
  const e = cut.ears;
  const f = cut.front;
  return (p) => {
    if (dot(cut.normal, p) > cut.offset) return true;
    if (-p[1] > f.anterior && p[2] < f.belowSuperior) return true; // ANTERIOR is -y
    return e !== undefined && p[2] <= e.superiorMax && p[2] >= e.superiorMin && Math.abs(p[0] - e.centreX) > e.halfWidth;
  };
}

/**
 * Fill what the cut removes in one full-resolution frame (slice k of `g`) with `air`; returns how many
 * voxels changed. Works along each row with the plane's value stepped per column.
 */
export function applyCut(g: VolumeGeometry, k: number, frame: { [i: number]: number; length: number }, cut: FaceCut, air: number): number {
  const test = cutTest(cut);
  const step = dot(cut.normal, g.rowDir) * g.spacing[0];
  let changed = 0;
  for (let r = 0; r < g.rows; r++) {
    const p0 = voxelToPatient(g, 0, r, k);
    let v = dot(cut.normal, p0);
    const base = r * g.columns;
    for (let c = 0; c < g.columns; c++, v += step) {
      const hit = v > cut.offset || test([p0[0] + c * g.spacing[0] * g.rowDir[0], p0[1] + c * g.spacing[0] * g.rowDir[1], p0[2] + c * g.spacing[0] * g.rowDir[2]]);
      if (hit && frame[base + c] !== air) { frame[base + c] = air; changed++; }
    }
  }
  return changed;
}

/**
 * A depth-shaded rendering of the surface seen from in front of the patient (the patient's right on
 * the image's left, superior up): grey levels, 0 where no surface. For review of a defacing.
 */
export function anteriorRendering(v: CoarseVolume, threshold: number, scale = 2): { width: number; height: number; pixels: Uint8Array } {
  const g = v.geometry;
  // The volume's extent in patient space, from its eight corners.
  const lo: [number, number, number] = [Infinity, Infinity, Infinity];
  const hi: [number, number, number] = [-Infinity, -Infinity, -Infinity];
  for (const c of [0, g.columns - 1]) for (const r of [0, g.rows - 1]) for (const k of [0, g.slices - 1]) {
    const p = voxelToPatient(g, c, r, k);
    for (let a = 0; a < 3; a++) { lo[a] = Math.min(lo[a]!, p[a]!); hi[a] = Math.max(hi[a]!, p[a]!); }
  }
  const px = Math.min(g.spacing[0], g.spacing[1], g.spacing[2]) / scale;
  const width = Math.max(1, Math.round((hi[0] - lo[0]) / px) + 1);
  const height = Math.max(1, Math.round((hi[2] - lo[2]) / px) + 1);
  const depth = new Float32Array(width * height).fill(NaN);
  const step = px;
  const at = (p: Vec3): number => {
    const d: Vec3 = [p[0] - g.origin[0], p[1] - g.origin[1], p[2] - g.origin[2]];
    const c = Math.round(dot(d, g.rowDir) / g.spacing[0]);
    const r = Math.round(dot(d, g.colDir) / g.spacing[1]);
    const k = Math.round(dot(d, g.normal) / g.spacing[2]);
    if (c < 0 || r < 0 || k < 0 || c >= g.columns || r >= g.rows || k >= g.slices) return -Infinity;
    return v.values[(k * g.rows + r) * g.columns + c]!;
  };
  let dmin = Infinity;
  let dmax = -Infinity;
  for (let yy = 0; yy < height; yy++) {
    const z = hi[2] - yy * px;
    for (let xx = 0; xx < width; xx++) {
      const x = lo[0] + xx * px;
      // From in front (the smallest y, LPS) towards the back.
      for (let y = lo[1]; y <= hi[1]; y += step) {
        if (at([x, y, z]) > threshold) {
          const dd = y - lo[1];
          depth[yy * width + xx] = dd;
          dmin = Math.min(dmin, dd);
          dmax = Math.max(dmax, dd);
          break;
        }
      }
    }
  }
  const pixels = new Uint8Array(width * height);
  const range = Math.max(1, dmax - dmin);
  for (let i = 0; i < pixels.length; i++) {
    const d = depth[i]!;
    pixels[i] = Number.isNaN(d) ? 0 : Math.round(255 - 215 * ((d - dmin) / range));
  }
  return { width, height, pixels };
}
