import { CustosError } from '../errors.ts';
import { type Checkpoint, parseCheckpoint } from '../integrity/checkpoint.ts';
import { openNote, parseVerifierKey } from '../integrity/note.ts';
import { type SignedStatement, isInstanceStatement } from '../integrity/statement.ts';
import { parseTlogProof } from '../integrity/tlog-proof.ts';
import type { LogRecord } from '../store/log-store.ts';
import type { LogView } from './verify.ts';

/* A patient's proof kit as a log to verify against: no file system, so the browser uses it too. */

/** A patient proof kit: everything needed to verify one study's files offline (JSON, no other input). */
export interface ProofKit {
  kind: 'custos.proof-kit/v1';
  log: { origin: string; vkey: string };
  checkpoint: string;
  /** Each entry with its salt and statement, and a c2sp.org/tlog-proof (extra = the entry's leaf data). */
  entries: Array<{ index: number; salt: string; signed: SignedStatement; tlogProof: string }>;
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
