/**
 * The egress decision, table-driven: opt-in and opt-out sites, permit/deny nesting, the purpose
 * hierarchy, actor-specific provisions, periods, agreements (expired, terminated, not covering),
 * vetting, and de-identification weaker than the agreement allows. Synthetic data only.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Consent, ConsentProvision } from '@medplum/fhirtypes';
import { type Agreement, type ConsentRecord, DCM, DICOM_UID, type DecisionInput, type ReasonCode, decide, weakerDeid } from '../src/policy/decision.ts';
import { ACT_REASON, denyCovers, lineage, permitCovers } from '../src/policy/purposes.ts';

const NOW = new Date('2026-12-02T12:00:00Z');
const STUDY = '2.25.4242';
const purpose = (...codes: string[]) => codes.map((code) => ({ system: ACT_REASON, code }));
const actor = (reference: string) => [{ role: { coding: [{ code: 'IRCP' }] }, reference: { reference } }];

let n = 0;
function consent(provision: ConsentProvision, extra: Partial<Consent> = {}): ConsentRecord {
  n++;
  return {
    id: `c${n}`, version: 1,
    resource: {
      resourceType: 'Consent', status: 'active',
      scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
      category: [{ coding: [{ system: 'http://loinc.org', code: '64292-6' }] }],
      patient: { identifier: { system: 'urn:oid:2.25.1', value: 'SYNTH-1' } },
      provision, ...extra,
    },
  };
}

const AGREEMENT: Agreement = {
  id: 'dua-1', version: 3, status: 'active', purposes: ['TREATDS', 'HRESCH', 'MLTRAINING'],
  minimumDeid: { profile: 'basic', options: ['retain-longitudinal-full-dates'], key: 'recipient' },
  validFrom: '2026-01-01T00:00:00Z', validTo: '2027-01-01T00:00:00Z', retentionDays: 365, maxRisk: 0.09,
};

function input(over: Partial<DecisionInput> & { agreement?: Partial<Agreement> } = {}): DecisionInput {
  const { agreement, ...rest } = over;
  return {
    purpose: 'TREATDS',
    release: { studyInstanceUID: STUDY, sopClassUID: '1.2.840.10008.5.1.4.1.1.2', modality: 'CT', bodyPart: 'CHEST', studyDate: '2026-11-30' },
    consents: [],
    site: { TREATDS: 'opt-out', MLTRAINING: 'opt-in', HRESCH: 'opt-in' },
    recipient: { id: 'vendor', organization: 'org-vendor', devices: ['model-7'], vetting: { status: 'approved', version: 2 }, deid: { profile: 'basic', options: [], key: 'recipient' } },
    agreements: [{ ...AGREEMENT, ...agreement }],
    now: NOW,
    ...rest,
  };
}

type Row = [name: string, i: DecisionInput, outcome: 'permit' | 'deny', codes?: ReasonCode[]];

const permitAll = (extra: ConsentProvision = {}) => ({ type: 'permit' as const, ...extra });
const denyAll = (extra: ConsentProvision = {}) => ({ type: 'deny' as const, ...extra });

const ROWS: Row[] = [
  // Site policy alone.
  ['opt-out site, no consent: permitted', input(), 'permit'],
  ['opt-in site, no consent: consent required', input({ purpose: 'MLTRAINING' }), 'deny', ['CONSENT_REQUIRED']],
  ['no site policy for the purpose: denied', input({ purpose: 'HOPERAT', agreement: { purposes: ['HOPERAT'] } }), 'deny', ['SITE_POLICY_MISSING']],
  ['a child purpose takes its parent\'s site policy (CLINTRCH under HRESCH, opt-in)', input({ purpose: 'CLINTRCH' }), 'deny', ['CONSENT_REQUIRED']],
  ['unknown purpose', input({ purpose: 'SHOPPING' }), 'deny', ['PURPOSE_UNKNOWN']],
  // Consents on opt-in and opt-out sites.
  ['opt-in site, consent permits ML training', input({ purpose: 'MLTRAINING', consents: [consent(permitAll({ purpose: purpose('MLTRAINING') }))] }), 'permit'],
  ['opt-out site, consent denies decision support', input({ consents: [consent(denyAll({ purpose: purpose('TREATDS') }))] }), 'deny', ['CONSENT_DENIED']],
  ['opt-out site, consent denies everything', input({ consents: [consent(denyAll())] }), 'deny', ['CONSENT_DENIED']],
  ['opt-out site, consent denies only ML training: decision support still permitted', input({ consents: [consent(denyAll({ purpose: purpose('MLTRAINING') }))] }), 'permit'],
  ['opt-in site, consent denying ML training', input({ purpose: 'MLTRAINING', consents: [consent(denyAll({ purpose: purpose('MLTRAINING') }))] }), 'deny', ['CONSENT_DENIED']],
  // Nesting.
  ['deny all except decision support: permitted', input({ consents: [consent(denyAll({ provision: [permitAll({ purpose: purpose('TREATDS') })] }))] }), 'permit'],
  ['deny all except decision support: ML training denied', input({ purpose: 'MLTRAINING', consents: [consent(denyAll({ provision: [permitAll({ purpose: purpose('TREATDS') })] }))] }), 'deny', ['CONSENT_DENIED']],
  ['permit research except ML training: clinical trial permitted', input({ purpose: 'CLINTRCH', agreement: { purposes: ['HRESCH'] }, consents: [consent(permitAll({ purpose: purpose('HRESCH'), provision: [denyAll({ purpose: purpose('MLTRAINING') })] }))] }), 'permit'],
  ['permit research except ML training: ML training denied', input({ purpose: 'MLTRAINING', consents: [consent(permitAll({ purpose: purpose('HRESCH'), provision: [denyAll({ purpose: purpose('MLTRAINING') })] }))] }), 'deny', ['CONSENT_DENIED']],
  ['three levels: permit, deny CT, permit CT for decision support', input({ consents: [consent(permitAll({ provision: [denyAll({ class: [{ system: DCM, code: 'CT' }], provision: [permitAll({ purpose: purpose('TREATDS') })] })] }))] }), 'permit'],
  ['three levels: the same for ML training stops at the CT deny', input({ purpose: 'MLTRAINING', consents: [consent(permitAll({ provision: [denyAll({ class: [{ system: DCM, code: 'CT' }], provision: [permitAll({ purpose: purpose('TREATDS') })] })] }))] }), 'deny', ['CONSENT_DENIED']],
  ['conflicting exceptions at one level: deny wins', input({ consents: [consent(denyAll({ provision: [permitAll({ purpose: purpose('TREATDS') }), denyAll({ class: [{ system: DCM, code: 'CT' }] })] }))] }), 'deny', ['CONSENT_DENIED']],
  ['a root without a type, with a matching permit inside: permitted on an opt-in purpose', input({ purpose: 'MLTRAINING', consents: [consent({ provision: [permitAll({ purpose: purpose('MLTRAINING') })] })] }), 'permit'],
  ['a root without a type, nothing inside matches: the site policy decides (opt-in)', input({ purpose: 'MLTRAINING', consents: [consent({ provision: [permitAll({ purpose: purpose('TREATDS') })] })] }), 'deny', ['CONSENT_REQUIRED']],
  // Purpose hierarchy.
  ['a permit for HRESCH covers its child CLINTRCH', input({ purpose: 'CLINTRCH', agreement: { purposes: ['HRESCH'] }, consents: [consent(permitAll({ purpose: purpose('HRESCH') }))] }), 'permit'],
  ['a permit for HRESCH covers a grandchild (CLINTRCHPC)', input({ purpose: 'CLINTRCHPC', agreement: { purposes: ['HRESCH'] }, consents: [consent(permitAll({ purpose: purpose('HRESCH') }))] }), 'permit'],
  ['a permit for CLINTRCH does not cover its parent HRESCH', input({ purpose: 'HRESCH', consents: [consent(permitAll({ purpose: purpose('CLINTRCH') }))] }), 'deny', ['CONSENT_REQUIRED']],
  ['a permit for research does not extend to ML training', input({ purpose: 'MLTRAINING', consents: [consent(permitAll({ purpose: purpose('HRESCH') }))] }), 'deny', ['CONSENT_REQUIRED']],
  ['a refusal of research covers ML training', input({ purpose: 'MLTRAINING', consents: [consent(permitAll({ purpose: purpose('MLTRAINING') })), consent(denyAll({ purpose: purpose('HRESCH') }))] }), 'deny', ['CONSENT_DENIED']],
  ['a permit for TREAT covers decision support (TREATDS)', input({ site: { TREATDS: 'opt-in' }, consents: [consent(permitAll({ purpose: purpose('TREAT') }))] }), 'permit'],
  ['a deny of TREAT covers decision support', input({ consents: [consent(denyAll({ purpose: purpose('TREAT') }))] }), 'deny', ['CONSENT_DENIED']],
  // Actors.
  ['a deny naming this recipient\'s organization', input({ consents: [consent(denyAll({ actor: actor('Organization/org-vendor') }))] }), 'deny', ['CONSENT_DENIED']],
  ['a deny naming another organization does not apply', input({ consents: [consent(denyAll({ actor: actor('Organization/org-other') }))] }), 'permit'],
  ['a deny naming the recipient\'s AI model (Device)', input({ consents: [consent(denyAll({ actor: actor('Device/model-7') }))] }), 'deny', ['CONSENT_DENIED']],
  ['an opt-in permit for another vendor does not release to this one', input({ purpose: 'MLTRAINING', consents: [consent(permitAll({ purpose: purpose('MLTRAINING'), actor: actor('Organization/org-other') }))] }), 'deny', ['CONSENT_REQUIRED']],
  // Class and data.
  ['a deny of MR does not cover this CT', input({ consents: [consent(denyAll({ class: [{ system: DCM, code: 'MR' }] }))] }), 'permit'],
  ['a deny of this SOP class', input({ consents: [consent(denyAll({ class: [{ system: 'urn:ietf:rfc:3986', code: 'urn:oid:1.2.840.10008.5.1.4.1.1.2' }] }))] }), 'deny', ['CONSENT_DENIED']],
  ['a deny of this study', input({ consents: [consent(denyAll({ data: [{ meaning: 'instance', reference: { identifier: { system: DICOM_UID, value: `urn:oid:${STUDY}` } } }] }))] }), 'deny', ['CONSENT_DENIED']],
  ['a deny of another study', input({ consents: [consent(denyAll({ data: [{ meaning: 'instance', reference: { identifier: { system: DICOM_UID, value: 'urn:oid:2.25.1' } } }] }))] }), 'permit'],
  // Periods.
  ['a deny whose period ended', input({ consents: [consent(denyAll({ period: { start: '2025-01-01', end: '2025-12-31' } }))] }), 'permit'],
  ['a deny whose period has not begun', input({ consents: [consent(denyAll({ period: { start: '2027-01-01' } }))] }), 'permit'],
  ['a deny in force today (end date inclusive)', input({ consents: [consent(denyAll({ period: { start: '2026-01-01', end: '2026-12-02' } }))] }), 'deny', ['CONSENT_DENIED']],
  ['a deny of data from 2026 covers a study of 2026-11-30', input({ consents: [consent(denyAll({ dataPeriod: { start: '2026-01-01', end: '2026-12-31' } }))] }), 'deny', ['CONSENT_DENIED']],
  ['a deny of data from 2025 does not cover a 2026 study', input({ consents: [consent(denyAll({ dataPeriod: { end: '2025-12-31' } }))] }), 'permit'],
  ['a deny by data period covers a study of unknown date', input({ release: { studyInstanceUID: STUDY, sopClassUID: '1.2.840.10008.5.1.4.1.1.2', modality: 'CT' }, consents: [consent(denyAll({ dataPeriod: { end: '2025-12-31' } }))] }), 'deny', ['CONSENT_DENIED']],
  ['a permit by data period does not cover a study of unknown date (opt-in)', input({ purpose: 'MLTRAINING', release: { studyInstanceUID: STUDY, sopClassUID: '1.2.840.10008.5.1.4.1.1.2', modality: 'CT' }, consents: [consent(permitAll({ purpose: purpose('MLTRAINING'), dataPeriod: { start: '2020-01-01' } }))] }), 'deny', ['CONSENT_REQUIRED']],
  // Consent status and scope.
  ['a withdrawn (inactive) deny no longer counts', input({ consents: [consent(denyAll(), { status: 'inactive' })] }), 'permit'],
  ['a rejected permit does not count (opt-in)', input({ purpose: 'MLTRAINING', consents: [consent(permitAll({ purpose: purpose('MLTRAINING') }), { status: 'rejected' })] }), 'deny', ['CONSENT_REQUIRED']],
  ['a draft deny does not count', input({ consents: [consent(denyAll(), { status: 'draft' })] }), 'permit'],
  ['a treatment-scope consent is not a privacy consent', input({ consents: [consent(denyAll(), { scope: { coding: [{ code: 'treatment' }] } })] }), 'permit'],
  ['a permit and a deny from two consents: deny wins', input({ purpose: 'MLTRAINING', consents: [consent(permitAll({ purpose: purpose('MLTRAINING') })), consent(denyAll({ purpose: purpose('MLTRAINING') }))] }), 'deny', ['CONSENT_DENIED']],
  // Recipient vetting.
  ['recipient never vetted', input({ recipient: { ...input().recipient, vetting: undefined } }), 'deny', ['RECIPIENT_NOT_VETTED']],
  ['recipient vetting in draft', input({ recipient: { ...input().recipient, vetting: { status: 'draft', version: 1 } } }), 'deny', ['RECIPIENT_NOT_APPROVED']],
  ['recipient suspended', input({ recipient: { ...input().recipient, vetting: { status: 'suspended', version: 4 } } }), 'deny', ['RECIPIENT_NOT_APPROVED']],
  ['recipient revoked', input({ recipient: { ...input().recipient, vetting: { status: 'revoked', version: 5 } } }), 'deny', ['RECIPIENT_NOT_APPROVED']],
  // Agreements.
  ['no agreement at all', input({ agreements: [] }), 'deny', ['AGREEMENT_NONE_VALID']],
  ['agreement expired', input({ agreement: { validTo: '2026-12-01T00:00:00Z' } }), 'deny', ['AGREEMENT_NONE_VALID']],
  ['agreement not yet valid', input({ agreement: { validFrom: '2026-12-03T00:00:00Z' } }), 'deny', ['AGREEMENT_NONE_VALID']],
  ['agreement terminated', input({ agreement: { status: 'terminated' } }), 'deny', ['AGREEMENT_NONE_VALID']],
  ['agreement does not cover the purpose', input({ agreement: { purposes: ['HRESCH'] } }), 'deny', ['AGREEMENT_PURPOSE']],
  ['an agreement for research does not cover ML training', input({ purpose: 'MLTRAINING', agreement: { purposes: ['HRESCH'] }, consents: [consent(permitAll({ purpose: purpose('MLTRAINING') }))] }), 'deny', ['AGREEMENT_PURPOSE']],
  ['agreement limited to MR', input({ agreement: { modalities: ['MR'] } }), 'deny', ['AGREEMENT_MODALITY']],
  ['agreement limited to HEAD', input({ agreement: { bodyParts: ['HEAD'] } }), 'deny', ['AGREEMENT_BODY_PART']],
  ['agreement limited to CT and CHEST: permitted', input({ agreement: { modalities: ['CT'], bodyParts: ['CHEST'] } }), 'permit'],
  ['one expired agreement and one valid: the valid one decides', input({ agreements: [{ ...AGREEMENT, id: 'old', validTo: '2026-06-01T00:00:00Z' }, AGREEMENT] }), 'permit'],
  // De-identification against the agreement's minimum.
  ['originals to a recipient whose agreement requires the Basic Profile', input({ recipient: { ...input().recipient, deid: { profile: 'none', options: [], key: 'recipient' } } }), 'deny', ['DEID_WEAKER_THAN_AGREEMENT']],
  ['deployment-keyed pseudonyms where the agreement requires per-recipient keys', input({ recipient: { ...input().recipient, deid: { profile: 'basic', options: [], key: 'deployment' } } }), 'deny', ['DEID_WEAKER_THAN_AGREEMENT']],
  ['retaining patient characteristics the agreement does not allow', input({ recipient: { ...input().recipient, deid: { profile: 'basic', options: ['retain-patient-characteristics'], key: 'recipient' } } }), 'deny', ['DEID_WEAKER_THAN_AGREEMENT']],
  ['missing a clean option the agreement requires', input({ agreement: { minimumDeid: { profile: 'basic', options: ['clean-pixel-data'], key: 'recipient' } } }), 'deny', ['DEID_WEAKER_THAN_AGREEMENT']],
  ['modified dates where full dates are allowed: not weaker', input({ recipient: { ...input().recipient, deid: { profile: 'basic', options: ['retain-longitudinal-modified-dates'], key: 'recipient' } } }), 'permit'],
  // Several reasons at once: all are given.
  ['suspended, expired and denied: every reason', input({ recipient: { ...input().recipient, vetting: { status: 'suspended', version: 4 } }, agreement: { validTo: '2026-01-02T00:00:00Z' }, consents: [consent(denyAll())] }), 'deny', ['RECIPIENT_NOT_APPROVED', 'AGREEMENT_NONE_VALID', 'CONSENT_DENIED']],
];

test(`the egress decision table (${ROWS.length} rows)`, () => {
  assert.ok(ROWS.length >= 40);
  for (const [name, i, outcome, codes] of ROWS) {
    const d = decide(i);
    assert.equal(d.outcome, outcome, name);
    if (d.outcome === 'deny') assert.deepEqual(d.reasons.map((r) => r.code), codes ?? [], name);
  }
});

test('a denial names the consent, its version and the provision that decided', () => {
  const c = consent(denyAll({ provision: [permitAll({ purpose: purpose('TREATDS') }), denyAll({ actor: actor('Device/model-7') })] }));
  c.version = 4;
  const d = decide(input({ consents: [c] }));
  assert.equal(d.outcome, 'deny');
  assert.deepEqual(d.outcome === 'deny' && d.reasons[0], { code: 'CONSENT_DENIED', consent: { id: c.id, version: 4, provision: 'provision.provision[1]' } });
});

test('a permit carries the obligations and the agreement\'s terms, with its basis', () => {
  const d = decide(input());
  assert.equal(d.outcome, 'permit');
  if (d.outcome !== 'permit') return;
  assert.deepEqual(d.obligations, ['AOD', 'DEID', 'DELAU', 'NORELINK', 'PSEUD']);
  assert.equal(d.retentionDays, 365);
  assert.equal(d.maxRisk, 0.09);
  assert.deepEqual(d.basis.agreement, { id: 'dua-1', version: 3 });
  assert.deepEqual(d.basis.vetting, { status: 'approved', version: 2 });
  assert.equal(d.basis.siteMode, 'opt-out');
});

test('purpose hierarchy and de-identification comparison', () => {
  assert.deepEqual(lineage('CLINTRCHPC'), ['CLINTRCHPC', 'CLINTRCH', 'HRESCH']);
  assert.ok(permitCovers('HRESCH', 'BIORCH'));
  assert.ok(!permitCovers('HRESCH', 'MLTRAINING'));
  assert.ok(denyCovers('HRESCH', 'MLTRAINING'));
  assert.ok(!denyCovers('MLTRAINING', 'HRESCH'));
  assert.equal(weakerDeid({ profile: 'basic', options: ['clean-pixel-data'], key: 'recipient' }, { profile: 'basic', options: [], key: 'deployment' }), undefined, 'stronger is fine');
});
