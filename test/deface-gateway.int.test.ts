/**
 * The gateway defaces for a recipient whose profile asks for clean-recognizable-visual-features: a
 * CT series waits until it has all arrived, is defaced once, each instance is released with the
 * defaced voxels (113102); the console's API lists the defacing and
 * serves the renderings (the one before, showing the face, only with originals:read).
 * Synthetic phantom, real gateway, storescu; the recipient is this gateway itself over STOW-RS.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { L, headLabel, writePhantom } from '../bench/head-phantom.ts';
import { BufferSource } from '../src/dicom/byte-source.ts';
import { asciiValue, findElement } from '../src/dicom/dataset.ts';
import { pixelDescription } from '../src/dicom/frames.ts';
import { frameGeometries } from '../src/dicom/geometry.ts';
import { readDicom } from '../src/dicom/read.ts';
import { tag } from '../src/dicom/tag.ts';
import { parseGatewayConfig } from '../src/config/gateway-config.ts';
import { startGateway } from '../src/gateway.ts';
import { decodedFrames } from '../src/pipeline/clean-pixels.ts';
import type { Vec3 } from '../src/deid/volume.ts';
import { tempDir } from './helpers.ts';
import { authed, storescu, tokenOf, waitFor } from './peers.ts';
import { allowReleases } from './policy-helpers.ts';

/** One instance by WADO-RS (the part of a multipart/related answer). */
async function retrieve(api: typeof fetch, base: string, study: string, series: string, sop: string): Promise<Buffer> {
  const res = await api(`${base}/dicomweb/studies/${study}/series/${series}/instances/${sop}`, { headers: { accept: 'multipart/related; type="application/dicom"' } });
  assert.equal(res.status, 200);
  const body = Buffer.from(await res.arrayBuffer());
  const boundary = /boundary="?([^";]+)"?/.exec(res.headers.get('content-type')!)![1]!;
  const start = body.indexOf('\r\n\r\n') + 4;
  const end = body.indexOf(`\r\n--${boundary}`, start);
  return body.subarray(start, end);
}

