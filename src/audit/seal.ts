import { createHash } from 'node:crypto';
import type { AuditFindingCode } from '../errors.ts';
import { canonicalJSON } from '../integrity/canonical-json.ts';
import type { NoteSigner } from '../integrity/note.ts';
import { type AuditSealStatement, signStatement, verifyStatement } from '../integrity/statement.ts';
import type { KeyObject } from 'node:crypto';
import type { Database, Queryable } from '../store/database.ts';
import type { LogStore } from '../store/log-store.ts';

/*
 * The audit trail made tamper-evident: events are sealed in batches, in id order. A seal's digest
 * chains the previous seal's digest and every event of the batch (its id, time, kind, references
 * and detail, as canonical JSON); the seal is signed and appended to the integrity log, whose
 * Merkle tree and signed checkpoints nobody can rewrite unseen. `custos audit verify` recomputes
 * each seal from the database: an event edited or deleted after it was sealed changes the digest.
 */

const GENESIS = '0'.repeat(64);
/** Events younger than this are left for the next seal: a transaction still open may yet commit a lower id. */
const SETTLE_MS = 2000;
const BATCH = 5000;

interface EventRow { id: number | string; at: string | Date; kind: string; instance_id: number | string | null; job_id: number | string | null; recipient: string | null; detail: unknown }

const asJson = (d: unknown): unknown => (typeof d === 'string' ? JSON.parse(d) : d ?? null);

/** One event as it is hashed. */
function canonicalEvent(r: EventRow): string {
  return canonicalJSON({
    id: Number(r.id), at: new Date(r.at).toISOString(), kind: r.kind,
    instance: r.instance_id === null ? null : Number(r.instance_id), job: r.job_id === null ? null : Number(r.job_id),
    recipient: r.recipient, detail: asJson(r.detail),
  } as never);
}

export function sealDigest(previous: string, rows: readonly EventRow[]): string {
  const h = createHash('sha256').update('custos/audit-seal/v1\0').update(previous);
  for (const r of rows) h.update('\n').update(canonicalEvent(r));
  return h.digest('hex');
}

/** Seal the events not yet sealed (older than SETTLE_MS), a batch at a time; returns how many were sealed. */
export async function sealAudit(db: Database, log: LogStore, signer: NoteSigner, settleMs = SETTLE_MS): Promise<number> {
  let sealed = 0;
  for (;;) {
    const [last] = await db.query<{ seq: number; last_event: number | string; digest: string }>('SELECT seq, last_event, digest FROM audit_seals ORDER BY seq DESC LIMIT 1');
    const rows = await db.query<EventRow>(
      `SELECT id, at, kind, instance_id, job_id, recipient, detail FROM events WHERE id > $1 AND at < now() - ($2::int * interval '1 millisecond') ORDER BY id LIMIT ${BATCH}`,
      [Number(last?.last_event ?? 0), settleMs]);
    if (!rows.length) return sealed;
    const statement: AuditSealStatement = {
      type: 'custos/audit-seal/v1', seq: (last?.seq ?? 0) + 1,
      firstEvent: Number(rows[0]!.id), lastEvent: Number(rows[rows.length - 1]!.id), count: rows.length,
      digest: sealDigest(last?.digest ?? GENESIS, rows), previous: last?.digest ?? GENESIS,
      time: new Date().toISOString(), signer: signer.name,
    };
    const [index] = log.appendBatch([{ signed: signStatement(statement, signer.key) }], { checkpoint: 'soon' }).indexes;
    await db.query('INSERT INTO audit_seals (seq, first_event, last_event, count, digest, log_index) VALUES ($1, $2, $3, $4, $5, $6)',
      [statement.seq, statement.firstEvent, statement.lastEvent, statement.count, statement.digest, index]);
    sealed += rows.length;
  }
}

export interface AuditProblem { code: AuditFindingCode; message: string }
export interface AuditReport { seals: number; events: number; unsealed: number; problems: AuditProblem[] }

/**
 * Check the audit trail against the seals in the log: every seal the log holds is recomputed from
 * the events in the database (the database's own seal table is only a hint, and is checked too).
 */
export async function verifyAudit(db: Queryable, log: LogStore, verifierKey: KeyObject): Promise<AuditReport> {
  const problems: AuditProblem[] = [];
  const seals = log.findAuditSeals().map((i) => ({ index: i, signed: log.record(i)?.signed }));
  let previous = GENESIS;
  let events = 0;
  let lastEvent = 0;
  for (const { index, signed } of seals) {
    const s = signed?.statement;
    if (!signed || s?.type !== 'custos/audit-seal/v1') continue;
    if (!verifyStatement(signed, verifierKey)) { problems.push({ code: 'AUDIT_SEAL_FORGED', message: `log entry ${index}: the seal's signature does not verify` }); continue; }
    const rows = await db.query<EventRow>('SELECT id, at, kind, instance_id, job_id, recipient, detail FROM events WHERE id >= $1 AND id <= $2 ORDER BY id', [s.firstEvent, s.lastEvent]);
    const [row] = await db.query<{ log_index: number | string }>('SELECT log_index FROM audit_seals WHERE seq = $1', [s.seq]);
    if (!row || Number(row.log_index) !== index) problems.push({ code: 'AUDIT_SEAL_MISSING', message: `seal ${s.seq} (log entry ${index}) is missing from the database's seal table` });
    if (s.previous !== previous) problems.push({ code: 'AUDIT_CHANGED', message: `seal ${s.seq} does not follow the seal before it in the log` });
    if (rows.length > s.count) problems.push({ code: 'AUDIT_INSERTED', message: `events ${s.firstEvent}–${s.lastEvent}: ${rows.length - s.count} more than were sealed (seal ${s.seq}, log entry ${index})` });
    else if (sealDigest(s.previous, rows) !== s.digest) {
      problems.push({ code: 'AUDIT_CHANGED', message: `events ${s.firstEvent}–${s.lastEvent} (seal ${s.seq}, log entry ${index}): ${rows.length < s.count ? `${s.count - rows.length} deleted` : 'one or more changed'} since they were sealed` });
    }
    previous = s.digest;
    events += s.count;
    lastEvent = s.lastEvent;
  }
  const [extra] = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_seals WHERE seq > $1', [seals.length]);
  if ((extra?.n ?? 0) > 0) problems.push({ code: 'AUDIT_SEAL_FORGED', message: `${extra!.n} seal(s) in the database are not in the log` });
  const [unsealed] = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM events WHERE id > $1', [lastEvent]);
  return { seals: seals.length, events, unsealed: unsealed?.n ?? 0, problems };
}
