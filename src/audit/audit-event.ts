import type { AuditEvent as FhirAuditEvent, Coding } from '@medplum/fhirtypes';
import type { EventKind } from './events.ts';

/*
 * Each audit record as a FHIR R4 AuditEvent, following IHE Basic Audit Log Patterns: type from
 * DICOM (DCM, PS3.16 CID 400) or the FHIR/ISO 21089 lifecycle, subtype, action, outcome (0 success,
 * 4 minor failure, 8 serious failure), the agents (who acted; the recipient of a disclosure), the
 * source (this gateway), and the entities (the instance, the job, the patient as their keyed
 * reference — never an identifier). Pure: the route feeds it rows.
 */

const DCM = 'http://dicom.nema.org/resources/ontology/DCM';
const LIFECYCLE = 'http://terminology.hl7.org/CodeSystem/iso-21089-lifecycle';
const ACT_REASON = 'http://terminology.hl7.org/CodeSystem/v3-ActReason';
/** The gateway's keyed patient reference (an HMAC, docs/security.md) as an identifier system. */
export const PATIENT_REF_SYSTEM = 'urn:custos:patient-ref';

const dcm = (code: string, display: string): Coding => ({ system: DCM, code, display });
const life = (code: string): Coding => ({ system: LIFECYCLE, code });

const IMPORT = dcm('110107', 'Import');
const TRANSFER = dcm('110104', 'DICOM Instances Transferred');
const APPLICATION = dcm('110100', 'Application Activity');
const AUTH = dcm('110114', 'User Authentication');
const SECURITY = dcm('110137', 'User Security Attributes Changed');
const ACCESSED = dcm('110103', 'DICOM Instances Accessed');
const QUERY = dcm('110112', 'Query');
const PATIENT_RECORD = dcm('110110', 'Patient Record');

type Outcome = '0' | '4' | '8';
interface Kind { type: Coding; subtype: Coding[]; action: 'C' | 'R' | 'U' | 'D' | 'E'; outcome: Outcome }

/** The AuditEvent codes of each record kind. */
export const KINDS: Record<EventKind, Kind> = {
  'instance.received': { type: IMPORT, subtype: [life('receive')], action: 'C', outcome: '0' },
  'instance.duplicate': { type: IMPORT, subtype: [life('receive')], action: 'C', outcome: '0' },
  'instance.quarantined': { type: IMPORT, subtype: [life('receive'), life('hold')], action: 'C', outcome: '4' },
  'instance.logged': { type: APPLICATION, subtype: [life('attest')], action: 'C', outcome: '0' },
  'instance.unlogged': { type: APPLICATION, subtype: [life('attest')], action: 'C', outcome: '4' },
  'instance.discarded': { type: APPLICATION, subtype: [life('destroy')], action: 'D', outcome: '4' },
  'instance.unrouted': { type: IMPORT, subtype: [life('receive')], action: 'C', outcome: '0' },
  'job.forwarded': { type: TRANSFER, subtype: [life('disclose'), life('transmit')], action: 'R', outcome: '0' },
  'job.held': { type: TRANSFER, subtype: [life('deidentify'), life('hold')], action: 'E', outcome: '4' },
  'job.withheld': { type: TRANSFER, subtype: [life('disclose')], action: 'E', outcome: '4' },
  'job.retry': { type: TRANSFER, subtype: [life('transmit')], action: 'R', outcome: '4' },
  'job.dead': { type: TRANSFER, subtype: [life('transmit')], action: 'R', outcome: '8' },
  'job.requeued': { type: TRANSFER, subtype: [life('transmit')], action: 'E', outcome: '0' },
  'auth.login': { type: AUTH, subtype: [dcm('110122', 'Login')], action: 'E', outcome: '0' },
  'auth.login-failed': { type: AUTH, subtype: [dcm('110122', 'Login')], action: 'E', outcome: '4' },
  'auth.logout': { type: AUTH, subtype: [dcm('110123', 'Logout')], action: 'E', outcome: '0' },
  'auth.user-added': { type: SECURITY, subtype: [life('originate')], action: 'C', outcome: '0' },
  'auth.user-disabled': { type: SECURITY, subtype: [life('deprecate')], action: 'U', outcome: '0' },
  'auth.token-created': { type: SECURITY, subtype: [life('originate')], action: 'C', outcome: '0' },
  'auth.token-revoked': { type: SECURITY, subtype: [life('deprecate')], action: 'U', outcome: '0' },
  'auth.patient-code-issued': { type: SECURITY, subtype: [life('originate')], action: 'C', outcome: '0' },
  'auth.patient-code-used': { type: AUTH, subtype: [dcm('110122', 'Login')], action: 'E', outcome: '0' },
  'access.originals': { type: ACCESSED, subtype: [life('access')], action: 'R', outcome: '0' },
  'access.list': { type: QUERY, subtype: [life('access')], action: 'E', outcome: '0' },
  'access.portal': { type: PATIENT_RECORD, subtype: [life('access')], action: 'R', outcome: '0' },
  'access.accounting': { type: PATIENT_RECORD, subtype: [life('access'), life('report')], action: 'R', outcome: '0' },
  'release.deletion-attested': { type: APPLICATION, subtype: [life('destroy'), life('attest')], action: 'D', outcome: '0' },
  'release.deletion-unattested': { type: APPLICATION, subtype: [life('destroy'), life('attest')], action: 'D', outcome: '4' },
  'consent.recorded': { type: PATIENT_RECORD, subtype: [life('amend')], action: 'U', outcome: '0' },
  'consent.read': { type: PATIENT_RECORD, subtype: [life('access')], action: 'R', outcome: '0' },
  'policy.vetting': { type: APPLICATION, subtype: [life('amend')], action: 'U', outcome: '0' },
  'policy.agreement': { type: APPLICATION, subtype: [life('amend')], action: 'U', outcome: '0' },
  'policy.recipient': { type: APPLICATION, subtype: [life('amend')], action: 'U', outcome: '0' },
  'retention.purged': { type: APPLICATION, subtype: [life('destroy')], action: 'D', outcome: '0' },
  'retention.hold': { type: APPLICATION, subtype: [life('hold')], action: 'U', outcome: '0' },
  'patient.erased': { type: PATIENT_RECORD, subtype: [life('destroy')], action: 'D', outcome: '0' },
  'integrity.sweep': { type: QUERY, subtype: [life('verify')], action: 'E', outcome: '0' },
  'integrity.finding': { type: APPLICATION, subtype: [life('verify')], action: 'E', outcome: '4' },
  'integrity.witness-refused': { type: APPLICATION, subtype: [life('attest')], action: 'E', outcome: '8' },
};

