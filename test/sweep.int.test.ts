/**
 * PACS sweep against a real Orthanc (DICOMweb and DIMSE): studies pass through the gateway into
 * Orthanc as originals (an internal recipient, purpose TREAT); then, directly in Orthanc, one instance
 * is replaced by a modified copy with the same UIDs, a fake slice is inserted into a recorded series,
 * one instance is deleted and an unrelated study is uploaded. Orthanc listens on every interface: this
 * file re-runs itself in a private network namespace. Synthetic data only.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { generateCT } from '../bench/generate-ct.ts';
import { runCli, tempDir } from './helpers.ts';
import { allowReleases } from './policy-helpers.ts';
import { IN_NETNS, NETNS_FLAG, type GatewayProc, type OrthancPeer, rerunInPrivateNetwork, startGatewayProcess, startOrthanc, storescu, tokenOf, waitFor } from './peers.ts';

if (!IN_NETNS) {
  test('PACS sweep against Orthanc (in a private network namespace)', { timeout: 900_000, skip: !NETNS_FLAG && 'unshare cannot make a network namespace here' }, () => {
    const r = rerunInPrivateNetwork(new URL(import.meta.url).pathname);
    assert.equal(r.status, 0, r.output);
  });
} else {
  const work = tempDir('custos-sweep-');
  const ROOT = '2.25.4242';
  const dataDir = join(work, 'gw');
  let orthanc: OrthancPeer;
  let gw: GatewayProc | undefined;
  // Study ROOT.1.0: slices 1-6 (series ROOT.2.0); study ROOT.1.1: slices 7-10 (series ROOT.2.1).
  const files = generateCT(10, join(work, 'ct'), 6, ROOT);
  const sop = (n: number): string => `${ROOT}.3.${n}`;
  const TAMPERED = sop(3), DELETED = sop(8), INSERTED = `${ROOT}.3.999`;
  const UNRELATED = '2.25.5151';

  const orthancId = async (uid: string): Promise<string> => {
    const found = (await (await fetch(`${orthanc.http}/tools/lookup`, { method: 'POST', body: uid })).json()) as Array<{ ID: string; Type: string }>;
    const hit = found.find((f) => f.Type === 'Instance');
    assert.ok(hit, `Orthanc holds ${uid}`);
    return hit.ID;
  };
  const upload = async (path: string): Promise<void> => {
    const res = await fetch(`${orthanc.http}/instances`, { method: 'POST', body: readFileSync(path) });
    assert.equal(res.status, 200, await res.text());
  };

  before(async () => {
    orthanc = await startOrthanc(join(work, 'orthanc'), 'ORTHANC', { DicomAlwaysAllowFind: true, DicomAlwaysAllowGet: true });
    // The PACS gets the originals, each with a DICOM digital signature added on the way (sign: true).
    gw = await startGatewayProcess(dataDir, {
      recipients: [{ id: 'pacs', purpose: 'TREAT', deid: { profile: 'none' }, sign: true, deliver: { kind: 'stow', url: `${orthanc.http}/dicom-web` } }],
      routes: [{ recipient: 'pacs' }], policy: { purposes: { TREAT: 'opt-out' } }, forwarding: { initialBackoffMs: 200, maxBackoffMs: 2000 },
    });
    await allowReleases(gw.http, tokenOf(dataDir), ['pacs'], ['TREAT']);
    const sent = await storescu(gw.dimsePort, 'CUSTOS', files);
    assert.equal(sent.status, 0, sent.output);
    await waitFor('the originals in Orthanc', async () => ((await (await fetch(`${orthanc.http}/instances`)).json()) as string[]).length === 10 || undefined, 120_000);
    await gw.stop();
    gw = undefined;

    // Replaced: the same UIDs, one pixel changed.
    const tampered = join(work, 'tampered.dcm');
    const bytes = readFileSync(files[2]!);
    bytes[bytes.length - 100] = bytes[bytes.length - 100]! ^ 0x01;
    writeFileSync(tampered, bytes);
    assert.equal((await fetch(`${orthanc.http}/instances/${await orthancId(TAMPERED)}`, { method: 'DELETE' })).status, 200);
    await upload(tampered);
    // Inserted: a fake slice in the recorded series (a copy of slice 4 under a new SOP Instance UID, pixels changed).
    const fake = join(work, 'fake.dcm');
    copyFileSync(files[3]!, fake);
    const m = spawnSync('dcmodify', ['-nb', '-i', `(0008,0018)=${INSERTED}`, '-i', '(0020,0013)=11', fake], { encoding: 'utf8' });
    assert.equal(m.status, 0, m.stderr);
    const fb = readFileSync(fake);
    fb[fb.length - 50] = fb[fb.length - 50]! ^ 0x02;
    writeFileSync(fake, fb);
    await upload(fake);
    // Deleted; and a study the gateway never saw.
    assert.equal((await fetch(`${orthanc.http}/instances/${await orthancId(DELETED)}`, { method: 'DELETE' })).status, 200);
    for (const f of generateCT(2, join(work, 'unrelated'), 2, UNRELATED)) await upload(f);
  });
  after(async () => {
    await gw?.stop();
    await orthanc?.stop();
  });

  interface Finding { status: string; sopInstanceUID: string; studyInstanceUID: string; reason: string; index?: number }
  const sweep = (args: string[]): { status: number; findings: Finding[]; summary: { counts: Record<string, number>; fetched: number }; output: string } => {
    const r = runCli(['sweep', ...args, '--json', '--data-dir', dataDir]);
    const lines = r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    const summary = lines.find((l) => 'summary' in l)?.summary as { counts: Record<string, number>; fetched: number };
    assert.ok(summary, r.stdout + r.stderr);
    return { status: r.status ?? -1, findings: lines.filter((l) => !('summary' in l)) as unknown as Finding[], summary, output: r.stdout + r.stderr };
  };
  const byStatus = (fs: Finding[]): Record<string, string[]> => {
    const out: Record<string, string[]> = {};
    for (const f of fs) (out[f.status] ??= []).push(f.sopInstanceUID);
    for (const l of Object.values(out)) l.sort();
    return out;
  };
  const expected = {
    authentic: [1, 2, 4, 5, 6, 7, 9, 10].map(sop).sort(),
    tampered: [TAMPERED], inserted: [INSERTED], missing: [DELETED],
    unknown: [`${UNRELATED}.3.1`, `${UNRELATED}.3.2`],
  };

  test('sweep over DICOMweb: exactly the replaced instance is tampered, the fake inserted, the deleted missing, the unrelated study unknown; the rest authentic', { timeout: 300_000 }, () => {
    const r = sweep(['--dicomweb', `${orthanc.http}/dicom-web`]);
    assert.deepEqual(byStatus(r.findings), expected, r.output);
    assert.equal(r.status, 1, 'tampered, inserted or missing: exit status 1');
    const t = r.findings.find((f) => f.status === 'tampered')!;
    assert.match(t.reason, /frame 1 differ/);
    assert.equal(r.summary.fetched, 9, 'every recorded instance listed is fetched in full mode');
  });

  test('what the gateway sent the PACS carries a DICOM signature that dcmsign verifies with the gateway\'s certificate', async () => {
    const signed = join(work, 'from-orthanc.dcm');
    writeFileSync(signed, Buffer.from(await (await fetch(`${orthanc.http}/instances/${await orthancId(sop(1))}/file`)).arrayBuffer()));
    const r = spawnSync('dcmsign', ['--verify', '+cf', join(dataDir, 'keys', 'dicom-signing-cert.pem'), signed], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout + r.stderr, /Signature Verification : OK/);
  });

  test('sweep over DIMSE (C-FIND, C-GET): the same findings', { timeout: 300_000 }, () => {
    const r = sweep(['--dimse', `${orthanc.aeTitle}@127.0.0.1:${orthanc.dicomPort}`]);
    assert.deepEqual(byStatus(r.findings), expected, r.output);
    assert.equal(r.summary.fetched, 9);
  });

  test('sweep metadata only: nothing fetched, so the replaced copy is only present; inserted, missing and unknown still found', { timeout: 300_000 }, () => {
    const r = sweep(['--dicomweb', `${orthanc.http}/dicom-web`, '--metadata-only']);
    const s = byStatus(r.findings);
    assert.equal(r.summary.fetched, 0);
    assert.deepEqual(s.present, [...expected.authentic, TAMPERED].sort());
    assert.deepEqual([s.inserted, s.missing, s.unknown], [expected.inserted, expected.missing, expected.unknown]);
  });

  test('sweep one study by UID, sampled: at least one instance of each series is fetched', { timeout: 300_000 }, () => {
    const r = sweep(['--dimse', `${orthanc.aeTitle}@127.0.0.1:${orthanc.dicomPort}`, '--study', `${ROOT}.1.1`, '--sample', '1%']);
    assert.equal(r.summary.fetched, 1);
    assert.deepEqual(byStatus(r.findings).missing, [DELETED]);
    assert.equal(r.findings.length, 4);
  });

  test('a scheduled sweep in the gateway: run through the API, its alerts listed, audited and acknowledged', { timeout: 300_000 }, async () => {
    gw = await startGatewayProcess(dataDir, {
      recipients: [{ id: 'pacs', purpose: 'TREAT', deid: { profile: 'none' }, deliver: { kind: 'stow', url: `${orthanc.http}/dicom-web` } }],
      routes: [{ recipient: 'pacs' }], policy: { purposes: { TREAT: 'opt-out' } },
      sweeps: [{ id: 'pacs-web', source: { kind: 'dicomweb', url: `${orthanc.http}/dicom-web` }, mode: 'full', intervalMinutes: 1440 }],
    });
    const api = gw.api;
    assert.equal((await api(`${gw.http}/api/sweeps/nonesuch/run`, { method: 'POST' })).status, 404);
    const started = await api(`${gw.http}/api/sweeps/pacs-web/run`, { method: 'POST' });
    assert.equal(started.status, 202);
    const { id } = (await started.json()) as { id: number };
    type Run = { id: number; outcome: string; summary: { counts: Record<string, number> } | null };
    const run = await waitFor('the sweep to finish', async () => {
      const { runs } = (await (await api(`${gw!.http}/api/sweeps`)).json()) as { runs: Run[] };
      const r = runs.find((x) => x.id === id);
      return r && r.outcome !== 'running' ? r : undefined;
    }, 120_000);
    assert.equal(run.outcome, 'done');
    assert.deepEqual({ ...run.summary!.counts }, { authentic: 8, derived: 0, tampered: 1, inserted: 1, missing: 1, unknown: 2, present: 0, unreadable: 0 });
    type Alert = { id: number; status: string; sopInstanceUid: string };
    const alerts = (await (await api(`${gw.http}/api/alerts`)).json()) as Alert[];
    assert.deepEqual(alerts.map((a) => `${a.status} ${a.sopInstanceUid}`).sort(), [`inserted ${INSERTED}`, `missing ${DELETED}`, `tampered ${TAMPERED}`]);
    const findings = (await (await api(`${gw.http}/api/sweeps/${id}/findings`)).json()) as Alert[];
    assert.equal(findings.filter((f) => f.status === 'unknown').length, 2);
    assert.equal(((await (await api(`${gw.http}/api/metrics`)).json()) as { openIntegrityAlerts: number }).openIntegrityAlerts, 3);
    const ack = await api(`${gw.http}/api/alerts/${alerts[0]!.id}/acknowledge`, { method: 'POST' });
    assert.equal(ack.status, 200);
    assert.equal(((await (await api(`${gw.http}/api/alerts`)).json()) as Alert[]).length, 2);
    assert.equal((await api(`${gw.http}/api/alerts/${alerts[0]!.id}/acknowledge`, { method: 'POST' })).status, 404, 'acknowledged once');
    // Each alerting finding is an audit event (subtype verify, outcome 4: minor failure).
    const events = (await (await api(`${gw.http}/fhir/AuditEvent?subtype=verify&outcome=4`)).json()) as { entry?: unknown[] };
    assert.equal(events.entry?.length, 3, JSON.stringify(events).slice(0, 500));
    // An audit export carries the log's latest checkpoint (a copy kept outside the log directory).
    const exported = await api(`${gw.http}/fhir/AuditEvent?_format=ndjson`);
    assert.match(Buffer.from(exported.headers.get('x-custos-log-checkpoint') ?? '', 'base64').toString('utf8'), /^\S+\n\d+\n[A-Za-z0-9+/=]{44}\n\n\u2014 /);
    await gw.stop();
    gw = undefined;
  });

  test('sweep: a wrong address is a usage error; an unreachable archive is SWEEP_SOURCE_FAILED', () => {
    assert.equal(runCli(['sweep', '--dimse', 'nonsense', '--data-dir', dataDir]).status, 2);
    const r = runCli(['sweep', '--dicomweb', 'http://127.0.0.1:9/dicom-web', '--data-dir', dataDir]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /SWEEP_SOURCE_FAILED/);
  });
}
