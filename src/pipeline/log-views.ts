import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CustosError } from '../errors.ts';
import { type Checkpoint, parseCheckpoint } from '../integrity/checkpoint.ts';
import { verifyConsistency } from '../integrity/merkle.ts';
import { type NoteVerifier, openNote } from '../integrity/note.ts';
import { formatTlogProof } from '../integrity/tlog-proof.ts';
import type { LogStore } from '../store/log-store.ts';
import type { LogView } from './verify.ts';
import type { ProofKit } from './proof-kit.ts';

export { type ProofKit, kitView } from './proof-kit.ts';

/**
 * The local log as a LogView; proofs are computed from the entries and checked against the signed
 * checkpoint, or an earlier one given (a witnessed checkpoint the log was checked to extend).
 */
export function localView(log: LogStore, verifier: NoteVerifier, at?: Checkpoint): LogView {
  const body = at ?? log.checkpoint.body;
  return {
    checkpoint: body,
    verifier,
    candidates(sop, pixelRoot) {
      const idx = new Set([...log.findBySop(sop), ...(pixelRoot ? log.findByPixelRoot(pixelRoot) : [])]);
      return [...idx].sort((a, b) => b - a).map((i) => log.record(i)!).filter(Boolean);
    },
    entry: (i) => (i < log.size ? log.entry(i) : undefined),
    inclusionProof: (i, size) => log.tree.inclusionProof(i, size),
    seriesStatement(uid) {
      const all = log.findSeriesStatements(uid);
      return all.length ? log.record(all[all.length - 1]!) : undefined;
    },
  };
}

/**
 * Roll-back protection: the verifier remembers the last checkpoint it accepted (<log dir>/verifier-checkpoint,
 * or one given by the user) and requires the current log to extend it (RFC 9162 2.1.4 consistency).
 */
export function checkAgainstTrusted(log: LogStore, verifier: NoteVerifier, trustedNote?: string): void {
  const statePath = join(log.dir, 'verifier-checkpoint');
  const note = trustedNote ?? (existsSync(statePath) ? readFileSync(statePath, 'utf8') : undefined);
  const current = log.checkpoint;
  if (note) {
    const trusted = parseCheckpoint(openNote(note, [verifier]).text);
    if (trusted.size > current.body.size) {
      throw new CustosError('LOG_ROLLBACK', `the log was rolled back: it now commits to ${current.body.size} entries, but a checkpoint for ${trusted.size} was seen before`);
    }
    try {
      if (trusted.size > 0) verifyConsistency(trusted.size, current.body.size, trusted.root, current.body.root, log.tree.consistencyProof(trusted.size, current.body.size));
    } catch (e) {
      throw new CustosError('LOG_ROLLBACK', `the log is not an extension of the checkpoint seen before (size ${trusted.size}): ${(e as Error).message}`);
    }
  }
  if (!trustedNote) {
    writeFileSync(statePath + '.tmp', current.note);
    renameSync(statePath + '.tmp', statePath);
  }
}

/** A study's proof kit, proven against the log's checkpoint or an earlier one given (e.g. carrying witness cosignatures). */
export function buildProofKit(log: LogStore, vkey: string, studyInstanceUID: string, at?: { note: string; body: Checkpoint }): ProofKit {
  const { note, body } = at ?? log.checkpoint;
  const entries = log
    .findByStudy(studyInstanceUID)
    .filter((i) => i < body.size)
    .map((i) => log.record(i)!)
    .filter((r) => r.salt && r.signed)
    .map((r) => ({
      index: r.index,
      salt: r.salt!,
      signed: r.signed!,
      tlogProof: formatTlogProof({ index: r.index, proof: log.tree.inclusionProof(r.index, body.size), checkpoint: note, extra: log.entry(r.index) }),
    }));
  if (entries.length === 0) throw new CustosError('USAGE', 'no logged instance of that study is covered by the current checkpoint');
  return { kind: 'custos.proof-kit/v1', log: { origin: body.origin, vkey }, checkpoint: note, entries };
}

/**
 * The latest checkpoint gathered with witness cosignatures (log/cosigned-checkpoint), if the log
 * still extends it; undefined when there is none. A proof kit built against it carries the
 * cosignatures, so a patient's verifier can require a quorum of witnesses.
 */
export function witnessedCheckpoint(log: LogStore, verifier: NoteVerifier): { note: string; body: Checkpoint } | undefined {
  const path = join(log.dir, 'cosigned-checkpoint');
  if (!existsSync(path)) return undefined;
  const note = readFileSync(path, 'utf8');
  const body = parseCheckpoint(openNote(note, [verifier]).text);
  const current = log.checkpoint.body;
  if (body.size > current.size) return undefined;
  if (body.size > 0) verifyConsistency(body.size, current.size, body.root, current.root, log.tree.consistencyProof(body.size, current.size));
  return { note, body };
}

/** A study's proof kit against the witnessed checkpoint when it covers every entry of the study, else the latest. */
export function buildWitnessedProofKit(log: LogStore, vkey: string, verifier: NoteVerifier, studyInstanceUID: string): ProofKit {
  const w = witnessedCheckpoint(log, verifier);
  const entries = log.findByStudy(studyInstanceUID);
  const covered = w && entries.length > 0 && entries.every((i) => i < w.body.size);
  return buildProofKit(log, vkey, studyInstanceUID, covered ? w : undefined);
}
