import type { Bundle, CapabilityStatement, Consent, OperationOutcomeIssue } from '@medplum/fhirtypes';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { recordEvents } from '../audit/events.ts';
import { principalOf } from '../auth/guard.ts';
import { principalLabel } from '../auth/permissions.ts';
import { checkConsent, operationOutcome } from '../policy/consent-resource.ts';
import { type ConsentSearch, type StoredConsent, consentHistory, consentPatientRef, readConsent, recordConsent, searchConsents } from '../policy/consent-registry.ts';
import { redecideWithheld } from '../policy/recipient-policy.ts';
import { patientRefOf, list, token } from './search-params.ts';
import type { Database } from '../store/database.ts';
import { CUSTOS_VERSION } from '../version.ts';

/*
 * FHIR R4 (http://hl7.org/fhir/R4/http.html) for the consent registry: Consent create, read,
 * update (each a new version), vread, _history and search, and the CapabilityStatement. JSON only
 * (application/fhir+json). Errors are OperationOutcomes.
 */

const FHIR_JSON = 'application/fhir+json; charset=utf-8';
const ID = /^[A-Za-z0-9\-.]{1,64}$/;

export interface FhirDeps { db: Database; deploymentKey: Buffer; /** New work for the work loop (withheld jobs to decide again). */ wake?: () => void }

function outcome(reply: FastifyReply, status: number, code: NonNullable<OperationOutcomeIssue['code']>, diagnostics: string, expression?: string): FastifyReply {
  return reply.code(status).type(FHIR_JSON).send(operationOutcome([{ severity: 'error', code, diagnostics, ...(expression ? { expression: [expression] } : {}) }]));
}

const etag = (s: StoredConsent): string => `W/"${s.version}"`;

function sendConsent(reply: FastifyReply, s: StoredConsent, status = 200): FastifyReply {
  return reply.code(status).type(FHIR_JSON).header('etag', etag(s)).header('last-modified', s.recordedAt.toUTCString()).send(s.resource);
}

