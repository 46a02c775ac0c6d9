import { recordEvents } from '../audit/events.ts';
import type { RecipientConfig } from '../config/gateway-config.ts';
import { canonicalJSON } from '../integrity/canonical-json.ts';
import { publicKeyFromRaw, signEd25519, verifyEd25519 } from '../integrity/ed25519.ts';
import type { NoteSigner } from '../integrity/note.ts';
import { signStatement } from '../integrity/statement.ts';
import type { Database } from '../store/database.ts';
import type { LogStore } from '../store/log-store.ts';
import { agreementsOf } from './recipient-policy.ts';

/*
 * Asking recipients to delete what they received, and proving they did (docs/accountability.md).
 * A request (an erasure, or an agreement's deletion deadline passing) is POSTed to the recipient's
 * attestation URL, signed by the gateway (Ed25519, the log key: header x-custos-signature over the
 * body). The recipient answers with a deletion attestation signed with the key registered for it;
 * a valid one is recorded per release and in the integrity log, a forged or missing one leaves the
 * request open (tried again with backoff) and, past its due date, overdue.
 */

const DAY = 86_400_000;

/** What the recipient signs: the request it answers, which releases, and when they were deleted. */
export interface DeletionAttestation { type: 'custos/deletion-attestation/v1'; request: number; recipient: string; releases: number[]; deletedAt: string }

export const attestationBytes = (a: DeletionAttestation): Buffer => Buffer.from(canonicalJSON({ ...a, releases: [...a.releases].sort((x, y) => x - y) }), 'utf8');

/** Verify an answer against the recipient's key and the request it must answer; the reason when it does not. */
export function checkAttestation(answer: unknown, request: { id: number; recipient: string; jobIds: number[] }, publicKey: string): { ok: true; attestation: DeletionAttestation } | { ok: false; why: string } {
  const a = (answer ?? {}) as { attestation?: Partial<DeletionAttestation>; signature?: unknown };
  const att = a.attestation;
  if (!att || att.type !== 'custos/deletion-attestation/v1' || typeof a.signature !== 'string') return { ok: false, why: 'no signed deletion attestation in the answer' };
  if (att.request !== request.id || att.recipient !== request.recipient) return { ok: false, why: 'the attestation answers another request or recipient' };
  if (!Array.isArray(att.releases) || [...att.releases].sort((x, y) => x - y).join(',') !== [...request.jobIds].sort((x, y) => x - y).join(',')) return { ok: false, why: 'the attestation does not name exactly the releases asked about' };
  if (typeof att.deletedAt !== 'string' || Number.isNaN(Date.parse(att.deletedAt))) return { ok: false, why: 'the attestation has no deletion time' };
  const full = att as DeletionAttestation;
  let ok = false;
  try { ok = verifyEd25519(publicKeyFromRaw(Buffer.from(publicKey, 'base64')), attestationBytes(full), Buffer.from(a.signature, 'base64')); } catch { ok = false; }
  return ok ? { ok: true, attestation: full } : { ok: false, why: 'the signature does not verify with the key registered for the recipient' };
}

export interface DeletionRun { requested: number; sent: number; attested: number; rejected: number; overdue: number }

/**
 * Create the requests an agreement's deletion deadline calls for, then send every open request
 * that is due an attempt. `now` is a parameter (tests give a clock).
 */
