import { recordEvents } from '../audit/events.ts';
import type { GatewayConfig } from '../config/gateway-config.ts';
import { CustosError, isCustosError } from '../errors.ts';
import { ALERTING, type Finding } from '../integrity/sweep-findings.ts';
import { DicomWebPacs } from '../net/dicomweb-pacs.ts';
import { DimsePacs } from '../net/dimse-pacs.ts';
import type { PacsSource } from '../net/pacs-source.ts';
import type { Database } from '../store/database.ts';
import type { LogStore } from '../store/log-store.ts';
import { type SweepSummary, sweepArchive } from './sweep.ts';
import type { LogView } from './verify.ts';

export type SweepConfig = GatewayConfig['sweeps'][number];

/** Findings kept in the database: those that need a look, and what could not be judged. */
const KEPT = new Set<Finding['status']>([...ALERTING, 'unknown', 'unreadable']);

export function sourceOf(c: SweepConfig, callingAeTitle: string): PacsSource {
  const bytesPerSecond = c.maxMiBPerSecond ? c.maxMiBPerSecond * 1048576 : undefined;
  return c.source.kind === 'dicomweb'
    ? new DicomWebPacs({ url: c.source.url, headers: c.source.headers, bytesPerSecond })
    : new DimsePacs({ host: c.source.host, port: c.source.port, aeTitle: c.source.aeTitle, callingAeTitle: c.source.callingAeTitle ?? callingAeTitle, bytesPerSecond });
}

const daysAgo = (days: number): string => new Date(Date.now() - days * 86_400_000).toISOString().slice(0, 10).replaceAll('-', '');

/**
 * The gateway's scheduled sweeps: each runs every `intervalMinutes` (or when asked through the API),
 * one sweep at a time. A run is a row in `sweeps`; each finding that needs a look a row in
 * `sweep_findings` (an open alert until acknowledged) and an audit event.
 */
export class SweepScheduler {
  private readonly timers: NodeJS.Timeout[] = [];
  private chain: Promise<unknown> = Promise.resolve();
  private stopped = false;
  private readonly d: { db: Database; log: LogStore; view: () => LogView; sweeps: readonly SweepConfig[]; callingAeTitle: string };

  constructor(d: { db: Database; log: LogStore; view: () => LogView; sweeps: readonly SweepConfig[]; callingAeTitle: string }) {
    this.d = d;
  }

  start(): void {
    for (const c of this.d.sweeps) {
      const t = setInterval(() => { void this.run(c.id).catch(() => undefined); }, c.intervalMinutes * 60_000);
      t.unref();
      this.timers.push(t);
    }
  }

  get configured(): readonly SweepConfig[] {
    return this.d.sweeps;
  }

  /** Queue a run; resolves with its id once it has started (the run itself goes on). */
  run(name: string): Promise<{ id: number; done: Promise<void> }> {
    const c = this.d.sweeps.find((s) => s.id === name);
    if (!c) return Promise.reject(new CustosError('NOT_FOUND', `no sweep named ${JSON.stringify(name)} is configured`));
    if (this.stopped) return Promise.reject(new CustosError('STORE_UNAVAILABLE', 'the gateway is stopping'));
    const source = sourceOf(c, this.d.callingAeTitle);
    return this.d.db.query<{ id: number }>('INSERT INTO sweeps (name, source, mode) VALUES ($1, $2, $3) RETURNING id', [c.id, source.label, c.mode]).then(([row]) => {
      const id = Number(row!.id);
      const done = this.chain.then(() => this.execute(id, c, source));
      this.chain = done.catch(() => undefined);
      return { id, done };
    });
  }

  private async execute(id: number, c: SweepConfig, source: PacsSource): Promise<void> {
    let summary: SweepSummary | undefined;
    try {
      if (this.stopped) throw new CustosError('STORE_UNAVAILABLE', 'the gateway stopped before the sweep ran');
      const mode = c.mode === 'full' ? { kind: 'full' as const } : c.mode === 'metadata' ? { kind: 'metadata' as const } : { kind: 'sample' as const, share: c.share, seed: id };
      summary = await sweepArchive(source, this.d.log, this.d.view(), { scope: c.sinceDays ? { since: daysAgo(c.sinceDays) } : {}, mode }, async (f) => {
        if (!KEPT.has(f.status)) return;
        await this.d.db.query(
          'INSERT INTO sweep_findings (sweep_id, status, study_instance_uid, series_instance_uid, sop_instance_uid, log_index, reason) VALUES ($1, $2, $3, $4, $5, $6, $7)',
          [id, f.status, f.studyInstanceUID, f.seriesInstanceUID, f.sopInstanceUID, f.index ?? null, f.reason]);
        // The audit event names the finding by its row (UIDs stay in the access-controlled table).
        if (ALERTING.has(f.status)) await recordEvents(this.d.db, [{ kind: 'integrity.finding', detail: { sweep: id, name: c.id, status: f.status, logIndex: f.index ?? null } }]);
      });
      await this.d.db.query("UPDATE sweeps SET finished_at = now(), outcome = 'done', summary = $2::jsonb WHERE id = $1", [id, JSON.stringify(summary)]);
      await recordEvents(this.d.db, [{ kind: 'integrity.sweep', detail: { sweep: id, name: c.id, source: source.label, mode: c.mode, counts: summary.counts } }]);
    } catch (e) {
      const message = `${isCustosError(e) ? `${e.code}: ` : ''}${(e as Error).message}`;
      await this.d.db.query("UPDATE sweeps SET finished_at = now(), outcome = 'failed', error = $2 WHERE id = $1", [id, message]).catch(() => undefined);
      await recordEvents(this.d.db, [{ kind: 'integrity.sweep', detail: { sweep: id, name: c.id, source: source.label, failed: message } }]).catch(() => undefined);
      process.stderr.write(`custos: sweep ${c.id} failed: ${message}\n`);
    } finally {
      await source.close();
    }
  }

  /** Stop the timers and wait for the run in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    await this.chain;
  }
}
