import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CustosError } from '../errors.ts';
import { type Checkpoint, parseCheckpoint } from '../integrity/checkpoint.ts';
import { verifyConsistency } from '../integrity/merkle.ts';
import { type NoteVerifier, openNote, parseVerifierKey } from '../integrity/note.ts';
import { type SignedStatement, isInstanceStatement } from '../integrity/statement.ts';
import { formatTlogProof, parseTlogProof } from '../integrity/tlog-proof.ts';
import type { LogRecord, LogStore } from '../store/log-store.ts';
import type { LogView } from './integrity.ts';

/** The local log as a LogView; proofs are computed from the entries and checked against the signed checkpoint. */
export function localView(log: LogStore, verifier: NoteVerifier): LogView {
  const { body } = log.checkpoint;
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

/** A patient proof kit: everything needed to verify one study's files offline (JSON, no other input). */
export interface ProofKit {
  kind: 'custos.proof-kit/v1';
  log: { origin: string; vkey: string };
  checkpoint: string;
  /** Each entry with its salt and statement, and a c2sp.org/tlog-proof (extra = the entry's leaf data). */
  entries: Array<{ index: number; salt: string; signed: SignedStatement; tlogProof: string }>;
}

export function buildProofKit(log: LogStore, vkey: string, studyInstanceUID: string): ProofKit {
  const { note, body } = log.checkpoint;
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

/** A proof kit as a LogView. `pinnedVkey` (from a trusted source) overrides the key inside the kit. */
export function kitView(kit: ProofKit, pinnedVkey?: string): LogView {
  if (kit.kind !== 'custos.proof-kit/v1') throw new CustosError('USAGE', `not a Custos proof kit (kind ${JSON.stringify(kit.kind)})`);
  const verifier = parseVerifierKey(pinnedVkey ?? kit.log.vkey);
  const checkpoint: Checkpoint = parseCheckpoint(openNote(kit.checkpoint, [verifier]).text);
  // Each entry's proof must be for its own index and against the kit's checkpoint.
  const byIndex = new Map(kit.entries.map((e) => {
    const p = parseTlogProof(e.tlogProof);
    if (p.index !== e.index || p.checkpoint !== kit.checkpoint || !p.extra) throw new CustosError('NOTE_MALFORMED', `proof kit entry ${e.index} has a proof for another entry or checkpoint`);
    return [e.index, p] as const;
  }));
  return {
    checkpoint,
    verifier,
    candidates(sop, pixelRoot) {
      return kit.entries
        .filter((e) => {
          const s = e.signed.statement;
          return isInstanceStatement(s) && (s.instance.sopInstanceUID === sop || (pixelRoot !== null && s.content.pixelRoot === pixelRoot));
        })
        .map((e): LogRecord => ({ index: e.index, salt: e.salt, signed: e.signed }));
    },
    seriesStatement(uid) {
      const hits = kit.entries.filter((e) => e.signed.statement.type === 'custos/series/v1' && e.signed.statement.series.seriesInstanceUID === uid);
      const last = hits.at(-1);
      return last ? { index: last.index, salt: last.salt, signed: last.signed } : undefined;
    },
    entry: (i) => byIndex.get(i)?.extra,
    inclusionProof: (i) => byIndex.get(i)?.proof ?? [],
  };
}
