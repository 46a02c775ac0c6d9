import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { CustosError } from '../errors.ts';
import { type Cosigner, formatCosignerSkey, formatCosignerVkey, parseCosignerSkey } from '../integrity/cosignature.ts';
import { rawPublicKey } from '../integrity/ed25519.ts';
import type { WitnessedState } from '../integrity/witness.ts';
import { createWhole } from './key-file.ts';
import { appendDurably, replaceDurably } from './log-files.ts';

/**
 * A witness's directory: its key (witness.key, 0600, created on first use), the latest checkpoint it
 * cosigned per log (state.json, replaced durably before any answer), and the evidence of logs that
 * misbehaved (evidence.jsonl: split views and inconsistent checkpoints, as submitted).
 */
export class WitnessStore {
  readonly dir: string;
  readonly cosigner: Cosigner;
  readonly vkey: string;
  private state: Record<string, WitnessedState>;

  constructor(dir: string, name?: string) {
    this.dir = dir;
    const keyPath = join(dir, 'witness.key');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (!existsSync(keyPath)) {
      try { createWhole(keyPath, formatCosignerSkey(name ?? `custos-witness/${hostname()}-${randomBytes(3).toString('hex')}`, randomBytes(32)) + '\n'); } catch (e) { if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e; }
    }
    this.cosigner = parseCosignerSkey(readFileSync(keyPath, 'utf8'));
    this.vkey = formatCosignerVkey(this.cosigner.name, rawPublicKey(this.cosigner.key));
    const statePath = join(dir, 'state.json');
    try {
      this.state = existsSync(statePath) ? JSON.parse(readFileSync(statePath, 'utf8')) as Record<string, WitnessedState> : {};
    } catch (e) {
      throw new CustosError('STORE_CORRUPT', `the witness state ${statePath} cannot be read: ${(e as Error).message}`);
    }
  }

  get(origin: string): WitnessedState | undefined {
    return this.state[origin];
  }

  /** Record a newly cosigned checkpoint (durable before it is answered). */
  put(origin: string, s: WitnessedState): void {
    const next = { ...this.state, [origin]: s };
    replaceDurably(join(this.dir, 'state.json'), JSON.stringify(next, null, 1) + '\n');
    this.state = next;
  }

  evidence(kind: 'split-view' | 'inconsistent', origin: string, submitted: string, held: WitnessedState | undefined): void {
    appendDurably(join(this.dir, 'evidence.jsonl'), Buffer.from(JSON.stringify({ at: new Date().toISOString(), kind, origin, submitted, held: held?.note ?? null }) + '\n'));
  }
}
