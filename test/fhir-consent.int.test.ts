/**
 * The consent registry over FHIR R4: create, read, update (versions), vread, _history, search and
 * the CapabilityStatement; malformed resources answered with an OperationOutcome naming the element.
 * The resources follow the published R4 Consent examples (consent-example-basic, -notThis,
 * -notOrg, -Out: patient-privacy scope, LOINC 64292-6 category, permit/deny provisions), made
 * synthetic and pointed at this gateway's patients, recipients and purposes.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Bundle, Consent, OperationOutcome } from '@medplum/fhirtypes';
import { parseGatewayConfig } from '../src/config/gateway-config.ts';
import { type Gateway, startGateway } from '../src/gateway.ts';
import { consentsOfPatient } from '../src/policy/consent-registry.ts';
import { patientRef } from '../src/store/data-keys.ts';
import { loadOrCreateKey } from '../src/store/key-file.ts';
import { tempDir } from './helpers.ts';
import { api } from './peers.ts';

let gw: Gateway;
let admin: typeof fetch;
const FHIR = 'application/fhir+json';

before(async () => {
  gw = await startGateway(parseGatewayConfig({ dimse: { port: 0 }, http: { port: 0 } }), join(tempDir('custos-fhir-'), 'data'));
  admin = api(gw);
});
after(async () => { await gw?.close(); });

const ACT_REASON = 'http://terminology.hl7.org/CodeSystem/v3-ActReason';

/** Like consent-example-basic / -Out: a patient's privacy consent, here denying ML training to everyone. */
function denyTraining(patientId: string, dateTime = '2026-11-20T10:00:00Z'): Consent {
  return {
    resourceType: 'Consent', status: 'active',
    scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
    category: [{ coding: [{ system: 'http://loinc.org', code: '64292-6' }] }],
    patient: { identifier: { system: 'SYNTH-HOSP', value: patientId } },
    dateTime,
    policyRule: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'OPTOUT' }] },
    provision: { type: 'permit', provision: [{ type: 'deny', purpose: [{ system: ACT_REASON, code: 'MLTRAINING' }] }] },
  };
}

/** Like consent-example-notOrg: no disclosure to one organization (a recipient), nor to one AI model. */
function denyVendor(patientId: string): Consent {
  return {
    ...denyTraining(patientId, '2026-11-25'),
    provision: { type: 'permit', provision: [{ type: 'deny', actor: [{ role: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'PRCP' }] }, reference: { reference: 'Organization/vendor-b' } }, { role: { coding: [{ code: 'PRCP' }] }, reference: { reference: 'Device/model-9' } }] }] },
  };
}

const post = (body: unknown, type = FHIR) => admin(`${gw.http.url}/fhir/Consent`, { method: 'POST', headers: { 'content-type': type }, body: typeof body === 'string' ? body : JSON.stringify(body) });

test('the CapabilityStatement is public and declares Consent', async () => {
  const res = await fetch(`${gw.http.url}/fhir/metadata`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /application\/fhir\+json/);
  const cs = (await res.json()) as { resourceType: string; fhirVersion: string; rest: Array<{ resource: Array<{ type: string; versioning: string }> }> };
  assert.equal(cs.resourceType, 'CapabilityStatement');
  assert.equal(cs.fhirVersion, '4.0.1');
  assert.deepEqual(cs.rest[0]!.resource.map((r) => [r.type, r.versioning]), [['Consent', 'versioned']]);
});

