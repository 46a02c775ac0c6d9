import type { Coding, Consent, ConsentProvision, Period } from '@medplum/fhirtypes';
import type { WithholdReasonCode } from '../errors.ts';
import { denyCovers, isPurpose, lineage, permitCovers } from './purposes.ts';

/*
 * The egress decision: whether one instance may leave for one recipient for one purpose, now. Pure:
 * everything it needs is an argument, and every denial says every reason. The gateway calls it for
 * each job before de-identification and again just before delivery; the batch CLI calls it too.
 * docs/policy.md describes the model and the reason codes.
 */

/** How a site treats patients who said nothing about a purpose. */
export type SiteMode = 'opt-in' | 'opt-out';

/** A consent as the registry holds it: the resource and its version. */
export interface ConsentRecord { id: string; version: number; resource: Consent }

export type VettingStatus = 'draft' | 'approved' | 'suspended' | 'revoked';

/** De-identification a recipient gets, or the least an agreement allows. */
export interface DeidSettings {
  profile: 'basic' | 'none';
  options: readonly string[];
  /** Pseudonyms keyed per recipient (unlinkable) or with the deployment key. */
  key: 'recipient' | 'deployment';
}

export interface Agreement {
  id: string;
  version: number;
  status: 'active' | 'terminated';
  /** v3-ActReason purposes the recipient may receive data for (a purpose covers those below it). */
  purposes: readonly string[];
  /** Modalities and body parts allowed; absent: any. */
  modalities?: readonly string[] | undefined;
  bodyParts?: readonly string[] | undefined;
  /** The least de-identification: the recipient's settings may not be weaker. */
  minimumDeid: DeidSettings;
  /** Valid from this instant (inclusive) until `validTo` (exclusive), ISO 8601. */
  validFrom: string;
  validTo: string;
  retentionDays: number;
  /** The highest re-identification risk a release may carry (the risk step applies it). */
  maxRisk?: number | undefined;
  /** Whether a release above maxRisk may be generalized to meet it (else it is withheld). */
  allowGeneralization?: boolean | undefined;
}

export interface RecipientFacts {
  id: string;
  /** The recipient as a FHIR Organization id (consent actors name it so). */
  organization: string;
  /** AI models it runs, as FHIR Device ids (consent actors may name them). */
  devices: readonly string[];
  vetting: { status: VettingStatus; version: number } | undefined;
  deid: DeidSettings;
}

/** What is to be released, as the decision needs it (no identifiers of the patient). */
export interface ReleaseFacts {
  studyInstanceUID: string;
  sopClassUID: string;
  modality?: string | undefined;
  bodyPart?: string | undefined;
  /** The study's date (YYYY-MM-DD), for dataPeriod; unknown: undefined. */
  studyDate?: string | undefined;
}

export interface DecisionInput {
  purpose: string;
  release: ReleaseFacts;
  /** The patient's consents (every status: only active ones count). */
  consents: readonly ConsentRecord[];
  site: Readonly<Record<string, SiteMode>>;
  recipient: RecipientFacts;
  agreements: readonly Agreement[];
  now: Date;
}

/** One reason a release is denied; `code` is stable (docs/policy.md), the rest says where. */
export interface Reason {
  code: ReasonCode;
  consent?: { id: string; version: number; provision: string };
  agreement?: { id: string; version: number };
  detail?: string;
}

export type ReasonCode = WithholdReasonCode;

/** v3-ActCode obligations a permit carries to the recipient. */
export type Obligation = 'DEID' | 'PSEUD' | 'NORELINK' | 'DELAU' | 'AOD';

export interface Basis {
  purpose: string;
  siteMode?: SiteMode | undefined;
  /** Each consent that applied, the provision that decided (a path such as "provision.provision[1]") and its effect. */
  consents: Array<{ id: string; version: number; provision: string; effect: 'permit' | 'deny' }>;
  agreement?: { id: string; version: number } | undefined;
  vetting?: { status: VettingStatus; version: number } | undefined;
}

export type Decision =
  | { outcome: 'permit'; obligations: Obligation[]; retentionDays: number; maxRisk?: number | undefined; allowGeneralization?: boolean | undefined; basis: Basis }
  | { outcome: 'deny'; reasons: Reason[]; basis: Basis };

export const DCM = 'http://dicom.nema.org/resources/ontology/DCM';
/** DICOM UIDs in FHIR: system urn:dicom:uid, value urn:oid:<uid>. */
export const DICOM_UID = 'urn:dicom:uid';
const RFC3986 = 'urn:ietf:rfc:3986';
const PATIENT_PRIVACY = 'patient-privacy';

interface Request { purpose: string; release: ReleaseFacts; actors: Set<string>; now: Date }

const inPeriod = (p: Period | undefined, t: number): boolean =>
  !p || ((!p.start || Date.parse(p.start) <= t) && (!p.end || t < endOf(p.end)));

