/**
 * The gateway's database calls, driven directly with synthetic rows: the ingest call per instance,
 * then per batch the work loop's log-and-claim and settlement (migrations 2 and 3). Used by the
 * maintenance tests and by bench/database-growth.ts.
 */
import type { Database } from '../src/store/database.ts';

const SHA = 'cd'.repeat(32);

/** The patient every synthetic instance belongs to (its key row must exist before any ingest). */
export async function addSyntheticPatient(db: Database): Promise<void> {
  await db.query("INSERT INTO patient_keys (patient_ref, wrapped_key) VALUES ('synthetic', '\\x00') ON CONFLICT DO NOTHING");
}

/** Ingest instances number `from` to `from + count - 1` (SOP Instance UID 2.25.<n>), one call each; their row ids. */
export async function ingestSynthetic(db: Database, from: number, count: number): Promise<number[]> {
  const ids: number[] = [];
  for (let n = from; n < from + count; n++) {
    const [row] = await db.queryFirst<{ id: number }>('SELECT custos_ingest($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) AS id', [
      `2.25.${n}`, '1.2.840.10008.5.1.4.1.1.2', '2.25.1', '2.25.2', 'CT', null, '1.2.840.10008.1.2.1', 'synthetic', `instances/cd/${n}`, 530000, SHA, 'dimse', 'SYNTHETIC', ['scp'],
      JSON.stringify({ source: 'dimse', bytes: 530000, sha256: SHA, recipients: ['scp'] })]);
    ids.push(Number(row!.id));
  }
  return ids;
}

/** Record the instances' log indexes (from `firstLogIndex` on) and claim their jobs; the jobs claimed. */
export async function logAndClaim(db: Database, ids: readonly number[], firstLogIndex: number): Promise<Array<{ id: number }>> {
  return db.batch<{ id: number }>([{ sql: 'SELECT id FROM custos_log_and_claim($1::bigint[], $2::bigint[], $3)', params: [ids, ids.map((_, i) => firstLogIndex + i), 16] }]);
}

/** Mark the jobs delivered. */
export async function settleDone(db: Database, jobs: ReadonlyArray<{ id: number }>): Promise<void> {
  await db.batch([{ sql: 'SELECT custos_settle_done($1::bigint[], $2::text[], $3::bigint[])', params: [jobs.map((j) => j.id), jobs.map((j) => `2.25.9${j.id}`), jobs.map(() => 530000)] }]);
}