/** A record with what the route joined to it: the instance's UIDs and patient reference, the recipient's purpose. */
export interface AuditRow {
  id: number; at: Date; kind: EventKind; instanceId: number | null; jobId: number | null; recipient: string | null; detail: Record<string, unknown> | null;
  sopInstanceUID?: string | null; studyInstanceUID?: string | null; patientRef?: string | null; purpose?: string | null;
}

export function toAuditEvent(r: AuditRow, gateway: string): FhirAuditEvent {
  const k = KINDS[r.kind] ?? { type: APPLICATION, subtype: [], action: 'E' as const, outcome: '0' as const };
  const by = typeof r.detail?.by === 'string' ? r.detail.by : undefined;
  const reasons = Array.isArray(r.detail?.reasons) ? (r.detail.reasons as unknown[]).map(String) : [];
  const code = typeof r.detail?.code === 'string' ? r.detail.code : undefined;
  return {
    resourceType: 'AuditEvent',
    id: String(r.id),
    type: k.type,
    subtype: k.subtype,
    action: k.action,
    recorded: r.at.toISOString(),
    outcome: k.outcome,
    ...(reasons.length || code ? { outcomeDesc: [...reasons, ...(code ? [code] : [])].join(', ') } : {}),
    ...(r.purpose ? { purposeOfEvent: [{ coding: [{ system: ACT_REASON, code: r.purpose }] }] } : {}),
    agent: [
      // Who acted: a person or token, else the gateway itself.
      by ? { who: { display: by }, requestor: true } : { who: { display: gateway }, requestor: false },
      ...(r.recipient ? [{ type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'IRCP', display: 'information recipient' }] }, who: { reference: `Organization/${r.recipient}`, display: r.recipient }, requestor: false }] : []),
    ],
    source: { site: gateway, observer: { display: gateway }, type: [{ system: 'http://terminology.hl7.org/CodeSystem/security-source-type', code: '4', display: 'Application Server' }] },
    entity: [
      ...(r.patientRef ? [{ what: { identifier: { system: PATIENT_REF_SYSTEM, value: r.patientRef } }, type: { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '1', display: 'Person' }, role: { system: 'http://terminology.hl7.org/CodeSystem/object-role', code: '1', display: 'Patient' } }] : []),
      ...(r.sopInstanceUID ? [{ what: { identifier: { system: 'urn:dicom:uid', value: `urn:oid:${r.sopInstanceUID}` } }, type: { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '2', display: 'System Object' }, role: { system: 'http://terminology.hl7.org/CodeSystem/object-role', code: '3', display: 'Report' }, ...(r.studyInstanceUID ? { name: `study urn:oid:${r.studyInstanceUID}` } : {}) }] : []),
      ...(r.jobId !== null ? [{ what: { display: `job ${r.jobId}` }, type: { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '2', display: 'System Object' } }] : []),
      ...(r.detail ? [{ what: { display: r.kind }, detail: [{ type: 'custos-detail', valueString: JSON.stringify(r.detail) }] }] : []),
    ],
  };
}