/** A date without a time means the whole day (FHIR dateTime precision). */
function endOf(end: string): number {
  if (/^\d{4}-\d{2}-\d{2}$/.test(end)) return Date.parse(`${end}T00:00:00Z`) + 86_400_000;
  if (/^\d{4}-\d{2}$/.test(end)) { const [y, m] = end.split('-').map(Number); return Date.UTC(y!, m!, 1); }
  if (/^\d{4}$/.test(end)) return Date.UTC(Number(end) + 1, 0, 1);
  return Date.parse(end);
}

/**
 * Whether a provision's conditions hold for the request. Where the request cannot say (a study of
 * unknown date against a dataPeriod), a deny applies and a permit does not: doubt never releases.
 */
function conditionsHold(p: ConsentProvision, r: Request, effect: 'permit' | 'deny' | undefined): boolean {
  const t = r.now.getTime();
  if (!inPeriod(p.period, t)) return false;
  if (p.dataPeriod) {
    if (!r.release.studyDate) { if (effect !== 'deny') return false; } else if (!inPeriod(p.dataPeriod, Date.parse(`${r.release.studyDate}T12:00:00Z`))) return false;
  }
  if (p.actor?.length && !p.actor.some((a) => a.reference?.reference !== undefined && r.actors.has(a.reference.reference))) return false;
  if (p.action?.length && !p.action.some((a) => a.coding?.some((c) => c.code === 'disclose' || c.code === 'use'))) return false;
  if (p.purpose?.length && !p.purpose.some((c) => c.code !== undefined && (effect === 'deny' ? denyCovers(c.code, r.purpose) : permitCovers(c.code, r.purpose)))) return false;
  if (p.class?.length && !p.class.some((c) => classMatches(c, r.release))) return false;
  if (p.data?.length && !p.data.some((d) => d.reference?.identifier?.system === DICOM_UID && d.reference.identifier.value === `urn:oid:${r.release.studyInstanceUID}`)) return false;
  return true;
}

/** A class names a modality (DCM) or a SOP class (urn:oid:<uid>). */
function classMatches(c: Coding, f: ReleaseFacts): boolean {
  if (c.system === DCM) return c.code !== undefined && c.code === f.modality;
  if (c.system === RFC3986 || c.system === DICOM_UID) return c.code === `urn:oid:${f.sopClassUID}`;
  return false;
}

/**
 * The effect of a provision tree (FHIR R4 Consent.provision): a provision whose conditions hold
 * gives its type, and a nested provision whose conditions hold is an exception that overrides it;
 * among exceptions that hold at the same level, deny wins. Undefined when none holds.
 */
function evaluate(p: ConsentProvision, r: Request, path: string): { effect: 'permit' | 'deny'; path: string } | undefined {
  // A provision without a type holds only through its nested ones, which refine it and apply only
  // within it (FHIR R4 Consent.provision.provision).
  const own = p.type;
  const holds = conditionsHold(p, r, own);
  // Where the provision holds only when read as a refusal would be (a permit for research and an ML
  // training request), its nested refusals still count, its permits do not: doubt never releases.
  if (!holds && !conditionsHold(p, r, 'deny')) return undefined;
  let result = holds && own ? { effect: own, path } : undefined;
  const nested = (p.provision ?? []).map((c, i) => evaluate(c, r, `${path}.provision[${i}]`)).filter((x) => x !== undefined);
  const deny = nested.find((x) => x.effect === 'deny');
  if (deny) result = deny;
  else if (holds && nested.length) result = nested[0];
  return result;
}

/** Whether a consent is one the decision reads: active, about privacy (or research), in force. */
function inForce(c: Consent, now: Date): boolean {
  if (c.status !== 'active') return false;
  const scope = c.scope?.coding?.map((x) => x.code) ?? [];
  if (!scope.includes(PATIENT_PRIVACY) && !scope.includes('research')) return false;
  return c.provision !== undefined && inPeriod(c.provision.period, now.getTime());
}

/** Why `actual` is weaker than `minimum`, or undefined if it is not. */
export function weakerDeid(actual: DeidSettings, minimum: DeidSettings): string | undefined {
  if (minimum.profile === 'basic' && actual.profile !== 'basic') return 'originals instead of the Basic Profile';
  if (minimum.key === 'recipient' && actual.key !== 'recipient') return 'pseudonyms keyed with the deployment key (linkable across recipients)';
  const has = new Set(actual.options);
  const allowed = new Set(minimum.options);
  for (const o of minimum.options) if (o.startsWith('clean-') && !has.has(o)) return `the ${o} option is required`;
  for (const o of actual.options) {
    if (!o.startsWith('retain-') || allowed.has(o)) continue;
    // Modified dates keep less than full dates: allowed where full dates are.
    if (o === 'retain-longitudinal-modified-dates' && allowed.has('retain-longitudinal-full-dates')) continue;
    return `the ${o} option is not allowed`;
  }
  return undefined;
}

