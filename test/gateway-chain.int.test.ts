/**
 * Two gateways in a chain, both on 127.0.0.1: the first cleans burned-in text (Clean Pixel Data) and
 * forwards over STOW-RS to the second, which receives like any DICOMweb recipient.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { parseGatewayConfig } from '../src/config/gateway-config.ts';
import { type Gateway, startGateway } from '../src/gateway.ts';
import { encodeMultipart, parseMultipart } from '../src/net/multipart.ts';
import { closeOcr } from '../src/pipeline/ocr.ts';
import { BURNED, independentOcr, renderFrame, writeImage } from './burned-in.ts';
import { tempDir } from './helpers.ts';
import { api, tokenOf, waitFor } from './peers.ts';
import { allowReleases } from './policy-helpers.ts';

const work = tempDir('custos-chain-');
const open: Gateway[] = [];
after(async () => { for (const g of open) await g.close(); await closeOcr(); });

test('an ultrasound with burned-in name and ID goes out cleaned (OCR finds neither) to a DICOMweb recipient', { timeout: 180_000 }, async () => {
  const second = await startGateway(parseGatewayConfig({ dimse: { port: 0 }, http: { port: 0 } }), join(work, 'second'));
  open.push(second);
  // The first gateway sends with a token that may only store (senders are not readers).
  const created = await api(second)(`${second.http.url}/api/tokens`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'first gateway', role: 'sender' }) });
  assert.equal(created.status, 201);
  const senderToken = ((await created.json()) as { token: string }).token;
  const first = await startGateway(parseGatewayConfig({
    dimse: { port: 0 }, http: { port: 0 },
    policy: { purposes: { TREATDS: 'opt-out' } },
    recipients: [{ id: 'vendor', purpose: 'TREATDS', deliver: { kind: 'stow', url: `${second.http.url}/dicomweb`, headers: { authorization: `Bearer ${senderToken}` } }, deid: { options: ['clean-pixel-data'] } }],
    routes: [{ recipient: 'vendor', match: { modality: ['US'] } }],
  }), join(work, 'first'));
  open.push(first);
  await allowReleases(first.http.url, tokenOf(first.dataDir), ['vendor'], ['TREATDS']);

  const us = join(work, 'us.dcm');
  writeImage(us, { frames: [renderFrame(320, 240, [{ text: BURNED.name, x: 10, y: 30, size: 22, color: 'white' }, { text: BURNED.id, x: 150, y: 220, size: 18, color: 'white' }])], rows: 240, columns: 320, sop: '2.25.6006' });
  assert.match(await independentOcr(us, tempDir()), /DOE/, 'the OCR check reads the text in the original');
  const { parts, contentType } = encodeMultipart([readFileSync(us)], 'application/dicom');
  assert.equal((await api(first)(`${first.http.url}/dicomweb/studies`, { method: 'POST', headers: { 'content-type': contentType }, body: Buffer.concat(parts) })).status, 200);

  const job = await waitFor('the job to finish', async () => {
    const [j] = (await (await api(first)(`${first.http.url}/api/jobs`)).json()) as Array<{ state: string; lastError: string | null }>;
    return j && j.state !== 'pending' && j.state !== 'running' ? j : undefined;
  }, 120_000, 250);
  assert.equal(job.state, 'done', JSON.stringify(job));

  const [study] = (await (await api(second)(`${second.http.url}/dicomweb/studies`)).json()) as Array<Record<string, { Value: string[] }>>;
  const res = await api(second)(`${second.http.url}/dicomweb/studies/${study!['0020000D']!.Value[0]}`);
  const boundary = /boundary=([^;]+)/.exec(res.headers.get('content-type')!)![1]!;
  const [received] = parseMultipart(Buffer.from(await res.arrayBuffer()), boundary);
  const out = join(work, 'received.dcm');
  writeFileSync(out, received!.body);
  assert.ok(!received!.body.includes(Buffer.from('DOE^JOHN')) && !received!.body.includes(Buffer.from(BURNED.id)), 'identity left in the header');
  const text = await independentOcr(out, tempDir());
  assert.ok(!text.includes('DOE') && !text.includes(BURNED.id), `burned-in text still readable: ${text}`);
});
