import type { Consent, OperationOutcome, OperationOutcomeIssue } from '@medplum/fhirtypes';
import { z } from 'zod';
import { ACT_REASON, isPurpose } from './purposes.ts';

/*
 * FHIR R4 Consent (http://hl7.org/fhir/R4/consent.html) as Custos accepts it: the elements the
 * egress decision reads are checked for their types and values; other elements are kept as sent.
 * A structural error is answered 400 and a rule of Custos's 422, each with an OperationOutcome whose
 * issue names the element (FHIRPath, e.g. Consent.provision.provision[0].type). Types come from
 * @medplum/fhirtypes; the checks are zod schemas written against them (no validator package here
 * runs offline on Node 24 without downloading the specification).
 */

/** FHIR dateTime (R4 2.24.0.1): a year, month, day, or an instant with its zone. */
const dateTime = z.string().regex(/^\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01])(T([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d+)?)?(Z|[+-]((0\d|1[0-3]):[0-5]\d|14:00)))?)?)?$/, 'a FHIR dateTime: YYYY, YYYY-MM, YYYY-MM-DD or an instant with its time zone');
const Coding = z.looseObject({ system: z.string().min(1).optional(), code: z.string().min(1).optional(), display: z.string().optional() });
const CodeableConcept = z.looseObject({ coding: z.array(Coding).optional(), text: z.string().optional() });
const Period = z.looseObject({ start: dateTime.optional(), end: dateTime.optional() });
const Identifier = z.looseObject({ system: z.string().min(1).optional(), value: z.string().min(1).max(64) });
const Reference = z.looseObject({ reference: z.string().min(1).optional(), identifier: Identifier.optional(), display: z.string().optional() });

type ProvisionShape = z.infer<typeof ProvisionBase> & { provision?: ProvisionShape[] };
const ProvisionBase = z.looseObject({
  type: z.enum(['deny', 'permit']).optional(),
  period: Period.optional(),
  actor: z.array(z.looseObject({ role: CodeableConcept, reference: Reference })).optional(),
  action: z.array(CodeableConcept).optional(),
  securityLabel: z.array(Coding).optional(),
  purpose: z.array(Coding).optional(),
  class: z.array(Coding).optional(),
  code: z.array(CodeableConcept).optional(),
  dataPeriod: Period.optional(),
  data: z.array(z.looseObject({ meaning: z.enum(['instance', 'related', 'dependents', 'authoredby']), reference: Reference })).optional(),
});
const Provision: z.ZodType<ProvisionShape> = ProvisionBase.extend({ provision: z.lazy(() => z.array(Provision)).optional() });

const ConsentSchema = z.looseObject({
  resourceType: z.literal('Consent'),
  id: z.string().regex(/^[A-Za-z0-9\-.]{1,64}$/).optional(),
  status: z.enum(['draft', 'proposed', 'active', 'rejected', 'inactive', 'entered-in-error']),
  scope: CodeableConcept,
  category: z.array(CodeableConcept).min(1),
  patient: Reference,
  dateTime: dateTime.optional(),
  provision: Provision.optional(),
});

export type Issue = OperationOutcomeIssue;

export function operationOutcome(issues: Issue[]): OperationOutcome {
  return { resourceType: 'OperationOutcome', issue: issues };
}

/** A zod path as FHIRPath: ["provision", "provision", 0, "type"] → Consent.provision.provision[0].type. */
function fhirPath(path: ReadonlyArray<PropertyKey>): string {
  let out = 'Consent';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : `.${String(p)}`;
  return out;
}

export type Checked = { ok: true; consent: Consent } | { ok: false; status: 400 | 422; outcome: OperationOutcome };

const MAX_DEPTH = 8;

/**
 * Check a resource sent as a Consent. Structure first (400: a wrong type, a missing element), then
 * what Custos needs to act on it (422): a patient identifier, purposes it knows, provisions at most
 * eight deep. Messages name elements, never quote values.
 */
export function checkConsent(body: unknown): Checked {
  const parsed = ConsentSchema.safeParse(body);
  if (!parsed.success) {
    const issues: Issue[] = parsed.error.issues.slice(0, 20).map((i) => ({
      severity: 'error', code: i.code === 'invalid_type' && i.input === undefined ? 'required' : 'structure',
      diagnostics: i.code === 'invalid_type' && i.input === undefined ? 'this element is required' : i.message, expression: [fhirPath(i.path)],
    }));
    return { ok: false, status: 400, outcome: operationOutcome(issues) };
  }
  const c = parsed.data as unknown as Consent;
  const issues: Issue[] = [];
  const rule = (expression: string, diagnostics: string): void => { issues.push({ severity: 'error', code: 'business-rule', diagnostics, expression: [expression] }); };
  if (!c.patient?.identifier?.value) rule('Consent.patient.identifier', 'the patient is named by identifier (system: the issuer of Patient ID, value: the Patient ID), which is how the gateway finds their images');
  if (c.status === 'active' && !c.provision) rule('Consent.provision', 'an active consent needs a provision: what it permits or denies');
  const walk = (p: NonNullable<Consent['provision']>, path: string, depth: number): void => {
    if (depth > MAX_DEPTH) { rule(path, `provisions nest at most ${MAX_DEPTH} deep`); return; }
    if (depth > 1 && !p.type) rule(`${path}.type`, 'a nested provision states permit or deny (R4 Consent.provision.provision)');
    p.purpose?.forEach((code, i) => {
      if (code.system !== undefined && code.system !== ACT_REASON) rule(`${path}.purpose[${i}].system`, `purposes are v3-ActReason codes (${ACT_REASON})`);
      else if (!code.code || !isPurpose(code.code)) rule(`${path}.purpose[${i}].code`, 'not a purpose of use the gateway decides on (docs/policy.md lists them)');
    });
    p.actor?.forEach((a, i) => {
      if (!/^(Organization|Device)\/[A-Za-z0-9\-.]{1,64}$/.test(a.reference?.reference ?? '')) rule(`${path}.actor[${i}].reference`, 'an actor is a recipient (Organization/<id>) or an AI model (Device/<id>)');
    });
    p.provision?.forEach((q, i) => walk(q, `${path}.provision[${i}]`, depth + 1));
  };
  if (c.provision) walk(c.provision, 'Consent.provision', 1);
  if (issues.length) return { ok: false, status: 422, outcome: operationOutcome(issues) };
  return { ok: true, consent: c };
}
