/**
 * Consent, vetting and agreements decide every release, end to end: storescu in, two storescp
 * recipients out — a treatment decision-support AI (TREATDS, opt-out) and a model-training set
 * (MLTRAINING, opt-in). Synthetic patients only.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parseGatewayConfig } from '../src/config/gateway-config.ts';
import { type Gateway, startGateway } from '../src/gateway.ts';
import { REPO, tempDir } from './helpers.ts';
import { type Peer, api, freePort, startStorescp, storescu, tokenOf, waitFor } from './peers.ts';
import { agreementTerms, allowReleases } from './policy-helpers.ts';

const work = tempDir('custos-policy-');
let gw: Gateway;
let treatment: Peer & { log: () => string };
let training: (Peer & { log: () => string }) | undefined;
let trainingPort: number;
const treatmentDir = join(work, 'treatment');
const trainingDir = join(work, 'training');
const ACT_REASON = 'http://terminology.hl7.org/CodeSystem/v3-ActReason';

before(async () => {
  treatment = await startStorescp(treatmentDir, 'TREATAI', '+xa', false);
  trainingPort = await freePort(); // the training set's receiver starts later (a queue builds up)
  gw = await startGateway(parseGatewayConfig({
    dimse: { port: 0 }, http: { port: 0 },
    forwarding: { initialBackoffMs: 100, maxBackoffMs: 300, maxAttempts: 100 },
    policy: { purposes: { TREATDS: 'opt-out', MLTRAINING: 'opt-in' } },
    recipients: [
      { id: 'treatment-ai', purpose: 'TREATDS', deliver: { kind: 'dimse', host: '127.0.0.1', port: treatment.port, aeTitle: 'TREATAI' } },
      { id: 'training-set', purpose: 'MLTRAINING', organization: 'vendor-train', deliver: { kind: 'dimse', host: '127.0.0.1', port: trainingPort, aeTitle: 'TRAINSET' } },
    ],
    routes: [{ recipient: 'treatment-ai' }, { recipient: 'training-set' }],
  }), join(work, 'data'));
});
after(async () => { await gw?.close(); await treatment?.stop(); await training?.stop(); });

let serial = 0;
/** A synthetic CT of one patient, as its own study. */
function instanceOf(patientId: string): { file: string; study: string } {
  serial++;
  const file = join(work, `ct-${serial}.dcm`);
  copyFileSync(join(REPO, 'examples', 'synthetic-ct-1.dcm'), file);
  const study = `2.25.8800${serial}`;
  execFileSync('dcmodify', ['-nb', '-m', `(0010,0020)=${patientId}`, '-i', '(0010,0021)=SYNTH-HOSP', '-m', `(0020,000D)=${study}`, '-m', `(0020,000E)=${study}.1`, '-m', `(0008,0018)=${study}.1.1`, file]);
  return { file, study };
}

type Job = { id: number; recipient: string; state: string; withheldReasons: Array<{ code: string; consent?: { id: string; version: number } }> | null; instanceId: number };
const jobs = async (): Promise<Job[]> => (await (await api(gw)(`${gw.http.url}/api/jobs?limit=1000`)).json()) as Job[];
const studyJobs = async (study: string): Promise<Job[]> => {
  const rows = await gw.db.query<{ id: number }>('SELECT j.id FROM jobs j JOIN instances i ON i.id = j.instance_id WHERE i.study_instance_uid = $1', [study]);
  const ids = new Set(rows.map((r) => Number(r.id)));
  return (await jobs()).filter((j) => ids.has(j.id));
};
const jobOf = async (study: string, recipient: string): Promise<Job | undefined> => (await studyJobs(study)).find((j) => j.recipient === recipient);
const settled = (study: string, recipient: string, state: string) => waitFor(`${recipient} job of ${study} to be ${state}`, async () => {
  const j = await jobOf(study, recipient);
  return j?.state === state ? j : undefined;
}, 30_000, 100);

