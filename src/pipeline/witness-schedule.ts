import { recordEvents } from '../audit/events.ts';
import { parseCosignerVkey } from '../integrity/cosignature.ts';
import { withCosignatures } from '../net/witness-client.ts';
import type { Database } from '../store/database.ts';
import type { LogStore } from '../store/log-store.ts';
import { Witnessing, type WitnessOutcome } from './witnessing.ts';

export interface WitnessStatus { witness: string; url: string; cosignedSize: number | null; lastAttemptAt: string | null; lastError: { code: string; message: string } | null }

/**
 * The gateway's witnessing: every `intervalSeconds`, if the log grew, its checkpoint goes to each
 * witness; cosignatures are kept in the database (log_cosignatures) and in log/cosigned-checkpoint.
 * A refusal is an audit event (integrity.witness-refused) and is shown by GET /api/witnesses:
 * a split view, an inconsistent checkpoint or a witness ahead of the log means the log was
 * rolled back or forked, and someone must look.
 */
export class WitnessSchedule {
  private readonly witnessing: Witnessing;
  private readonly status: WitnessStatus[];
  private timer: NodeJS.Timeout | undefined;
  private submittedSize = -1;
  private readonly log: LogStore;
  private readonly db: Database;

  constructor(db: Database, log: LogStore, witnesses: ReadonlyArray<{ url: string; key: string }>) {
    this.db = db;
    this.log = log;
    const endpoints = witnesses.map((w) => ({ url: w.url, cosigner: parseCosignerVkey(w.key) }));
    this.status = endpoints.map((e) => ({ witness: e.cosigner.name, url: e.url, cosignedSize: null, lastAttemptAt: null, lastError: null }));
    this.witnessing = new Witnessing(log, endpoints, async (witness, size, line, note) => {
      await db.query('INSERT INTO log_cosignatures (witness, size, note) VALUES ($1, $2, $3) ON CONFLICT (witness, size) DO NOTHING', [witness, size, withCosignatures(note, [line])]);
    });
  }

  async start(intervalSeconds: number): Promise<void> {
    const rows = await this.db.query<{ witness: string; size: number }>('SELECT witness, max(size) AS size FROM log_cosignatures GROUP BY witness');
    for (const r of rows) { const s = this.status.find((x) => x.witness === r.witness); if (s) s.cosignedSize = Number(r.size); }
    void this.round();
    this.timer = setInterval(() => { void this.round(); }, intervalSeconds * 1000);
    this.timer.unref();
  }

  get witnesses(): readonly WitnessStatus[] {
    return this.status;
  }

  /** One round, if the log grew since the last round every witness accepted. */
  async round(): Promise<WitnessOutcome[]> {
    const size = this.log.checkpoint.body.size;
    if (size === this.submittedSize) return [];
    const outcomes = await this.witnessing.submit();
    const at = new Date().toISOString();
    for (const o of outcomes) {
      const s = this.status.find((x) => x.witness === o.witness)!;
      s.lastAttemptAt = at;
      if (o.ok) { s.cosignedSize = o.size; s.lastError = null; continue; }
      const repeated = s.lastError?.code === o.code;
      s.lastError = { code: o.code, message: o.message };
      if (!repeated) {
        process.stderr.write(`custos: witness ${o.witness} did not cosign: ${o.code}: ${o.message}\n`);
        await recordEvents(this.db, [{ kind: 'integrity.witness-refused', detail: { witness: o.witness, code: o.code, size } }]).catch(() => undefined);
      }
    }
    if (outcomes.every((o) => o.ok)) this.submittedSize = size;
    return outcomes;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.witnessing.idle();
  }
}
