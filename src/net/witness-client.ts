import { CustosError } from '../errors.ts';
import { type Cosigner, type VerifiedCosignature, verifiedCosignatures } from '../integrity/cosignature.ts';
import { formatAddCheckpoint } from '../integrity/witness.ts';

export interface WitnessEndpoint { url: string; cosigner: Cosigner }

/**
 * Submit a checkpoint to a witness (c2sp.org/tlog-witness add-checkpoint) and return its verified
 * cosignature. `proof(old)` gives the consistency proof from an older size; `oldSize` is what we
 * believe the witness last cosigned (0 if unknown): on 409 the witness's own size is taken and the
 * request made again once. Refusals are typed: WITNESS_SPLIT_VIEW, WITNESS_INCONSISTENT,
 * LOG_ROLLBACK (the witness cosigned a larger tree than this log has), WITNESS_UNKNOWN_LOG,
 * NOTE_UNVERIFIED, WITNESS_UNREACHABLE.
 */
export async function addCheckpoint(
  w: WitnessEndpoint,
  note: string,
  size: number,
  proof: (old: number) => Buffer[],
  oldSize: number,
  timeoutMs = 10_000,
): Promise<{ cosignature: VerifiedCosignature; oldSize: number }> {
  const text = note.slice(0, note.lastIndexOf('\n\n') + 1);
  let old = Math.min(oldSize, size);
  for (let attempt = 0; attempt < 2; attempt++) {
    let res: Response;
    try {
      res = await fetch(`${w.url.replace(/\/+$/, '')}/add-checkpoint`, {
        method: 'POST', headers: { 'content-type': 'text/plain; charset=utf-8' }, body: formatAddCheckpoint(old, old ? proof(old) : [], note), signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (e) {
      const cause = (e as { cause?: NodeJS.ErrnoException }).cause;
      throw new CustosError('WITNESS_UNREACHABLE', `witness ${w.cosigner.name} cannot be reached: ${cause?.code ?? (e as Error).name}`);
    }
    const body = (await res.text().catch(() => '')).slice(0, 4096);
    if (res.status === 200) {
      const lines = body.split('\n').filter(Boolean);
      const [mine] = verifiedCosignatures(text, lines, [w.cosigner]);
      if (!mine) throw new CustosError('WITNESS_UNREACHABLE', `witness ${w.cosigner.name} answered without a cosignature by its key`);
      return { cosignature: mine, oldSize: old };
    }
    if (res.status === 409) {
      const theirs = /^(0|[1-9]\d{0,15})\n?$/.exec(body)?.[1];
      if (theirs === undefined) throw new CustosError('WITNESS_UNREACHABLE', `witness ${w.cosigner.name} answered 409 without its size`);
      const n = Number(theirs);
      if (n > size) throw new CustosError('LOG_ROLLBACK', `witness ${w.cosigner.name} cosigned a tree of ${n} entries; this log has ${size}: it was rolled back`);
      if (n === old || res.headers.get('x-custos-split-view') === '1') {
        throw new CustosError('WITNESS_SPLIT_VIEW', `witness ${w.cosigner.name} cosigned another tree of size ${n}: two versions of this log exist`);
      }
      old = n;
      continue;
    }
    const codes: Record<number, 'WITNESS_BAD_REQUEST' | 'NOTE_UNVERIFIED' | 'WITNESS_UNKNOWN_LOG' | 'WITNESS_INCONSISTENT'> = { 400: 'WITNESS_BAD_REQUEST', 403: 'NOTE_UNVERIFIED', 404: 'WITNESS_UNKNOWN_LOG', 422: 'WITNESS_INCONSISTENT' };
    const code = codes[res.status];
    if (code) throw new CustosError(code, `witness ${w.cosigner.name} refused the checkpoint of size ${size} (HTTP ${res.status}): ${body.trim().slice(0, 300)}`);
    throw new CustosError('WITNESS_UNREACHABLE', `witness ${w.cosigner.name} answered HTTP ${res.status}`);
  }
  throw new CustosError('WITNESS_UNREACHABLE', `witness ${w.cosigner.name} kept changing its size`);
}

/** A checkpoint note with cosignature lines added (each witness once; the note's own lines kept). */
export function withCosignatures(note: string, lines: readonly string[]): string {
  const have = new Set(note.slice(note.lastIndexOf('\n\n') + 2).split('\n').filter(Boolean).map((l) => l.split(' ')[1]));
  const extra = lines.filter((l) => !have.has(l.split(' ')[1]));
  return note + extra.map((l) => (l.endsWith('\n') ? l : `${l}\n`)).join('');
}
