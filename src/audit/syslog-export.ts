import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { type TLSSocket, connect } from 'node:tls';
import { KINDS } from './audit-event.ts';
import { dicomAuditMessage, syslogFrame } from './dicom-audit-message.ts';
import type { EventKind } from './events.ts';
import type { Database } from '../store/database.ts';

/*
 * Export of the audit trail to the hospital's audit repository: each record as a DICOM audit message
 * (PS3.15 A.5) in a syslog message (RFC 5424) over TLS (RFC 5425). The outbox is the audit trail
 * itself with a durable cursor (audit_export): a record is passed only after it was written to the
 * connection, so a restart or a repository outage loses nothing; records wait and go in order
 * once the repository is back.
 */

export interface SyslogTarget { host: string; port: number; caFile: string; certFile?: string | undefined; keyFile?: string | undefined; intervalSeconds: number }

const BATCH = 500;

export class SyslogExporter {
  private readonly db: Database;
  private readonly t: SyslogTarget;
  private readonly source: string;
  private socket: TLSSocket | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private stopped = false;
  /** The last error, for the status API and tests. */
  lastError: string | undefined;

  constructor(db: Database, target: SyslogTarget, source: string) {
    this.db = db;
    this.t = target;
    this.source = source;
  }

  start(): void {
    const tick = (): void => {
      this.running = this.running.then(async () => { await this.exportPending(); }).catch((e: Error) => { this.lastError = e.message; this.drop(); });
      void this.running.finally(() => { if (!this.stopped) this.timer = setTimeout(tick, this.t.intervalSeconds * 1000).unref(); });
    };
    tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
    this.drop();
  }

  private drop(): void {
    this.socket?.destroy();
    this.socket = undefined;
  }

  private connection(): Promise<TLSSocket> {
    if (this.socket && !this.socket.destroyed) return Promise.resolve(this.socket);
    return new Promise((resolve, reject) => {
      const s = connect({
        host: this.t.host, port: this.t.port, ca: readFileSync(this.t.caFile), servername: this.t.host,
        ...(this.t.certFile && this.t.keyFile ? { cert: readFileSync(this.t.certFile), key: readFileSync(this.t.keyFile) } : {}),
      }, () => { s.off('error', reject); s.on('error', () => this.drop()); s.on('close', () => { if (this.socket === s) this.socket = undefined; }); this.socket = s; resolve(s); });
      s.once('error', reject);
      s.setTimeout(30_000, () => s.destroy(new Error('syslog receiver timed out')));
    });
  }

  /** Send what was recorded since the cursor, in order; returns how many were sent. */
  async exportPending(): Promise<number> {
    let sent = 0;
    for (;;) {
      const [cur] = await this.db.query<{ last_event: number | string }>(`SELECT last_event FROM audit_export WHERE name = 'syslog'`);
      const after = Number(cur?.last_event ?? 0);
      const rows = await this.db.query<{ id: number; at: string; kind: EventKind; recipient: string | null; detail: unknown; patient_ref: string | null; study: string | null }>(
        `SELECT e.id, e.at, e.kind, e.recipient, e.detail, i.patient_ref, i.study_instance_uid AS study FROM events e LEFT JOIN instances i ON i.id = e.instance_id
         WHERE e.id > $1 ORDER BY e.id LIMIT ${BATCH}`, [after]);
      if (!rows.length) return sent;
      const socket = await this.connection();
      for (const r of rows) {
        const e = { id: Number(r.id), at: new Date(r.at), kind: r.kind, recipient: r.recipient, detail: (typeof r.detail === 'string' ? JSON.parse(r.detail) : r.detail) as Record<string, unknown> | null, patientRef: r.patient_ref, studyInstanceUID: r.study };
        const frame = syslogFrame(dicomAuditMessage(e, this.source), { id: e.id, at: e.at, outcome: KINDS[e.kind]?.outcome ?? '0' }, hostname());
        await new Promise<void>((resolve, reject) => socket.write(frame, (err) => (err ? reject(err) : resolve())));
        await this.db.query(`INSERT INTO audit_export (name, last_event) VALUES ('syslog', $1) ON CONFLICT (name) DO UPDATE SET last_event = $1, exported_at = now()`, [e.id]);
        sent++;
      }
      this.lastError = undefined;
    }
  }
}
