/**
 * Hostile HTTP clients on 127.0.0.1: a STOW-RS upload trickling one byte at a time is cut off, an
 * idle connection is closed, and 10,000 tiny parts in one request are refused whole (413), with
 * nothing quarantined. A good sender is served meanwhile.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { type Socket, connect } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parseGatewayConfig } from '../src/config/gateway-config.ts';
import { type Gateway, startGateway } from '../src/gateway.ts';
import { encodeMultipart } from '../src/net/multipart.ts';
import { REPO, tempDir } from './helpers.ts';
import { api, tokenOf } from './peers.ts';

let gw: Gateway;
before(async () => {
  gw = await startGateway(parseGatewayConfig({
    dimse: { port: 0 }, http: { port: 0, minBytesPerSecond: 1024, slowRequestGraceSeconds: 1, idleSeconds: 1, maxStowParts: 100 },
  }), join(tempDir('custos-http-hostile-'), 'data'));
});
after(async () => { await gw?.close(); });

const port = (): number => Number(new URL(gw.http.url).port);
const closed = (s: Socket): Promise<number> => new Promise((resolve) => { const t0 = Date.now(); s.on('error', () => undefined); s.once('close', () => resolve(Date.now() - t0)); });

test('a STOW-RS upload trickling below the minimum rate is cut off, while a good sender is served', { timeout: 30_000 }, async () => {
  const s = connect(port(), '127.0.0.1');
  await new Promise((r) => s.once('connect', r));
  const gone = closed(s);
  s.write(`POST /dicomweb/studies HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${tokenOf(gw.dataDir)}\r\nContent-Type: multipart/related; type="application/dicom"; boundary=x\r\nContent-Length: 1000000\r\n\r\n`);
  const drip = setInterval(() => { if (!s.destroyed) s.write('x'); }, 100);
  const { parts, contentType } = encodeMultipart([readFileSync(join(REPO, 'examples', 'synthetic-ct-1.dcm'))], 'application/dicom');
  const t0 = Date.now();
  const good = await api(gw)(`${gw.http.url}/dicomweb/studies`, { method: 'POST', headers: { 'content-type': contentType }, body: Buffer.concat(parts) });
  assert.equal(good.status, 200);
  assert.ok(Date.now() - t0 < 2_000, 'the good sender waited');
  const after = await Promise.race([gone, new Promise<number>((r) => setTimeout(() => r(-1), 8_000))]);
  clearInterval(drip);
  assert.ok(after > 0, 'the trickling upload was never cut off');
});

test('a connection that sends nothing is closed', { timeout: 30_000 }, async () => {
  const s = connect(port(), '127.0.0.1');
  await new Promise((r) => s.once('connect', r));
  const after = await Promise.race([closed(s), new Promise<number>((r) => setTimeout(() => r(-1), 8_000))]);
  assert.ok(after > 0, 'an idle connection stayed open');
});

test('a STOW-RS request with more parts than allowed is refused whole, before anything is stored or quarantined', { timeout: 30_000 }, async () => {
  const { parts, contentType } = encodeMultipart(Array.from({ length: 10_000 }, (_, i) => Buffer.from(`junk ${i}`)), 'application/dicom');
  const res = await api(gw)(`${gw.http.url}/dicomweb/studies`, { method: 'POST', headers: { 'content-type': contentType }, body: Buffer.concat(parts) });
  assert.equal(res.status, 413);
  assert.equal(((await res.json()) as { error: string }).error, 'MULTIPART_TOO_MANY_PARTS');
  const [q] = await gw.db.query<{ n: number }>('SELECT count(*)::int AS n FROM quarantine');
  assert.equal(q!.n, 0);
});

test('a multipart error does not echo the request\'s text', async () => {
  const res = await api(gw)(`${gw.http.url}/dicomweb/studies`, { method: 'POST', headers: { 'content-type': 'multipart/related; type="application/dicom"; boundary=DOE^JOHN-1957' }, body: 'no parts at all' });
  assert.equal(res.status, 400);
  const text = await res.text();
  assert.ok(!text.includes('DOE^JOHN'), text);
});

test('the quarantine keeps rejected input up to its budget; past it only the rows are recorded', { timeout: 60_000 }, async () => {
  const small = await startGateway(parseGatewayConfig({ dimse: { port: 0 }, http: { port: 0 }, quarantine: { maxMiB: 1 } }), join(tempDir('custos-quarantine-budget-'), 'data'));
  try {
    const junk = Array.from({ length: 4 }, (_, i) => Buffer.alloc(400 * 1024, i + 1)); // not DICOM: each quarantined
    const { parts, contentType } = encodeMultipart(junk, 'application/dicom');
    const res = await api(small)(`${small.http.url}/dicomweb/studies`, { method: 'POST', headers: { 'content-type': contentType }, body: Buffer.concat(parts) });
    assert.equal(res.status, 409);
    const q = (await (await api(small)(`${small.http.url}/api/quarantine`)).json()) as Array<{ id: number; kept: boolean; bytes: number; code: string }>;
    assert.equal(q.length, 4, 'every rejection has its row');
    assert.deepEqual(q.sort((a, b) => a.id - b.id).map((x) => x.kept), [true, true, false, false]);
    const kept = readdirSync(join(small.dataDir, 'blobs'), { recursive: true }).filter((f) => String(f).startsWith('quarantine/') && !String(f).endsWith('/'));
    assert.equal(kept.length, 2, `blobs kept: ${kept.join(', ')}`);
  } finally {
    await small.close();
  }
});
