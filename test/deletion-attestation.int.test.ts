/**
 * Deletion attestations: an erased patient's recipient is asked (a webhook signed by the gateway)
 * and answers with a deletion attestation signed with its registered key; a valid one is recorded
 * per release and in the integrity log, a forged one is rejected, and a request nobody answers
 * becomes overdue (listed, and counted in the metrics). A fake recipient server plays the vendor.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { type KeyObject, generateKeyPairSync, sign, verify } from 'node:crypto';
import { copyFileSync, readFileSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parseGatewayConfig } from '../src/config/gateway-config.ts';
import { type Gateway, startGateway } from '../src/gateway.ts';
import { parseVerifierKey } from '../src/integrity/note.ts';
import { encodeMultipart } from '../src/net/multipart.ts';
import { type DeletionAttestation, attestationBytes } from '../src/policy/deletion-requests.ts';
import { loadOrCreateLogKey } from '../src/store/log-key.ts';
import { REPO, tempDir } from './helpers.ts';
import { api, tokenOf, waitFor } from './peers.ts';
import { allowReleases } from './policy-helpers.ts';

const work = tempDir('custos-attest-');
let gw: Gateway;
let vendor: Server;
const keys = generateKeyPairSync('ed25519');
const impostor = generateKeyPairSync('ed25519');
let mode: 'valid' | 'forged' | 'down' = 'valid';
const requests: Array<{ body: string; signature: string | undefined }> = [];

const rawPublic = (k: KeyObject): string => Buffer.from((k.export({ format: 'jwk' }) as { x: string }).x, 'base64url').toString('base64');

before(async () => {
  vendor = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.url?.startsWith('/dicomweb')) { res.writeHead(200, { 'content-type': 'application/dicom+json' }); res.end('{}'); return; }
      const body = Buffer.concat(chunks).toString('utf8');
      requests.push({ body, signature: req.headers['x-custos-signature'] as string | undefined });
      if (mode === 'down') { res.writeHead(503); res.end(); return; }
      const q = JSON.parse(body) as { request: number; recipient: string; releases: Array<{ jobId: number }> };
      const attestation: DeletionAttestation = { type: 'custos/deletion-attestation/v1', request: q.request, recipient: q.recipient, releases: q.releases.map((r) => r.jobId), deletedAt: new Date().toISOString() };
      const signature = sign(null, attestationBytes(attestation), (mode === 'valid' ? keys : impostor).privateKey).toString('base64');
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ attestation, signature }));
    });
  });
  await new Promise<void>((r) => vendor.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(vendor.address() as AddressInfo).port}`;
  gw = await startGateway(parseGatewayConfig({
    dimse: { port: 0 }, http: { port: 0 }, policy: { purposes: { TREATDS: 'opt-out' } },
    recipients: [{ id: 'vendor', purpose: 'TREATDS', deliver: { kind: 'stow', url: `${base}/dicomweb` }, attestation: { url: `${base}/attest`, publicKey: rawPublic(keys.publicKey) } }],
    routes: [{ recipient: 'vendor' }],
  }), join(work, 'data'));
  await allowReleases(gw.http.url, tokenOf(gw.dataDir), ['vendor'], ['TREATDS']);
});
after(async () => { await gw?.close(); vendor?.close(); });

let serial = 0;
async function deliveredPatient(patientId: string): Promise<void> {
  serial++;
  const file = join(work, `a${serial}.dcm`);
  copyFileSync(join(REPO, 'examples', 'synthetic-ct-1.dcm'), file);
  execFileSync('dcmodify', ['-nb', '-m', `(0010,0020)=${patientId}`, '-m', `(0020,000D)=2.25.6600${serial}`, '-m', `(0008,0018)=2.25.6600${serial}.1.1`, file]);
  const { parts, contentType } = encodeMultipart([readFileSync(file)], 'application/dicom');
  assert.equal((await api(gw)(`${gw.http.url}/dicomweb/studies`, { method: 'POST', headers: { 'content-type': contentType }, body: Buffer.concat(parts) })).status, 200);
  await waitFor('the release', async () => ((await gw.db.query(`SELECT 1 FROM jobs j JOIN instances i ON i.id = j.instance_id WHERE j.state = 'done' AND i.study_instance_uid = $1`, [`2.25.6600${serial}`])).length ? true : undefined), 20_000, 100);
}
const erase = async (patientId: string): Promise<void> => {
  const res = await api(gw)(`${gw.http.url}/api/patients/erase`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ patient: patientId, reason: 'the patient asked (synthetic)' }) });
  assert.equal(res.status, 200, await res.clone().text());
};
type Req = { id: number; attempts: number; lastError: string | null; answeredAt: string | null; logIndex: number | null; overdue: boolean };
const listed = async (q = ''): Promise<Req[]> => (await (await api(gw)(`${gw.http.url}/api/deletion-requests${q}`)).json()) as Req[];

test('an erasure request answered with a forged attestation is rejected; a valid one is recorded, per release and in the log', async () => {
  await deliveredPatient('SYNTH-AT1');
  await erase('SYNTH-AT1');
  mode = 'forged';
  const first = await gw.deletions(new Date());
  assert.deepEqual({ sent: first.sent, attested: first.attested, rejected: first.rejected }, { sent: 1, attested: 0, rejected: 1 });
  let [req] = await listed();
  assert.match(req!.lastError ?? '', /signature does not verify/);
  assert.equal(req!.answeredAt, null);
  // The request was signed by the gateway: the vendor can check it with the log's verifier key.
  const vkey = parseVerifierKey(loadOrCreateLogKey(join(gw.dataDir, 'keys', 'log.key')).vkey);
  const sent = requests[requests.length - 1]!;
  assert.ok(verify(null, Buffer.from(sent.body), vkey.key, Buffer.from(sent.signature!, 'base64')), 'the webhook is authenticated');
  assert.ok(!sent.body.includes('SYNTH-AT1'), 'no identifier in the request');

  mode = 'valid';
  const second = await gw.deletions(new Date(Date.now() + 3 * 3_600_000)); // after the retry backoff
  assert.equal(second.attested, 1);
  [req] = await listed();
  assert.ok(req!.answeredAt && req!.logIndex !== null);
  const [a] = await gw.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM deletion_attestations WHERE token_id = 'signed'`);
  assert.equal(a!.n, 1);
  const accounting = (await (await api(gw)(`${gw.http.url}/api/accounting?patient=SYNTH-AT1`)).json()) as { disclosures: Array<{ deletionAttested: number }> };
  assert.equal(accounting.disclosures[0]!.deletionAttested, 1, 'the accounting shows the deletion');
});

test('a request nobody answers becomes overdue: listed, and counted in the metrics', async () => {
  await deliveredPatient('SYNTH-AT2');
  await erase('SYNTH-AT2');
  mode = 'down';
  const run = await gw.deletions(new Date(Date.now() + 31 * 86_400_000));
  assert.equal(run.rejected, 1);
  assert.ok(run.overdue >= 1);
  await gw.db.query(`UPDATE deletion_requests SET due_at = now() - interval '1 day' WHERE answered_at IS NULL`); // as the clock says
  const overdue = await listed('?overdue=true');
  assert.equal(overdue.length, 1);
  assert.match(overdue[0]!.lastError ?? '', /HTTP 503/);
  const metrics = (await (await api(gw)(`${gw.http.url}/api/metrics`)).json()) as { overdueDeletionAttestations: number };
  assert.equal(metrics.overdueDeletionAttestations, 1);
});

test('each delivered batch has a signed release receipt, recorded in the log and verifiable offline', async () => {
  const { writeFileSync } = await import('node:fs');
  const { runCli } = await import('./helpers.ts');
  const receipts = (await (await api(gw)(`${gw.http.url}/api/receipts?recipient=vendor`)).json()) as Array<{ id: number; logIndex: number; receipt: { kind: string; recipient: string; releases: Array<{ jobId: number; sopInstanceUid: string }>; bases: Array<{ agreement: { id: string } }> } }>;
  assert.ok(receipts.length >= 2, 'one per delivered batch');
  const r = receipts[0]!;
  assert.equal(r.receipt.kind, 'custos.release.receipt/v1');
  assert.equal(r.receipt.recipient, 'vendor');
  assert.ok(r.receipt.bases[0]?.agreement.id, 'the decision it went out under');
  assert.ok(!JSON.stringify(r.receipt).includes('SYNTH-AT'), 'no identifier');
  const file = join(work, 'release-receipt.json');
  writeFileSync(file, JSON.stringify(r.receipt));
  const checked = runCli(['verify-receipt', file, '--data-dir', gw.dataDir]);
  assert.equal(checked.status, 0, checked.stdout + checked.stderr);
  assert.match(checked.stdout, new RegExp(`recorded in the log at entry ${r.logIndex}`));
});
