/**
 * Retention and erasure with a controllable clock: expired originals are gone from the blob store
 * (their rows marked, the audit trail kept), a legal hold keeps what it covers, expired quarantine
 * is emptied; an erased patient's blobs cannot be decrypted by any path (not even a copy made
 * before), their WADO requests answer 410 and new instances of theirs are refused. Synthetic only.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parseGatewayConfig } from '../src/config/gateway-config.ts';
import { type Gateway, masterKey, startGateway } from '../src/gateway.ts';
import { encodeMultipart } from '../src/net/multipart.ts';
import { DataKeys, openBlob, patientRef } from '../src/store/data-keys.ts';
import { loadOrCreateKey } from '../src/store/key-file.ts';
import { REPO, tempDir } from './helpers.ts';
import { api } from './peers.ts';

const work = tempDir('custos-retention-');
let gw: Gateway;
before(async () => { gw = await startGateway(parseGatewayConfig({ dimse: { port: 0 }, http: { port: 0 }, retention: { originalsDays: 90, quarantineDays: 30 } }), join(work, 'data')); });
after(async () => { await gw?.close(); });

const DAY = 86_400_000;
let serial = 0;
function instanceOf(patientId: string): { bytes: Buffer; study: string } {
  serial++;
  const file = join(work, `r${serial}.dcm`);
  copyFileSync(join(REPO, 'examples', 'synthetic-ct-1.dcm'), file);
  const study = `2.25.7700${serial}`;
  execFileSync('dcmodify', ['-nb', '-m', `(0010,0020)=${patientId}`, '-i', '(0010,0021)=SYNTH-HOSP', '-m', `(0020,000D)=${study}`, '-m', `(0008,0018)=${study}.1.1`, file]);
  return { bytes: readFileSync(file), study };
}
const stow = async (bodies: Buffer[]): Promise<number> => {
  const { parts, contentType } = encodeMultipart(bodies, 'application/dicom');
  return (await api(gw)(`${gw.http.url}/dicomweb/studies`, { method: 'POST', headers: { 'content-type': contentType }, body: Buffer.concat(parts) })).status;
};
const wado = async (study: string): Promise<number> => (await api(gw)(`${gw.http.url}/dicomweb/studies/${study}`)).status;
const blobOf = async (study: string): Promise<string> => join(gw.dataDir, 'blobs', (await gw.db.query<{ blob_key: string }>('SELECT blob_key FROM instances WHERE study_instance_uid = $1', [study]))[0]!.blob_key);

let a: { bytes: Buffer; study: string };
let b: { bytes: Buffer; study: string };

test('expired originals are purged, a legal hold keeps its patient\'s, and expired quarantine is emptied', async () => {
  a = instanceOf('SYNTH-RA');
  b = instanceOf('SYNTH-RB');
  assert.equal(await stow([a.bytes, b.bytes]), 200);
  assert.equal(await stow([Buffer.from('not DICOM at all, quarantined')]), 409);
  const hold = await api(gw)(`${gw.http.url}/api/legal-holds`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ patient: 'SYNTH-HOSP|SYNTH-RB', reason: 'litigation (synthetic)' }) });
  assert.equal(hold.status, 201);
  const blobA = await blobOf(a.study);
  assert.ok(existsSync(blobA));

  assert.deepEqual(await gw.retention(new Date(Date.now() + 10 * DAY)), { originals: 0, quarantine: 0, keptByHold: 0 }, 'nothing is due yet');
  const run = await gw.retention(new Date(Date.now() + 91 * DAY));
  assert.deepEqual(run, { originals: 1, quarantine: 1, keptByHold: 1 });
  assert.ok(!existsSync(blobA), 'the expired original is gone from the blob store');
  assert.equal(await wado(a.study), 410);
  assert.equal(await wado(b.study), 200, 'the held patient\'s original is kept');
  const [q] = await gw.db.query<{ n: number }>('SELECT count(*)::int AS n FROM quarantine WHERE blob_key IS NOT NULL');
  assert.equal(q!.n, 0);
  const [row] = await gw.db.query<{ n: number }>('SELECT count(*)::int AS n FROM instances WHERE study_instance_uid = $1 AND purged_at IS NOT NULL', [a.study]);
  assert.equal(row!.n, 1, 'the row stays, marked: the audit trail and the accounting refer to it');
  const [ev] = await gw.db.query<{ detail: Record<string, unknown> }>(`SELECT detail FROM events WHERE kind = 'retention.purged' ORDER BY id DESC LIMIT 1`);
  assert.equal(ev!.detail.originals, 1);
  assert.ok(!JSON.stringify(ev).includes('SYNTH-'));
});

test('an erased patient\'s data cannot be decrypted by any path; WADO answers 410; the audit trail remains', async () => {
  const blobB = await blobOf(b.study);
  const backup = join(work, 'backup-of-b.blob');
  copyFileSync(blobB, backup); // a backup made before the erasure
  const eventsBefore = (await gw.db.query('SELECT id FROM events')).length;
  const res = await api(gw)(`${gw.http.url}/api/patients/erase`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ patient: 'SYNTH-HOSP|SYNTH-RB', reason: 'the patient asked (synthetic)' }) });
  assert.equal(res.status, 200, await res.clone().text());
  const erased = (await res.json()) as { instances: number; jobsStopped: number };
  assert.equal(erased.instances, 1);
  assert.equal(await wado(b.study), 410);
  assert.ok(!existsSync(blobB), 'the blob file is deleted');
  // The backup copy: its key is destroyed, so no path decrypts it.
  const ref = patientRef(loadOrCreateKey(join(gw.dataDir, 'keys', 'deid.key')).key, 'SYNTH-RB', 'SYNTH-HOSP');
  const keys = new DataKeys(masterKey(gw.dataDir));
  await assert.rejects(keys.load(gw.db, ref), (e: Error & { code?: string }) => e.code === 'PATIENT_SHREDDED');
  const [wrapped] = await gw.db.query<{ wrapped_key: unknown }>('SELECT wrapped_key FROM patient_keys WHERE patient_ref = $1', [ref]);
  assert.equal(wrapped!.wrapped_key, null);
  assert.throws(() => openBlob(Buffer.alloc(32), readFileSync(backup), 'x'), (e: Error & { code?: string }) => e.code === 'STORE_CORRUPT');
  // The trail stays, with the erasure in it; a new instance of the patient is refused.
  const after = (await gw.db.query('SELECT id FROM events')).length;
  assert.ok(after > eventsBefore);
  assert.equal((await gw.db.query(`SELECT 1 FROM events WHERE kind = 'patient.erased'`)).length, 1);
  assert.equal(await stow([instanceOf('SYNTH-RB').bytes]), 409);
  assert.equal((await api(gw)(`${gw.http.url}/api/patients/erase`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ patient: 'SYNTH-HOSP|NOBODY', reason: 'no such patient' }) })).status, 404);
});

test('custos patient erase does the same from the command line, with the gateway stopped', async () => {
  const dataDir = gw.dataDir;
  const c = instanceOf('SYNTH-RC');
  assert.equal(await stow([c.bytes]), 200);
  await gw.close();
  gw = undefined as unknown as Gateway;
  const { runCli } = await import('./helpers.ts');
  let r = runCli(['patient', 'erase', 'SYNTH-HOSP|SYNTH-RC', '--data-dir', dataDir]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--reason is required/);
  r = runCli(['patient', 'erase', 'SYNTH-HOSP|SYNTH-RC', '--reason', 'the patient asked (synthetic)', '--data-dir', dataDir]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^erased: 1 instance\(s\), 0 queued job\(s\) stopped, key destroyed/);
  assert.ok(!r.stdout.includes('SYNTH-RC') && !r.stderr.includes('SYNTH-RC'));
});
