import { CustosError } from '../errors.ts';
import { type Checkpoint, parseCheckpoint } from './checkpoint.ts';
import { verifyConsistency } from './merkle.ts';
import { type NoteVerifier, openNote } from './note.ts';
import { HASH_SIZE } from './rfc6962.ts';

/*
 * The witness side of c2sp.org/tlog-witness add-checkpoint, as pure decisions: the request body
 * parsed, and what the witness answers given the latest checkpoint it cosigned for that log.
 */

export interface AddCheckpoint { oldSize: number; proof: Buffer[]; note: string }

/** Request body: "old <size>\n", up to 63 base64 proof lines, an empty line, the checkpoint note. */
export function formatAddCheckpoint(oldSize: number, proof: readonly Buffer[], note: string): string {
  return `old ${oldSize}\n${proof.map((p) => `${p.toString('base64')}\n`).join('')}\n${note}`;
}

export function parseAddCheckpoint(body: string): AddCheckpoint {
  const blank = body.indexOf('\n\n');
  if (blank < 0) throw new CustosError('WITNESS_BAD_REQUEST', 'add-checkpoint body has no empty line before the checkpoint');
  const [first, ...proofLines] = body.slice(0, blank).split('\n');
  const m = /^old (0|[1-9]\d{0,15})$/.exec(first ?? '');
  if (!m) throw new CustosError('WITNESS_BAD_REQUEST', 'add-checkpoint body must start with "old <size>"');
  if (proofLines.length > 63) throw new CustosError('WITNESS_BAD_REQUEST', `more than 63 consistency proof lines (${proofLines.length})`);
  const proof = proofLines.map((l) => {
    const h = Buffer.from(l, 'base64');
    if (h.length !== HASH_SIZE || h.toString('base64') !== l) throw new CustosError('WITNESS_BAD_REQUEST', 'a consistency proof line is not a base64 SHA-256 hash');
    return h;
  });
  return { oldSize: Number(m[1]), proof, note: body.slice(blank + 2) };
}

/** What a witness keeps per log: the latest checkpoint it cosigned. */
export interface WitnessedState { size: number; root: string; note: string }

export type WitnessAnswer =
  | { status: 200; checkpoint: Checkpoint; text: string }
  | { status: 400 | 403 | 404 | 422; code: 'WITNESS_BAD_REQUEST' | 'WITNESS_UNKNOWN_LOG' | 'NOTE_UNVERIFIED' | 'WITNESS_INCONSISTENT'; message: string }
  | { status: 409; size: number; splitView: boolean; message: string };

/**
 * The witness's decision for one request (c2sp.org/tlog-witness, add-checkpoint). `logs` are the
 * log keys it trusts, by origin (the key's name); `state` the latest it cosigned for that origin.
 */
export function decideAddCheckpoint(req: AddCheckpoint, logs: readonly NoteVerifier[], stateOf: (origin: string) => WitnessedState | undefined): WitnessAnswer {
  let text: string;
  let cp: Checkpoint;
  try {
    const split = req.note.lastIndexOf('\n\n');
    cp = parseCheckpoint(split < 0 ? req.note : req.note.slice(0, split + 1));
  } catch (e) {
    return { status: 400, code: 'WITNESS_BAD_REQUEST', message: `not a checkpoint: ${(e as Error).message}` };
  }
  const keys = logs.filter((k) => k.name === cp.origin);
  if (!keys.length) return { status: 404, code: 'WITNESS_UNKNOWN_LOG', message: 'this witness does not follow that log (unknown origin)' };
  try {
    text = openNote(req.note, keys).text;
  } catch (e) {
    const code = (e as CustosError).code;
    if (code === 'NOTE_MALFORMED') return { status: 400, code: 'WITNESS_BAD_REQUEST', message: (e as Error).message };
    return { status: 403, code: 'NOTE_UNVERIFIED', message: 'the checkpoint is not signed by the log key this witness trusts' };
  }
  if (req.oldSize > cp.size) return { status: 400, code: 'WITNESS_BAD_REQUEST', message: `old size ${req.oldSize} is larger than the checkpoint's ${cp.size}` };
  const state = stateOf(cp.origin);
  const known = state?.size ?? 0;
  if (req.oldSize !== known) return { status: 409, size: known, splitView: false, message: `this witness last cosigned size ${known}` };
  if (state && req.oldSize === cp.size) {
    if (state.root !== cp.root.toString('base64')) return { status: 409, size: known, splitView: true, message: `split view: a checkpoint of size ${cp.size} with another root was cosigned before` };
    return { status: 200, checkpoint: cp, text };
  }
  if (req.oldSize === 0) {
    if (req.proof.length) return { status: 422, code: 'WITNESS_INCONSISTENT', message: 'a consistency proof from size 0 must be empty' };
    return { status: 200, checkpoint: cp, text };
  }
  try {
    verifyConsistency(req.oldSize, cp.size, Buffer.from(state!.root, 'base64'), cp.root, req.proof);
  } catch (e) {
    return { status: 422, code: 'WITNESS_INCONSISTENT', message: `the checkpoint is not consistent with the one cosigned before (size ${req.oldSize}): ${(e as Error).message}` };
  }
  return { status: 200, checkpoint: cp, text };
}