export async function runDeletionRequests(db: Database, recipients: readonly RecipientConfig[], log: LogStore, signer: NoteSigner, now: Date, fetcher: typeof fetch = fetch): Promise<DeletionRun> {
  const run: DeletionRun = { requested: 0, sent: 0, attested: 0, rejected: 0, overdue: 0 };
  for (const r of recipients) {
    const days = (await agreementsOf(db, r.id)).filter((a) => a.status === 'active' && a.terms.deletionDeadlineDays !== undefined).map((a) => a.terms.deletionDeadlineDays!);
    if (!days.length) continue;
    const deadline = new Date(now.getTime() - Math.min(...days) * DAY);
    // Past the deadline: asked now, with a week to answer.
    const rows = await db.query<{ id: number }>(
      `INSERT INTO deletion_requests (recipient, kind, job_ids, due_at)
       SELECT $1, 'deadline', array_agg(j.id ORDER BY j.id), $3 FROM jobs j
        WHERE j.recipient = $1 AND j.state = 'done' AND j.done_at < $2
          AND NOT EXISTS (SELECT 1 FROM deletion_attestations a WHERE a.job_id = j.id)
          AND NOT EXISTS (SELECT 1 FROM deletion_requests d WHERE j.id = ANY(d.job_ids))
       HAVING count(*) > 0 RETURNING id`, [r.id, deadline, new Date(now.getTime() + 7 * DAY)]);
    run.requested += rows.length;
  }
  const open = await db.query<{ id: number; recipient: string; kind: string; job_ids: number[]; due_at: string; attempts: number }>(
    'SELECT id, recipient, kind, job_ids, due_at, attempts FROM deletion_requests WHERE answered_at IS NULL AND next_attempt_at <= $1 ORDER BY id', [now]);
  for (const q of open) {
    const r = recipients.find((x) => x.id === q.recipient);
    if (!r?.attestation) continue; // nowhere to ask: stays open, and overdue once due
    const jobIds = q.job_ids.map(Number);
    const releases = await db.query<{ id: number; uid: string | null }>('SELECT id, output_sop_instance_uid AS uid FROM jobs WHERE id = ANY($1::bigint[]) ORDER BY id', [jobIds]);
    const body = JSON.stringify({ type: 'custos/deletion-request/v1', request: Number(q.id), recipient: q.recipient, kind: q.kind, dueAt: new Date(q.due_at).toISOString(), releases: releases.map((x) => ({ jobId: Number(x.id), sopInstanceUid: x.uid })) });
    let why: string;
    try {
      const res = await fetcher(r.attestation.url, {
        method: 'POST', body, signal: AbortSignal.timeout(30_000),
        headers: { 'content-type': 'application/json', 'x-custos-signer': signer.name, 'x-custos-signature': signEd25519(signer.key, Buffer.from(body, 'utf8')).toString('base64') },
      });
      run.sent++;
      const answer: unknown = res.ok ? await res.json().catch(() => undefined) : undefined;
      const check = res.ok ? checkAttestation(answer, { id: Number(q.id), recipient: q.recipient, jobIds }, r.attestation.publicKey) : { ok: false as const, why: `the recipient answered HTTP ${res.status}` };
      if (check.ok) {
        const [index] = log.appendBatch([{ signed: signStatement({ type: 'custos/deletion-attestation/v1', attestation: check.attestation, signature: (answer as { signature: string }).signature, time: now.toISOString(), signer: signer.name }, signer.key) }], { checkpoint: 'soon' }).indexes;
        await db.transaction(async (tx) => {
          await tx.query(`INSERT INTO deletion_attestations (recipient, token_id, job_id, deleted_at, statement) SELECT $1, 'signed', j, $2, $3 FROM unnest($4::bigint[]) AS j ON CONFLICT (job_id) DO NOTHING`,
            [q.recipient, check.attestation.deletedAt, `request ${q.id}, log entry ${index}`, jobIds]);
          await tx.query('UPDATE deletion_requests SET answered_at = $2, log_index = $3, attempts = attempts + 1, last_error = NULL WHERE id = $1', [q.id, now, index]);
        });
        await recordEvents(db, [{ kind: 'release.deletion-attested', recipient: q.recipient, detail: { request: Number(q.id), releases: jobIds.length, logIndex: index, signed: true } }]);
        run.attested++;
        continue;
      }
      why = check.why;
      run.rejected++;
    } catch (e) {
      why = `the recipient could not be reached (${(e as Error).name})`;
    }
    const delay = Math.min(DAY, 60_000 * 2 ** Math.min(q.attempts, 10));
    await db.query('UPDATE deletion_requests SET attempts = attempts + 1, last_error = $2, next_attempt_at = $3 WHERE id = $1', [q.id, why, new Date(now.getTime() + delay)]);
    await recordEvents(db, [{ kind: 'release.deletion-unattested', recipient: q.recipient, detail: { request: Number(q.id), why } }]);
  }
  const [o] = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM deletion_requests WHERE answered_at IS NULL AND due_at < $1', [now]);
  run.overdue = o?.n ?? 0;
  return run;
}
