import { createHash } from 'node:crypto';
import type { Consent } from '@medplum/fhirtypes';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { recordEvents } from '../audit/events.ts';
import { principalOf } from '../auth/guard.ts';
import { type Principal, principalLabel } from '../auth/permissions.ts';
import type { Database } from '../store/database.ts';
import { accountingFor, accountingLetter } from '../audit/accounting.ts';
import type { RecipientConfig } from '../config/gateway-config.ts';
import { PATIENT_REF_SYSTEM, readConsent, recordConsent } from '../policy/consent-registry.ts';
import type { SiteMode } from '../policy/decision.ts';
import { deidentificationText, purposeText } from '../policy/plain-language.ts';
import { ACT_REASON, isPurpose } from '../policy/purposes.ts';
import { agreementsOf, currentVetting, redecideWithheld } from '../policy/recipient-policy.ts';
import type { PortalChoice, PortalOverview } from './contract.ts';
import { Zip, ZipPassThrough, strToU8 } from 'fflate';
import { Readable } from 'node:stream';
import { buildWitnessedProofKit } from '../pipeline/log-views.ts';
import { parseVerifierKey } from '../integrity/note.ts';
import type { LogStore } from '../store/log-store.ts';
import { isCustosError } from '../errors.ts';

/*
 * The patient's own view, with the session an access code gave: their studies held here and, for
 * each, which recipients received de-identified copies and when. Only that patient's rows.
 */

export interface PortalDeps {
  db: Database;
  /** An identified original by instance row id (decrypted; RETENTION_PURGED, PATIENT_SHREDDED when gone). */
  original?: (instanceId: number) => Promise<Buffer>;
  /** The transparency log and its verifier key: the proof kit that goes with the patient's copy. */
  log?: () => { store: LogStore; vkey: string };
  recipients?: readonly RecipientConfig[];
  hospital?: string;
  deploymentKey?: Buffer;
  /** The site's opt-in or opt-out per purpose (config policy.purposes). */
  site?: Readonly<Record<string, SiteMode>>;
  /** How long identified originals are kept (config retention.originalsDays). */
  originalsDays?: number;
  /** A choice changed: the work loop looks at withheld jobs again. */
  wake?: () => void;
  /** Patients' copies carry a DICOM digital signature (config signing.patientCopies): the signed instance, and the certificate (PEM). */
  signCopy?: { sign: (part10: Buffer) => Promise<Buffer>; certificatePem: () => Promise<string> };
}

/** The portal's Consent for one patient and purpose: one resource, a new version at each change. */
const choiceConsentId = (patientRef: string, purpose: string): string =>
  `portal-${createHash('sha256').update(`${patientRef}\0${purpose}`).digest('hex').slice(0, 40)}`;

const patientOf = (req: FastifyRequest): Extract<Principal, { kind: 'patient' }> => {
  const p = principalOf(req);
  if (p.kind !== 'patient') throw new Error('unreachable: portal permissions belong to patients only');
  return p;
};

