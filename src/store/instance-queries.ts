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
