import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { OPTIONS } from '../deid/profile-types.ts';
import { CustosError } from '../errors.ts';
import type { Database, Queryable } from '../store/database.ts';
import { type Agreement, type VettingStatus, weakerDeid } from './decision.ts';
import type { RecipientConfig } from '../config/gateway-config.ts';
import { PURPOSES } from './purposes.ts';

/*
 * What the hospital checked about a recipient before signing (vetting), and what it signed
 * (agreements): every version kept with who made it. Read by the egress decision; changed through
 * api/policy-routes.ts.
 */

/** A vetting record: the checks, each with its evidence. */
export const VettingRecordSchema = z.object({
  storageRegion: z.string().min(1).max(200),
  encryptionAtRest: z.boolean(),
  encryptionInTransit: z.boolean(),
  subProcessors: z.array(z.string().min(1).max(200)).max(100),
  breachNotificationHours: z.number().int().min(0).max(8760),
  /** Whether models trained on the data leave the vendor (sold, published, shared). */
  trainsModelsThatLeave: z.boolean(),
  retentionAndDeletion: z.string().min(1).max(2000),
  certifications: z.array(z.string().min(1).max(100)).max(50),
  businessAssociateAgreementSigned: z.boolean(),
  /** Where the evidence is (a document reference, a ticket), per check or as a whole. */
  evidence: z.string().min(1).max(2000),
}).strict();
export type VettingRecord = z.infer<typeof VettingRecordSchema>;

const isoInstant = z.iso.datetime({ offset: true });

/** An agreement's terms as sent to the API. */
export const AgreementTermsSchema = z.object({
  status: z.enum(['active', 'terminated']).default('active'),
  purposes: z.array(z.enum(PURPOSES as [string, ...string[]])).min(1),
  modalities: z.array(z.string().min(1).max(16)).optional(),
  bodyParts: z.array(z.string().min(1).max(16)).optional(),
  minimumDeid: z.object({
    profile: z.enum(['basic', 'none']).default('basic'),
    options: z.array(z.enum(OPTIONS)).default([]),
    key: z.enum(['recipient', 'deployment']).default('recipient'),
  }).strict().prefault({}),
  validFrom: isoInstant,
  validTo: isoInstant,
  retentionDays: z.number().int().min(0).max(36_500),
  /** Days after a release by which the recipient attests its deletion. */
  deletionDeadlineDays: z.number().int().min(0).max(36_500).optional(),
  maxRisk: z.number().gt(0).max(1).optional(),
  /** A release above maxRisk may be generalized (age and weight bands, dates to month or year…) to meet it. */
  allowGeneralization: z.boolean().optional(),
  document: z.object({ reference: z.string().min(1).max(2000), sha256: z.string().regex(/^[0-9a-f]{64}$/, 'SHA-256 in lower-case hex') }).strict(),
}).strict().refine((t) => Date.parse(t.validFrom) < Date.parse(t.validTo), { message: 'validTo must be after validFrom', path: ['validTo'] });
export type AgreementTerms = z.infer<typeof AgreementTermsSchema>;

export interface VettingVersion { recipient: string; version: number; status: VettingStatus; record: VettingRecord; filledBy: string; decidedBy: string | null; changedAt: string }
export interface AgreementVersion extends Agreement { recipient: string; terms: AgreementTerms; changedBy: string; changedAt: string }

interface VettingRow { recipient: string; version: number; status: VettingStatus; record: VettingRecord | string; filled_by: string; decided_by: string | null; changed_at: string | Date }
interface AgreementRow { id: string; version: number; recipient: string; status: 'active' | 'terminated'; terms: AgreementTerms | string; changed_by: string; changed_at: string | Date }

const json = <T>(v: T | string): T => (typeof v === 'string' ? JSON.parse(v) as T : v);

const toVetting = (r: VettingRow): VettingVersion => ({ recipient: r.recipient, version: Number(r.version), status: r.status, record: json(r.record), filledBy: r.filled_by, decidedBy: r.decided_by, changedAt: new Date(r.changed_at).toISOString() });

function toAgreement(r: AgreementRow): AgreementVersion {
  const t = json(r.terms);
  return {
    id: r.id, version: Number(r.version), recipient: r.recipient, status: r.status, terms: t, changedBy: r.changed_by, changedAt: new Date(r.changed_at).toISOString(),
    purposes: t.purposes, modalities: t.modalities, bodyParts: t.bodyParts, minimumDeid: t.minimumDeid,
    validFrom: t.validFrom, validTo: t.validTo, retentionDays: t.retentionDays, maxRisk: t.maxRisk, allowGeneralization: t.allowGeneralization,
  };
}

export async function currentVetting(db: Queryable, recipient: string): Promise<VettingVersion | undefined> {
  const [r] = await db.query<VettingRow>('SELECT * FROM vetting WHERE recipient = $1 ORDER BY version DESC LIMIT 1', [recipient]);
  return r ? toVetting(r) : undefined;
}

export async function vettingHistory(db: Queryable, recipient: string): Promise<VettingVersion[]> {
  return (await db.query<VettingRow>('SELECT * FROM vetting WHERE recipient = $1 ORDER BY version DESC', [recipient])).map(toVetting);
}