export function fhirRoutes(deps: FhirDeps) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    app.addContentTypeParser(['application/fhir+json'], { parseAs: 'string' }, (_req, body, done) => {
      try { done(null, JSON.parse(body as string)); } catch { done(Object.assign(new Error('the body is not valid JSON'), { statusCode: 400, fhir: true }), undefined); }
    });
    // Errors of these routes are OperationOutcomes (a body that is not JSON, or not of a known media type).
    app.setErrorHandler((e: Error & { statusCode?: number }, _req, reply) => {
      const status = e.statusCode ?? 500;
      if (status === 415) return outcome(reply, 415, 'not-supported', 'send application/fhir+json (or application/json)');
      if (status === 413) return outcome(reply, 413, 'too-costly', 'the resource exceeds the size limit');
      if (status >= 400 && status < 500) return outcome(reply, status, 'structure', 'the body is not valid JSON');
      throw e;
    });

    const base = (req: FastifyRequest): string => `${req.protocol}://${req.host}/fhir`;

    app.get('/fhir/metadata', { config: { public: true }, schema: { summary: 'FHIR CapabilityStatement (R4)' } }, async (_req, reply) => {
      const cs: CapabilityStatement = {
        resourceType: 'CapabilityStatement', status: 'active', date: '2026-12-02', kind: 'instance', fhirVersion: '4.0.1', format: ['application/fhir+json'],
        software: { name: 'Custos', version: CUSTOS_VERSION },
        rest: [{
          mode: 'server',
          security: { description: 'A bearer token or session holding consent:read (reads, searches) or consent:write (create, update); see docs/security.md' },
          resource: [{
            type: 'Consent', versioning: 'versioned', readHistory: true, updateCreate: false,
            interaction: ['read', 'vread', 'update', 'create', 'search-type', 'history-instance'].map((code) => ({ code: code as 'read' })),
            searchParam: [
              { name: 'patient:identifier', type: 'token', documentation: 'the patient by identifier: <issuer of Patient ID>|<Patient ID>' },
              { name: 'status', type: 'token' }, { name: 'category', type: 'token' }, { name: 'date', type: 'date', documentation: 'Consent.dateTime, with eq, ge, le, gt or lt' },
              { name: '_count', type: 'number' }, { name: '_offset', type: 'number' },
            ],
          }],
        }],
      };
      return reply.type(FHIR_JSON).send(cs);
    });

    const write = async (req: FastifyRequest, reply: FastifyReply, id?: string): Promise<FastifyReply> => {
      const checked = checkConsent(req.body);
      if (!checked.ok) return reply.code(checked.status).type(FHIR_JSON).send(checked.outcome);
      const c: Consent = checked.consent;
      if (id !== undefined) {
        if (c.id !== undefined && c.id !== id) return outcome(reply, 400, 'invariant', 'the resource id differs from the id in the URL', 'Consent.id');
        const current = await readConsent(deps.db, id);
        if (!current) return outcome(reply, 404, 'not-found', 'no such Consent (create one with POST)');
        const ifMatch = req.headers['if-match'];
        if (ifMatch !== undefined && ifMatch !== etag(current)) return outcome(reply, 412, 'conflict', `the Consent is at version ${current.version}`);
      } else if (c.id !== undefined) {
        return outcome(reply, 400, 'invariant', 'a new Consent has no id: the server assigns it', 'Consent.id');
      }
      const stored = await recordConsent(deps.db, deps.deploymentKey, c, principalLabel(principalOf(req)), id);
      await recordEvents(deps.db, [{ kind: 'consent.recorded', detail: { consent: stored.id, version: stored.version, status: c.status, by: principalLabel(principalOf(req)) } }]);
      // This patient's withheld jobs are decided again (a new permit may release them).
      if (await redecideWithheld(deps.db, { patientRef: consentPatientRef(deps.deploymentKey, c) })) deps.wake?.();
      reply.header('location', `${base(req)}/Consent/${stored.id}/_history/${stored.version}`);
      return sendConsent(reply, stored, id === undefined ? 201 : 200);
    };

    const writing = { config: { permission: 'consent:write' } } as const;
    const reading = { config: { permission: 'consent:read' } } as const;
    app.post('/fhir/Consent', { ...writing, schema: { summary: 'Record a consent (FHIR R4 Consent); 201 with its id and version' } }, (req, reply) => write(req, reply));
    app.put('/fhir/Consent/:id', { ...writing, schema: { summary: 'A new version of a consent (a change or a withdrawal: status inactive)' } }, (req, reply) => {
      const { id } = req.params as { id: string };
      if (!ID.test(id)) return outcome(reply, 400, 'value', 'not a resource id');
      return write(req, reply, id);
    });

    const read = async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
      const { id, vid } = req.params as { id: string; vid?: string };
      const version = vid === undefined ? undefined : Number(vid);
      if (!ID.test(id) || (version !== undefined && !(Number.isInteger(version) && version > 0))) return outcome(reply, 400, 'value', 'not a resource id or version');
      const s = await readConsent(deps.db, id, version);
      if (!s) return outcome(reply, 404, 'not-found', vid === undefined ? 'no such Consent' : 'no such version of this Consent');
      await recordEvents(deps.db, [{ kind: 'consent.read', detail: { consent: s.id, version: s.version, by: principalLabel(principalOf(req)) } }]);
      return sendConsent(reply, s);
    };
    app.get('/fhir/Consent/:id', { ...reading, schema: { summary: 'A consent, its current version' } }, read);
    app.get('/fhir/Consent/:id/_history/:vid', { ...reading, schema: { summary: 'One version of a consent' } }, read);
    app.get('/fhir/Consent/:id/_history', { ...reading, schema: { summary: 'Every version of a consent, newest first' } }, async (req, reply) => {
      const { id } = req.params as { id: string };
      if (!ID.test(id)) return outcome(reply, 400, 'value', 'not a resource id');
      const versions = await consentHistory(deps.db, id);
      if (!versions.length) return outcome(reply, 404, 'not-found', 'no such Consent');
      await recordEvents(deps.db, [{ kind: 'consent.read', detail: { consent: id, versions: versions.length, by: principalLabel(principalOf(req)) } }]);
      const bundle: Bundle = {
        resourceType: 'Bundle', type: 'history', total: versions.length,
        entry: versions.map((s) => ({ fullUrl: `${base(req)}/Consent/${s.id}/_history/${s.version}`, resource: s.resource, request: { method: s.version === 1 ? 'POST' : 'PUT', url: s.version === 1 ? 'Consent' : `Consent/${s.id}` }, response: { status: s.version === 1 ? '201' : '200', etag: etag(s), lastModified: s.recordedAt.toISOString() } })),
      };
      return reply.type(FHIR_JSON).send(bundle);
    });

    app.get('/fhir/Consent', { ...reading, schema: { summary: 'Search consents: patient:identifier, status, category, date, _count, _offset' } }, async (req, reply) => {
      const q = req.query as Record<string, string | string[] | undefined>;
      const known = new Set(['patient:identifier', 'patient', 'status', 'category', 'date', '_count', '_offset']);
      const unknown = Object.keys(q).find((k) => !known.has(k));
      if (unknown !== undefined) return outcome(reply, 400, 'not-supported', 'a search parameter this server does not support (see /fhir/metadata)');
      const search: ConsentSearch = { count: Math.min(Math.max(Number(q._count ?? 50) || 50, 1), 500), offset: Math.max(Number(q._offset ?? 0) || 0, 0) };
      const who = list(q['patient:identifier'] ?? q.patient)[0];
      if (who !== undefined) {
        if (!token(who).value) return outcome(reply, 400, 'value', 'patient:identifier is <issuer of Patient ID>|<Patient ID>');
        search.patientRef = patientRefOf(deps.deploymentKey, who);
      }
      search.status = list(q.status);
      search.category = list(q.category).map((c) => token(c).value);
      const dates: Array<['eq' | 'ge' | 'le' | 'gt' | 'lt', string]> = [];
      for (const d of list(q.date)) {
        const m = /^(eq|ge|le|gt|lt)?(\d{4}(-\d{2}(-\d{2}(T[0-9:.]+(Z|[+-]\d{2}:\d{2})?)?)?)?)$/.exec(d);
        if (!m) return outcome(reply, 400, 'value', 'date is [eq|ge|le|gt|lt]YYYY[-MM[-DD[Thh:mm:ss]]]');
        dates.push([(m[1] ?? 'eq') as 'eq', m[2]!]);
      }
      search.date = dates;
      const { total, entries } = await searchConsents(deps.db, search);
      await recordEvents(deps.db, [{ kind: 'consent.read', detail: { search: true, results: entries.length, by: principalLabel(principalOf(req)) } }]);
      const self = new URL(`${base(req)}/Consent`);
      for (const [k, v] of Object.entries(q)) for (const x of Array.isArray(v) ? v : v === undefined ? [] : [v]) self.searchParams.append(k, x);
      const next = new URL(self);
      next.searchParams.set('_offset', String(search.offset + search.count));
      const bundle: Bundle = {
        resourceType: 'Bundle', type: 'searchset', total,
        link: [{ relation: 'self', url: self.toString() }, ...(search.offset + entries.length < total ? [{ relation: 'next', url: next.toString() }] : [])],
        entry: entries.map((s) => ({ fullUrl: `${base(req)}/Consent/${s.id}`, resource: s.resource, search: { mode: 'match' } })),
      };
      return reply.type(FHIR_JSON).send(bundle);
    });
  };
}