test('a consent is created, read, updated to a new version, read back by version and in its history', async () => {
  const created = await post(denyTraining('SYNTH-100'));
  assert.equal(created.status, 201);
  const c = (await created.json()) as Consent;
  assert.ok(c.id);
  assert.equal(c.meta?.versionId, '1');
  assert.equal(created.headers.get('etag'), 'W/"1"');
  assert.match(created.headers.get('location') ?? '', new RegExp(`/fhir/Consent/${c.id}/_history/1$`));

  const read = (await (await admin(`${gw.http.url}/fhir/Consent/${c.id}`)).json()) as Consent;
  assert.deepEqual(read.provision, denyTraining('SYNTH-100').provision);

  // Withdrawal: a new version with status inactive. A stale If-Match is refused.
  const stale = await admin(`${gw.http.url}/fhir/Consent/${c.id}`, { method: 'PUT', headers: { 'content-type': FHIR, 'if-match': 'W/"7"' }, body: JSON.stringify({ ...read, status: 'inactive' }) });
  assert.equal(stale.status, 412);
  const updated = await admin(`${gw.http.url}/fhir/Consent/${c.id}`, { method: 'PUT', headers: { 'content-type': FHIR, 'if-match': 'W/"1"' }, body: JSON.stringify({ ...read, status: 'inactive' }) });
  assert.equal(updated.status, 200);
  assert.equal(((await updated.json()) as Consent).meta?.versionId, '2');
  assert.equal(((await (await admin(`${gw.http.url}/fhir/Consent/${c.id}/_history/1`)).json()) as Consent).status, 'active');
  const history = (await (await admin(`${gw.http.url}/fhir/Consent/${c.id}/_history`)).json()) as Bundle<Consent>;
  assert.equal(history.type, 'history');
  assert.deepEqual(history.entry?.map((e) => [e.resource?.meta?.versionId, e.resource?.status]), [['2', 'inactive'], ['1', 'active']]);

  // The decision reads the current version, filed under the patient's keyed reference.
  const key = loadOrCreateKey(join(gw.dataDir, 'keys', 'deid.key')).key;
  const records = await consentsOfPatient(gw.db, patientRef(key, 'SYNTH-100', 'SYNTH-HOSP'));
  assert.deepEqual(records.map((r) => [r.id, r.version, r.resource.status]), [[c.id, 2, 'inactive']]);

  assert.equal((await admin(`${gw.http.url}/fhir/Consent/${c.id}/_history/9`)).status, 404);
  assert.equal((await admin(`${gw.http.url}/fhir/Consent/no-such-id`)).status, 404);
});

test('search by patient identifier, status, category and date, paged', async () => {
  for (const c of [denyTraining('SYNTH-200'), denyVendor('SYNTH-200'), denyTraining('SYNTH-201', '2026-10-01')]) assert.equal((await post(c)).status, 201);
  const search = async (q: string) => (await (await admin(`${gw.http.url}/fhir/Consent?${q}`)).json()) as Bundle<Consent>;
  assert.equal((await search('patient:identifier=SYNTH-HOSP|SYNTH-200')).total, 2);
  assert.equal((await search('patient:identifier=SYNTH-HOSP|SYNTH-201')).total, 1);
  assert.equal((await search('patient:identifier=OTHER|SYNTH-200')).total, 0, 'the issuer is part of the identity');
  assert.equal((await search('patient:identifier=SYNTH-HOSP|SYNTH-200&date=ge2026-11-21')).total, 1);
  assert.equal((await search('patient:identifier=SYNTH-HOSP|SYNTH-201&date=lt2026-11')).total, 1);
  assert.equal((await search('category=http://loinc.org|64292-6&patient:identifier=SYNTH-HOSP|SYNTH-200')).total, 2);
  assert.equal((await search('status=inactive&patient:identifier=SYNTH-HOSP|SYNTH-200')).total, 0);
  const page = await search('patient:identifier=SYNTH-HOSP|SYNTH-200&_count=1');
  assert.equal(page.entry?.length, 1);
  assert.ok(page.link?.some((l) => l.relation === 'next'), 'a next link');
  const unsupported = await admin(`${gw.http.url}/fhir/Consent?name=x`);
  assert.equal(unsupported.status, 400);
  assert.equal(((await unsupported.json()) as OperationOutcome).resourceType, 'OperationOutcome');
});

