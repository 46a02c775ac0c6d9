import type { Queryable, Statement } from '../store/database.ts';

/**
 * The gateway's audit trail: one row per step an instance or job takes. Details hold codes, counts,
 * digests and pseudonymous UIDs only — never patient names, IDs or free text from a header.
 */
export type EventKind =
  | 'instance.received'
  | 'instance.duplicate'
  | 'instance.quarantined'
  | 'instance.logged'
  | 'instance.unlogged'
  | 'instance.discarded'
  | 'instance.unrouted'
  | 'job.forwarded'
  | 'job.held'
  | 'job.retry'
  | 'job.dead'
  | 'job.requeued'
  // access control: who signed in, what credentials were issued, who read identified data
  | 'auth.login'
  | 'auth.login-failed'
  | 'auth.logout'
  | 'auth.user-added'
  | 'auth.user-disabled'
  | 'auth.token-created'
  | 'auth.token-revoked'
  | 'auth.patient-code-issued'
  | 'auth.patient-code-used'
  | 'access.originals'
  | 'access.list'
  | 'access.portal'
  | 'access.accounting'
  | 'release.deletion-attested'
  | 'release.deletion-unattested'
  // consent registry: which consent and version changed, by whom (never its content)
  | 'consent.recorded'
  | 'consent.read'
  // recipients' vetting and agreements; the egress decision
  | 'policy.vetting'
  | 'policy.agreement'
  | 'policy.recipient'
  | 'job.withheld'
  // retention and erasure
  | 'retention.purged'
  | 'retention.hold'
  | 'patient.erased'
  // PACS sweeps: a run (its counts) and each finding that needs a look
  | 'integrity.sweep'
  | 'integrity.finding'
  | 'integrity.witness-refused';

export interface AuditEvent {
  kind: EventKind;
  instanceId?: number | null;
  jobId?: number | null;
  recipient?: string | null;
  detail?: Record<string, unknown>;
}

export async function recordEvents(db: Queryable, events: readonly AuditEvent[]): Promise<void> {
  const st = eventsStatement(events);
  if (st) await db.query(st.sql, st.params);
}

/** The INSERT that records these events (for a batch of statements), or nothing when there are none. */
export function eventsStatement(events: readonly AuditEvent[]): Statement | undefined {
  if (!events.length) return undefined;
  const params: unknown[] = [];
  const rows = events.map((e, i) => {
    params.push(e.kind, e.instanceId ?? null, e.jobId ?? null, e.recipient ?? null, e.detail ? JSON.stringify(e.detail) : null);
    const b = i * 5;
    return `($${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5}::jsonb)`;
  });
  return { sql: `INSERT INTO events (kind, instance_id, job_id, recipient, detail) VALUES ${rows.join(', ')}`, params };
}
