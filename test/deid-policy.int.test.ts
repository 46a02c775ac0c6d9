/**
 * `custos deid --purpose`: the batch CLI applies the same egress decision as the gateway, offline,
 * from a consent file and an agreement file; withheld inputs are not written and are counted in the
 * receipt by reason, with no PHI. Synthetic patients only.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO, filesUnder, runCli, tempDir } from './helpers.ts';
import { agreementTerms } from './policy-helpers.ts';

const ACT_REASON = 'http://terminology.hl7.org/CodeSystem/v3-ActReason';

function patientFile(dir: string, n: number, patientId: string): string {
  const file = join(dir, `p${n}.dcm`);
  copyFileSync(join(REPO, 'examples', 'synthetic-ct-1.dcm'), file);
  execFileSync('dcmodify', ['-nb', '-m', `(0010,0020)=${patientId}`, '-i', '(0010,0021)=SYNTH-HOSP', '-m', `(0008,0018)=2.25.9900${n}`, file]);
  return file;
}

const consent = (patientId: string, type: 'permit' | 'deny') => ({
  resourceType: 'Consent', status: 'active',
  scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
  category: [{ coding: [{ system: 'http://loinc.org', code: '64292-6' }] }],
  patient: { identifier: { system: 'SYNTH-HOSP', value: patientId } },
  provision: { type, purpose: [{ system: ACT_REASON, code: 'MLTRAINING' }] },
});

test('custos deid --purpose releases only what consent and the agreement allow, and counts the rest by reason', () => {
  const dir = tempDir();
  const inputs = join(dir, 'in');
  mkdirSync(inputs);
  patientFile(inputs, 1, 'SYNTH-A'); // permits ML training
  patientFile(inputs, 2, 'SYNTH-B'); // refuses it
  patientFile(inputs, 3, 'SYNTH-C'); // said nothing: opt-in withholds
  const consents = join(dir, 'consents.ndjson');
  writeFileSync(consents, [consent('SYNTH-A', 'permit'), consent('SYNTH-B', 'deny')].map((c) => JSON.stringify(c)).join('\n') + '\n');
  const agreement = join(dir, 'agreement.json');
  writeFileSync(agreement, JSON.stringify({ id: 'dua-offline', version: 2, recipient: { organization: 'vendor-train', vetting: { status: 'approved', version: 1 } }, terms: agreementTerms(['MLTRAINING']) }));
  const out = join(dir, 'out');
  const r = runCli(['deid', inputs, '--out', out, '--recipient', 'vendor-train', '--purpose', 'MLTRAINING', '--site-policy', 'opt-in', '--consents', consents, '--agreement', agreement]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /released 1, held back 0, skipped 0, failed 0, withheld 2 of 3 input/);
  const receipt = JSON.parse(readFileSync(join(out, 'custos-receipt.json'), 'utf8')) as { summary: Record<string, unknown>; release: unknown; instances: Array<{ status: string; reasons?: string[] }> };
  assert.deepEqual(receipt.summary.withheldByReason, { CONSENT_DENIED: 1, CONSENT_REQUIRED: 1 });
  assert.deepEqual(receipt.release, { purpose: 'MLTRAINING', agreement: { id: 'dua-offline', version: 2 } });
  assert.equal(receipt.instances.filter((i) => i.status === 'withheld').length, 2);
  assert.ok(!JSON.stringify(receipt).includes('SYNTH-'), 'no patient identifier in the receipt');
  assert.equal(filesUnder(out).filter((f) => !f.endsWith('.json')).length, 1, 'one instance written');

  // An expired agreement withholds everything; a suspended vetting too.
  writeFileSync(agreement, JSON.stringify({ id: 'dua-offline', recipient: { organization: 'vendor-train', vetting: { status: 'suspended', version: 2 } }, terms: agreementTerms(['MLTRAINING'], { validTo: '2026-01-01T00:00:00Z', validFrom: '2025-01-01T00:00:00Z' }) }));
  const r2 = runCli(['deid', inputs, '--out', join(dir, 'out2'), '--purpose', 'MLTRAINING', '--site-policy', 'opt-in', '--consents', consents, '--agreement', agreement, '-q']);
  assert.equal(r2.status, 0, r2.stderr);
  const summary2 = (JSON.parse(readFileSync(join(dir, 'out2', 'custos-receipt.json'), 'utf8')) as { summary: { released: number; withheldByReason: Record<string, number> } }).summary;
  assert.equal(summary2.released, 0);
  assert.equal(summary2.withheldByReason.RECIPIENT_NOT_APPROVED, 3);
  assert.equal(summary2.withheldByReason.AGREEMENT_NONE_VALID, 3);
});

test('custos deid --purpose refuses incomplete or malformed policy input with a usage error naming the problem', () => {
  const dir = tempDir();
  const input = patientFile(dir, 9, 'SYNTH-D');
  const out = join(dir, 'out');
  let r = runCli(['deid', input, '--out', out, '--purpose', 'MLTRAINING', '--agreement', join(dir, 'none.json')]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--site-policy/);
  r = runCli(['deid', input, '--out', out, '--purpose', 'SHOPPING', '--site-policy', 'opt-in']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /v3-ActReason/);
  const bad = join(dir, 'consents.json');
  writeFileSync(bad, JSON.stringify({ resourceType: 'Bundle', type: 'collection', entry: [{ resource: { ...consent('SYNTH-D', 'deny'), status: 'maybe' } }] }));
  const agreement = join(dir, 'agreement.json');
  writeFileSync(agreement, JSON.stringify({ id: 'x', recipient: { organization: 'v', vetting: { status: 'approved', version: 1 } }, terms: agreementTerms(['MLTRAINING']) }));
  r = runCli(['deid', input, '--out', out, '--purpose', 'MLTRAINING', '--site-policy', 'opt-in', '--consents', bad, '--agreement', agreement]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /entry\[0\]: Consent\.status/);
  assert.ok(!r.stderr.includes('SYNTH-D'));
});

test('custos deid --recipient --purpose decides against the gateway\'s database: its recipient, vetting, agreements, site policy and consents', async () => {
  const { parseGatewayConfig } = await import('../src/config/gateway-config.ts');
  const { startGateway } = await import('../src/gateway.ts');
  const { allowReleases } = await import('./policy-helpers.ts');
  const { api, tokenOf } = await import('./peers.ts');
  const dir = tempDir();
  const dataDir = join(dir, 'data');
  const cfg = {
    dimse: { port: 0 }, http: { port: 0 }, policy: { purposes: { MLTRAINING: 'opt-in' } },
    recipients: [{ id: 'training-set', purpose: 'MLTRAINING', organization: 'vendor-train', deliver: { kind: 'stow', url: 'http://127.0.0.1:9/dicomweb' } }],
  };
  const cfgPath = join(dir, 'custos.json');
  writeFileSync(cfgPath, JSON.stringify(cfg));
  const gw = await startGateway(parseGatewayConfig(cfg), dataDir);
  const inputs = join(dir, 'in');
  mkdirSync(inputs);
  patientFile(inputs, 21, 'SYNTH-E');
  patientFile(inputs, 22, 'SYNTH-F');
  try {
    await allowReleases(gw.http.url, tokenOf(dataDir), ['training-set'], ['MLTRAINING']);
    const res = await api(gw)(`${gw.http.url}/fhir/Consent`, { method: 'POST', headers: { 'content-type': 'application/fhir+json' }, body: JSON.stringify(consent('SYNTH-E', 'permit')) });
    assert.equal(res.status, 201);
    const busy = runCli(['deid', inputs, '--out', join(dir, 'busy'), '--recipient', 'training-set', '--purpose', 'MLTRAINING', '--config', cfgPath, '--data-dir', dataDir]);
    assert.notEqual(busy.status, 0);
    assert.match(busy.stderr, /STORE_IN_USE/, 'the embedded database is the running gateway\'s');
  } finally {
    await gw.close();
  }
  const out = join(dir, 'out');
  const r = runCli(['deid', inputs, '--out', out, '--recipient', 'training-set', '--purpose', 'MLTRAINING', '--config', cfgPath, '--data-dir', dataDir]);
  assert.equal(r.status, 0, r.stderr);
  const receipt = JSON.parse(readFileSync(join(out, 'custos-receipt.json'), 'utf8')) as { summary: { released: number; withheldByReason: Record<string, number> }; release: Record<string, unknown> };
  assert.equal(receipt.summary.released, 1);
  assert.deepEqual(receipt.summary.withheldByReason, { CONSENT_REQUIRED: 1 });
  assert.deepEqual(receipt.release, { purpose: 'MLTRAINING', recipient: 'training-set', recipientVersion: 1 });
});
