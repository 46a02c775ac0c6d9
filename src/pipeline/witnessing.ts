import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type CustosErrorCode, isCustosError } from '../errors.ts';
import { parseCheckpoint } from '../integrity/checkpoint.ts';
import { type Cosigner, verifiedCosignatures } from '../integrity/cosignature.ts';
import { addCheckpoint, withCosignatures, type WitnessEndpoint } from '../net/witness-client.ts';
import { replaceDurably } from '../store/log-files.ts';
import type { LogStore } from '../store/log-store.ts';

export type WitnessOutcome =
  | { witness: string; ok: true; size: number; line: string }
  | { witness: string; ok: false; code: CustosErrorCode; message: string };

/** Where a data directory keeps its witnessed checkpoint: the latest with every cosignature gathered for it. */
export const cosignedPathOf = (logDir: string): string => join(logDir, 'cosigned-checkpoint');
const sizesPathOf = (logDir: string): string => join(logDir, 'witnessed.json');

/**
 * Getting the log's checkpoints cosigned (c2sp.org/tlog-witness): the latest checkpoint is sent to
 * each witness with a consistency proof from the size that witness last cosigned; the cosignatures
 * are gathered into `cosigned-checkpoint` in the log directory (and handed to `onCosigned`).
 */
export class Witnessing {
  private readonly log: LogStore;
  private readonly witnesses: readonly WitnessEndpoint[];
  private sizes: Record<string, number>;
  private running: Promise<WitnessOutcome[]> | undefined;
  private again = false;
  private readonly onCosigned: ((witness: string, size: number, line: string, note: string) => Promise<void> | void) | undefined;

  constructor(log: LogStore, witnesses: readonly WitnessEndpoint[], onCosigned?: (witness: string, size: number, line: string, note: string) => Promise<void> | void) {
    this.log = log;
    this.witnesses = witnesses;
    this.onCosigned = onCosigned;
    try { this.sizes = existsSync(sizesPathOf(log.dir)) ? JSON.parse(readFileSync(sizesPathOf(log.dir), 'utf8')) as Record<string, number> : {}; } catch { this.sizes = {}; }
  }

  /** Submit the latest checkpoint to every witness; one round at a time (a call during a round runs one more after it). */
  submit(): Promise<WitnessOutcome[]> {
    if (this.running) { this.again = true; return this.running; }
    this.running = this.round().finally(() => {
      this.running = undefined;
      if (this.again) { this.again = false; void this.submit(); }
    });
    return this.running;
  }

  async idle(): Promise<void> {
    while (this.running) await this.running.catch(() => undefined);
  }

  private async round(): Promise<WitnessOutcome[]> {
    const { note, body } = this.log.checkpoint;
    const outcomes = await Promise.all(this.witnesses.map(async (w): Promise<WitnessOutcome> => {
      try {
        const { cosignature } = await addCheckpoint(w, note, body.size, (old) => this.log.tree.consistencyProof(old, body.size), this.sizes[w.cosigner.name] ?? 0);
        this.sizes[w.cosigner.name] = body.size;
        await this.onCosigned?.(w.cosigner.name, body.size, cosignature.line, note);
        return { witness: w.cosigner.name, ok: true, size: body.size, line: cosignature.line };
      } catch (e) {
        return { witness: w.cosigner.name, ok: false, code: isCustosError(e) ? e.code : 'WITNESS_UNREACHABLE', message: (e as Error).message };
      }
    }));
    replaceDurably(sizesPathOf(this.log.dir), JSON.stringify(this.sizes) + '\n');
    const lines = outcomes.flatMap((o) => (o.ok ? [o.line] : []));
    if (lines.length) {
      // Cosignatures already gathered for this same checkpoint (an earlier round) are kept.
      const path = cosignedPathOf(this.log.dir);
      const prior = existsSync(path) ? readFileSync(path, 'utf8') : '';
      const base = prior.startsWith(note.slice(0, note.lastIndexOf('\n\n') + 1)) ? prior : note;
      replaceDurably(path, withCosignatures(base, lines));
    }
    return outcomes;
  }
}

/** A checkpoint's valid cosignatures from the given witnesses, and whether they reach the quorum. */
export function quorumOf(note: string, witnesses: readonly Cosigner[], quorum: number): { witnesses: string[]; met: boolean; size: number } {
  const split = note.lastIndexOf('\n\n');
  const text = note.slice(0, split + 1);
  const lines = note.slice(split + 2).split('\n').filter(Boolean);
  const valid = verifiedCosignatures(text, lines, witnesses);
  return { witnesses: valid.map((v) => v.witness), met: valid.length >= quorum, size: parseCheckpoint(text).size };
}