test('gateway: a head CT series waits until complete, is defaced once and released with 113102; renderings served to those allowed', { timeout: 180_000 }, async () => {
  const work = tempDir('custos-defacegw-');
  const files = writePhantom(join(work, 'in'), { modality: 'CT', acquisition: 'axial', size: 96, pixelMm: 2.5, slices: 64, sliceMm: 4, root: '2.25.7701' });
  const gw = await startGateway(parseGatewayConfig({
    dimse: { port: 0 }, http: { port: 0 }, policy: { purposes: { HRESCH: 'opt-out' } }, forwarding: { initialBackoffMs: 200, maxBackoffMs: 1000 },
    defacing: { quietSeconds: 2, maxWaitSeconds: 120 },
  }), join(work, 'data'));
  try {
    const token = tokenOf(gw.dataDir);
    const api = authed(token);
    const res = await api(`${gw.http.url}/api/recipients/research`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({
      purpose: 'HRESCH', deliver: { kind: 'stow', url: `${gw.http.url}/dicomweb`, headers: { authorization: `Bearer ${token}` } },
      deid: { profile: 'basic', options: ['clean-recognizable-visual-features'] }, match: { source: ['dimse'] },
    }) });
    assert.equal(res.status, 201, await res.text());
    await allowReleases(gw.http.url, token, ['research'], ['HRESCH']);
    // The series in two parts: the first half must wait for the second.
    const first = await storescu(gw.dimse.port, 'CUSTOS', files.slice(0, 32));
    assert.equal(first.status, 0, first.output);
    await new Promise((r) => setTimeout(r, 1000));
    const waiting = await gw.db.query<{ n: number }>("SELECT count(*)::int AS n FROM jobs WHERE recipient = 'research' AND state <> 'done' AND last_error_code = 'SERIES_ARRIVING'");
    assert.ok(waiting[0]!.n > 0, 'jobs wait for the rest of the series');
    const second = await storescu(gw.dimse.port, 'CUSTOS', files.slice(32));
    assert.equal(second.status, 0, second.output);
    const states = await waitFor('every job settled', async () => {
      const rows = await gw.db.query<{ state: string; n: number }>("SELECT state, count(*)::int AS n FROM jobs WHERE recipient = 'research' GROUP BY state");
      return rows.length === 1 && rows[0]!.state === 'done' && rows[0]!.n === 64 ? rows : undefined;
    }, 90_000, 250);
    assert.deepEqual(states, [{ state: 'done', n: 64 }]);
    const reviews = await gw.db.query<{ n: number }>('SELECT count(*)::int AS n FROM defacing_reviews');
    assert.equal(reviews[0]!.n, 1, 'the series was defaced once');

    // What the recipient received (stored back here): the face is air, the brain as it was.
    const back = await gw.db.query<{ study_instance_uid: string; series_instance_uid: string; sop_instance_uid: string }>("SELECT study_instance_uid, series_instance_uid, sop_instance_uid FROM instances WHERE source = 'stow'");
    assert.equal(back.length, 64);
    let face = 0;
    let brain = 0;
    for (const b of back.slice(0, 64)) {
      const bytes = await retrieve(api, gw.http.url, b.study_instance_uid, b.series_instance_uid, b.sop_instance_uid);
      const source = new BufferSource(bytes);
      const file = readDicom(source);
      assert.equal(asciiValue(file.dataset, tag(0x0028, 0x0302)), 'NO');
      assert.ok(findElement(file.dataset, tag(0x0012, 0x0064))!.items!.some((i) => asciiValue(i, tag(0x0008, 0x0100)) === '113102'));
      const d = pixelDescription(file.dataset, true)!;
      const [g] = frameGeometries(file, 1);
      const { frames } = await decodedFrames(file, source, d);
      const values = new Int16Array(new Uint8Array(frames[0]!).buffer);
      const inst = asciiValue(file.dataset, tag(0x0020, 0x0013));
      const orig = readDicom(new BufferSource(Buffer.from(await (await import('node:fs/promises')).readFile(files[Number(inst) - 1]!))));
      const origValues = new Int16Array(new Uint8Array(findElement(orig.dataset, tag(0x7fe0, 0x0010))!.value!).buffer);
      for (let r = 0; r < d.rows; r++) for (let c = 0; c < d.columns; c++) {
        const p: Vec3 = [g!.position![0] + c * 2.5, g!.position![1] + r * 2.5, g!.position![2]];
        const label = headLabel(p);
        if (label === L.nose || label === L.lips || label === L.chin) { face++; assert.equal(values[r * d.columns + c], 24, 'face voxel is air'); }
        if (label === L.brain) { brain++; assert.equal(values[r * d.columns + c], origValues[r * d.columns + c]); }
      }
    }
    assert.ok(face > 50 && brain > 1000, `${face} face and ${brain} brain voxels checked`);

    // The console's API: the report for job readers; the rendering of the face only with originals:read.
    const list = (await (await api(`${gw.http.url}/api/defacing`)).json()) as Array<{ id: number; outcome: string; report: { brainMl: number }; renders: { before: string; after: string } }>;
    assert.equal(list[0]!.outcome, 'defaced');
    assert.ok(list[0]!.report.brainMl > 300);
    const after = await api(`${gw.http.url}${list[0]!.renders.after}`);
    assert.equal(after.status, 200);
    assert.equal(after.headers.get('content-type'), 'image/png');
    assert.equal(Buffer.from(await after.arrayBuffer()).subarray(1, 4).toString('latin1'), 'PNG');
    const operator = await api(`${gw.http.url}/api/tokens`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'operator', role: 'operator', expiresInDays: 1 }) });
    assert.equal(operator.status, 201, await operator.clone().text());
    const opToken = ((await operator.json()) as { token: string }).token;
    assert.equal((await authed(opToken)(`${gw.http.url}${list[0]!.renders.after}`)).status, 200);
    const refused = await authed(opToken)(`${gw.http.url}${list[0]!.renders.before}`);
    assert.equal(refused.status, 403);
    assert.equal((await api(`${gw.http.url}${list[0]!.renders.before}`)).status, 200);
  } finally {
    await gw.close();
  }
});
