import { randomUUID } from 'node:crypto';
import type { Consent } from '@medplum/fhirtypes';
import { patientRef } from '../store/data-keys.ts';
import type { Database, Queryable } from '../store/database.ts';
import type { ConsentRecord } from './decision.ts';

/*
 * The consent registry: FHIR R4 Consents, every version kept (a change is a new version, never an
 * edit), each filed under the patient's keyed reference. Served by api/fhir-routes.ts, read by the
 * egress decision.
 */

/** A stored version: the resource as served (id and meta set) and when it was recorded. */
export interface StoredConsent { id: string; version: number; recordedAt: Date; resource: Consent }

interface Row { id: string; version: number; recorded_at: string | Date; resource: Consent | string }

const toStored = (r: Row): StoredConsent => {
  const resource = (typeof r.resource === 'string' ? JSON.parse(r.resource) : r.resource) as Consent;
  const recordedAt = new Date(r.recorded_at);
  return { id: r.id, version: Number(r.version), recordedAt, resource: { ...resource, id: r.id, meta: { ...resource.meta, versionId: String(r.version), lastUpdated: recordedAt.toISOString() } } };
};

/**
 * The patient a consent is about, as the gateway's keyed reference. Consent.patient.identifier:
 * system is the Issuer of Patient ID (0010,0021) as the instances carry it (absent: none), value
 * the Patient ID (0010,0020).
 */
export function consentPatientRef(deploymentKey: Buffer, c: Consent): string {
  const id = c.patient!.identifier!;
  if (id.system === PATIENT_REF_SYSTEM) return id.value!; // already the keyed reference (the patient's own choices, from the portal)
  return patientRef(deploymentKey, id.value!, id.system ?? '');
}

/**
 * Consent.patient.identifier.system of a consent that names the patient by the gateway's keyed
 * reference instead of their Patient ID: what the portal records, which knows the patient only so.
 */
export const PATIENT_REF_SYSTEM = 'urn:custos:patient-ref';

const categories = (c: Consent): string[] => (c.category ?? []).flatMap((cc) => (cc.coding ?? []).map((x) => x.code ?? '')).filter(Boolean);

/** Record a consent: a new one (no id), or a new version of `id`. Returns the stored version. */
export async function recordConsent(db: Database, deploymentKey: Buffer, c: Consent, by: string, id?: string): Promise<StoredConsent> {
  const consentId = id ?? randomUUID();
  const { meta: _meta, id: _id, ...body } = c;
  void _meta; void _id;
  const row = await db.transaction(async (tx) => {
    const [prev] = await tx.query<{ v: number | null }>('SELECT max(version) AS v FROM consents WHERE id = $1', [consentId]);
    const version = Number(prev?.v ?? 0) + 1;
    const [r] = await tx.query<Row>(
      `INSERT INTO consents (id, version, patient_ref, status, categories, date_time, resource, recorded_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       RETURNING id, version, recorded_at, resource`,
      [consentId, version, consentPatientRef(deploymentKey, c), c.status, categories(c), c.dateTime ?? null, JSON.stringify(body), by]);
    return r!;
  });
  return toStored(row);
}

export async function readConsent(db: Queryable, id: string, version?: number): Promise<StoredConsent | undefined> {
  const [r] = await db.query<Row>(
    `SELECT id, version, recorded_at, resource FROM consents WHERE id = $1 AND ($2::int IS NULL OR version = $2) ORDER BY version DESC LIMIT 1`, [id, version ?? null]);
  return r ? toStored(r) : undefined;
}

export async function consentHistory(db: Queryable, id: string): Promise<StoredConsent[]> {
  return (await db.query<Row>('SELECT id, version, recorded_at, resource FROM consents WHERE id = $1 ORDER BY version DESC', [id])).map(toStored);
}

export interface ConsentSearch {
  patientRef?: string | undefined;
  status?: string[] | undefined;
  category?: string[] | undefined;
  /** FHIR date comparisons on Consent.dateTime: [prefix, instant]. */
  date?: Array<['eq' | 'ge' | 'le' | 'gt' | 'lt', string]> | undefined;
  count: number;
  offset: number;
}

/** The current version of each consent that matches (newest first), and how many match in all. */
export async function searchConsents(db: Queryable, q: ConsentSearch): Promise<{ total: number; entries: StoredConsent[] }> {
  const where: string[] = [];
  const params: unknown[] = [];
  const p = (v: unknown): string => { params.push(v); return `$${params.length}`; };
  if (q.patientRef !== undefined) where.push(`patient_ref = ${p(q.patientRef)}`);
  if (q.status?.length) where.push(`status = ANY(${p(q.status)}::text[])`);
  if (q.category?.length) where.push(`categories && ${p(q.category)}::text[]`);
  for (const [prefix, at] of q.date ?? []) {
    const op = { eq: '=', ge: '>=', le: '<=', gt: '>', lt: '<' }[prefix];
    where.push(`date_time IS NOT NULL AND left(date_time, ${p(at.length)}) ${op} ${p(at)}`);
  }
  const current = `SELECT DISTINCT ON (id) id, version, recorded_at, resource, patient_ref, status, categories, date_time FROM consents ORDER BY id, version DESC`;
  const filter = where.length ? `WHERE ${where.join(' AND ')}` : '';
  const [count] = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM (${current}) c ${filter}`, params);
  const rows = await db.query<Row>(`SELECT id, version, recorded_at, resource FROM (${current}) c ${filter} ORDER BY recorded_at DESC, id LIMIT ${p(q.count)} OFFSET ${p(q.offset)}`, params);
  return { total: Number(count?.n ?? 0), entries: rows.map(toStored) };
}

/** Every patient's consents as the decision reads them: the current version of each. */
export async function consentsOfPatient(db: Queryable, ref: string): Promise<ConsentRecord[]> {
  const rows = await db.query<Row>(`SELECT DISTINCT ON (id) id, version, recorded_at, resource FROM consents WHERE patient_ref = $1 ORDER BY id, version DESC`, [ref]);
  return rows.map(toStored).map((s) => ({ id: s.id, version: s.version, resource: s.resource }));
}
