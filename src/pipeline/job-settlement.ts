import { type AuditEvent, eventsStatement } from '../audit/events.ts';
import type { GatewayConfig } from '../config/gateway-config.ts';
import type { Reason } from '../policy/decision.ts';
import type { Database, Statement } from '../store/database.ts';
import type { IngestedInstance } from './ingest.ts';

/*
 * How a claimed job ends (the queue in the database, migration 3): done, retried later with backoff,
 * held for review, dead, or withheld by the egress decision — each with its audit event, in one
 * transaction per batch.
 */

/** A claimed job as the work loop holds it. */
export interface JobRow { id: number; instance_id: number; recipient: string; attempts: number }
/** A job claimed for delivery, with the instance it delivers. */
export type ClaimedJob = JobRow & { instance: IngestedInstance & { transfer_syntax_uid: string } };

/** What a release was decided under (docs/policy.md), kept with its job for the accountability record. */
export type ReleaseBasis = Record<string, unknown>;

export type Settlement = {
  job: JobRow;
  outcome:
    | { kind: 'done'; sopInstanceUID: string; bytes: number; basis?: ReleaseBasis }
    | { kind: 'retry' | 'dead' | 'held'; code: string; message: string }
    | { kind: 'withheld'; reasons: Reason[] }
    /** Not yet: taken again after `delayMs`, without counting an attempt (a series still arriving). */
    | { kind: 'wait'; code: string; message: string; delayMs: number };
};

/** Delay before attempt n+1: exponential from initialBackoffMs, capped, with ±20 % jitter. */
export function backoffMs(attempts: number, f: GatewayConfig['forwarding']): number {
  const base = Math.min(f.maxBackoffMs, f.initialBackoffMs * 2 ** Math.max(0, attempts - 1));
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

/**
 * Storage failed mid-batch: put claimed jobs that were not settled back in the queue (best effort:
 * if the database is down, the next start requeues them).
 */
export async function requeueJobs(db: Database, jobs: readonly JobRow[]): Promise<void> {
  if (!jobs.length) return;
  await db.query(`UPDATE jobs SET state = 'pending', updated_at = now() WHERE id = ANY($1::bigint[]) AND state = 'running'`, [jobs.map((j) => j.id)]).catch(() => undefined);
}

/** Record every job's outcome and its audit event: one transaction, sent as one batch. */
export async function settleJobs(db: Database, f: GatewayConfig['forwarding'], list: readonly Settlement[]): Promise<void> {
  if (!list.length) return;
  const events: AuditEvent[] = [];
  const statements: Statement[] = [];
  const done = list.flatMap((s) => (s.outcome.kind === 'done' ? [{ id: Number(s.job.id), ...s.outcome }] : []));
  if (done.length) {
    // Marked done, each with its job.forwarded event (migration 3).
    statements.push({ sql: 'SELECT custos_settle_done($1::bigint[], $2::text[], $3::bigint[])', params: [done.map((d) => d.id), done.map((d) => d.sopInstanceUID), done.map((d) => d.bytes)] });
    // Each release keeps the decision it went out under: consents and versions, agreement, vetting, obligations.
    const based = done.filter((d) => d.basis);
    if (based.length) statements.push({ sql: 'UPDATE jobs SET release_basis = v.b::jsonb FROM unnest($1::bigint[], $2::text[]) AS v(id, b) WHERE jobs.id = v.id', params: [based.map((d) => d.id), based.map((d) => JSON.stringify(d.basis))] });
  }
  for (const { job, outcome: o } of list) {
    const base = { instanceId: Number(job.instance_id), jobId: Number(job.id), recipient: job.recipient };
    if (o.kind === 'done') continue;
    if (o.kind === 'withheld') {
      statements.push({ sql: `UPDATE jobs SET state = 'withheld', withheld_reasons = $2::jsonb, updated_at = now() WHERE id = $1`, params: [job.id, JSON.stringify(o.reasons)] });
      events.push({ kind: 'job.withheld', ...base, detail: { reasons: o.reasons.map((r) => r.code), ...(o.reasons.find((r) => r.consent) ? { consents: o.reasons.flatMap((r) => (r.consent ? [r.consent] : [])) } : {}) } });
      continue;
    }
    if (o.kind === 'wait') {
      statements.push({ sql: `UPDATE jobs SET state = 'pending', next_attempt_at = now() + ($2::int * interval '1 millisecond'), last_error_code = $3, last_error = $4, updated_at = now() WHERE id = $1`, params: [job.id, Math.round(o.delayMs), o.code, o.message] });
      continue;
    }
    if (o.kind === 'retry') {
      const delay = backoffMs(job.attempts + 1, f);
      statements.push({ sql: `UPDATE jobs SET state = 'pending', attempts = attempts + 1, next_attempt_at = now() + ($2::int * interval '1 millisecond'), last_error_code = $3, last_error = $4, updated_at = now() WHERE id = $1`, params: [job.id, delay, o.code, o.message] });
      events.push({ kind: 'job.retry', ...base, detail: { attempt: job.attempts + 1, code: o.code, message: o.message, retryInMs: delay } });
      continue;
    }
    statements.push({ sql: `UPDATE jobs SET state = $2, attempts = attempts + $5, last_error_code = $3, last_error = $4, updated_at = now() WHERE id = $1`, params: [job.id, o.kind, o.code, o.message, o.kind === 'dead' ? 1 : 0] });
    events.push({ kind: o.kind === 'held' ? 'job.held' : 'job.dead', ...base, detail: { code: o.code, message: o.message } });
  }
  const ev = eventsStatement(events);
  if (ev) statements.push(ev);
  await db.batch(statements);
}