test('malformed consents get an OperationOutcome naming the element', async () => {
  const cases: Array<[string, unknown, number, string]> = [
    ['status missing', { ...denyTraining('SYNTH-300'), status: undefined }, 400, 'Consent.status'],
    ['status not a code of the value set', { ...denyTraining('SYNTH-300'), status: 'maybe' }, 400, 'Consent.status'],
    ['a nested provision type that is neither permit nor deny', { ...denyTraining('SYNTH-300'), provision: { type: 'permit', provision: [{ type: 'allow' }] } }, 400, 'Consent.provision.provision[0].type'],
    ['a dateTime that is not one', { ...denyTraining('SYNTH-300'), dateTime: '20 Nov 2026' }, 400, 'Consent.dateTime'],
    ['no category', { ...denyTraining('SYNTH-300'), category: [] }, 400, 'Consent.category'],
    ['not a Consent', { resourceType: 'Patient' }, 400, 'Consent.resourceType'],
    ['a patient without an identifier', { ...denyTraining('SYNTH-300'), patient: { reference: 'Patient/1' } }, 422, 'Consent.patient.identifier'],
    ['a purpose Custos does not know', { ...denyTraining('SYNTH-300'), provision: { type: 'permit', provision: [{ type: 'deny', purpose: [{ system: ACT_REASON, code: 'BUYING' }] }] } }, 422, 'Consent.provision.provision[0].purpose[0].code'],
    ['an actor that is neither Organization nor Device', { ...denyTraining('SYNTH-300'), provision: { type: 'permit', provision: [{ type: 'deny', actor: [{ role: { text: 'x' }, reference: { reference: 'Practitioner/1' } }] }] } }, 422, 'Consent.provision.provision[0].actor[0].reference'],
    ['a nested provision without a type', { ...denyTraining('SYNTH-300'), provision: { type: 'permit', provision: [{ purpose: [{ system: ACT_REASON, code: 'MLTRAINING' }] }] } }, 422, 'Consent.provision.provision[0].type'],
    ['an id chosen by the client on create', { ...denyTraining('SYNTH-300'), id: 'mine' }, 400, 'Consent.id'],
  ];
  for (const [name, body, status, expression] of cases) {
    const res = await post(body);
    assert.equal(res.status, status, name);
    const oo = (await res.json()) as OperationOutcome;
    assert.equal(oo.resourceType, 'OperationOutcome', name);
    assert.ok(oo.issue.some((i) => i.expression?.includes(expression)), `${name}: ${JSON.stringify(oo.issue)}`);
  }
  const notJson = await post('{"resourceType": "Consent",');
  assert.equal(notJson.status, 400);
  const oo = (await notJson.json()) as OperationOutcome;
  assert.equal(oo.resourceType, 'OperationOutcome');
  assert.ok(!JSON.stringify(oo).includes('Consent'), 'the body is not quoted back');
  assert.equal((await gw.db.query(`SELECT 1 FROM consents WHERE date_time IS NULL`)).length, 0, 'nothing malformed was stored');
});

test('consents need consent:read and consent:write; changes are audited without the patient\'s identifiers', async () => {
  const tokenFor = async (role: string): Promise<string> => {
    const res = await admin(`${gw.http.url}/api/tokens`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: `t-${role}`, role, expiresInDays: 1 }) });
    assert.equal(res.status, 201, await res.clone().text());
    return ((await res.json()) as { token: string }).token;
  };
  const operator = await tokenFor('operator');
  const officer = await tokenFor('privacy-officer');
  const as = (t: string) => (url: string, init: RequestInit = {}) => fetch(url, { ...init, headers: { ...(init.headers as Record<string, string>), authorization: `Bearer ${t}` } });
  assert.equal((await as(operator)(`${gw.http.url}/fhir/Consent`)).status, 403);
  assert.equal((await as(operator)(`${gw.http.url}/fhir/Consent`, { method: 'POST', headers: { 'content-type': FHIR }, body: JSON.stringify(denyTraining('SYNTH-400')) })).status, 403);
  assert.equal((await fetch(`${gw.http.url}/fhir/Consent`)).status, 401);
  const made = await as(officer)(`${gw.http.url}/fhir/Consent`, { method: 'POST', headers: { 'content-type': FHIR }, body: JSON.stringify(denyTraining('SYNTH-400')) });
  assert.equal(made.status, 201);
  const events = await gw.db.query<{ detail: Record<string, unknown> }>(`SELECT detail FROM events WHERE kind = 'consent.recorded' ORDER BY id`);
  assert.ok(events.length >= 1);
  assert.ok(!JSON.stringify(events).includes('SYNTH-'), 'no patient identifier in the audit detail');
});
