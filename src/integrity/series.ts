import { MerkleTree } from './merkle.ts';

/** One instance of a series as the series root sees it. */
export interface SeriesMember { sopInstanceUID: string; position: number | null; pixelRoot: string | null }

/**
 * Position of a slice along the series normal: Image Position (Patient) projected on the cross
 * product of the Image Orientation (Patient) row and column cosines (PS3.3 C.7.6.2.1.1); else the
 * Instance Number; else unknown.
 */
export function slicePosition(ipp: number[] | null, iop: number[] | null, instanceNumber: number | null): number | null {
  if (ipp?.length === 3 && iop?.length === 6 && [...ipp, ...iop].every(Number.isFinite)) {
    const [r0, r1, r2, c0, c1, c2] = iop as [number, number, number, number, number, number];
    const n = [r1 * c2 - r2 * c1, r2 * c0 - r0 * c2, r0 * c1 - r1 * c0];
    return Math.round((ipp[0]! * n[0]! + ipp[1]! * n[1]! + ipp[2]! * n[2]!) * 1000) / 1000;
  }
  return instanceNumber !== null && Number.isFinite(instanceNumber) ? instanceNumber : null;
}

/** Members in position order (unknown positions last, ties by SOP Instance UID): deterministic. */
export function inPositionOrder(members: readonly SeriesMember[]): SeriesMember[] {
  return [...members].sort((a, b) => {
    if (a.position !== b.position) {
      if (a.position === null) return 1;
      if (b.position === null) return -1;
      return a.position - b.position;
    }
    return a.sopInstanceUID < b.sopInstanceUID ? -1 : a.sopInstanceUID > b.sopInstanceUID ? 1 : 0;
  });
}

/** RFC 6962 root over the members in position order; leaf = pixel root || SOP Instance UID. */
export function seriesRoot(members: readonly SeriesMember[]): string {
  const t = new MerkleTree();
  for (const m of inPositionOrder(members)) t.appendData(Buffer.from(`${m.pixelRoot ?? ''}\0${m.sopInstanceUID}`, 'utf8'));
  return t.root().toString('hex');
}

export interface SeriesComparison {
  /** 1-based positions, in the recorded order, whose slice now has other pixels. */
  changed: number[];
  /** 1-based positions recorded but not among the files checked. */
  missing: number[];
  /** Files of the series that the recorded series does not contain. */
  extra: string[];
}

export function compareSeries(recorded: readonly SeriesMember[], found: readonly SeriesMember[]): SeriesComparison {
  const order = inPositionOrder(recorded);
  const bySop = new Map(found.map((m) => [m.sopInstanceUID, m]));
  const out: SeriesComparison = { changed: [], missing: [], extra: [] };
  order.forEach((m, i) => {
    const f = bySop.get(m.sopInstanceUID);
    if (!f) out.missing.push(i + 1);
    else if (f.pixelRoot !== m.pixelRoot || f.position !== m.position) out.changed.push(i + 1);
  });
  const known = new Set(recorded.map((m) => m.sopInstanceUID));
  out.extra = found.filter((m) => !known.has(m.sopInstanceUID)).map((m) => m.sopInstanceUID);
  return out;
}
