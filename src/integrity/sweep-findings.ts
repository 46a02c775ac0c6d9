/**
 * What a PACS sweep concludes about each instance the archive holds or should hold (pure: no I/O).
 * The log says what was recorded; the archive's listing says what is there now.
 */

/** An instance as the archive lists it (QIDO-RS or C-FIND at IMAGE level). */
export interface ListedInstance {
  studyInstanceUID: string;
  seriesInstanceUID: string;
  sopInstanceUID: string;
  sopClassUID?: string | undefined;
}

/** What the log recorded of one instance (an ingest or derivation statement). */
export interface RecordedInstance {
  index: number;
  kind: 'ingest' | 'derivation';
  studyInstanceUID: string;
  seriesInstanceUID: string;
  sopInstanceUID: string;
  sopClassUID: string;
}

export type FindingStatus = 'authentic' | 'derived' | 'tampered' | 'inserted' | 'missing' | 'unknown' | 'present' | 'unreadable';

/**
 * One conclusion. `present`: recorded and listed where it was recorded, content not fetched (metadata
 * or sampling mode); `unreadable`: recorded and listed, but the archive did not deliver it.
 */
export interface Finding {
  status: FindingStatus;
  studyInstanceUID: string;
  seriesInstanceUID: string;
  sopInstanceUID: string;
  /** The log entry it was checked against (authentic, derived, tampered, missing, present). */
  index?: number;
  /** Derived: the log entry of its original, when the log can prove the link. */
  parentIndex?: number;
  reason: string;
}

/** The statuses that call for someone to look: they raise an alert. */
export const ALERTING: ReadonlySet<FindingStatus> = new Set(['tampered', 'inserted', 'missing']);

/**
 * The first, metadata-only judgement of a listed instance. `check` means the log recorded it: its
 * content decides (fetch it, or report it `present` when not fetched).
 */
export function judgeListed(
  item: ListedInstance,
  recorded: readonly RecordedInstance[],
  known: { seriesRecorded: boolean; studyRecorded: boolean },
): { status: 'check'; record: RecordedInstance } | Finding {
  const at = { studyInstanceUID: item.studyInstanceUID, seriesInstanceUID: item.seriesInstanceUID, sopInstanceUID: item.sopInstanceUID };
  if (recorded.length === 0) {
    if (known.seriesRecorded) return { status: 'inserted', ...at, reason: 'in a recorded series, but never recorded' };
    if (known.studyRecorded) return { status: 'inserted', ...at, reason: 'in a recorded study, but never recorded' };
    return { status: 'unknown', ...at, reason: 'a study the log never recorded' };
  }
  // The latest record that puts the instance where the archive lists it; else the placement changed.
  const placed = recorded.find((r) => r.studyInstanceUID === item.studyInstanceUID && r.seriesInstanceUID === item.seriesInstanceUID
    && (!item.sopClassUID || r.sopClassUID === item.sopClassUID));
  if (placed) return { status: 'check', record: placed };
  const r = recorded[0]!;
  const moved = [
    r.studyInstanceUID !== item.studyInstanceUID && 'study',
    r.seriesInstanceUID !== item.seriesInstanceUID && 'series',
    item.sopClassUID && r.sopClassUID !== item.sopClassUID && 'SOP class',
  ].filter(Boolean).join(', ');
  return { status: 'tampered', ...at, index: r.index, reason: `header differs: recorded with another ${moved}` };
}

/**
 * The recorded instances of a study the archive no longer lists: `missing`. Only originals (ingest
 * statements) and derived copies recorded under this study's UID are expected.
 */
export function missingFrom(study: string, recorded: readonly RecordedInstance[], listed: ReadonlySet<string>): Finding[] {
  const seen = new Set<string>();
  const out: Finding[] = [];
  for (const r of recorded) {
    if (r.studyInstanceUID !== study || listed.has(r.sopInstanceUID) || seen.has(r.sopInstanceUID)) continue;
    seen.add(r.sopInstanceUID);
    out.push({ status: 'missing', studyInstanceUID: r.studyInstanceUID, seriesInstanceUID: r.seriesInstanceUID, sopInstanceUID: r.sopInstanceUID, index: r.index, reason: 'recorded, no longer in the archive' });
  }
  return out;
}

/**
 * Which recorded instances to fetch in sampling mode: a share of each series, at least one, chosen
 * by a keyed hash so that repeated sweeps with different seeds cover different instances.
 */
export function sampled(sopInstanceUID: string, share: number, seed: number, hash: (s: string) => number): boolean {
  if (share >= 1) return true;
  if (share <= 0) return false;
  return hash(`${seed}:${sopInstanceUID}`) < share;
}

export type Counts = Record<FindingStatus, number>;

export const emptyCounts = (): Counts => ({ authentic: 0, derived: 0, tampered: 0, inserted: 0, missing: 0, unknown: 0, present: 0, unreadable: 0 });
