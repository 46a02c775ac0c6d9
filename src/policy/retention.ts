import { recordEvents } from '../audit/events.ts';
import type { GatewayConfig } from '../config/gateway-config.ts';
import { CustosError } from '../errors.ts';
import type { BlobStore } from '../store/blob-store.ts';
import type { DataKeys } from '../store/data-keys.ts';
import type { Database } from '../store/database.ts';

/*
 * Retention and erasure (docs/accountability.md). Identified originals and rejected input are kept
 * for their configured time and then purged (blob deleted, the row marked, the audit trail kept),
 * except what a legal hold covers and originals still waiting to be forwarded. A patient's erasure
 * destroys their data key (crypto-shredding: every copy of their blobs, backups included, becomes
 * unreadable), stops their queued work, deletes their blobs, and records which recipients hold
 * releases of theirs, to be asked to delete them. Counts are recorded, never PHI.
 */

export type RetentionPolicy = GatewayConfig['retention'];

const DAY = 86_400_000;
const BATCH = 500;

export interface RetentionRun { originals: number; quarantine: number; keptByHold: number }

/** Purge what expired by `now` (a parameter: tests and the scheduler give it). */
export async function runRetention(db: Database, blobs: BlobStore, policy: RetentionPolicy, now: Date): Promise<RetentionRun> {
  const originalsBefore = new Date(now.getTime() - policy.originalsDays * DAY);
  const quarantineBefore = new Date(now.getTime() - policy.quarantineDays * DAY);
  const run: RetentionRun = { originals: 0, quarantine: 0, keptByHold: 0 };
  const held = `EXISTS (SELECT 1 FROM legal_holds h WHERE h.released_at IS NULL AND (h.patient_ref = i.patient_ref OR h.study_instance_uid = i.study_instance_uid))`;
  for (;;) {
    // Originals whose time is up, with no delivery still to make, and no hold on them.
    const rows = await db.query<{ id: number; blob_key: string }>(
      `SELECT i.id, i.blob_key FROM instances i WHERE i.purged_at IS NULL AND i.received_at < $1
         AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.instance_id = i.id AND j.state IN ('pending', 'running')) AND NOT ${held}
       ORDER BY i.id LIMIT ${BATCH}`, [originalsBefore]);
    if (!rows.length) break;
    for (const r of rows) await blobs.delete(r.blob_key);
    await db.query('UPDATE instances SET purged_at = now() WHERE id = ANY($1::bigint[])', [rows.map((r) => r.id)]);
    run.originals += rows.length;
  }
  const [kept] = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM instances i WHERE i.purged_at IS NULL AND i.received_at < $1 AND ${held}`, [originalsBefore]);
  run.keptByHold = kept?.n ?? 0;
  for (;;) {
    const rows = await db.query<{ id: number; blob_key: string }>('SELECT id, blob_key FROM quarantine WHERE blob_key IS NOT NULL AND received_at < $1 ORDER BY id LIMIT ' + BATCH, [quarantineBefore]);
    if (!rows.length) break;
    for (const r of rows) await blobs.delete(r.blob_key);
    await db.query('UPDATE quarantine SET blob_key = NULL, wrapped_key = NULL WHERE id = ANY($1::bigint[])', [rows.map((r) => r.id)]);
    run.quarantine += rows.length;
  }
  if (run.originals || run.quarantine) await recordEvents(db, [{ kind: 'retention.purged', detail: { ...run, originalsBefore: originalsBefore.toISOString(), quarantineBefore: quarantineBefore.toISOString() } }]);
  return run;
}

export interface Erasure { erasure: number; instances: number; jobsStopped: number; recipientsToAsk: string[] }

/** Erase a patient's data (by keyed reference): see the module comment. The audit trail stays. */
export async function erasePatient(db: Database, blobs: BlobStore, keys: DataKeys, ref: string, reason: string, by: string): Promise<Erasure> {
  const result = await db.transaction(async (tx) => {
    const [known] = await tx.query<{ n: number }>('SELECT count(*)::int AS n FROM patient_keys WHERE patient_ref = $1', [ref]);
    if (!known?.n) throw new CustosError('NOT_FOUND', 'the gateway holds nothing of this patient');
    const stopped = await tx.query<{ id: number }>(
      `UPDATE jobs SET state = 'dead', last_error_code = 'PATIENT_ERASED', last_error = 'the patient''s data was erased', withheld_reasons = NULL, updated_at = now()
       WHERE state IN ('pending', 'running', 'held', 'withheld') AND instance_id IN (SELECT id FROM instances WHERE patient_ref = $1) RETURNING id`, [ref]);
    const recipients = (await tx.query<{ recipient: string }>(
      `SELECT DISTINCT j.recipient FROM jobs j JOIN instances i ON i.id = j.instance_id WHERE i.patient_ref = $1 AND j.state = 'done' ORDER BY 1`, [ref])).map((r) => r.recipient);
    const [e] = await tx.query<{ id: number }>('INSERT INTO erasures (patient_ref, reason, erased_by, jobs_stopped) VALUES ($1, $2, $3, $4) RETURNING id', [ref, reason, by, stopped.length]);
    // Nor is the patient counted in the population any more (docs/risk.md).
    await tx.query('DELETE FROM risk_population WHERE patient_ref = $1', [ref]);
    await tx.query('DELETE FROM defacing_reviews WHERE patient_ref = $1', [ref]);
    // Each recipient holding releases of the patient is asked to delete them (sent by deletion-requests.ts).
    for (const r of recipients) {
      await tx.query(
        `INSERT INTO deletion_requests (recipient, kind, erasure_id, job_ids, due_at)
         SELECT $2, 'erasure', $1, array_agg(j.id ORDER BY j.id), now() + interval '30 days' FROM jobs j JOIN instances i ON i.id = j.instance_id
         WHERE i.patient_ref = $3 AND j.recipient = $2 AND j.state = 'done'`, [e!.id, r, ref]);
    }
    await keys.shred(tx, ref);
    return { erasure: Number(e!.id), jobsStopped: stopped.length, recipientsToAsk: recipients };
  });
  // The key is gone: every blob of the patient is unreadable already; the files go too.
  const blobsOf = await db.query<{ id: number; blob_key: string }>('SELECT id, blob_key FROM instances WHERE patient_ref = $1 AND purged_at IS NULL', [ref]);
  for (const b of blobsOf) await blobs.delete(b.blob_key).catch(() => undefined);
  await db.query('UPDATE instances SET purged_at = now() WHERE patient_ref = $1 AND purged_at IS NULL', [ref]);
  await recordEvents(db, [{ kind: 'patient.erased', detail: { erasure: result.erasure, instances: blobsOf.length, jobsStopped: result.jobsStopped, recipientsToAsk: result.recipientsToAsk.length, by } }]);
  return { ...result, instances: blobsOf.length };
}
