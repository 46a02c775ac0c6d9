/**
 * The gateway against real peers: storescu sends, storescp and Orthanc (DIMSE and STOW-RS) receive.
 * storescp and Orthanc listen on every interface, so this file re-runs itself inside a private
 * network namespace whose only interface is loopback.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { generateCT } from '../bench/generate-ct.ts';
import { pseudonymousUID, recipientKey } from '../src/deid/pseudonyms.ts';
import { PYDICOM, dcmdump, runCli, tempDir } from './helpers.ts';
import { makePki } from './pki.ts';
import { allowReleases } from './policy-helpers.ts';
import { IN_NETNS, type GatewayProc, type OrthancPeer, type Peer, NETNS_FLAG, freePort, rerunInPrivateNetwork, startGatewayProcess, startOrthanc, startStorescp, storescu, tokenOf, waitFor } from './peers.ts';

const ORIGINAL = { patientName: 'CompressedSamples^CT1', patientId: '1CT1' }; // from pydicom's CT_small.dcm (synthetic)

if (!IN_NETNS) {
  // storescp and Orthanc would listen on every interface: without a private namespace they are not started.
  test('gateway with storescu, storescp and Orthanc (in a private network namespace)', { timeout: 900_000, skip: !NETNS_FLAG && 'unshare cannot make a network namespace here' }, () => {
    const r = rerunInPrivateNetwork(new URL(import.meta.url).pathname);
    assert.equal(r.status, 0, r.output);
  });
} else {
  const work = tempDir('custos-gw-');
  let storescp: Peer & { log: () => string };
  let orthanc: OrthancPeer;
  const scpDir = join(work, 'storescp');

  before(async () => {
    storescp = await startStorescp(scpDir);
    orthanc = await startOrthanc(join(work, 'orthanc'));
  });
  after(async () => {
    await storescp?.stop();
    await orthanc?.stop();
  });

  const status = async (gw: GatewayProc) => (await (await gw.api(`${gw.http}/api/status`)).json()) as { instances: number; jobs: Record<string, number> };
  const orthancInstances = async (): Promise<string[]> => (await (await fetch(`${orthanc.http}/instances`)).json()) as string[];
  const orthancTags = async (id: string) => (await (await fetch(`${orthanc.http}/instances/${id}/simplified-tags`)).json()) as Record<string, string>;
  const config = (recipients: Array<Record<string, unknown>>, routes: unknown[]) => ({
    recipients: recipients.map((r) => ({ purpose: 'TREATDS', ...r }) as Record<string, unknown>), routes, forwarding: { initialBackoffMs: 200, maxBackoffMs: 2000 }, policy: { purposes: { TREATDS: 'opt-out' } },
  });
  /** A gateway whose recipients are vetted, approved and under an agreement (docs/policy.md). */
  const startReleasing = async (dataDir: string, cfg: ReturnType<typeof config>): Promise<GatewayProc> => {
    const gw = await startGatewayProcess(dataDir, cfg);
    await allowReleases(gw.http, tokenOf(dataDir), cfg.recipients.map((r) => String(r.id)), ['TREATDS']);
    return gw;
  };

  test('a 200-instance study sent with storescu arrives de-identified at storescp and at Orthanc over DIMSE and STOW-RS, each exactly once', { timeout: 600_000 }, async () => {
    const files = generateCT(200, join(work, 'study-200'), 200, '2.25.1111');
    const gw = await startReleasing(join(work, 'gw1'), config([
      { id: 'scp', deliver: { kind: 'dimse', host: '127.0.0.1', port: storescp.port, aeTitle: 'STORESCP' } },
      { id: 'orthanc-dimse', deliver: { kind: 'dimse', host: '127.0.0.1', port: orthanc.dicomPort, aeTitle: orthanc.aeTitle } },
      { id: 'orthanc-web', deliver: { kind: 'stow', url: `${orthanc.http}/dicom-web` } },
    ], [{ recipient: 'scp' }, { recipient: 'orthanc-dimse', match: { modality: ['CT'] } }, { recipient: 'orthanc-web', match: { callingAeTitle: ['MODALITY'] } }]));
    try {
      const sent = await storescu(gw.dimsePort, 'CUSTOS', files);
      assert.equal(sent.status, 0, sent.output);
      const s = await waitFor('all 600 jobs done', async () => { const st = await status(gw); return st.jobs.done === 600 ? st : undefined; }, 300_000, 250);
      assert.equal(s.instances, 200);
      assert.deepEqual({ dead: s.jobs.dead, held: s.jobs.held, pending: s.jobs.pending, running: s.jobs.running }, { dead: 0, held: 0, pending: 0, running: 0 });

      // storescp: exactly 200 C-STORE requests, 200 files, none carrying the original identity or UIDs.
      await waitFor('storescp to write 200 files', () => (readdirSync(scpDir).length === 200 ? true : undefined));
      const scpFiles = readdirSync(scpDir).map((f) => join(scpDir, f));
      for (const f of scpFiles.slice(0, 20)) {
        const dump = dcmdump(f);
        assert.ok(!dump.includes(ORIGINAL.patientName) && !dump.includes(ORIGINAL.patientId), 'original patient identity reached storescp');
        // Originals are 2.25.1111.<kind>.<n>; a pseudonymous UID is 2.25.<decimal> with no further dot,
        // so it may begin with the digits 1111 by chance but never with "1111.".
        const leaked = /\[2\.25\.1111\.[\d.]+\]/.exec(dump);
        assert.equal(leaked, null, `an original UID reached storescp: ${leaked?.[0]}`);
        assert.match(dump, /\(0012,0062\) CS \[YES\]/);
      }
      assert.ok(!readFileSync(scpFiles[0]!).includes(ORIGINAL.patientName));

      // Orthanc: two studies (one per recipient key), 200 instances each, de-identified.
      const ids = await orthancInstances();
      assert.equal(ids.length, 400);
      const studies = (await (await fetch(`${orthanc.http}/studies`)).json()) as string[];
      assert.equal(studies.length, 2);
      for (const st of studies) {
        const info = (await (await fetch(`${orthanc.http}/studies/${st}/instances`)).json()) as unknown[];
        assert.equal(info.length, 200);
      }
      const key = Buffer.from(readFileSync(join(work, 'gw1', 'keys', 'deid.key'), 'utf8').trim(), 'hex');
      const expected = pseudonymousUID(recipientKey(key, 'orthanc-web'), '2.25.1111.3.7');
      const found = (await (await fetch(`${orthanc.http}/tools/lookup`, { method: 'POST', body: expected })).json()) as unknown[];
      assert.equal(found.length, 1, 'the STOW-RS copy of instance 7 is in Orthanc under its pseudonymous UID');
      for (const id of ids.slice(0, 10)) {
        const tags = await orthancTags(id);
        assert.notEqual(tags.PatientName, ORIGINAL.patientName);
        assert.notEqual(tags.PatientID, ORIGINAL.patientId);
        assert.equal(tags.PatientIdentityRemoved, 'YES');
      }

      // The gateway's records show every step of an instance.
      const events = (await (await gw.api(`${gw.http}/api/instances/1/events`)).json()) as Array<{ kind: string; recipient: string | null }>;
      assert.deepEqual(events.map((e) => e.kind).slice(0, 2), ['instance.received', 'instance.logged']);
      assert.deepEqual(events.filter((e) => e.kind === 'job.forwarded').map((e) => e.recipient).sort(), ['orthanc-dimse', 'orthanc-web', 'scp']);
      const ckpt = await (await fetch(`${gw.http}/log/checkpoint`)).text();
      assert.ok(Number(ckpt.split('\n')[1]) >= 200 + 600, 'ingest and derivation statements are in the log');
    } finally {
      await gw.stop();
    }
    // What a recipient received verifies as derived from logged originals (the vendor's check).
    const received = readdirSync(scpDir).slice(0, 3).map((f) => join(scpDir, f));
    const verified = runCli(['verify', '--json', '--data-dir', join(work, 'gw1'), ...received]);
    assert.equal(verified.status, 0, verified.stderr);
    assert.deepEqual(verified.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { status: string }).status), ['derived', 'derived', 'derived']);
    assert.equal((storescp.log().match(/Received Store Request/g) ?? []).length, 200, 'storescp received each instance once');
  });

  test('compressed instances are forwarded in their own transfer syntax; a recipient taking implicit VR only gets implicit VR', { timeout: 300_000 }, async () => {
    // RLE (MR), JPEG 2000 (CT), JPEG-LS (CT_small recompressed by dcmcjpls, given its own UID), and a
    // JPEG 2000 NM image, which the Basic Profile holds back (burned-in text risk).
    const jls = join(work, 'ct-jls.dcm');
    execFileSync('dcmcjpls', [join(PYDICOM, 'CT_small.dcm'), jls]);
    execFileSync('dcmodify', ['-nb', '-m', '(0008,0018)=2.25.7777', jls]);
    const compressed = [join(PYDICOM, 'MR_small_RLE.dcm'), join(PYDICOM, '693_J2KI.dcm'), jls, join(PYDICOM, 'JPEG2000.dcm')];
    const implicitDir = join(work, 'implicit-scp');
    const implicitScp = await startStorescp(implicitDir, 'IMPLICIT', '+xi');
    const keepDir = join(work, 'keep-scp');
    const keepScp = await startStorescp(keepDir, 'KEEP', '+xa');
    const gw = await startReleasing(join(work, 'gw3'), config([
      { id: 'keep', deliver: { kind: 'dimse', host: '127.0.0.1', port: keepScp.port, aeTitle: 'KEEP' } },
      { id: 'implicit', deliver: { kind: 'dimse', host: '127.0.0.1', port: implicitScp.port, aeTitle: 'IMPLICIT' } },
    ], [{ recipient: 'keep', match: { modality: ['MR', 'CT', 'NM'] } }, { recipient: 'implicit', match: { callingAeTitle: ['EXPLICIT_SENDER'] } }]));
    try {
      const sent = await storescu(gw.dimsePort, 'CUSTOS', compressed, 'MODALITY', 'dcmsend');
      assert.equal(sent.status, 0, sent.output);
      const ct = await storescu(gw.dimsePort, 'CUSTOS', [join(PYDICOM, 'CT_small.dcm')], 'EXPLICIT_SENDER');
      assert.equal(ct.status, 0, ct.output);
      await waitFor('5 deliveries', async () => ((await status(gw)).jobs.done === 5 && (await status(gw)).jobs.held === 1 ? true : undefined), 60_000)
        .catch(async (e: Error) => { throw new Error(`${e.message}: ${JSON.stringify(await (await gw.api(`${gw.http}/api/jobs`)).json())}`); });
      const tsOf = (f: string): string => /\(0002,0010\) UI =(\S+)/.exec(dcmdump(f))?.[1] ?? '';
      const kept = readdirSync(keepDir).map((f) => tsOf(join(keepDir, f))).sort();
      assert.deepEqual(kept, ['JPEG2000', 'JPEGLSLossless', 'LittleEndianExplicit', 'RLELossless']);
      const held = (await (await gw.api(`${gw.http}/api/jobs?state=held`)).json()) as Array<{ lastErrorCode: string }>;
      assert.deepEqual(held.map((j) => j.lastErrorCode), ['BURNED_IN_RISK']);
      const implicit = readdirSync(implicitDir).map((f) => tsOf(join(implicitDir, f)));
      assert.deepEqual(implicit, ['LittleEndianImplicit']);
      assert.ok(!dcmdump(join(implicitDir, readdirSync(implicitDir)[0]!)).includes('CompressedSamples'), 'de-identified');
    } finally {
      await gw.stop();
      await implicitScp.stop();
      await keepScp.stop();
    }
  });

  test('forwarding over DICOM TLS with mutual authentication to storescp (+tls); an untrusted server is refused', { timeout: 120_000 }, async () => {
    const pki = makePki(join(work, 'pki'));
    const tlsDir = join(work, 'tls-scp');
    mkdirSync(tlsDir, { recursive: true });
    const port = await freePort();
    const scp = spawn('storescp', ['--aetitle', 'SECURE', '+tls', pki.serverKey, pki.serverCert, '+cf', pki.ca, '-rc', '--output-directory', tlsDir, String(port)], { stdio: 'ignore', env: { ...process.env, TCP_NODELAY: '1' } });
    await new Promise((r) => setTimeout(r, 500));
    const tls = { caFile: pki.ca, certFile: pki.clientCert, keyFile: pki.clientKey };
    const gw = await startReleasing(join(work, 'gw-tls'), config([
      { id: 'secure', deliver: { kind: 'dimse', host: '127.0.0.1', port, aeTitle: 'SECURE', tls } },
      { id: 'untrusted', deliver: { kind: 'dimse', host: '127.0.0.1', port, aeTitle: 'SECURE', tls: { certFile: tls.certFile, keyFile: tls.keyFile } } },
    ], [{ recipient: 'secure' }, { recipient: 'untrusted' }]));
    try {
      const sent = await storescu(gw.dimsePort, 'CUSTOS', [join(PYDICOM, 'CT_small.dcm')]);
      assert.equal(sent.status, 0, sent.output);
      const jobs = await waitFor('both jobs settled', async () => {
        const j = (await (await gw.api(`${gw.http}/api/jobs`)).json()) as Array<{ recipient: string; state: string; attempts: number; lastError: string | null }>;
        return j.length === 2 && j.every((x) => x.state === 'done' || x.attempts >= 1) && j.some((x) => x.state === 'done') ? j : undefined;
      }, 60_000);
      assert.equal(jobs.find((j) => j.recipient === 'secure')?.state, 'done');
      const untrusted = jobs.find((j) => j.recipient === 'untrusted')!;
      assert.notEqual(untrusted.state, 'done', 'a server whose CA is not configured must not receive data');
      assert.match(untrusted.lastError ?? '', /CERT|SIGNATURE|certificate/i, untrusted.lastError ?? '');
      assert.equal(readdirSync(tlsDir).length, 1);
      assert.ok(!dcmdump(join(tlsDir, readdirSync(tlsDir)[0]!)).includes('CompressedSamples'));
    } finally {
      await gw.stop();
      scp.kill();
    }
  });

  test('kill -9 during a 500-instance send: after restart every acknowledged instance is forwarded exactly once', { timeout: 600_000 }, async () => {
    const files = generateCT(500, join(work, 'study-500'), 500, '2.25.2222');
    const dataDir = join(work, 'gw2');
    const cfg = config([{ id: 'pacs', deliver: { kind: 'dimse', host: '127.0.0.1', port: orthanc.dicomPort, aeTitle: orthanc.aeTitle } }], [{ recipient: 'pacs' }]);
    const before = new Set(await orthancInstances());
    let gw = await startReleasing(dataDir, cfg);
    const sending = storescu(gw.dimsePort, 'CUSTOS', ['-v', ...files]);
    await waitFor('150 instances stored', async () => ((await status(gw)).instances >= 150 ? true : undefined), 120_000, 20);
    gw.proc.kill('SIGKILL');
    const sent = await sending;
    assert.notEqual(sent.status, 0, 'storescu saw the gateway die');
    // storescu -v: "Sending file: <path>" then "Received Store Response (Success)" for each acknowledged file.
    const acked: string[] = [];
    let current = '';
    for (const line of sent.output.split('\n')) {
      const m = /Sending file: (\S+)/.exec(line);
      if (m) current = m[1]!;
      else if (/Received Store Response \(Success\)/.test(line) && current) acked.push(current);
    }
    assert.ok(acked.length >= 150 && acked.length < 500, `acknowledged ${acked.length}`);

    gw = await startGatewayProcess(dataDir, cfg);
    try {
      const s = await waitFor('the queue to drain', async () => {
        const st = await status(gw);
        return st.jobs.pending === 0 && st.jobs.running === 0 ? st : undefined;
      }, 300_000, 250);
      assert.equal(s.jobs.dead, 0);
      assert.ok(s.instances >= acked.length && s.instances <= acked.length + 1, `${s.instances} stored for ${acked.length} acknowledged`);
      assert.equal(s.jobs.done, s.instances);
      const key = Buffer.from(readFileSync(join(dataDir, 'keys', 'deid.key'), 'utf8').trim(), 'hex');
      const k = recipientKey(key, 'pacs');
      for (const path of acked) {
        const n = Number(/ct-(\d+)\.dcm$/.exec(path)![1]);
        const uid = pseudonymousUID(k, `2.25.2222.3.${n}`);
        const found = (await (await fetch(`${orthanc.http}/tools/lookup`, { method: 'POST', body: uid })).json()) as unknown[];
        assert.equal(found.length, 1, `acknowledged instance ${n} is at the recipient exactly once`);
      }
      const added = (await orthancInstances()).filter((id) => !before.has(id));
      assert.equal(added.length, s.instances, 'the recipient holds each stored instance once, nothing more');
    } finally {
      await gw.stop();
    }
  });
  test('a DIMSE association is kept open between batches, used again while every instance has a context there, and released when idle', { timeout: 120_000 }, async () => {
    const { DimseForwarder } = await import('../src/net/dimse-scu.ts');
    const { readDicom } = await import('../src/dicom/read.ts');
    const { BufferSource } = await import('../src/dicom/byte-source.ts');
    const { asciiValue } = await import('../src/dicom/dataset.ts');
    const dir = join(work, 'keep-open');
    generateCT(6, dir, 6, '2.25.77031');
    const outgoing = (path: string) => {
      const b = readFileSync(path);
      const f = readDicom(new BufferSource(b));
      const v = (t: number) => asciiValue(f.dataset, t);
      return { sopClassUID: v(0x00080016), sopInstanceUID: v(0x00080018), studyInstanceUID: v(0x0020000d), transferSyntaxUID: f.transferSyntax.uid, part10: [b], bytes: b.length };
    };
    const ct = readdirSync(dir).sort().map((n) => outgoing(join(dir, n)));
    const mr = outgoing(join(PYDICOM, 'MR_small.dcm'));
    const count = (what: string) => storescp.log().split('\n').filter((l) => l.includes(what)).length;
    const dest = { host: '127.0.0.1', port: storescp.port, aeTitle: 'STORESCP', callingAeTitle: 'CUSTOS', timeoutMs: 10_000 };

    const kept = new DimseForwarder(dest, 60_000);
    const before = count('Association Received');
    for (const batch of [ct.slice(0, 2), ct.slice(2, 4), ct.slice(4, 6)]) assert.ok((await kept.deliver(batch)).every((d) => d.ok));
    assert.equal(count('Association Received') - before, 1, 'three batches, one association');
    // An MR instance has no presentation context on that association: a new one is negotiated for it.
    assert.ok((await kept.deliver([mr])).every((d) => d.ok));
    assert.equal(count('Association Received') - before, 2);
    const released = count('Association Release');
    kept.close();
    await waitFor('the idle association to be released', () => (count('Association Release') > released ? true : undefined), 10_000);

    // A kept association holds nothing of the batches it has finished: dcmjs-dimse kept every request
    // sent in its pending list and appended each response's command set to the previous ones.
    const { Dataset } = await import('../src/net/dimse-lib.ts');
    const proto = Dataset.prototype as unknown as { _fromElementsBuffer(buf: Buffer, ...rest: unknown[]): unknown };
    const decode = proto._fromElementsBuffer;
    let largest = 0;
    proto._fromElementsBuffer = function (this: unknown, buf: Buffer, ...rest: unknown[]) { largest = Math.max(largest, buf.length); return decode.call(this, buf, ...rest); };
    const steady = new DimseForwarder(dest, 60_000);
    try {
      for (let k = 0; k < 8; k++) assert.ok((await steady.deliver(ct)).every((d) => d.ok));
    } finally {
      proto._fromElementsBuffer = decode;
    }
    const network = (steady as unknown as { open?: { network?: { pending: unknown[]; dimseStream: unknown } } }).open?.network;
    assert.ok(network, 'the association is still open');
    assert.equal(network.pending.length, 0, 'no request is held once answered');
    assert.equal(network.dimseStream, undefined);
    assert.ok(largest > 0 && largest < 200, `one command set decoded per response (largest ${largest} bytes, 48 responses)`);
    steady.close();

    const once = new DimseForwarder(dest, 0); // released after each batch, as dcmjs-dimse does
    const before2 = count('Association Received');
    for (const batch of [ct.slice(0, 3), ct.slice(3, 6)]) assert.ok((await once.deliver(batch)).every((d) => d.ok));
    await waitFor('both associations to be released', () => (count('Association Release') >= released + 3 ? true : undefined), 10_000);
    assert.equal(count('Association Received') - before2, 2);

    // Same SOP class, another transfer syntax: the library would offer the CT context accepted for
    // explicit VR little endian; JPEG-LS cannot be sent there, so a new association is negotiated.
    const anyDir = join(work, 'keep-any');
    const any = await startStorescp(anyDir, 'ANY', '+xa');
    try {
      const jls = join(work, 'keep-ct.jls.dcm');
      execFileSync('dcmcjpls', [join(dir, readdirSync(dir).sort()[0]!), jls]);
      const associations = () => any.log().split('\n').filter((l) => l.includes('Association Received')).length;
      const k2 = new DimseForwarder({ ...dest, port: any.port, aeTitle: 'ANY' }, 60_000);
      const first = await waitFor('storescp to log the echo association of its start', () => associations() || undefined, 10_000);
      assert.ok((await k2.deliver([ct[1]!])).every((d) => d.ok));
      const results = await k2.deliver([outgoing(jls)]);
      assert.ok(results.every((d) => d.ok), JSON.stringify(results));
      assert.equal(associations() - first, 2);
      k2.close();
    } finally {
      await any.stop();
    }
  });
}