async function consent(patientId: string, type: 'permit' | 'deny'): Promise<string> {
  const res = await api(gw)(`${gw.http.url}/fhir/Consent`, {
    method: 'POST', headers: { 'content-type': 'application/fhir+json' },
    body: JSON.stringify({
      resourceType: 'Consent', status: 'active',
      scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
      category: [{ coding: [{ system: 'http://loinc.org', code: '64292-6' }] }],
      patient: { identifier: { system: 'SYNTH-HOSP', value: patientId } }, dateTime: '2026-12-01',
      provision: { type, purpose: [{ system: ACT_REASON, code: 'MLTRAINING' }] },
    }),
  });
  assert.equal(res.status, 201);
  return ((await res.json()) as { id: string }).id;
}

const send = async (file: string): Promise<void> => { const r = await storescu(gw.dimse.port, 'CUSTOS', [file]); assert.equal(r.status, 0, r.output); };

test('nothing leaves for a recipient that is not vetted and under an agreement', async () => {
  const s = instanceOf('SYNTH-P0');
  await send(s.file);
  const t = await settled(s.study, 'treatment-ai', 'withheld');
  assert.deepEqual(t.withheldReasons?.map((r) => r.code), ['RECIPIENT_NOT_VETTED', 'AGREEMENT_NONE_VALID']);
  assert.equal(readdirSync(treatmentDir).length, 0);
  // Vetted, approved by a second person, and an agreement signed: the withheld job is decided again and delivered.
  await allowReleases(gw.http.url, tokenOf(gw.dataDir), ['treatment-ai', 'training-set'], ['TREATDS', 'MLTRAINING']);
  await settled(s.study, 'treatment-ai', 'done');
  const train = await settled(s.study, 'training-set', 'withheld');
  assert.deepEqual(train.withheldReasons?.map((r) => r.code), ['CONSENT_REQUIRED'], 'opt-in: no consent, no training');
});

test('a patient who denied ML training reaches the treatment AI and never the training set; one who permitted it reaches both', async () => {
  const denied = instanceOf('SYNTH-P1');
  const permitted = instanceOf('SYNTH-P2');
  const denial = await consent('SYNTH-P1', 'deny');
  await consent('SYNTH-P2', 'permit');
  training = await startTrainingOn(trainingPort);
  await send(denied.file);
  await send(permitted.file);
  await settled(denied.study, 'treatment-ai', 'done');
  await settled(permitted.study, 'treatment-ai', 'done');
  const released = await settled(permitted.study, 'training-set', 'done') as Job & { releaseBasis: { consents: Array<{ effect: string }>; agreement: { id: string }; obligations: string[]; siteMode: string } };
  assert.deepEqual(released.releaseBasis.consents.map((c) => c.effect), ['permit'], 'the release records the consent it went out under');
  assert.equal(released.releaseBasis.siteMode, 'opt-in');
  assert.ok(released.releaseBasis.agreement.id);
  assert.ok(released.releaseBasis.obligations.includes('AOD'));
  const j = await settled(denied.study, 'training-set', 'withheld');
  assert.deepEqual(j.withheldReasons, [{ code: 'CONSENT_DENIED', consent: { id: denial, version: 1, provision: 'provision' } }]);
  assert.equal(readdirSync(trainingDir).length, 1, 'only the permitting patient reached the training set');
});

async function startTrainingOn(port: number): Promise<Peer & { log: () => string }> {
  const { spawn } = await import('node:child_process');
  mkdirSync(trainingDir, { recursive: true });
  const proc = spawn('storescp', ['--aetitle', 'TRAINSET', '+xa', '--output-directory', trainingDir, String(port)], { stdio: 'ignore' });
  await waitFor('storescp on the training port', async () => {
    const { connect } = await import('node:net');
    return new Promise<true | undefined>((resolve) => { const s = connect(port, '127.0.0.1'); s.once('connect', () => { s.destroy(); resolve(true); }); s.once('error', () => resolve(undefined)); });
  }, 10_000, 100);
  return { port, proc, log: () => '', stop: async () => { proc.kill(); await new Promise((r) => proc.once('exit', r)); } };
}

