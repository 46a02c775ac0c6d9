import { readFileSync } from 'node:fs';
import type { Consent } from '@medplum/fhirtypes';
import { z } from 'zod';
import { asciiValue } from '../dicom/dataset.ts';
import { FileSource } from '../dicom/byte-source.ts';
import { readDicom } from '../dicom/read.ts';
import { Tags } from '../dicom/tag.ts';
import { CustosError } from '../errors.ts';
import { checkConsent } from '../policy/consent-resource.ts';
import { type ConsentRecord, type DeidSettings, type Decision, type SiteMode, decide } from '../policy/decision.ts';
import { AgreementTermsSchema } from '../policy/recipient-policy.ts';
import { isPurpose } from '../policy/purposes.ts';

/*
 * `custos deid --purpose` offline: the egress decision (docs/policy.md) for each input before it is
 * de-identified, from a consent file (a FHIR Bundle or NDJSON of Consents) and an agreement file.
 * A withheld input is neither de-identified nor written; the receipt counts it by reason.
 */

export interface ReleasePolicy {
  purpose: string;
  site: SiteMode;
  consents: ConsentRecord[];
  agreementFile: z.infer<typeof AgreementFileSchema>;
}

/** The agreement file: an agreement's terms, its id and version, and the recipient's vetting as the privacy office recorded it. */
const AgreementFileSchema = z.object({
  id: z.string().min(1).max(200),
  version: z.number().int().min(1).default(1),
  recipient: z.object({
    organization: z.string().regex(/^[A-Za-z0-9\-.]{1,64}$/),
    models: z.array(z.string().regex(/^[A-Za-z0-9\-.]{1,64}$/)).default([]),
    vetting: z.object({ status: z.enum(['draft', 'approved', 'suspended', 'revoked']), version: z.number().int().min(1) }).strict(),
  }).strict(),
  terms: AgreementTermsSchema,
}).strict();

function readJson(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new CustosError('USAGE', `cannot read the ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** Consents from a FHIR Bundle (JSON) or NDJSON; a malformed one is a usage error naming where and which element. */
export function loadConsents(path: string): ConsentRecord[] {
  const text = readJson(path, 'consent file');
  let items: Array<{ where: string; value: unknown }>;
  try {
    const whole = JSON.parse(text) as { resourceType?: string; entry?: Array<{ resource?: unknown }> };
    if (whole.resourceType === 'Bundle') items = (whole.entry ?? []).map((e, i) => ({ where: `entry[${i}]`, value: e.resource }));
    else items = [{ where: 'the resource', value: whole }];
  } catch {
    items = text.split('\n').map((line, i) => ({ line, i })).filter((x) => x.line.trim()).map(({ line, i }) => {
      try { return { where: `line ${i + 1}`, value: JSON.parse(line) as unknown }; } catch { throw new CustosError('USAGE', `${path}: line ${i + 1} is not JSON (a consent file is a FHIR Bundle or NDJSON)`); }
    });
  }
  return items.map(({ where, value }, k) => {
    const checked = checkConsent(value);
    if (!checked.ok) {
      const issue = checked.outcome.issue[0]!;
      throw new CustosError('USAGE', `${path}: ${where}: ${issue.expression?.[0] ?? 'Consent'}: ${issue.diagnostics}`);
    }
    const c: Consent = checked.consent;
    return { id: c.id ?? `${k + 1}`, version: Number(c.meta?.versionId ?? 1) || 1, resource: c };
  });
}

export function loadReleasePolicy(opts: { purpose: string; site: string | undefined; consents: string | undefined; agreement: string | undefined }): ReleasePolicy {
  if (!isPurpose(opts.purpose)) throw new CustosError('USAGE', '--purpose is a v3-ActReason code Custos decides on (docs/policy.md)');
  if (opts.site !== 'opt-in' && opts.site !== 'opt-out') throw new CustosError('USAGE', '--purpose needs --site-policy opt-in or opt-out: the site\'s choice for patients who said nothing');
  if (!opts.agreement) throw new CustosError('USAGE', '--purpose needs --agreement <file>: nothing is released without an agreement');
  let raw: unknown;
  try { raw = JSON.parse(readJson(opts.agreement, 'agreement file')); } catch (e) { if (e instanceof CustosError) throw e; throw new CustosError('USAGE', `${opts.agreement} is not JSON`); }
  const parsed = AgreementFileSchema.safeParse(raw);
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    throw new CustosError('USAGE', `${opts.agreement}: ${i.path.map(String).join('.') || '(top level)'}: ${i.message}`);
  }
  return { purpose: opts.purpose, site: opts.site, consents: opts.consents ? loadConsents(opts.consents) : [], agreementFile: parsed.data };
}

const da = (v: string): string | undefined => (/^\d{8}$/.test(v) ? `${v.slice(0, 4)}-${v.slice(4, 6)}-${v.slice(6, 8)}` : undefined);

/**
 * The decision for one input file, from its header (read, never copied); undefined when the header
 * cannot be read (de-identification then reports why).
 */
export function decideFile(path: string, p: ReleasePolicy, deid: DeidSettings, now: Date): Decision | undefined {
  let src: FileSource | undefined;
  try {
    src = new FileSource(path);
    const f = readDicom(src);
    const v = (t: number): string => asciiValue(f.dataset, t);
    const patientId = v(Tags.PatientID);
    const issuer = v(Tags.IssuerOfPatientID);
    // The patient's consents, matched on identifier here in memory (never logged).
    const consents = p.consents.filter((c) => {
      const id = c.resource.patient?.identifier;
      return id?.value === patientId && (id.system ?? '') === issuer;
    });
    const a = p.agreementFile;
    return decide({
      purpose: p.purpose,
      release: { studyInstanceUID: v(Tags.StudyInstanceUID), sopClassUID: v(Tags.SOPClassUID), modality: v(Tags.Modality) || undefined, bodyPart: v(Tags.BodyPartExamined) || undefined, studyDate: da(v(Tags.StudyDate)) },
      consents,
      site: { [p.purpose]: p.site },
      recipient: { id: a.recipient.organization, organization: a.recipient.organization, devices: a.recipient.models, vetting: a.recipient.vetting, deid },
      agreements: [{ id: a.id, version: a.version, status: a.terms.status, purposes: a.terms.purposes, modalities: a.terms.modalities, bodyParts: a.terms.bodyParts, minimumDeid: a.terms.minimumDeid, validFrom: a.terms.validFrom, validTo: a.terms.validTo, retentionDays: a.terms.retentionDays, maxRisk: a.terms.maxRisk }],
      now,
    });
  } catch (e) {
    if (e instanceof CustosError) return undefined;
    throw e;
  } finally {
    src?.close();
  }
}

