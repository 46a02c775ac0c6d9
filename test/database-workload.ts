/**
 * The gateway's database calls, driven directly with synthetic rows: the ingest call per instance,
 * then per batch the work loop's log-and-claim and settlement (migrations 2 and 3). Used by the
 * maintenance tests and by bench/database-growth.ts.
 */
import type { Database } from '../src/store/database.ts';
import { JOB_STATES, type StudySummary } from '../src/store/totals.ts';

const SHA = 'cd'.repeat(32);

/** The patient every synthetic instance belongs to (its key row must exist before any ingest). */
export async function addSyntheticPatient(db: Database): Promise<void> {
  await db.query("INSERT INTO patient_keys (patient_ref, wrapped_key) VALUES ('synthetic', '\\x00') ON CONFLICT DO NOTHING");
}

/** Where a synthetic instance belongs: its study, series and modality. */
export type SyntheticShape = (n: number) => { study: string; series: string; modality: string | null };
const ONE_SERIES: SyntheticShape = () => ({ study: '2.25.1', series: '2.25.2', modality: 'CT' });

/**
 * Ingest instances number `from` to `from + count - 1` (SOP Instance UID 2.25.<n>), one call each, all
 * in one CT series unless `shape` says otherwise; their row ids.
 */
export async function ingestSynthetic(db: Database, from: number, count: number, shape: SyntheticShape = ONE_SERIES): Promise<number[]> {
  const ids: number[] = [];
  for (let n = from; n < from + count; n++) {
    const { study, series, modality } = shape(n);
    const [row] = await db.queryFirst<{ id: number }>('SELECT custos_ingest($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) AS id', [
      `2.25.${n}`, '1.2.840.10008.5.1.4.1.1.2', study, series, modality, null, '1.2.840.10008.1.2.1', 'synthetic', `instances/cd/${n}`, 530000, SHA, 'dimse', 'SYNTHETIC', ['scp'],
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

/** Every row counted, as the status counts were before migration 4: what its totals must equal. */
export async function countInFull(db: Database, recipient?: string): Promise<{ instances: number; jobs: Record<string, number> }> {
  const [inst] = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM instances');
  const rows = await db.query<{ state: string; n: number }>('SELECT state, count(*)::int AS n FROM jobs WHERE ($1::text IS NULL OR recipient = $1) GROUP BY state', [recipient ?? null]);
  const jobs = Object.fromEntries(JOB_STATES.map((s) => [s, rows.find((r) => r.state === s)?.n ?? 0]));
  return { instances: inst!.n, jobs };
}

/** Every instance grouped by study, as the study lists were before migration 4: what they must equal. */
export async function listStudiesInFull(db: Database, order: 'recent' | 'arrival', opts: { study?: string; limit?: number } = {}): Promise<StudySummary[]> {
  const rows = await db.query<{ study: string; series: number; instances: number; modalities: string[]; first: Date; last: Date }>(
    `SELECT study_instance_uid AS study, count(DISTINCT series_instance_uid)::int AS series, count(*)::int AS instances,
            array_remove(array_agg(DISTINCT modality), NULL) AS modalities, min(received_at) AS first, max(received_at) AS last
     FROM instances WHERE ($1::text IS NULL OR study_instance_uid = $1) GROUP BY study_instance_uid
     ORDER BY ${order === 'recent' ? 'max(received_at) DESC, study_instance_uid' : 'min(id)'} LIMIT $2`, [opts.study ?? null, opts.limit ?? null]);
  return rows.map((r) => ({ study: r.study, series: r.series, instances: r.instances, modalities: r.modalities, firstReceivedAt: new Date(r.first), lastReceivedAt: new Date(r.last) }));
}
