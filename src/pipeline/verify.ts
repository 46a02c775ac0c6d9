import { isCustosError } from '../errors.ts';
import type { ByteSource } from '../dicom/byte-source.ts';
import { readDicom } from '../dicom/read.ts';
import type { Checkpoint } from '../integrity/checkpoint.ts';
import { type ContentDifference, compareContent, describeDifference } from '../integrity/compare.ts';
import { type Described, describeSource, instanceIds } from '../integrity/describe.ts';
import { verifyInclusion } from '../integrity/merkle.ts';
import type { NoteVerifier } from '../integrity/note.ts';
import { leafHash } from '../integrity/rfc6962.ts';
import { type InstanceStatement, type SeriesStatement, type SignedStatement, commitment, isInstanceStatement, parentReference, verifyStatement } from '../integrity/statement.ts';
import type { LogRecord } from '../store/log-store.ts';

/** What verification needs of a log: the local store or a patient's offline proof kit. */
export interface LogView {
  /** A checkpoint whose signature was already verified. */
  readonly checkpoint: Checkpoint;
  readonly verifier: NoteVerifier;
  candidates(sopInstanceUID: string, pixelRoot: string | null): LogRecord[];
  entry(index: number): Buffer | undefined;
  inclusionProof(index: number, size: number): Buffer[];
  /** The latest series statement of a series, with its record. */
  seriesStatement(seriesInstanceUID: string): LogRecord | undefined;
}

export type Verdict =
  | { status: 'authentic'; index: number; time: string; source: string; signer: string }
  | { status: 'derived'; index: number; time: string; signer: string; profile: { edition: string; options: string[] }; parentIndex?: number }
  | { status: 'tampered'; index?: number; reason: string; difference?: ContentDifference }
  | { status: 'unknown'; reason: string }
  | { status: 'skipped'; reason: string };

/** Check that a record is what the log committed to and that the log includes it under the checkpoint. */
function proveRecord(rec: LogRecord, view: LogView): string | undefined {
  if (!rec.salt || !rec.signed) return 'its log entry was erased';
  if (!verifyStatement(rec.signed, view.verifier.key)) return 'the statement signature does not verify';
  const entry = view.entry(rec.index);
  if (!entry || !commitment(rec.salt, rec.signed).equals(entry)) return 'the statement does not match its log entry';
  if (rec.index >= view.checkpoint.size) return 'pending: not yet covered by a signed checkpoint';
  try {
    verifyInclusion(rec.index, view.checkpoint.size, leafHash(entry), view.inclusionProof(rec.index, view.checkpoint.size), view.checkpoint.root);
  } catch (e) {
    return `inclusion proof failed: ${(e as Error).message}`;
  }
  return undefined;
}

function verdictFor(rec: LogRecord, s: InstanceStatement, view: LogView): Verdict {
  if (s.type === 'custos/ingest/v1') return { status: 'authentic', index: rec.index, time: s.time, source: s.source, signer: s.signer };
  let parentIndex: number | undefined;
  if (rec.parent) {
    const parentEntry = view.entry(rec.parent.index);
    if (parentEntry && parentReference(rec.parent.salt, leafHash(parentEntry)) === s.parent) parentIndex = rec.parent.index;
  }
  return { status: 'derived', index: rec.index, time: s.time, signer: s.signer, profile: s.profile, ...(parentIndex !== undefined ? { parentIndex } : {}) };
}

/**
 * Verify one instance held by a source (`open` gives it, again if its header must be read alone):
 * authentic, derived, tampered (what differs) or unknown. Never throws for bad input. No file system:
 * the browser runs this too (web/src/portal/check.tsx).
 */
export async function verifySource(open: () => ByteSource, view: LogView, onDescribed?: (d: Described) => void): Promise<Verdict> {
  let described: Described;
  try {
    const source = open();
    try { described = await describeSource(source); } finally { source.close(); }
  } catch (e) {
    const code = isCustosError(e) ? e.code : 'IO';
    if (code === 'DICOM_NOT_DICOM') return { status: 'skipped', reason: 'not a DICOM file' };
    if (code === 'DICOM_TRUNCATED' || code === 'DICOM_BAD_LENGTH' || code === 'PIXEL_DECODE') {
      // Damaged: find what it claims to be from its header, so the damage is reported as tampering.
      const sop = headerSop(open);
      const recs = sop ? view.candidates(sop, null) : [];
      if (recs.length) return { status: 'tampered', index: recs[0]!.index, reason: `file is damaged (${code}): ${(e as Error).message}` };
    }
    return { status: 'unknown', reason: `${code}: ${(e as Error).message}` };
  }
  onDescribed?.(described);
  const { ids, content } = described;
  const recs = view.candidates(ids.sopInstanceUID, content.pixelRoot).filter((r) => r.signed && isInstanceStatement(r.signed.statement));
  const stmt = (r: LogRecord): InstanceStatement => r.signed!.statement as InstanceStatement;
  if (recs.length === 0) return { status: 'unknown', reason: 'no statement in the log for this instance or its pixels' };
  const exact = recs.find((r) => compareContent(stmt(r).content, content) === undefined);
  if (exact) {
    const problem = proveRecord(exact, view);
    if (problem) return problem.startsWith('pending') ? { status: 'unknown', reason: problem } : { status: 'tampered', index: exact.index, reason: `log check failed: ${problem}` };
    return verdictFor(exact, stmt(exact), view);
  }
  const best = recs.find((r) => stmt(r).instance.sopInstanceUID === ids.sopInstanceUID) ?? recs[0]!;
  const problem = proveRecord(best, view);
  if (problem && problem.startsWith('pending')) return { status: 'unknown', reason: problem };
  const difference = compareContent(stmt(best).content, content)!;
  return { status: 'tampered', index: best.index, reason: problem ? `log check failed: ${problem}` : describeDifference(difference), difference };
}

function headerSop(open: () => ByteSource): string | undefined {
  try {
    const source = open();
    try {
      return instanceIds(readDicom(source, { stopAtPixelData: true })).sopInstanceUID || undefined;
    } finally {
      source.close();
    }
  } catch {
    return undefined;
  }
}

/** Check a series statement's record the same way as an instance's (signature, commitment, inclusion). */
export function proveSeries(rec: LogRecord, view: LogView): { statement: SeriesStatement } | { problem: string } {
  const problem = proveRecord(rec, view);
  if (problem) return { problem };
  return { statement: rec.signed!.statement as SeriesStatement };
}

export type { SignedStatement };
