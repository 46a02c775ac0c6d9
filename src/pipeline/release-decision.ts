import type { RecipientConfig } from '../config/gateway-config.ts';
import { consentsOfPatient } from '../policy/consent-registry.ts';
import { type ConsentRecord, type Decision, type SiteMode, decide } from '../policy/decision.ts';
import { agreementsOf, currentVetting } from '../policy/recipient-policy.ts';
import type { Database } from '../store/database.ts';
import type { ClaimedJob } from './job-settlement.ts';

/**
 * The egress decision for each of a recipient's jobs, now: its vetting and agreements read once,
 * each patient's consents once.
 */
export async function decideReleases(db: Database, recipients: readonly RecipientConfig[], site: Readonly<Record<string, SiteMode>>, recipient: string, jobs: readonly ClaimedJob[]): Promise<Map<number, Decision>> {
  const out = new Map<number, Decision>();
  const r = recipients.find((x) => x.id === recipient);
  if (!r || !jobs.length) return out;
  const [vetting, agreements, facts] = await Promise.all([
    currentVetting(db, recipient),
    agreementsOf(db, recipient),
    db.query<{ id: number; study_instance_uid: string; sop_class_uid: string; modality: string | null; body_part: string | null }>(
      'SELECT id, study_instance_uid, sop_class_uid, modality, body_part FROM instances WHERE id = ANY($1::bigint[])', [jobs.map((j) => j.instance_id)]),
  ]);
  const consents = new Map<string, ConsentRecord[]>();
  const now = new Date();
  for (const job of jobs) {
    const f = facts.find((x) => Number(x.id) === Number(job.instance_id));
    if (!f) continue;
    const ref = job.instance.patient_ref;
    if (!consents.has(ref)) consents.set(ref, await consentsOfPatient(db, ref));
    out.set(Number(job.id), decide({
      purpose: r.purpose,
      release: { studyInstanceUID: f.study_instance_uid, sopClassUID: f.sop_class_uid, modality: f.modality ?? undefined, bodyPart: f.body_part ?? undefined },
      consents: consents.get(ref)!,
      site: site,
      recipient: { id: r.id, organization: r.organization ?? r.id, devices: r.models.map((m) => m.id), vetting: vetting && { status: vetting.status, version: vetting.version }, deid: r.deid },
      agreements,
      now,
    }));
  }
  return out;
}
