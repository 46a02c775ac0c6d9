import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Consent } from '@medplum/fhirtypes';
import { z } from 'zod';
import { asciiValue } from '../dicom/dataset.ts';
import { FileSource } from '../dicom/byte-source.ts';
import { readDicom } from '../dicom/read.ts';
import { Tags } from '../dicom/tag.ts';
import { CustosError } from '../errors.ts';
import { checkConsent } from '../policy/consent-resource.ts';
import { type Agreement, type ConsentRecord, type DecisionInput, type DeidSettings, type Decision, type RecipientFacts, type SiteMode, decide } from '../policy/decision.ts';
import { AgreementTermsSchema } from '../policy/recipient-policy.ts';
import { isPurpose } from '../policy/purposes.ts';

/*
 * `custos deid --purpose` offline: the egress decision (docs/policy.md) for each input before it is
 * de-identified, from a consent file (a FHIR Bundle or NDJSON of Consents) and an agreement file.
 * A withheld input is neither de-identified nor written; the receipt counts it by reason.
 */

/** What the decision needs besides each file's header: from files (offline) or from the gateway's database. */
export interface ReleasePolicy {
  purpose: string;
  site: Readonly<Record<string, SiteMode>>;
  recipient: Omit<RecipientFacts, 'deid'>;
  agreements: Agreement[];
  /** The patient's consents (matched by identifier; never logged). */
  consentsOf(patientId: string, issuer: string): Promise<ConsentRecord[]>;
  /** Where the policy came from, for the receipt. */
  source: { kind: 'files'; agreement: { id: string; version: number } } | { kind: 'gateway'; recipient: string; recipientVersion: number | undefined };
  close(): Promise<void>;
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
  const a = parsed.data;
  const consents = opts.consents ? loadConsents(opts.consents) : [];
  return {
    purpose: opts.purpose,
    site: { [opts.purpose]: opts.site },
    recipient: { id: a.recipient.organization, organization: a.recipient.organization, devices: a.recipient.models, vetting: a.recipient.vetting },
    agreements: [{ id: a.id, version: a.version, status: a.terms.status, purposes: a.terms.purposes, modalities: a.terms.modalities, bodyParts: a.terms.bodyParts, minimumDeid: a.terms.minimumDeid, validFrom: a.terms.validFrom, validTo: a.terms.validTo, retentionDays: a.terms.retentionDays, maxRisk: a.terms.maxRisk }],
    consentsOf: async (patientId, issuer) => consents.filter((c) => {
      const id = c.resource.patient?.identifier;
      return id?.value === patientId && (id.system ?? '') === issuer;
    }),
    source: { kind: 'files', agreement: { id: a.id, version: a.version } },
    close: async () => undefined,
  };
}

/**
 * The same from the gateway's database: the recipient's current definition, vetting and
 * agreements, the site policy from the configuration, and each patient's consents by their keyed
 * reference. The embedded database is refused while the gateway runs (STORE_IN_USE).
 */
export async function loadGatewayReleasePolicy(opts: { purpose: string; recipient: string; config?: string | undefined; dataDir?: string | undefined }): Promise<ReleasePolicy> {
  if (!isPurpose(opts.purpose)) throw new CustosError('USAGE', '--purpose is a v3-ActReason code Custos decides on (docs/policy.md)');
  const { openGatewayDatabase } = await import('./access-commands.ts');
  const { db, config, dataDir, close } = await openGatewayDatabase({ config: opts.config, 'data-dir': opts.dataDir });
  try {
    const { RecipientRegistry } = await import('../policy/recipient-registry.ts');
    const { agreementsOf, currentVetting } = await import('../policy/recipient-policy.ts');
    const { consentsOfPatient } = await import('../policy/consent-registry.ts');
    const { patientRef } = await import('../store/data-keys.ts');
    const { loadOrCreateKey } = await import('../store/key-file.ts');
    const registry = new RecipientRegistry(db, []);
    await registry.load([]);
    const r = registry.get(opts.recipient);
    if (!r) throw new CustosError('USAGE', `the gateway has no recipient ${JSON.stringify(opts.recipient)}`);
    const vetting = await currentVetting(db, r.id);
    const key = loadOrCreateKey(join(dataDir, 'keys', 'deid.key')).key;
    return {
      purpose: opts.purpose,
      site: config.policy.purposes as Record<string, SiteMode>,
      recipient: { id: r.id, organization: r.organization ?? r.id, devices: r.models.map((m) => m.id), vetting: vetting && { status: vetting.status, version: vetting.version } },
      agreements: await agreementsOf(db, r.id),
      consentsOf: (patientId, issuer) => consentsOfPatient(db, patientRef(key, patientId, issuer)),
      source: { kind: 'gateway', recipient: r.id, recipientVersion: registry.version(r.id) },
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}

const da = (v: string): string | undefined => (/^\d{8}$/.test(v) ? `${v.slice(0, 4)}-${v.slice(4, 6)}-${v.slice(6, 8)}` : undefined);

/**
 * The decision for each input file, from its header (read, never copied); none for a file whose
 * header cannot be read (de-identification then reports why).
 */
export async function decideFiles(files: readonly string[], p: ReleasePolicy, deid: DeidSettings, now: Date): Promise<Array<Decision | undefined>> {
  const cache = new Map<string, ConsentRecord[]>();
  const out: Array<Decision | undefined> = [];
  for (const path of files) {
    let src: FileSource | undefined;
    let facts: { patientId: string; issuer: string; release: DecisionInput['release'] } | undefined;
    try {
      src = new FileSource(path);
      const f = readDicom(src);
      const v = (t: number): string => asciiValue(f.dataset, t);
      facts = {
        patientId: v(Tags.PatientID), issuer: v(Tags.IssuerOfPatientID),
        release: { studyInstanceUID: v(Tags.StudyInstanceUID), sopClassUID: v(Tags.SOPClassUID), modality: v(Tags.Modality) || undefined, bodyPart: v(Tags.BodyPartExamined) || undefined, studyDate: da(v(Tags.StudyDate)) },
      };
    } catch (e) {
      if (!(e instanceof CustosError)) throw e;
    } finally {
      src?.close();
    }
    if (!facts) { out.push(undefined); continue; }
    const who = `${facts.issuer}\u0000${facts.patientId}`;
    if (!cache.has(who)) cache.set(who, await p.consentsOf(facts.patientId, facts.issuer));
    out.push(decide({ purpose: p.purpose, release: facts.release, consents: cache.get(who)!, site: p.site, recipient: { ...p.recipient, deid }, agreements: p.agreements, now }));
  }
  return out;
}