test('a withdrawal while a study is queued stops it', async () => {
  await training!.stop(); // the training set is unreachable: its jobs wait in the queue
  const s = instanceOf('SYNTH-P3');
  const id = await consent('SYNTH-P3', 'permit');
  await send(s.file);
  await waitFor('the training job to be retried', async () => ((await jobOf(s.study, 'training-set'))?.state === 'pending' ? true : undefined), 30_000, 100);
  const current = await (await api(gw)(`${gw.http.url}/fhir/Consent/${id}`)).json();
  const withdrawn = await api(gw)(`${gw.http.url}/fhir/Consent/${id}`, { method: 'PUT', headers: { 'content-type': 'application/fhir+json' }, body: JSON.stringify({ ...current, status: 'inactive' }) });
  assert.equal(withdrawn.status, 200);
  training = await startTrainingOn(trainingPort);
  const j = await settled(s.study, 'training-set', 'withheld');
  assert.deepEqual(j.withheldReasons?.map((r) => r.code), ['CONSENT_REQUIRED']);
  assert.equal(readdirSync(trainingDir).length, 1, 'nothing more reached the training set');
});

test('an agreement that expires stops delivery; a renewed one releases what was withheld', async () => {
  const admin = api(gw);
  const policy = (await (await admin(`${gw.http.url}/api/recipients/treatment-ai/policy`)).json()) as { agreements: Array<{ id: string; terms: Record<string, unknown> }> };
  const agreement = policy.agreements[0]!;
  const expiring = await admin(`${gw.http.url}/api/agreements/${agreement.id}`, {
    method: 'PUT', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...agreement.terms, validTo: new Date(Date.now() + 1500).toISOString() }),
  });
  assert.equal(expiring.status, 200, await expiring.clone().text());
  await new Promise((r) => setTimeout(r, 2000));
  const s = instanceOf('SYNTH-P4');
  const before = readdirSync(treatmentDir).length;
  await send(s.file);
  const j = await settled(s.study, 'treatment-ai', 'withheld');
  assert.deepEqual(j.withheldReasons?.map((r) => r.code), ['AGREEMENT_NONE_VALID']);
  assert.equal(readdirSync(treatmentDir).length, before);
  const renewed = await admin(`${gw.http.url}/api/agreements/${agreement.id}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(agreementTerms(['TREATDS', 'MLTRAINING'])) });
  assert.equal(renewed.status, 200);
  assert.ok(((await renewed.json()) as { jobsDecidedAgain: number }).jobsDecidedAgain >= 1);
  await settled(s.study, 'treatment-ai', 'done');
  assert.equal(readdirSync(treatmentDir).length, before + 1);
});

test('a suspended recipient receives nothing; approval needs a privacy officer other than whoever filled in the record', async () => {
  const admin = api(gw);
  const suspend = await admin(`${gw.http.url}/api/recipients/treatment-ai/vetting/decision`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ status: 'suspended' }) });
  assert.equal(suspend.status, 200);
  const s = instanceOf('SYNTH-P5');
  await send(s.file);
  const j = await settled(s.study, 'treatment-ai', 'withheld');
  assert.deepEqual(j.withheldReasons?.map((r) => r.code), ['RECIPIENT_NOT_APPROVED']);
  // The admin token is no privacy officer: it cannot approve.
  const self = await admin(`${gw.http.url}/api/recipients/treatment-ai/vetting/decision`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ status: 'approved' }) });
  assert.equal(self.status, 403);
  const events = await gw.db.query<{ detail: Record<string, unknown> }>(`SELECT detail FROM events WHERE kind = 'job.withheld'`);
  assert.ok(events.length >= 5);
  assert.ok(!JSON.stringify(events).includes('SYNTH-P'), 'no patient identifier in the audit detail');
});

test('recipients are managed through the API: added with their own match, versioned, never weakened below their agreement, removed', async () => {
  const admin = api(gw);
  const def = { purpose: 'TREATDS', organization: 'vendor-api', models: [{ id: 'model-api', name: 'API model', version: '1' }], deliver: { kind: 'dimse', host: '127.0.0.1', port: treatment.port, aeTitle: 'TREATAI' }, deid: { profile: 'basic', options: [] }, match: { modality: ['CT'] } };
  const added = await admin(`${gw.http.url}/api/recipients/api-vendor`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(def) });
  assert.equal(added.status, 201, await added.clone().text());
  await allowReleases(gw.http.url, tokenOf(gw.dataDir), ['api-vendor'], ['TREATDS']);
  const s = instanceOf('SYNTH-P6');
  await send(s.file);
  await settled(s.study, 'api-vendor', 'done');
  // A new version that keeps the Basic Profile is taken; the agreement requires nothing more, so originals would be weaker only against a Basic Profile agreement.
  const basicAgreement = await admin(`${gw.http.url}/api/recipients/api-vendor/agreements`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(agreementTerms(['TREATDS'], { minimumDeid: { profile: 'basic', options: [], key: 'recipient' } })) });
  assert.equal(basicAgreement.status, 201);
  const weakened = await admin(`${gw.http.url}/api/recipients/api-vendor`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...def, deid: { profile: 'none' } }) });
  assert.equal(weakened.status, 409);
  const renamed = await admin(`${gw.http.url}/api/recipients/api-vendor`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...def, description: 'second version' }) });
  assert.equal(renamed.status, 200);
  const versions = (await (await admin(`${gw.http.url}/api/recipients/api-vendor/versions`)).json()) as Array<{ version: number; changedBy: string }>;
  assert.deepEqual(versions.map((v) => v.version), [2, 1]);
  assert.ok(versions.every((v) => v.changedBy.startsWith('token:')), 'each change names who made it');
  assert.equal((await admin(`${gw.http.url}/api/recipients/api-vendor`, { method: 'DELETE' })).status, 200);
  const after = instanceOf('SYNTH-P7');
  await send(after.file);
  assert.ok(await jobOf(after.study, 'treatment-ai'), 'routed to the configured recipient (jobs exist once acknowledged)');
  assert.equal(await jobOf(after.study, 'api-vendor'), undefined, 'a removed recipient is routed nothing');
});

test('the audit trail of one patient, as FHIR AuditEvents: what came in, what left, what was withheld and why, and nothing of others', async () => {
  const admin = api(gw);
  const search = async (q: string) => (await (await admin(`${gw.http.url}/fhir/AuditEvent?${q}`)).json()) as { total: number; entry?: Array<{ resource: { type: { code: string }; subtype: Array<{ code: string }>; outcome: string; outcomeDesc?: string; purposeOfEvent?: Array<{ coding: Array<{ code: string }> }>; agent: Array<{ who: { display?: string; reference?: string } }>; entity: Array<{ what: { identifier?: { system: string; value: string } } }> } }> };
  const p1 = await search('patient=SYNTH-HOSP|SYNTH-P1&_count=100');
  const kinds = p1.entry!.map((e) => `${e.resource.type.code}/${e.resource.subtype.map((x) => x.code).join('+')}/${e.resource.outcome}`).sort();
  // Received once, logged once, disclosed to the treatment AI, withheld from the training set.
  assert.deepEqual(kinds, ['110100/attest/0', '110104/disclose+transmit/0', '110104/disclose/4', '110107/receive/0'].sort());
  const refs = new Set(p1.entry!.flatMap((e) => e.resource.entity.flatMap((x) => (x.what.identifier?.system === 'urn:custos:patient-ref' ? [x.what.identifier.value] : []))));
  assert.equal(refs.size, 1, 'one patient, and only that one');
  const withheld = p1.entry!.find((e) => e.resource.outcome === '4')!.resource;
  assert.equal(withheld.outcomeDesc, 'CONSENT_DENIED');
  assert.equal(withheld.purposeOfEvent?.[0]?.coding[0]?.code, 'MLTRAINING');
  assert.ok(withheld.agent.some((a) => a.who.reference === 'Organization/training-set'));
  // Searches by type and outcome, and the exports.
  const denied = await search('type=110104&outcome=4&_count=200');
  assert.ok(denied.total >= 3 && denied.entry!.every((e) => e.resource.outcome === '4'));
  const ndjson = await (await admin(`${gw.http.url}/fhir/AuditEvent?patient=SYNTH-HOSP|SYNTH-P1&_format=ndjson`)).text();
  assert.equal(ndjson.trim().split('\n').length, 4);
  const csv = await (await admin(`${gw.http.url}/fhir/AuditEvent?patient=SYNTH-HOSP|SYNTH-P1&_format=csv`)).text();
  assert.equal(csv.trim().split('\n').length, 5, 'a header and four rows');
  assert.ok(!csv.includes('SYNTH-P1') && !ndjson.includes('SYNTH-P1'), 'patients appear only as their keyed reference');
});

test('the accounting of disclosures of one patient, for staff and for the patient\'s own session, and as a letter', async () => {
  const admin = api(gw);
  type Accounting = { disclosures: Array<{ recipient: string; outcome: string; purpose: string; instances: number; reasons?: string[]; basis?: Array<{ agreement: { id: string } | null }>; deidentification?: { profile: string } }> };
  const staff = (await (await admin(`${gw.http.url}/api/accounting?patient=SYNTH-HOSP|SYNTH-P1`)).json()) as Accounting;
  const rows = staff.disclosures.map((d) => [d.recipient, d.outcome, d.purpose, d.instances]).sort();
  assert.deepEqual(rows, [['training-set', 'withheld', 'MLTRAINING', 1], ['treatment-ai', 'released', 'TREATDS', 1]]);
  assert.deepEqual(staff.disclosures.find((d) => d.outcome === 'withheld')!.reasons, ['CONSENT_DENIED']);
  const released = staff.disclosures.find((d) => d.outcome === 'released')!;
  assert.equal(released.deidentification?.profile, 'basic');
  assert.ok(released.basis?.[0]?.agreement?.id, 'the agreement it went out under');
  const letter = await (await admin(`${gw.http.url}/api/accounting?patient=SYNTH-HOSP|SYNTH-P1&format=html`)).text();
  assert.match(letter, /Where your images went/);
  assert.match(letter, /CONSENT_DENIED/);
  assert.ok(!letter.includes('SYNTH-P1'));
  // The patient's own session: the same record, and only theirs.
  const code = (await (await admin(`${gw.http.url}/api/patient-codes`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ patientId: 'SYNTH-P1', issuer: 'SYNTH-HOSP' }) })).json()) as { code: string };
  const session = await fetch(`${gw.http.url}/portal/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code: code.code }) });
  assert.equal(session.status, 200);
  const cookie = String(session.headers.get('set-cookie')).split(';')[0]!;
  const own = (await (await fetch(`${gw.http.url}/portal/api/accounting`, { headers: { cookie } })).json()) as Accounting;
  assert.deepEqual(own.disclosures.map((d) => [d.recipient, d.outcome, d.purpose, d.instances]).sort(), rows);
  assert.equal((await fetch(`${gw.http.url}/api/accounting?patient=SYNTH-HOSP|SYNTH-P2`, { headers: { cookie } })).status, 403, 'a patient cannot read another\'s');
});

