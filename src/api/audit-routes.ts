import type { Bundle } from '@medplum/fhirtypes';
import type { FastifyInstance } from 'fastify';
import { type AuditRow, KINDS, PATIENT_REF_SYSTEM, toAuditEvent } from '../audit/audit-event.ts';
import type { EventKind } from '../audit/events.ts';
import { accountingFor, accountingLetter } from '../audit/accounting.ts';
import { recordEvents } from '../audit/events.ts';
import { principalOf, refuse } from '../auth/guard.ts';
import { principalLabel } from '../auth/permissions.ts';
import type { RecipientConfig } from '../config/gateway-config.ts';
import { list, patientRefOf, token } from './search-params.ts';
import type { Database } from '../store/database.ts';

/*
 * The audit trail as FHIR R4 AuditEvents (docs/accountability.md): search with the standard
 * parameters, paged, and exported whole as NDJSON or CSV. Identified fields (UIDs) are shown only
 * to holders of audit:read; patients appear only as their keyed reference.
 */

export interface AuditRouteDeps { db: Database; deploymentKey: Buffer; recipients: readonly RecipientConfig[]; gateway: string; /** The log's latest signed checkpoint note. */ checkpoint?: () => string }

const PREFIX = /^(eq|ge|le|gt|lt)?(\d{4}(-\d{2}(-\d{2}(T[0-9:.]+(Z|[+-]\d{2}:\d{2})?)?)?)?)$/;
const OPS = { eq: '=', ge: '>=', le: '<=', gt: '>', lt: '<' } as const;
/** A date given at some precision, as the instant it starts and the one after it ends. */
function bounds(d: string): [Date, Date] {
  const start = new Date(d.length === 4 ? `${d}-01-01T00:00:00Z` : d.length === 7 ? `${d}-01T00:00:00Z` : d.length === 10 ? `${d}T00:00:00Z` : d);
  const end = new Date(start);
  if (d.length === 4) end.setUTCFullYear(end.getUTCFullYear() + 1);
  else if (d.length === 7) end.setUTCMonth(end.getUTCMonth() + 1);
  else if (d.length === 10) end.setUTCDate(end.getUTCDate() + 1);
  else end.setTime(end.getTime() + 1);
  return [start, end];
}

