/**
 * The gateway applies an agreement's re-identification risk threshold (docs/risk.md): journalist
 * risk against the hospital's own population (keyed counts kept at ingest); a patient unique in it
 * is withheld (REIDENTIFICATION_RISK, with the drivers) or, where the agreement allows it,
 * generalized until the threshold is met. Synthetic cohort, real gateway, storescu, STOW-RS.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { BufferSource } from '../src/dicom/byte-source.ts';
import { putElement } from '../src/dicom/dataset.ts';
import { writeChunksAtomic } from '../src/dicom/file-io.ts';
import { readDicom } from '../src/dicom/read.ts';
import { Tags, tag } from '../src/dicom/tag.ts';
import { encodePart10 } from '../src/dicom/write.ts';
import { parseGatewayConfig } from '../src/config/gateway-config.ts';
import { startGateway } from '../src/gateway.ts';
import { REPO, tempDir } from './helpers.ts';
import { authed, storescu, tokenOf, waitFor } from './peers.ts';
import { allowReleases } from './policy-helpers.ts';
import { stow } from './stow.ts';

const SAMPLE = join(REPO, 'examples', 'synthetic-ct-1.dcm');

function writeInstance(dir: string, name: string, r: { patient: string; age: string; sex: string; weight: string; n: number }): string {
  mkdirSync(dir, { recursive: true });
  const src = new BufferSource(readFileSync(SAMPLE));
  const base = readDicom(src);
  const text = (t: number, vr: 'LO' | 'AS' | 'CS' | 'DS' | 'UI', v: string) => ({ tag: t, vr, value: Buffer.from(v.length % 2 ? v + (vr === 'UI' ? '\0' : ' ') : v, 'latin1') });
  const ds = { elements: [...base.dataset.elements] };
  for (const el of [
    text(Tags.PatientID, 'LO', r.patient), text(tag(0x0010, 0x1010), 'AS', r.age), text(tag(0x0010, 0x0040), 'CS', r.sex), text(tag(0x0010, 0x1030), 'DS', r.weight),
    text(Tags.StudyInstanceUID, 'UI', `2.25.88.1.${r.n}`), text(Tags.SeriesInstanceUID, 'UI', `2.25.88.2.${r.n}`), text(Tags.SOPInstanceUID, 'UI', `2.25.88.3.${r.n}`),
  ]) putElement(ds, el);
  const path = join(dir, `${name}.dcm`);
  writeChunksAtomic(path, encodePart10(base.meta, ds, base.transferSyntax, src), src);
  return path;
}

test('gateway risk threshold: a patient unique in the hospital population is withheld (REIDENTIFICATION_RISK), or generalized where the agreement allows; common ones are released', { timeout: 180_000 }, async () => {
  const work = tempDir('custos-riskgw-');
  const gw = await startGateway(parseGatewayConfig({ dimse: { port: 0 }, http: { port: 0 }, policy: { purposes: { HRESCH: 'opt-out' } }, forwarding: { initialBackoffMs: 200, maxBackoffMs: 1000 } }), join(work, 'data'));
  try {
    const token = tokenOf(gw.dataDir);
    const api = authed(token);
    // Two research recipients delivering back into this gateway over STOW-RS (not routed again: they take DIMSE arrivals only).
    for (const id of ['research', 'research-gen']) {
      const res = await api(`${gw.http.url}/api/recipients/${id}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({
        purpose: 'HRESCH', deliver: { kind: 'stow', url: `${gw.http.url}/dicomweb`, headers: { authorization: `Bearer ${token}` } },
        deid: { profile: 'basic', options: ['retain-patient-characteristics'] }, match: { source: ['dimse'] },
      }) });
      assert.equal(res.status, 201, await res.text());
    }
    const minimumDeid = { profile: 'basic', options: ['retain-patient-characteristics'], key: 'recipient' };
    await allowReleases(gw.http.url, token, ['research'], ['HRESCH'], { maxRisk: 0.5, minimumDeid });
    await allowReleases(gw.http.url, token, ['research-gen'], ['HRESCH'], { maxRisk: 0.5, allowGeneralization: true, minimumDeid });
    // The population: four 40-year-old women of 70 kg, stored but not routed (STOW-RS).
    const pop = Array.from({ length: 4 }, (_, i) => readFileSync(writeInstance(join(work, 'pop'), `p${i}`, { patient: `SYN-A${i}`, age: '040Y', sex: 'F', weight: '70', n: i })));
    assert.equal(await stow(gw.http.url, pop, token), 200);
    await waitFor('the population counted', async () => ((await gw.db.query<{ n: number }>('SELECT count(*)::int AS n FROM risk_population'))[0]!.n >= 4) || undefined);
    // Released to both: one more like them, and the only 67-year-old.
    const common = writeInstance(join(work, 'send'), 'common', { patient: 'SYN-A4', age: '040Y', sex: 'F', weight: '70', n: 10 });
    const unique = writeInstance(join(work, 'send'), 'unique', { patient: 'SYN-U0', age: '067Y', sex: 'F', weight: '70', n: 11 });
    const sent = await storescu(gw.dimse.port, 'CUSTOS', [common, unique]);
    assert.equal(sent.status, 0, sent.output);
    type Job = { recipient: string; state: string; instanceId: number; withheldReasons: Array<{ code: string; detail?: string }> | null; releaseBasis?: { risk?: { journalist: number; generalized?: Record<string, number> } } | null };
    const jobs = await waitFor('four jobs settled', async () => {
      const all = (await (await api(`${gw.http.url}/api/jobs?limit=100`)).json()) as Job[];
      const mine = all.filter((j) => j.recipient.startsWith('research'));
      return mine.length === 4 && mine.every((j) => j.state === 'done' || j.state === 'withheld') ? mine : undefined;
    }, 60_000);
    const [commonRow] = await gw.db.query<{ id: number }>("SELECT id FROM instances WHERE sop_instance_uid = '2.25.88.3.10'");
    const [uniqueRow] = await gw.db.query<{ id: number }>("SELECT id FROM instances WHERE sop_instance_uid = '2.25.88.3.11'");
    const job = (recipient: string, instance: number): Job => jobs.find((j) => j.recipient === recipient && Number(j.instanceId) === Number(instance))!;
    assert.equal(job('research', commonRow!.id).state, 'done');
    assert.equal(job('research-gen', commonRow!.id).state, 'done');
    const withheld = job('research', uniqueRow!.id);
    assert.equal(withheld.state, 'withheld');
    assert.equal(withheld.withheldReasons![0]!.code, 'REIDENTIFICATION_RISK');
    assert.match(withheld.withheldReasons![0]!.detail!, /1 in 1 .*driven by PatientAge/);
    const generalized = job('research-gen', uniqueRow!.id);
    assert.equal(generalized.state, 'done', JSON.stringify(generalized));
    // Age was suppressed (bands of 5, 10 and 20 years still single her out); the release basis says so.
    assert.deepEqual(generalized.releaseBasis?.risk?.generalized, { PatientAge: 4 });
    assert.ok(generalized.releaseBasis!.risk!.journalist <= 0.5);
    assert.ok(job('research', commonRow!.id).releaseBasis!.risk!.journalist <= 0.25);
    // What research-gen received (stored back here over STOW-RS): the unique patient without an exact age.
    const back = await gw.db.query<{ id: number }>("SELECT id FROM instances WHERE source = 'stow' AND sop_instance_uid <> ALL($1::text[])", [['2.25.88.3.0', '2.25.88.3.1', '2.25.88.3.2', '2.25.88.3.3']]);
    assert.equal(back.length, 3, 'two releases of the common patient, one generalized of the unique one');
  } finally {
    await gw.close();
  }
});
