import type { Queryable } from './database.ts';

/*
 * The lookups DICOMweb answers from (QIDO-RS lists, WADO-RS retrievals): the instances the gateway
 * holds by study, series and instance UID. Where an instance was received more than once (resent with
 * other bytes), the latest copy counts.
 */

/** A series of a study: its modality and how many instances the gateway holds. */
export interface SeriesSummary { series: string; modality: string | null; instances: number }

export async function seriesOfStudy(db: Queryable, study: string): Promise<SeriesSummary[]> {
  return db.query<SeriesSummary>(
    `SELECT series_instance_uid AS series, max(modality) AS modality, count(*)::int AS instances FROM instances
     WHERE study_instance_uid = $1 GROUP BY series_instance_uid ORDER BY min(id)`, [study]);
}

/** An instance as QIDO-RS lists it. */
export interface InstanceSummary { series: string; sop: string; cls: string; ts: string }

export async function instancesOf(db: Queryable, study: string, series?: string): Promise<InstanceSummary[]> {
  return db.query<InstanceSummary>(
    `SELECT DISTINCT ON (sop_instance_uid) series_instance_uid AS series, sop_instance_uid AS sop, sop_class_uid AS cls, transfer_syntax_uid AS ts
     FROM instances WHERE study_instance_uid = $1 AND ($2::text IS NULL OR series_instance_uid = $2) ORDER BY sop_instance_uid, id DESC`,
    [study, series ?? null]);
}

/** The row ids of the instances a WADO-RS request names (a study, a series of it, or one instance). */
export async function instanceIdsFor(db: Queryable, study: string, series?: string, instance?: string): Promise<number[]> {
  const rows = await db.query<{ id: number }>(
    `SELECT DISTINCT ON (sop_instance_uid) id FROM instances WHERE study_instance_uid = $1 AND ($2::text IS NULL OR series_instance_uid = $2)
     AND ($3::text IS NULL OR sop_instance_uid = $3) ORDER BY sop_instance_uid, id DESC`,
    [study, series ?? null, instance ?? null]);
  return rows.map((r) => Number(r.id));
}

/** Counts of what happened per hour over the last `hours` (the console's activity chart), from the audit events. */
export interface ActivityHour { hour: string; received: number; released: number; withheld: number; held: number; failed: number }

export async function activityByHour(db: Queryable, hours: number): Promise<ActivityHour[]> {
  const rows = await db.query<{ hour: string | Date; kind: string; n: number }>(
    `SELECT date_trunc('hour', at) AS hour, kind, count(*)::int AS n FROM events
      WHERE at >= date_trunc('hour', now()) - ($1::int - 1) * interval '1 hour'
        AND kind IN ('instance.received', 'job.forwarded', 'job.withheld', 'job.held', 'job.dead')
      GROUP BY 1, 2`, [hours]);
  const key = { 'instance.received': 'received', 'job.forwarded': 'released', 'job.withheld': 'withheld', 'job.held': 'held', 'job.dead': 'failed' } as const;
  const start = new Date(); start.setUTCMinutes(0, 0, 0);
  const out: ActivityHour[] = [];
  for (let i = hours - 1; i >= 0; i--) {
    const h = new Date(start.getTime() - i * 3_600_000).toISOString();
    out.push({ hour: h, received: 0, released: 0, withheld: 0, held: 0, failed: 0 });
  }
  for (const r of rows) {
    const h = new Date(r.hour).toISOString();
    const slot = out.find((o) => o.hour === h);
    const k = key[r.kind as keyof typeof key];
    if (slot && k) slot[k] += Number(r.n);
  }
  return out;
}

/** One study's instances, each with its log entry and its jobs (the console's timeline). */
export interface StudyTimeline {
  study: string;
  instances: Array<{
    id: number; sopInstanceUid: string; seriesInstanceUid: string; modality: string | null; receivedAt: string; logIndex: number | null;
    jobs: Array<{ id: number; recipient: string; state: string; updatedAt: string; doneAt: string | null; outputSopInstanceUid: string | null; reasons: string[]; lastErrorCode: string | null }>;
  }>;
}

export async function studyTimeline(db: Queryable, study: string): Promise<StudyTimeline | undefined> {
  const instances = await db.query<{ id: number; sop: string; series: string; modality: string | null; received_at: string | Date; log_index: number | null }>(
    `SELECT id, sop_instance_uid AS sop, series_instance_uid AS series, modality, received_at, log_index FROM instances
      WHERE study_instance_uid = $1 ORDER BY series_instance_uid, id LIMIT 5000`, [study]);
  if (!instances.length) return undefined;
  const jobs = await db.query<{ id: number; instance_id: number; recipient: string; state: string; updated_at: string | Date; done_at: string | Date | null; output_sop_instance_uid: string | null; withheld_reasons: unknown; last_error_code: string | null }>(
    `SELECT id, instance_id, recipient, state, updated_at, done_at, output_sop_instance_uid, withheld_reasons, last_error_code FROM jobs
      WHERE instance_id = ANY($1::bigint[]) ORDER BY id`, [instances.map((i) => i.id)]);
  const iso = (v: string | Date): string => new Date(v).toISOString();
  const reasons = (v: unknown): string[] => {
    const list = (typeof v === 'string' ? JSON.parse(v) : v) as Array<{ code?: string }> | null;
    return (list ?? []).map((r) => r.code ?? '').filter(Boolean);
  };
  return {
    study,
    instances: instances.map((i) => ({
      id: Number(i.id), sopInstanceUid: i.sop, seriesInstanceUid: i.series, modality: i.modality, receivedAt: iso(i.received_at),
      logIndex: i.log_index === null || Number(i.log_index) < 0 ? null : Number(i.log_index),
      jobs: jobs.filter((j) => Number(j.instance_id) === Number(i.id)).map((j) => ({
        id: Number(j.id), recipient: j.recipient, state: j.state, updatedAt: iso(j.updated_at), doneAt: j.done_at ? iso(j.done_at) : null,
        outputSopInstanceUid: j.output_sop_instance_uid, reasons: reasons(j.withheld_reasons), lastErrorCode: j.last_error_code,
      })),
    })),
  };
}