/** The agreement in force for this release, or the reasons none is. */
function agreementFor(i: DecisionInput): { agreement: Agreement } | { reasons: Reason[] } {
  const t = i.now.getTime();
  const valid = i.agreements.filter((a) => a.status === 'active' && Date.parse(a.validFrom) <= t && t < Date.parse(a.validTo));
  if (!valid.length) {
    const why = i.agreements.length === 0 ? 'the recipient has no agreement' : i.agreements.map((a) => `${a.id} v${a.version}: ${a.status !== 'active' ? a.status : t < Date.parse(a.validFrom) ? `not valid before ${a.validFrom}` : `expired ${a.validTo}`}`).join('; ');
    return { reasons: [{ code: 'AGREEMENT_NONE_VALID', detail: why }] };
  }
  const all: Reason[] = [];
  for (const a of valid) {
    const ref = { id: a.id, version: a.version };
    const reasons: Reason[] = [];
    if (!a.purposes.some((p) => permitCovers(p, i.purpose))) reasons.push({ code: 'AGREEMENT_PURPOSE', agreement: ref, detail: `${i.purpose} is not among ${a.purposes.join(', ') || 'no purposes'}` });
    if (a.modalities?.length && !(i.release.modality && a.modalities.includes(i.release.modality))) reasons.push({ code: 'AGREEMENT_MODALITY', agreement: ref, detail: `modality ${i.release.modality ?? '(none)'} is not among ${a.modalities.join(', ')}` });
    if (a.bodyParts?.length && !(i.release.bodyPart && a.bodyParts.includes(i.release.bodyPart))) reasons.push({ code: 'AGREEMENT_BODY_PART', agreement: ref, detail: `body part ${i.release.bodyPart ?? '(none)'} is not among ${a.bodyParts.join(', ')}` });
    const weaker = weakerDeid(i.recipient.deid, a.minimumDeid);
    if (weaker) reasons.push({ code: 'DEID_WEAKER_THAN_AGREEMENT', agreement: ref, detail: weaker });
    if (!reasons.length) return { agreement: a };
    all.push(...reasons);
  }
  return { reasons: all };
}

/** The site's mode for a purpose: set for it, or for the nearest purpose above it. */
function siteModeFor(site: Readonly<Record<string, SiteMode>>, purpose: string): SiteMode | undefined {
  for (const p of lineage(purpose)) if (site[p]) return site[p];
  return undefined;
}

export function decide(i: DecisionInput): Decision {
  const basis: Basis = { purpose: i.purpose, consents: [] };
  if (!isPurpose(i.purpose)) return { outcome: 'deny', reasons: [{ code: 'PURPOSE_UNKNOWN', detail: 'not a purpose of use Custos decides on (v3-ActReason)' }], basis };
  const reasons: Reason[] = [];

  // The recipient: vetted and approved.
  const v = i.recipient.vetting;
  basis.vetting = v;
  if (!v) reasons.push({ code: 'RECIPIENT_NOT_VETTED', detail: `recipient ${i.recipient.id} has no vetting record` });
  else if (v.status !== 'approved') reasons.push({ code: 'RECIPIENT_NOT_APPROVED', detail: `vetting version ${v.version} is ${v.status}` });

  // An agreement valid today that covers this release.
  const a = agreementFor(i);
  if ('reasons' in a) reasons.push(...a.reasons); else basis.agreement = { id: a.agreement.id, version: a.agreement.version };

  // The patient's say, and the site's policy where the patient said nothing.
  const mode = siteModeFor(i.site, i.purpose);
  basis.siteMode = mode;
  const request: Request = { purpose: i.purpose, release: i.release, actors: new Set([`Organization/${i.recipient.organization}`, ...i.recipient.devices.map((d) => `Device/${d}`)]), now: i.now };
  for (const c of i.consents) {
    if (!inForce(c.resource, i.now)) continue;
    const r = evaluate(c.resource.provision!, request, 'provision');
    if (r) basis.consents.push({ id: c.id, version: c.version, provision: r.path, effect: r.effect });
  }
  const denials = basis.consents.filter((c) => c.effect === 'deny');
  for (const d of denials) reasons.push({ code: 'CONSENT_DENIED', consent: { id: d.id, version: d.version, provision: d.provision } });
  if (!denials.length && !basis.consents.length) {
    if (!mode) reasons.push({ code: 'SITE_POLICY_MISSING', detail: `no site policy (opt-in or opt-out) for ${i.purpose}` });
    else if (mode === 'opt-in') reasons.push({ code: 'CONSENT_REQUIRED', detail: `the site is opt-in for ${i.purpose} and no consent of the patient permits it` });
  }

  if (reasons.length || 'reasons' in a) return { outcome: 'deny', reasons, basis };
  const ag = a.agreement;
  const obligations: Obligation[] = ['AOD', 'DELAU'];
  if (i.recipient.deid.profile === 'basic') obligations.push('DEID', 'PSEUD');
  if (i.recipient.deid.key === 'recipient') obligations.push('NORELINK');
  return { outcome: 'permit', obligations: obligations.sort(), retentionDays: ag.retentionDays, ...(ag.maxRisk !== undefined ? { maxRisk: ag.maxRisk, allowGeneralization: ag.allowGeneralization === true } : {}), basis };
}
