import type { Queryable } from './database.ts';

/*
 * The counts and lists the status endpoints and study lists report, at a cost that follows what is in
 * flight and how many studies there are, not how many instances the gateway has handled since it was
 * installed: totals kept by the work loop (migration 4) for what is finished, indexes for the rest. A
 * monitoring system polls these; on PGlite each query holds the one connection every ingest waits for.
 */

export const JOB_STATES = ['pending', 'running', 'done', 'held', 'dead', 'withheld'] as const;
export type JobState = typeof JOB_STATES[number];

/** Instances held: those the log step marked (their series' totals) and those not yet (their partial index, instances_unlogged). */
export async function instanceCount(db: Queryable): Promise<number> {
  const [row] = await db.query<{ n: string | number }>(
    'SELECT (SELECT coalesce(sum(instances), 0) FROM series_totals) + (SELECT count(*) FROM instances WHERE log_index IS NULL) AS n');
  return Number(row?.n ?? 0);
}

/** A study as the lists show it. */
export interface StudySummary {
  study: string; series: number; instances: number; modalities: string[];
  firstReceivedAt: Date; lastReceivedAt: Date;
}

/**
 * Studies held, a page of them: most recently received first (`recent`, /api/studies) or in the order
 * they first arrived (`arrival`, QIDO-RS); all, or the one given. Grouped from the series totals and
 * the instances not yet marked, so a page costs what the studies number, not their instances.
 */
export async function listStudies(db: Queryable, opts: { order: 'recent' | 'arrival'; limit: number; offset: number; study?: string | undefined }): Promise<StudySummary[]> {
  const order = opts.order === 'recent' ? 'max(last_at) DESC, study' : 'min(first_id)';
  const rows = await db.query<{ study: string; series: number; instances: number; modalities: string[]; first: Date | string; last: Date | string }>(
    `WITH series AS (
       SELECT study_instance_uid AS study, series_instance_uid AS series, nullif(modality, '') AS modality, instances AS n,
              first_instance_id AS first_id, first_received_at AS first_at, last_received_at AS last_at
         FROM series_totals WHERE ($3::text IS NULL OR study_instance_uid = $3)
       UNION ALL
       SELECT study_instance_uid, series_instance_uid, modality, 1, id, received_at, received_at
         FROM instances WHERE log_index IS NULL AND ($3::text IS NULL OR study_instance_uid = $3))
     SELECT study, count(DISTINCT series)::int AS series, sum(n)::int AS instances, array_remove(array_agg(DISTINCT modality), NULL) AS modalities,
            min(first_at) AS first, max(last_at) AS last
       FROM series GROUP BY study ORDER BY ${order} LIMIT $1 OFFSET $2`,
    [opts.limit, opts.offset, opts.study ?? null]);
  return rows.map((r) => ({
    study: r.study, series: r.series, instances: r.instances, modalities: r.modalities,
    firstReceivedAt: new Date(r.first), lastReceivedAt: new Date(r.last),
  }));
}

/**
 * Jobs by state, of one recipient or of all: the unfinished states through their index (jobs_state),
 * delivered jobs from their recipient's total.
 */
export async function jobCounts(db: Queryable, recipient?: string): Promise<Record<JobState, number>> {
  const rows = await db.query<{ state: string; n: string | number }>(
    `SELECT state, count(*) AS n FROM jobs WHERE state IN ('pending', 'running', 'held', 'dead', 'withheld') AND ($1::text IS NULL OR recipient = $1) GROUP BY state
     UNION ALL SELECT 'done', coalesce(sum(done), 0) FROM job_totals WHERE ($1::text IS NULL OR recipient = $1)`, [recipient ?? null]);
  return Object.fromEntries(JOB_STATES.map((s) => [s, Number(rows.find((r) => r.state === s)?.n ?? 0)])) as Record<JobState, number>;
}

/** Latency percentiles (ms) over `n` deliveries, with the first one's receipt and the last one's delivery. */
export interface DeliveryLatency { n: number; p50: number | null; p95: number | null; p99: number | null; max: number | null; first: Date | null; last: Date | null }

/** Acknowledged → delivered latency over the last `window` deliveries, read through their index (jobs_done_at, migration 4). */
export async function deliveryLatency(db: Queryable, window: number): Promise<DeliveryLatency | undefined> {
  const [r] = await db.query<DeliveryLatency>(
    `WITH recent AS (
       SELECT extract(epoch FROM j.done_at - i.received_at) * 1000 AS ms, i.received_at, j.done_at
       FROM jobs j JOIN instances i ON i.id = j.instance_id WHERE j.state = 'done' ORDER BY j.done_at DESC LIMIT $1)
     SELECT count(*)::int AS n, percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS p50, percentile_cont(0.95) WITHIN GROUP (ORDER BY ms) AS p95,
            percentile_cont(0.99) WITHIN GROUP (ORDER BY ms) AS p99, max(ms) AS max, min(received_at) AS first, max(done_at) AS last FROM recent`, [window]);
  return r;
}