test('a patient\'s own choices in the portal: opting in releases what the opt-in site withheld, opting out stops the next study, each a new version of one FHIR Consent; the overview says so in plain words', async () => {
  const admin = api(gw);
  const code = (await (await admin(`${gw.http.url}/api/patient-codes`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ patientId: 'SYNTH-P7', issuer: 'SYNTH-HOSP' }) })).json()) as { code: string };
  const session = await fetch(`${gw.http.url}/portal/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code: code.code }) });
  const { csrfToken } = (await session.json()) as { csrfToken: string };
  const headers = { cookie: String(session.headers.get('set-cookie')).split(';')[0]!, 'x-csrf-token': csrfToken, 'content-type': 'application/json' };
  type Choice = { code: string; choice: string | null; shared: boolean; siteMode: string | null };
  const choose = async (purpose: string, choice: string) => fetch(`${gw.http.url}/portal/api/choices/${purpose}`, { method: 'PUT', headers, body: JSON.stringify({ choice }) });

  const first = instanceOf('SYNTH-P7');
  await send(first.file);
  assert.deepEqual((await settled(first.study, 'training-set', 'withheld')).withheldReasons!.map((r) => r.code), ['CONSENT_REQUIRED']);
  const optIn = await choose('MLTRAINING', 'permit');
  assert.equal(optIn.status, 200);
  const chosen = (await optIn.json()) as Choice & { title: string; explanation: string };
  assert.deepEqual({ ...chosen, explanation: undefined }, { code: 'MLTRAINING', title: 'Training AI systems', explanation: undefined, siteMode: 'opt-in', choice: 'permit', shared: true });
  assert.match(chosen.explanation, /teach an AI program/);
  await settled(first.study, 'training-set', 'done');

  const overview = (await (await fetch(`${gw.http.url}/portal/api/overview`, { headers })).json()) as { recipients: Array<{ id: string; purposeTitle: string; deidentification: string; keptDays: number | null; approved: boolean }>; purposes: Choice[] };
  const training = overview.recipients.find((r) => r.id === 'training-set')!;
  assert.equal(training.purposeTitle, 'Training AI systems');
  assert.match(training.deidentification, /name, ID numbers, address, birth date .* are removed/);
  assert.equal(training.keptDays, 30);
  assert.equal(overview.purposes.find((p) => p.code === 'MLTRAINING')!.choice, 'permit');

  assert.equal((await choose('MLTRAINING', 'deny')).status, 200);
  const second = instanceOf('SYNTH-P7');
  await send(second.file);
  assert.deepEqual((await settled(second.study, 'training-set', 'withheld')).withheldReasons!.map((r) => r.code), ['CONSENT_DENIED']);
  const [consentRow] = await gw.db.query<{ id: string; n: number }>(`SELECT id, count(*)::int AS n FROM consents WHERE id LIKE 'portal-%' GROUP BY id`);
  assert.equal(consentRow!.n, 2, 'one Consent, two versions');
  const history = (await (await admin(`${gw.http.url}/fhir/Consent/${consentRow!.id}/_history`)).json()) as { entry: Array<{ resource: { provision: { type: string } } }> };
  assert.deepEqual(history.entry.map((e) => e.resource.provision.type), ['deny', 'permit']);

  const unknown = await choose('HOPERAT', 'deny');
  assert.deepEqual([unknown.status, ((await unknown.json()) as { error: string }).error], [404, 'NOT_FOUND']);
  const staff = await admin(`${gw.http.url}/portal/api/choices/MLTRAINING`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ choice: 'permit' }) });
  assert.deepEqual([staff.status, ((await staff.json()) as { error: string }).error], [403, 'AUTH_FORBIDDEN']);
});


test('a recipient\'s de-identification can never be weaker than its agreement: such an agreement, or such a configuration, is refused', async () => {
  const admin = api(gw);
  const stricter = await admin(`${gw.http.url}/api/recipients/treatment-ai/agreements`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify(agreementTerms(['TREATDS'], { minimumDeid: { profile: 'basic', options: ['clean-pixel-data'], key: 'recipient' } })),
  });
  assert.equal(stricter.status, 409);
  assert.equal(((await stricter.json()) as { error: string }).error, 'POLICY_INVALID');
  // The agreement in force requires nothing the configuration lacks; sending originals would be weaker than a Basic Profile agreement.
  const basic = await admin(`${gw.http.url}/api/recipients/treatment-ai/agreements`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify(agreementTerms(['TREATDS'], { minimumDeid: { profile: 'basic', options: [], key: 'recipient' } })),
  });
  assert.equal(basic.status, 201);
  const dataDir = gw.dataDir;
  await gw.close();
  const weakened = parseGatewayConfig({
    dimse: { port: 0 }, http: { port: 0 }, policy: { purposes: { TREATDS: 'opt-out' } },
    recipients: [{ id: 'treatment-ai', purpose: 'TREATDS', deliver: { kind: 'dimse', host: '127.0.0.1', port: treatment.port, aeTitle: 'TREATAI' }, deid: { profile: 'none' } }],
  });
  await assert.rejects(startGateway(weakened, dataDir), (e: Error & { code?: string }) => e.code === 'CONFIG_INVALID' && /weaker than agreement/.test(e.message));
  gw = undefined as unknown as Gateway;
});