export function portalRoutes(deps: PortalDeps) {
  const purposesShown = (): string[] => [...new Set([...(deps.recipients ?? []).map((r) => r.purpose), ...Object.keys(deps.site ?? {})])].filter(isPurpose);
  /** The patient's own choice for a purpose (their portal Consent, if active), else none. */
  const choiceOf = async (patientRef: string, purpose: string): Promise<'permit' | 'deny' | null> => {
    const c = await readConsent(deps.db, choiceConsentId(patientRef, purpose));
    const t = c?.resource.status === 'active' ? c.resource.provision?.type : undefined;
    return t === 'permit' || t === 'deny' ? t : null;
  };
  const choices = async (patientRef: string): Promise<PortalChoice[]> => Promise.all(purposesShown().map(async (code) => {
    const choice = await choiceOf(patientRef, code);
    const siteMode = deps.site?.[code] ?? null;
    const shared = choice !== null ? choice === 'permit' : siteMode === 'opt-out';
    return { code, ...purposeText(code), siteMode, choice, shared };
  }));
  return async function plugin(app: FastifyInstance): Promise<void> {
    app.get('/portal/api/overview', {
      config: { permission: 'portal:read' },
      schema: { summary: 'How the hospital uses imaging AI, from its live configuration, in plain words: who can receive images, for what, de-identified how, kept how long, and the patient\'s current choices' },
    }, async (req): Promise<PortalOverview> => {
      const p = patientOf(req);
      const now = Date.now();
      const recipients = await Promise.all((deps.recipients ?? []).map(async (r) => {
        const [vetting, agreements] = await Promise.all([currentVetting(deps.db, r.id), agreementsOf(deps.db, r.id)]);
        const inForce = agreements.filter((a) => a.status === 'active' && Date.parse(a.validFrom) <= now && now < Date.parse(a.validTo));
        return {
          id: r.id, organization: r.organization ?? r.id, purpose: r.purpose, purposeTitle: purposeText(r.purpose).title,
          deidentified: r.deid.profile !== 'none', deidentification: deidentificationText(r.deid),
          approved: vetting?.status === 'approved', agreementInForce: inForce.length > 0,
          keptDays: inForce.length ? Math.max(...inForce.map((a) => a.retentionDays)) : null,
        };
      }));
      await recordEvents(deps.db, [{ kind: 'access.portal', detail: { by: principalLabel(p), overview: true } }]);
      return { hospital: deps.hospital ?? 'Custos', originalsKeptDays: deps.originalsDays ?? null, recipients, purposes: await choices(p.patientRef) };
    });

    app.get('/portal/api/choices', {
      config: { permission: 'portal:read' },
      schema: { summary: "The signed-in patient's choices per purpose, and whether images are shared for it now" },
    }, async (req) => choices(patientOf(req).patientRef));

    app.put('/portal/api/choices/:purpose', {
      config: { permission: 'portal:write' },
      schema: {
        summary: 'Opt in to (permit) or out of (deny) one purpose: a new version of the patient\'s FHIR Consent for it, in force at once',
        params: { type: 'object', properties: { purpose: { type: 'string', maxLength: 32 } }, required: ['purpose'] },
        body: { type: 'object', properties: { choice: { type: 'string', enum: ['permit', 'deny'] } }, required: ['choice'], additionalProperties: false },
      },
    }, async (req, reply) => {
      const p = patientOf(req);
      const { purpose } = req.params as { purpose: string };
      const { choice } = req.body as { choice: 'permit' | 'deny' };
      if (!purposesShown().includes(purpose) || !deps.deploymentKey) return reply.code(404).send({ error: 'NOT_FOUND', message: 'no such purpose here' });
      const consent: Consent = {
        resourceType: 'Consent', status: 'active',
        scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
        category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }],
        patient: { identifier: { system: PATIENT_REF_SYSTEM, value: p.patientRef } },
        dateTime: new Date().toISOString(),
        policyRule: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: choice === 'permit' ? 'OPTIN' : 'OPTOUT' }] },
        provision: { type: choice, purpose: [{ system: ACT_REASON, code: purpose }] },
      };
      const by = principalLabel(p);
      const stored = await recordConsent(deps.db, deps.deploymentKey, consent, by, choiceConsentId(p.patientRef, purpose));
      await recordEvents(deps.db, [{ kind: 'consent.recorded', detail: { consent: stored.id, version: stored.version, status: 'active', by, via: 'portal' } }]);
      if (await redecideWithheld(deps.db, { patientRef: p.patientRef })) deps.wake?.();
      return (await choices(p.patientRef)).find((c) => c.code === purpose);
    });

    app.get('/portal/api/accounting', {
      config: { permission: 'portal:read' },
      schema: { summary: "The signed-in patient's accounting of disclosures: where their images went, and transfers stopped and why; format=html gives a printable letter", querystring: { type: 'object', properties: { format: { type: 'string', enum: ['json', 'html'] } } } },
    }, async (req, reply) => {
      const p = patientOf(req);
      const rows = await accountingFor(deps.db, p.patientRef, deps.recipients ?? []);
      await recordEvents(deps.db, [{ kind: 'access.portal', detail: { by: principalLabel(p), accounting: rows.length } }]);
      if ((req.query as { format?: string }).format === 'html') return reply.type('text/html; charset=utf-8').send(accountingLetter(rows, deps.hospital ?? 'Custos'));
      return { disclosures: rows };
    });

    app.get('/portal/api/studies/:study/copy', {
      config: { permission: 'portal:read' },
      schema: { summary: "The patient's own copy of one of their studies: the original DICOM files and a proof kit to check them with, as a zip (streamed one instance at a time)", params: { type: 'object', properties: { study: { type: 'string', maxLength: 64 } }, required: ['study'] } },
    }, async (req, reply) => {
      const p = patientOf(req);
      const { study } = req.params as { study: string };
      const rows = await deps.db.query<{ id: number }>(
        `SELECT DISTINCT ON (sop_instance_uid) id FROM instances WHERE patient_ref = $1 AND study_instance_uid = $2 AND purged_at IS NULL ORDER BY sop_instance_uid, id DESC`, [p.patientRef, study]);
      if (!rows.length || !deps.original) return reply.code(404).send({ error: 'NOT_FOUND', message: 'no such study of yours here' });
      let kit: string | undefined;
      try {
        const l = deps.log?.();
        if (l) kit = JSON.stringify(buildWitnessedProofKit(l.store, l.vkey, parseVerifierKey(l.vkey), study), null, 2);
      } catch (e) {
        if (!isCustosError(e)) throw e; // none of it logged yet: the copy comes without a kit, and says so
      }
      // The first original is read before the answer starts, so that a destroyed one still gets its error.
      let first: Buffer;
      try {
        first = await deps.original(Number(rows[0]!.id));
      } catch (e) {
        if (isCustosError(e) && (e.code === 'PATIENT_SHREDDED' || e.code === 'RETENTION_PURGED')) return reply.code(410).send({ error: e.code, message: 'these images are no longer kept' });
        throw e;
      }
      await recordEvents(deps.db, [{ kind: 'access.portal', detail: { by: principalLabel(p), copy: study, instances: rows.length } }]);
      const sign = deps.signCopy?.sign;
      const original = sign ? async (id: number): Promise<Buffer> => sign(await deps.original!(id)) : deps.original;
      if (sign) first = await sign(first);
      const certificatePem = deps.signCopy ? await deps.signCopy.certificatePem() : undefined;
      // Pulled by the response as it is sent: the next original is read and decrypted only when the
      // previous one has gone out, so memory holds one instance, not the study.
      async function* zipped(): AsyncGenerator<Buffer> {
        const chunks: Uint8Array[] = [];
        const zip = new Zip((err, chunk) => { if (err) throw err; chunks.push(chunk); });
        const add = (name: string, data: Uint8Array): void => {
          const f = new ZipPassThrough(name);
          zip.add(f);
          f.push(data, true);
        };
        function* taken(): Generator<Buffer> { while (chunks.length) yield Buffer.from(chunks.shift()!); }
        add('README.txt', strToU8(copyReadme(study, rows.length, kit !== undefined)));
        if (kit) add('custos-proof-kit.json', strToU8(kit));
        if (certificatePem) add('custos-signing-certificate.pem', strToU8(certificatePem));
        add('DICOM/00001.dcm', first);
        yield* taken();
        // A later instance that fails ends the download without the zip's directory: a broken zip, never a silent gap.
        for (const [i, r] of rows.slice(1).entries()) {
          add(`DICOM/${String(i + 2).padStart(5, '0')}.dcm`, await original(Number(r.id)));
          yield* taken();
        }
        zip.end();
        yield* taken();
      }
      const out = Readable.from(zipped(), { objectMode: false });
      return reply.type('application/zip').header('content-disposition', `attachment; filename="my-images-${study.slice(-12).replace(/[^0-9.]/g, '')}.zip"`).send(out);
    });

    app.get('/portal/api/studies', {
      config: { permission: 'portal:read' },
      schema: {
        summary: "The signed-in patient's studies and where de-identified copies went",
        response: { 200: { type: 'array', items: { type: 'object', properties: {
          studyInstanceUid: { type: 'string' }, modalities: { type: 'array', items: { type: 'string' } }, instances: { type: 'integer' }, firstReceivedAt: { type: 'string' },
          releases: { type: 'array', items: { type: 'object', properties: { recipient: { type: 'string' }, instances: { type: 'integer' }, lastDeliveredAt: { type: 'string' } } } },
        } } } },
      },
    }, async (req) => {
      const p = patientOf(req);
      const studies = await deps.db.query<{ study: string; modalities: string[]; n: number; first: string }>(
        `SELECT study_instance_uid AS study, array_remove(array_agg(DISTINCT modality), NULL) AS modalities, count(*)::int AS n, min(received_at) AS first
         FROM instances WHERE patient_ref = $1 GROUP BY 1 ORDER BY 4 DESC`, [p.patientRef]);
      const releases = await deps.db.query<{ study: string; recipient: string; n: number; last: string }>(
        `SELECT i.study_instance_uid AS study, j.recipient, count(*)::int AS n, max(j.done_at) AS last FROM jobs j JOIN instances i ON i.id = j.instance_id
         WHERE i.patient_ref = $1 AND j.state = 'done' GROUP BY 1, 2 ORDER BY 2`, [p.patientRef]);
      await recordEvents(deps.db, [{ kind: 'access.portal', detail: { by: principalLabel(p), studies: studies.length } }]);
      return studies.map((s) => ({
        studyInstanceUid: s.study, modalities: s.modalities, instances: s.n, firstReceivedAt: new Date(s.first).toISOString(),
        releases: releases.filter((r) => r.study === s.study).map((r) => ({ recipient: r.recipient, instances: r.n, lastDeliveredAt: new Date(r.last).toISOString() })),
      }));
    });
  };
}

/** What the copy is and how to check it, in plain words (README.txt in the zip). */
function copyReadme(study: string, instances: number, withKit: boolean): string {
  return [
    'Your own copy of your images',
    '',
    `Study ${study}: ${instances} image file(s) in the DICOM folder, exactly as the hospital received them.`,
    'Any DICOM viewer opens them. They carry your name and other details: keep them safe.',
    '',
    withKit
      ? 'custos-proof-kit.json lets anyone check, without asking the hospital, that these files are the ones the hospital recorded when they arrived: it holds the signed records and their proofs in the hospital\'s transparency log. With Custos: "custos verify DICOM --kit custos-proof-kit.json".'
      : 'No proof kit is included: the images were not yet recorded in the transparency log when this copy was made. Download it again later to get one.',
    '',
  ].join('\n');
}