/** A new vetting record (a draft): the checks filled in by `by`. */
export async function fillVetting(db: Database, recipient: string, record: VettingRecord, by: string): Promise<VettingVersion> {
  return db.transaction(async (tx) => {
    const [r] = await tx.query<VettingRow>(
      `INSERT INTO vetting (recipient, version, status, record, filled_by) VALUES ($1, (SELECT coalesce(max(version), 0) + 1 FROM vetting WHERE recipient = $1), 'draft', $2, $3) RETURNING *`,
      [recipient, JSON.stringify(record), by]);
    return toVetting(r!);
  });
}

/**
 * A decision on the current record: approve (a privacy officer other than whoever filled it in),
 * suspend or revoke. A new version; the record itself is unchanged.
 */
export async function decideVetting(db: Database, recipient: string, status: 'approved' | 'suspended' | 'revoked', by: string, byPrivacyOfficer: boolean): Promise<VettingVersion> {
  return db.transaction(async (tx) => {
    const current = await currentVetting(tx, recipient);
    if (!current) throw new CustosError('POLICY_INVALID', 'this recipient has no vetting record to decide on');
    if (status === 'approved') {
      if (current.status === 'revoked') throw new CustosError('POLICY_INVALID', 'a revoked recipient is vetted anew (a new record), not approved again');
      if (!byPrivacyOfficer) throw new CustosError('AUTH_FORBIDDEN', 'approval needs a privacy officer');
      if (current.filledBy === by) throw new CustosError('AUTH_FORBIDDEN', 'approval needs a privacy officer other than the person who filled in the record');
    }
    const [r] = await tx.query<VettingRow>(
      'INSERT INTO vetting (recipient, version, status, record, filled_by, decided_by) VALUES ($1, $2, $3, $4, $5, $6) RETURNING *',
      [recipient, current.version + 1, status, JSON.stringify(current.record), current.filledBy, by]);
    return toVetting(r!);
  });
}

/** Record an agreement: a new one (no id), or a new version of `id`. */
export async function recordAgreement(db: Database, recipient: string, terms: AgreementTerms, by: string, id?: string): Promise<AgreementVersion> {
  return db.transaction(async (tx) => {
    const agreementId = id ?? `dua-${randomUUID()}`;
    if (id !== undefined) {
      const [owner] = await tx.query<{ recipient: string }>('SELECT recipient FROM agreements WHERE id = $1 LIMIT 1', [id]);
      if (!owner) throw new CustosError('NOT_FOUND', 'no such agreement');
      if (owner.recipient !== recipient) throw new CustosError('POLICY_INVALID', 'an agreement stays with its recipient');
    }
    const [r] = await tx.query<AgreementRow>(
      `INSERT INTO agreements (id, version, recipient, status, terms, changed_by) VALUES ($1, (SELECT coalesce(max(version), 0) + 1 FROM agreements WHERE id = $1), $2, $3, $4, $5) RETURNING *`,
      [agreementId, recipient, terms.status, JSON.stringify(terms), by]);
    return toAgreement(r!);
  });
}

/** The current version of each of a recipient's agreements. */
export async function agreementsOf(db: Queryable, recipient: string): Promise<AgreementVersion[]> {
  return (await db.query<AgreementRow>('SELECT DISTINCT ON (id) * FROM agreements WHERE recipient = $1 ORDER BY id, version DESC', [recipient])).map(toAgreement);
}

export async function agreementRecipient(db: Queryable, id: string): Promise<string | undefined> {
  const [r] = await db.query<{ recipient: string }>('SELECT recipient FROM agreements WHERE id = $1 LIMIT 1', [id]);
  return r?.recipient;
}

/**
 * Jobs withheld for a recipient (or for one patient's instances) go back to the queue, to be
 * decided again: a consent, vetting or agreement changed.
 */
export async function redecideWithheld(db: Queryable, by: { recipient?: string; patientRef?: string }): Promise<number> {
  const rows = await db.query<{ id: number }>(
    `UPDATE jobs SET state = 'pending', withheld_reasons = NULL, next_attempt_at = now(), updated_at = now()
     WHERE state = 'withheld' AND ($1::text IS NULL OR recipient = $1)
       AND ($2::text IS NULL OR instance_id IN (SELECT id FROM instances WHERE patient_ref = $2)) RETURNING id`,
    [by.recipient ?? null, by.patientRef ?? null]);
  return rows.length;
}

/**
 * Why a recipient's de-identification is weaker than an agreement in force requires ("is weaker
 * than agreement X (version n) requires: …"), or undefined when it is not.
 */
export async function weakerThanAgreements(db: Queryable, r: RecipientConfig): Promise<string | undefined> {
  const now = Date.now();
  for (const a of await agreementsOf(db, r.id)) {
    if (a.status !== 'active' || Date.parse(a.validTo) <= now) continue;
    const weaker = weakerDeid(r.deid, a.minimumDeid);
    if (weaker) return `is weaker than agreement ${a.id} (version ${a.version}) requires: ${weaker}`;
  }
  return undefined;
}