export function auditRoutes(deps: AuditRouteDeps) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    app.get('/api/accounting', {
      config: { permission: 'audit:read' },
      schema: { summary: "A patient's accounting of disclosures: every release and every withheld one (patient=<issuer of Patient ID>|<Patient ID>); format=html gives a letter", querystring: { type: 'object', properties: { patient: { type: 'string', minLength: 1 }, format: { type: 'string', enum: ['json', 'html'] } }, required: ['patient'] } },
    }, async (req, reply) => {
      const q = req.query as { patient: string; format?: string };
      const ref = patientRefOf(deps.deploymentKey, q.patient);
      const rows = await accountingFor(deps.db, ref, deps.recipients);
      await recordEvents(deps.db, [{ kind: 'access.accounting', detail: { by: principalLabel(principalOf(req)), rows: rows.length } }]);
      if (q.format === 'html') return reply.type('text/html; charset=utf-8').send(accountingLetter(rows, deps.gateway));
      return { patientRef: ref, disclosures: rows };
    });

    app.get('/fhir/AuditEvent', {
      config: { permission: 'audit:read' },
      schema: { summary: 'The audit trail as FHIR AuditEvents: date, patient, agent, entity, type, subtype, outcome, purpose, _count, _offset; _format=ndjson or csv exports every match' },
    }, async (req, reply) => {
      const q = req.query as Record<string, string | string[] | undefined>;
      const known = new Set(['date', 'patient', 'agent', 'entity', 'type', 'subtype', 'outcome', 'purpose', '_count', '_offset', '_format']);
      if (Object.keys(q).some((k) => !known.has(k))) return refuse(reply, 400, 'API_INVALID_REQUEST', 'a search parameter this server does not support (date, patient, agent, entity, type, subtype, outcome, purpose)');
      const where: string[] = [];
      const params: unknown[] = [];
      const p = (v: unknown): string => { params.push(v); return `$${params.length}`; };
      for (const d of list(q.date)) {
        const m = PREFIX.exec(d);
        if (!m) return refuse(reply, 400, 'API_INVALID_REQUEST', 'date is [eq|ge|le|gt|lt]YYYY[-MM[-DD[Thh:mm:ss]]]');
        const [start, end] = bounds(m[2]!);
        const op = (m[1] ?? 'eq') as keyof typeof OPS;
        if (op === 'eq') where.push(`e.at >= ${p(start)} AND e.at < ${p(end)}`);
        else if (op === 'ge') where.push(`e.at >= ${p(start)}`);
        else if (op === 'gt') where.push(`e.at >= ${p(end)}`);
        else if (op === 'lt') where.push(`e.at < ${p(start)}`);
        else where.push(`e.at < ${p(end)}`);
      }
      const patients = list(q.patient).map((x) => (token(x).system === PATIENT_REF_SYSTEM ? token(x).value : patientRefOf(deps.deploymentKey, x)));
      if (patients.length) where.push(`i.patient_ref = ANY(${p(patients)}::text[])`);
      const agents = list(q.agent);
      if (agents.length) where.push(`(e.detail->>'by' = ANY(${p(agents)}::text[]) OR e.recipient = ANY(${p(agents.map((a) => a.replace(/^Organization\//, '')))}::text[]))`);
      const entities = list(q.entity).map((x) => token(x).value.replace(/^urn:oid:/, ''));
      if (entities.length) where.push(`i.sop_instance_uid = ANY(${p(entities)}::text[])`);
      const kinds = (Object.keys(KINDS) as EventKind[]).filter((k) => {
        const c = KINDS[k];
        const types = list(q.type).map((x) => token(x).value);
        const subtypes = list(q.subtype).map((x) => token(x).value);
        const outcomes = list(q.outcome);
        return (!types.length || types.includes(c.type.code!)) && (!subtypes.length || c.subtype.some((s) => subtypes.includes(s.code!))) && (!outcomes.length || outcomes.includes(c.outcome));
      });
      if (q.type !== undefined || q.subtype !== undefined || q.outcome !== undefined) where.push(`e.kind = ANY(${p(kinds)}::text[])`);
      const purposes = list(q.purpose).map((x) => token(x).value);
      if (purposes.length) where.push(`e.recipient = ANY(${p(deps.recipients.filter((r) => purposes.includes(r.purpose)).map((r) => r.id))}::text[])`);

      const format = typeof q._format === 'string' ? q._format : undefined;
      const exporting = format === 'ndjson' || format === 'application/fhir+ndjson' || format === 'csv' || format === 'text/csv';
      const count = exporting ? 100_000 : Math.min(Math.max(Number(q._count ?? 50) || 50, 1), 1000);
      const offset = exporting ? 0 : Math.max(Number(q._offset ?? 0) || 0, 0);
      const filter = where.length ? `WHERE ${where.join(' AND ')}` : '';
      const from = 'FROM events e LEFT JOIN instances i ON i.id = e.instance_id';
      const [total] = await deps.db.query<{ n: number }>(`SELECT count(*)::int AS n ${from} ${filter}`, params);
      const rows = await deps.db.query<{ id: number; at: string; kind: EventKind; instance_id: number | null; job_id: number | null; recipient: string | null; detail: unknown; sop: string | null; study: string | null; patient_ref: string | null }>(
        `SELECT e.id, e.at, e.kind, e.instance_id, e.job_id, e.recipient, e.detail, i.sop_instance_uid AS sop, i.study_instance_uid AS study, i.patient_ref
         ${from} ${filter} ORDER BY e.id DESC LIMIT ${p(count)} OFFSET ${p(offset)}`, params);
      const purposeOf = new Map(deps.recipients.map((r) => [r.id, r.purpose]));
      const events = rows.map((r) => toAuditEvent({
        id: Number(r.id), at: new Date(r.at), kind: r.kind, instanceId: r.instance_id === null ? null : Number(r.instance_id), jobId: r.job_id === null ? null : Number(r.job_id),
        recipient: r.recipient, detail: (typeof r.detail === 'string' ? JSON.parse(r.detail) : r.detail) as Record<string, unknown> | null,
        sopInstanceUID: r.sop, studyInstanceUID: r.study, patientRef: r.patient_ref, purpose: r.recipient ? purposeOf.get(r.recipient) ?? null : null,
      } satisfies AuditRow, deps.gateway));
      // The log's latest published checkpoint goes with every export (one more copy kept outside the
      // log directory): a log later rolled back to before it is caught by whoever holds the export.
      const checkpoint = deps.checkpoint?.();
      if (exporting && checkpoint) reply.header('x-custos-log-checkpoint', Buffer.from(checkpoint, 'utf8').toString('base64'));
      if (format === 'ndjson' || format === 'application/fhir+ndjson') {
        return reply.type('application/fhir+ndjson').header('content-disposition', 'attachment; filename="audit-events.ndjson"').send(events.map((e) => JSON.stringify(e)).join('\n') + (events.length ? '\n' : ''));
      }
      if (format === 'csv' || format === 'text/csv') {
        const cell = (v: unknown): string => { const s = v === undefined || v === null ? '' : String(v); return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s; };
        const lines = [['id', 'recorded', 'type', 'subtype', 'action', 'outcome', 'agent', 'recipient', 'purpose', 'patientRef', 'sopInstanceUID', 'detail'].join(',')];
        for (const [k, e] of events.entries()) {
          const r = rows[k]!;
          lines.push([e.id, e.recorded, e.type.code, e.subtype?.map((s) => s.code).join(' '), e.action, e.outcome, e.agent[0]?.who?.display, r.recipient, e.purposeOfEvent?.[0]?.coding?.[0]?.code, r.patient_ref, r.sop, r.detail === null ? '' : typeof r.detail === 'string' ? r.detail : JSON.stringify(r.detail)].map(cell).join(','));
        }
        return reply.type('text/csv; charset=utf-8').header('content-disposition', 'attachment; filename="audit-events.csv"').send(lines.join('\n') + '\n');
      }
      const self = new URL(`${req.protocol}://${req.host}/fhir/AuditEvent`);
      for (const [k, v] of Object.entries(q)) for (const x of Array.isArray(v) ? v : v === undefined ? [] : [v]) self.searchParams.append(k, x);
      const next = new URL(self);
      next.searchParams.set('_offset', String(offset + count));
      const bundle: Bundle = {
        resourceType: 'Bundle', type: 'searchset', total: total?.n ?? 0,
        link: [{ relation: 'self', url: self.toString() }, ...(offset + events.length < (total?.n ?? 0) ? [{ relation: 'next', url: next.toString() }] : [])],
        entry: events.map((e) => ({ fullUrl: `${req.protocol}://${req.host}/fhir/AuditEvent/${e.id}`, resource: e, search: { mode: 'match' as const } })),
      };
      return reply.type('application/fhir+json; charset=utf-8').send(bundle);
    });
  };
}
