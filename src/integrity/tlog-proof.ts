import { CustosError } from '../errors.ts';
import { HASH_SIZE } from './rfc6962.ts';

/*
 * c2sp.org/tlog-proof@v1: an offline proof that one entry is in the log.
 *
 *   c2sp.org/tlog-proof@v1
 *   [extra <base64>]
 *   index <N>
 *   <base64 inclusion proof hash>...   (leaf's sibling first, RFC 6962 2.1.1)
 *
 *   <checkpoint note, verbatim>
 */
const HEADER = 'c2sp.org/tlog-proof@v1';

export interface TlogProof { index: number; proof: Buffer[]; checkpoint: string; extra?: Buffer }

export function formatTlogProof(p: TlogProof): string {
  const lines = [HEADER];
  if (p.extra) lines.push(`extra ${p.extra.toString('base64')}`);
  lines.push(`index ${p.index}`, ...p.proof.map((h) => h.toString('base64')));
  return `${lines.join('\n')}\n\n${p.checkpoint}`;
}

/** Parse a proof; it is attacker-controlled, so every line is checked. */
export function parseTlogProof(text: string): TlogProof {
  const split = text.indexOf('\n\n');
  if (split < 0) throw new CustosError('NOTE_MALFORMED', 'tlog-proof has no checkpoint');
  const lines = text.slice(0, split).split('\n');
  if (lines.shift() !== HEADER) throw new CustosError('NOTE_MALFORMED', `tlog-proof must start with ${HEADER}`);
  let extra: Buffer | undefined;
  if (lines[0]?.startsWith('extra ')) extra = Buffer.from(lines.shift()!.slice(6), 'base64');
  const m = /^index (0|[1-9]\d{0,15})$/.exec(lines.shift() ?? '');
  if (!m) throw new CustosError('NOTE_MALFORMED', 'tlog-proof needs an "index N" line');
  const proof = lines.map((l) => {
    const h = Buffer.from(l, 'base64');
    if (h.length !== HASH_SIZE || h.toString('base64') !== l) throw new CustosError('NOTE_MALFORMED', 'tlog-proof hash line is not a base64 SHA-256 hash');
    return h;
  });
  return { index: Number(m[1]), proof, checkpoint: text.slice(split + 2), ...(extra ? { extra } : {}) };
}
