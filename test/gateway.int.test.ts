/**
 * The gateway in-process, on 127.0.0.1 only: configuration errors, DICOMweb (STOW, QIDO, WADO),
 * quarantine, AE title checks, encryption at rest, crypto-shredding, retries and the dead-letter
 * state, the admin API and its OpenAPI document.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parseGatewayConfig } from '../src/config/gateway-config.ts';
import { type Gateway, startGateway } from '../src/gateway.ts';
import { encodeMultipart, parseMultipart } from '../src/net/multipart.ts';
import { DataKeys, patientRef } from '../src/store/data-keys.ts';
import { connect, createServer } from 'node:net';
import { BufferSource } from '../src/dicom/byte-source.ts';
import { putElement } from '../src/dicom/dataset.ts';
import { Tags } from '../src/dicom/tag.ts';
import { encodePart10 } from '../src/dicom/write.ts';
import { REPO, PYDICOM, parse, runCli, tempDir } from './helpers.ts';
import { api, freePort, tokenOf, waitFor } from './peers.ts';
import { allowReleases } from './policy-helpers.ts';

const EXAMPLES = readdirSync(join(REPO, 'examples')).filter((f) => f.endsWith('.dcm')).map((f) => join(REPO, 'examples', f));
// The gateway runs in this process: peers must be spawned asynchronously, never with spawnSync.
const run = (cmd: string, args: string[]): Promise<{ status: number; stderr: string }> => new Promise((resolve) => {
  const p = spawn(cmd, args, { env: { ...process.env, TCP_NODELAY: '1' } });
  let stderr = ''; // dcmtk logs to stdout and stderr: both are kept
  p.stdout.on('data', (d: Buffer) => { stderr += d.toString(); });
  p.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  p.on('exit', (code) => resolve({ status: code ?? -1, stderr }));
});
const echo = (port: number, called: string, calling = 'ECHOSCU') => run('echoscu', ['-aet', calling, '-aec', called, '127.0.0.1', String(port)]);

let gw: Gateway;
let deadPort: number;
const work = tempDir('custos-gwi-');

before(async () => {
  deadPort = await freePort(); // nothing listens here: forwarding to it fails
  gw = await startGateway(parseGatewayConfig({
    dimse: { port: 0, aeTitle: 'GATEWAY', allowedCallingAeTitles: ['MODALITY', 'ECHOSCU'], maxAssociations: 1, maxInstanceMiB: 1 },
    http: { port: 0 },
    forwarding: { maxAttempts: 2, initialBackoffMs: 50, maxBackoffMs: 100 },
    policy: { purposes: { TREATDS: 'opt-out' } },
    recipients: [{ id: 'nowhere', purpose: 'TREATDS', deliver: { kind: 'dimse', host: '127.0.0.1', port: deadPort, aeTitle: 'NOBODY' } }],
    routes: [{ recipient: 'nowhere', match: { source: ['dimse'] } }],
  }), join(work, 'data'));
  await allowReleases(gw.http.url, tokenOf(gw.dataDir), ['nowhere'], ['TREATDS']);
});
after(async () => { await gw?.close(); });

const stow = async (bodies: Buffer[], path = '/dicomweb/studies') => {
  const { parts, contentType } = encodeMultipart(bodies, 'application/dicom');
  const res = await api(gw)(`${gw.http.url}${path}`, { method: 'POST', headers: { 'content-type': contentType }, body: Buffer.concat(parts) });
  return { status: res.status, json: (await res.json()) as Record<string, { Value?: Array<Record<string, { Value?: unknown[] }>> }> };
};

test('a bad configuration is refused with the exact field and reason', () => {
  const dir = tempDir();
  const cfg = join(dir, 'custos.yaml');
  writeFileSync(cfg, 'dimse:\n  port: 70000\nrecipients:\n  - id: ai-vendor\n    deliver: { kind: stow, url: "ftp://x" }\n');
  const r = runCli(['serve', '--config', cfg, '--data-dir', join(dir, 'd')]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /CONFIG_INVALID/);
  assert.match(r.stderr, /dimse\.port: Too big/);
  assert.match(r.stderr, /recipients\[0\]\.deliver\.url/);
  writeFileSync(cfg, 'routes:\n  - recipient: missing\n');
  assert.match(runCli(['serve', '--config', cfg]).stderr, /routes\[0\]\.recipient: no recipient has id "missing"/);
  writeFileSync(cfg, 'dimse: [1, 2');
  assert.match(runCli(['serve', '--config', cfg]).stderr, /not valid YAML/);
});

test('serve --help prints its usage; a port already in use is a clear error, not a crash', () => {
  const help = runCli(['serve', '--help']);
  assert.equal(help.status, 0);
  assert.match(help.stdout, /Usage: custos serve/);
  const busy = runCli(['serve', '--dimse-port', String(gw.dimse.port), '--http-port', '0', '--data-dir', tempDir()]);
  assert.equal(busy.status, 2);
  assert.match(busy.stderr, new RegExp(`cannot listen for DIMSE on 127\\.0\\.0\\.1:${gw.dimse.port}: EADDRINUSE`));
});

test('off loopback, the gateway needs calling AE titles, the host names clients use, and TLS', async () => {
  await assert.rejects(startGateway(parseGatewayConfig({ host: '0.0.0.0' }), tempDir()), { code: 'CONFIG_INVALID', message: /allowedCallingAeTitles: required/ });
  const dimse = { allowedCallingAeTitles: ['MODALITY'] };
  await assert.rejects(startGateway(parseGatewayConfig({ host: '0.0.0.0', dimse }), tempDir()), { code: 'CONFIG_INVALID', message: /http\.allowedHosts: required/ });
  await assert.rejects(startGateway(parseGatewayConfig({ host: '0.0.0.0', dimse, http: { allowedHosts: ['custos.hospital.example'] } }), tempDir()), { code: 'CONFIG_INVALID', message: /http\.tls: required/ });
  assert.throws(() => parseGatewayConfig({ http: { adminToken: 'a-static-token-of-old' } }), { code: 'CONFIG_INVALID', message: /adminToken/ });
});

test('C-ECHO answers configured callers and refuses unknown called or calling AE titles', async () => {
  assert.equal((await echo(gw.dimse.port, 'GATEWAY')).status, 0);
  assert.notEqual((await echo(gw.dimse.port, 'SOMEONE')).status, 0, 'wrong called AE title accepted');
  assert.notEqual((await echo(gw.dimse.port, 'GATEWAY', 'STRANGER')).status, 0, 'unlisted calling AE title accepted');
});

test('over the association limit a sender is rejected as transient; an instance over the size limit is refused with A700', async () => {
  const hog = connect(gw.dimse.port, '127.0.0.1'); // an open connection takes the only association slot
  await new Promise((r) => hog.once('connect', r));
  const busy = await echo(gw.dimse.port, 'GATEWAY');
  assert.notEqual(busy.status, 0);
  assert.match(busy.stderr, /Local Limit Exceeded|Rejected/i);
  hog.destroy();
  await waitFor('the slot to free', async () => ((await echo(gw.dimse.port, 'GATEWAY')).status === 0 ? true : undefined), 5_000);

  const dir = tempDir();
  const big = join(dir, 'big.dcm');
  const f = parse(join(PYDICOM, 'CT_small.dcm'));
  putElement(f.dataset, { tag: Tags.PixelData, vr: 'OW', value: Buffer.alloc(1536 * 1024) });
  writeFileSync(big, Buffer.concat(encodePart10(f.meta, f.dataset, f.transferSyntax, new BufferSource(Buffer.alloc(0))) as Buffer[]));
  const r = await run('storescu', ['-v', '-aet', 'MODALITY', '-aec', 'GATEWAY', '127.0.0.1', String(gw.dimse.port), big]);
  assert.match(r.stderr, /Refused: OutOfResources/, `status ${r.status}`);
});

test('STOW-RS stores each instance, reports per-instance failures (202) and quarantines bad input', async () => {
  const good = EXAMPLES.map((f) => readFileSync(f));
  const truncated = good[0]!.subarray(0, 600);
  const r = await stow([...good, truncated, Buffer.from('not dicom at all')]);
  assert.equal(r.status, 202);
  assert.equal(r.json['00081199']!.Value!.length, good.length);
  const failed = r.json['00081198']!.Value!;
  assert.equal(failed.length, 2);
  assert.ok(failed.every((f) => f['00081197']!.Value![0] === 0xc000));
  const q = (await (await api(gw)(`${gw.http.url}/api/quarantine`)).json()) as Array<{ code: string; bytes: number }>;
  assert.deepEqual(q.map((x) => x.code).sort(), ['DICOM_NOT_DICOM', 'DICOM_TRUNCATED']);
  // Sending the same instances again stores nothing new (idempotent), and reports success.
  const again = await stow(good);
  assert.equal(again.status, 200);
  const st = (await (await api(gw)(`${gw.http.url}/api/status`)).json()) as { instances: number; quarantined: number };
  assert.equal(st.instances, good.length);
  // Nothing valid at all: 409.
  assert.equal((await stow([truncated])).status, 409);
  // A study UID in the URL that the instance does not belong to.
  const wrong = await stow([good[0]!], '/dicomweb/studies/1.2.3.4');
  assert.equal(wrong.status, 409);
  assert.equal(wrong.json['00081198']!.Value![0]!['00081197']!.Value![0], 0xa900);
});

test('an instance whose pixels cannot be decoded is recorded as unlogged and does not stall the work loop', async () => {
  // SC_rgb_rle_2frame.dcm (RLE, two frames) with its second frame overwritten: the header parses and
  // the first frame decodes (so ingest accepts it: it checks the first frame), but the second does not.
  const bad = Buffer.from(readFileSync(join(PYDICOM, 'SC_rgb_rle_2frame.dcm')));
  const pixel = bad.lastIndexOf(Buffer.from([0xe0, 0x7f, 0x10, 0x00]));
  const bot = pixel + 12;
  const first = bot + 8 + bad.readUInt32LE(bot + 4);
  const second = first + 8 + bad.readUInt32LE(first + 4);
  bad.fill(0x5a, second + 8, second + 8 + bad.readUInt32LE(second + 4));
  const good = readFileSync(join(PYDICOM, 'MR_small.dcm'));
  assert.equal((await stow([bad, good])).status, 200);
  const rows = await waitFor('both logged or unlogged', async () => {
    const r = await gw.db.query<{ id: number; log_index: number | null; sop_class_uid: string }>(`SELECT id, log_index, sop_class_uid FROM instances WHERE sop_class_uid IN ('1.2.840.10008.5.1.4.1.1.7', '1.2.840.10008.5.1.4.1.1.4') AND source = 'stow' ORDER BY id DESC LIMIT 2`);
    return r.length === 2 && r.every((x) => x.log_index !== null) ? r : undefined;
  }, 20_000);
  const [mr, ct] = rows;
  assert.equal(ct!.sop_class_uid, '1.2.840.10008.5.1.4.1.1.7');
  assert.ok(Number(mr!.log_index) >= 0, 'the good instance after it was logged');
  assert.equal(Number(ct!.log_index), -1);
  const events = (await (await api(gw)(`${gw.http.url}/api/instances/${ct!.id}/events`)).json()) as Array<{ kind: string; detail: { code?: string } }>;
  assert.equal(events.find((e) => e.kind === 'instance.unlogged')?.detail.code, 'PIXEL_DECODE');
});

test('QIDO-RS lists what the gateway holds and WADO-RS returns the original bytes', async () => {
  const studies = (await (await api(gw)(`${gw.http.url}/dicomweb/studies`)).json()) as Array<Record<string, { Value: unknown[] }>>;
  assert.ok(studies.length >= 1);
  const study = studies[0]!['0020000D']!.Value[0] as string;
  const instances = (await (await api(gw)(`${gw.http.url}/dicomweb/studies/${study}/instances`)).json()) as Array<Record<string, { Value: unknown[] }>>;
  assert.ok(instances.length >= 1);
  const series = instances[0]!['0020000E']!.Value[0] as string;
  const sop = instances[0]!['00080018']!.Value[0] as string;
  const res = await api(gw)(`${gw.http.url}/dicomweb/studies/${study}/series/${series}/instances/${sop}`, { headers: { accept: 'multipart/related; type="application/dicom"' } });
  assert.equal(res.status, 200);
  const boundary = /boundary=([^;]+)/.exec(res.headers.get('content-type')!)![1]!;
  const [part] = parseMultipart(Buffer.from(await res.arrayBuffer()), boundary);
  const original = EXAMPLES.map((f) => readFileSync(f)).find((b) => b.includes(Buffer.from(sop, 'latin1')))!;
  assert.ok(part!.body.equals(original), 'WADO-RS returns the stored instance byte for byte');
  assert.equal((await api(gw)(`${gw.http.url}/dicomweb/studies/1.2.3`)).status, 404);
});

test('originals are encrypted at rest, and shredding a patient key makes them unreadable', async () => {
  const blobs = join(gw.dataDir, 'blobs', 'instances');
  const files = readdirSync(blobs, { recursive: true, withFileTypes: true }).filter((d) => d.isFile()).map((d) => join(d.parentPath, d.name));
  assert.ok(files.length >= EXAMPLES.length);
  for (const f of files) {
    const b = readFileSync(f);
    assert.ok(!b.includes(Buffer.from('DICM')) && !b.includes(Buffer.from('1.2.840.10008')), `${f} holds plaintext DICOM`);
  }
  const [row] = await gw.db.query<{ patient_ref: string; study_instance_uid: string }>('SELECT patient_ref, study_instance_uid FROM instances ORDER BY id LIMIT 1');
  const master = Buffer.from(readFileSync(join(gw.dataDir, 'keys', 'master.key'), 'utf8').trim(), 'hex');
  await new DataKeys(master).shred(gw.db, row!.patient_ref);
  // The running service cached the key; a fresh key store (as after a restart) cannot read the blob.
  const keys = new DataKeys(master);
  await assert.rejects(keys.load(gw.db, row!.patient_ref), { code: 'PATIENT_SHREDDED' });
  // A new instance of that patient is refused (not stored, not quarantined), as a fresh service would.
  const { ingestInstance } = await import('../src/pipeline/ingest.ts');
  const deploymentKey = Buffer.from(readFileSync(join(gw.dataDir, 'keys', 'deid.key'), 'utf8').trim(), 'hex');
  const { FsBlobStore } = await import('../src/store/blob-store.ts');
  const again = await ingestInstance({ db: gw.db, blobs: new FsBlobStore(join(tempDir(), 'b')), keys, deploymentKey, routes: [] }, readFileSync(EXAMPLES[0]!), { source: 'stow', callingAeTitle: null });
  assert.equal(again.status, 'rejected');
  assert.equal((again as { code: string }).code, 'PATIENT_SHREDDED');
  assert.equal(patientRef(Buffer.alloc(32, 1), 'ID', '').length, 40);
});

test('a DIMSE instance for an unreachable recipient is retried, then dead-lettered with the reason; an admin retry re-queues it', async () => {
  const dir = tempDir();
  const file = join(dir, 'ct.dcm');
  copyFileSync(join(PYDICOM, 'CT_small.dcm'), file);
  const r = await run('storescu', ['-aet', 'MODALITY', '-aec', 'GATEWAY', '127.0.0.1', String(gw.dimse.port), file]);
  assert.equal(r.status, 0, r.stderr);
  const dead = await waitFor('the job to die', async () => {
    const jobs = (await (await api(gw)(`${gw.http.url}/api/jobs?state=dead`)).json()) as Array<{ id: number; attempts: number; lastErrorCode: string; lastError: string; recipient: string }>;
    return jobs[0];
  }, 20_000);
  assert.equal(dead.recipient, 'nowhere');
  assert.equal(dead.attempts, 2);
  assert.equal(dead.lastErrorCode, 'DIMSE_FAILED');
  assert.match(dead.lastError, /ECONNREFUSED/);
  const retry = await api(gw)(`${gw.http.url}/api/jobs/${dead.id}/retry`, { method: 'POST' });
  assert.equal(retry.status, 200);
  assert.equal((await api(gw)(`${gw.http.url}/api/jobs/${dead.id}/retry`, { method: 'POST' })).status, 409);
  assert.equal((await api(gw)(`${gw.http.url}/api/jobs/999999/retry`, { method: 'POST' })).status, 404);
  const events = (await (await api(gw)(`${gw.http.url}/api/instances/${(await gw.db.query<{ instance_id: number }>('SELECT instance_id FROM jobs WHERE id = $1', [dead.id]))[0]!.instance_id}/events`)).json()) as Array<{ kind: string }>;
  assert.deepEqual(events.map((e) => e.kind).filter((k) => k.startsWith('job.')).slice(0, 2), ['job.retry', 'job.dead']);
});

test('the admin API is described by an OpenAPI document at /api/docs', async () => {
  const doc = (await (await api(gw)(`${gw.http.url}/api/docs`)).json()) as { openapi: string; paths: Record<string, unknown> };
  assert.match(doc.openapi, /^3\./);
  for (const p of ['/api/status', '/api/studies', '/api/jobs', '/api/jobs/{id}/retry', '/api/recipients', '/api/quarantine', '/api/tokens', '/auth/login']) assert.ok(doc.paths[p], `${p} documented`);
  // Each operation says what it needs.
  const op = (path: string, method: string) => (doc.paths[path] as Record<string, { description: string; security: unknown[] }>)[method]!;
  assert.match(op('/api/jobs/{id}/retry', 'post').description, /Needs the permission `jobs:write`/);
  assert.deepEqual(op('/api/jobs/{id}/retry', 'post').security, [{ token: [] }, { session: [] }]);
  assert.deepEqual(op('/auth/login', 'post').security, []);
  const recipients = (await (await api(gw)(`${gw.http.url}/api/recipients`)).json()) as Array<{ id: string; target: string }>;
  assert.deepEqual(recipients.map((r) => r.id), ['nowhere']);
  assert.equal((await api(gw)(`${gw.http.url}/api/jobs?state=bogus`)).status, 400);
});

test('PDUs arriving in pieces of a few bytes are put back together; a PDU longer than the advertised maximum closes the connection', { timeout: 60_000 }, async () => {
  // A proxy that hands storescu's bytes on in pieces of 1 to 997 bytes, so that PDU headers and
  // bodies are split across reads at every kind of boundary.
  const sizes = [3, 1, 997, 5, 64, 2, 500];
  const proxy = createServer((client) => {
    const up = connect(gw.dimse.port, '127.0.0.1');
    up.setNoDelay(true);
    let k = 0;
    client.on('data', (d: Buffer) => {
      client.pause();
      void (async () => {
        for (let o = 0; o < d.length;) {
          const n = sizes[k++ % sizes.length]!;
          up.write(d.subarray(o, o + n));
          o += n;
          await new Promise((r) => setImmediate(r));
        }
        client.resume();
      })();
    });
    up.pipe(client);
    for (const s of [client, up]) s.on('error', () => undefined);
    client.on('close', () => up.destroy());
    up.on('close', () => client.destroy());
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  const proxyPort = (proxy.address() as { port: number }).port;
  try {
    const before = (await (await api(gw)(`${gw.http.url}/api/status`)).json()) as { instances: number };
    const r = await run('storescu', ['-v', '-aet', 'MODALITY', '-aec', 'GATEWAY', '127.0.0.1', String(proxyPort), join(PYDICOM, 'MR_small.dcm')]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /Received Store Response \(Success\)/);
    const after = (await (await api(gw)(`${gw.http.url}/api/status`)).json()) as { instances: number };
    assert.equal(after.instances, before.instances + 1);
  } finally {
    await new Promise((r) => proxy.close(r));
  }

  const raw = connect(gw.dimse.port, '127.0.0.1');
  await new Promise((r) => raw.once('connect', r));
  const closed = new Promise((r) => raw.once('close', r));
  raw.on('error', () => undefined);
  raw.write(Buffer.from([0x04, 0x00, 0x7f, 0xff, 0xff, 0xff])); // P-DATA-TF claiming 2 GiB
  await closed;
  await waitFor('the association slot to free', async () => ((await echo(gw.dimse.port, 'GATEWAY')).status === 0 ? true : undefined), 5_000);
});
