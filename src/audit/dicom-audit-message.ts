import { KINDS } from './audit-event.ts';
import type { EventKind } from './events.ts';

/*
 * An audit record as a DICOM audit message (PS3.15 A.5.1, the RFC 3881-derived AuditMessage XML)
 * for the hospital's audit repository (IHE ATNA). Event identification from the same codes as the
 * FHIR AuditEvent (audit-event.ts); participants: who acted, and the recipient of a disclosure;
 * objects: the patient as their keyed reference, the study. Pure.
 */

export interface AuditMessageInput {
  id: number; at: Date; kind: EventKind; recipient: string | null; detail: Record<string, unknown> | null;
  patientRef?: string | null; studyInstanceUID?: string | null;
}

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
const attrs = (a: Record<string, string | undefined>): string => Object.entries(a).filter(([, v]) => v !== undefined).map(([k, v]) => ` ${k}="${esc(v!)}"`).join('');
const code = (tag: string, c: { code?: string | undefined; system?: string | undefined; display?: string | undefined }): string =>
  `<${tag}${attrs({ csd_code: c.code, codeSystemName: c.system === 'http://dicom.nema.org/resources/ontology/DCM' ? 'DCM' : c.system, originalText: c.display ?? c.code })}/>`;

export function dicomAuditMessage(e: AuditMessageInput, source: string): string {
  const k = KINDS[e.kind];
  const by = typeof e.detail?.by === 'string' ? e.detail.by : undefined;
  const parts: string[] = [];
  parts.push(`<EventIdentification${attrs({ EventActionCode: k.action, EventDateTime: e.at.toISOString(), EventOutcomeIndicator: k.outcome })}>`);
  parts.push(code('EventID', k.type));
  for (const s of k.subtype) parts.push(code('EventTypeCode', s));
  parts.push('</EventIdentification>');
  // Who acted: a person or token, else this gateway (a process).
  parts.push(`<ActiveParticipant${attrs({ UserID: by ?? source, UserIsRequestor: by ? 'true' : 'false', NetworkAccessPointTypeCode: undefined })}>${by ? '' : code('RoleIDCode', { code: '110153', system: 'http://dicom.nema.org/resources/ontology/DCM', display: 'Source Role ID' })}</ActiveParticipant>`);
  if (e.recipient) parts.push(`<ActiveParticipant${attrs({ UserID: e.recipient, UserIsRequestor: 'false' })}>${code('RoleIDCode', { code: '110152', system: 'http://dicom.nema.org/resources/ontology/DCM', display: 'Destination Role ID' })}</ActiveParticipant>`);
  parts.push(`<AuditSourceIdentification${attrs({ AuditSourceID: source })}>${code('AuditSourceTypeCode', { code: '4', display: 'Application Server Process' })}</AuditSourceIdentification>`);
  if (e.patientRef) {
    parts.push(`<ParticipantObjectIdentification${attrs({ ParticipantObjectID: e.patientRef, ParticipantObjectTypeCode: '1', ParticipantObjectTypeCodeRole: '1' })}>${code('ParticipantObjectIDTypeCode', { code: '2', display: 'Patient Number' })}</ParticipantObjectIdentification>`);
  }
  if (e.studyInstanceUID) {
    parts.push(`<ParticipantObjectIdentification${attrs({ ParticipantObjectID: e.studyInstanceUID, ParticipantObjectTypeCode: '2', ParticipantObjectTypeCodeRole: '3' })}>${code('ParticipantObjectIDTypeCode', { code: '110180', system: 'http://dicom.nema.org/resources/ontology/DCM', display: 'Study Instance UID' })}</ParticipantObjectIdentification>`);
  }
  return `<?xml version="1.0" encoding="UTF-8"?><AuditMessage>${parts.join('')}</AuditMessage>`;
}

/**
 * One syslog message (RFC 5424) framed for TLS transport by octet counting (RFC 5425 4.3):
 * facility authpriv (10); severity notice (5) for a success, warning (4) otherwise; MSGID names the
 * audit record (custos-<id>) so that a repository can tell a message repeated after a reconnect.
 */
export function syslogFrame(message: string, e: { id: number; at: Date; outcome: string }, hostname: string, app = 'custos'): Buffer {
  const pri = 10 * 8 + (e.outcome === '0' ? 5 : 4);
  const line = Buffer.from(`<${pri}>1 ${e.at.toISOString()} ${hostname} ${app} ${process.pid} custos-${e.id} - ${message}`, 'utf8');
  return Buffer.concat([Buffer.from(`${line.length} `, 'ascii'), line]);
}
