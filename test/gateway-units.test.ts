/** Pure parts of the gateway: routing, multipart framing, presentation context choices, envelope encryption, backoff. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parseGatewayConfig } from '../src/config/gateway-config.ts';
import { chooseTransferSyntax } from '../src/net/negotiation.ts';
import { isStorageSopClass } from '../src/dicom/sop-classes.ts';
import { contentTypeParams, encodeMultipart, parseMultipart } from '../src/net/multipart.ts';
import { backoffMs } from '../src/pipeline/job-settlement.ts';
import { recipientsFor } from '../src/policy/routing.ts';
import { openBlob, sealBlob, unwrapKey, wrapKey } from '../src/store/data-keys.ts';

const CT = '1.2.840.10008.5.1.4.1.1.2';
const facts = { Modality: 'CT', BodyPartExamined: 'HEAD', SOPClassUID: CT, callingAeTitle: 'SCANNER1', source: 'dimse' as const };

test('routing: every criterion of a route must match; each list is any-of; a recipient appears once', () => {
  const routes = parseGatewayConfig({
    policy: { purposes: { TREATDS: 'opt-out' } },
    recipients: ['a', 'b', 'c', 'd'].map((id) => ({ id, purpose: 'TREATDS', deliver: { kind: 'stow', url: 'http://127.0.0.1:1/dicomweb' } })),
    routes: [
      { recipient: 'a', match: { modality: ['ct', 'MR'], bodyPart: ['HEAD'] } },
      { recipient: 'b', match: { modality: ['MR'] } },
      { recipient: 'c', match: { callingAeTitle: ['SCANNER1'], sopClassUid: [CT] } },
      { recipient: 'a' },
      { recipient: 'd', match: { source: ['stow'] } },
    ],
  }).routes;
  assert.deepEqual(recipientsFor(routes, facts), ['a', 'c']);
  assert.deepEqual(recipientsFor(routes, { ...facts, Modality: 'MR', callingAeTitle: null, source: 'stow' }), ['a', 'b', 'd']);
  assert.deepEqual(recipientsFor([], facts), []);
});

test('multipart/related: what is encoded parses back, binary-safe', () => {
  const bodies = [randomBytes(1000), Buffer.from('--not-a-boundary\r\n\r\n'), Buffer.alloc(0)];
  const { parts, contentType } = encodeMultipart(bodies, 'application/dicom');
  const { mediaType, params } = contentTypeParams(contentType);
  assert.equal(mediaType, 'multipart/related');
  assert.equal(params.type, 'application/dicom');
  const back = parseMultipart(Buffer.concat(parts), params.boundary!);
  assert.deepEqual(back.map((p) => p.body), bodies);
  assert.equal(back[0]!.headers['content-type'], 'application/dicom');
  assert.throws(() => parseMultipart(Buffer.from('garbage'), 'x'), { code: 'MULTIPART_MALFORMED', message: /does not contain the boundary/ });
  assert.throws(() => parseMultipart(Buffer.concat(encodeMultipart([Buffer.from('a'), Buffer.from('b'), Buffer.from('c')], 'application/dicom', 'b0').parts), 'b0', 2), (e: Error & { code?: string }) => e.code === 'MULTIPART_TOO_MANY_PARTS');
});

test('presentation contexts: storage classes by UID, compressed syntaxes kept, unknown syntaxes refused', () => {
  assert.ok(isStorageSopClass(CT));
  assert.ok(isStorageSopClass('1.2.840.10008.5.1.4.1.1.481.2')); // RT Dose
  assert.ok(isStorageSopClass('1.2.840.10008.5.1.4.1.1.9.1.1')); // 12-lead ECG
  assert.ok(!isStorageSopClass('1.3.12.2.1107.5.9.1')); // a private SOP class: refused unless configured
  assert.ok(isStorageSopClass('1.3.12.2.1107.5.9.1', new Set(['1.3.12.2.1107.5.9.1'])));
  assert.ok(!isStorageSopClass('1.2.840.10008.5.1.4.1.2.2.1')); // Study Root Q/R FIND
  assert.ok(!isStorageSopClass('1.2.840.10008.5.1.4.31')); // Modality Worklist
  assert.equal(chooseTransferSyntax(['1.2.840.10008.1.2', '1.2.840.10008.1.2.1']), '1.2.840.10008.1.2.1');
  assert.equal(chooseTransferSyntax(['1.2.840.10008.1.2.1', '1.2.840.10008.1.2.4.80']), '1.2.840.10008.1.2.4.80');
  assert.equal(chooseTransferSyntax(['1.2.3.4']), undefined);
});

test('envelope encryption: data keys wrapped by the master key; a moved, altered or rewrapped blob fails', () => {
  const master = randomBytes(32);
  const dataKey = randomBytes(32);
  const wrapped = wrapKey(master, dataKey, 'p1');
  assert.ok(unwrapKey(master, wrapped, 'p1').equals(dataKey));
  assert.throws(() => unwrapKey(master, wrapped, 'p2'), { code: 'STORE_CORRUPT' });
  assert.throws(() => unwrapKey(randomBytes(32), wrapped, 'p1'), { code: 'STORE_CORRUPT' });
  const plain = randomBytes(5000);
  const sealed = Buffer.concat(sealBlob(dataKey, [plain.subarray(0, 10), plain.subarray(10)], 'instances/ab/x'));
  assert.ok(openBlob(dataKey, sealed, 'instances/ab/x').equals(plain));
  assert.throws(() => openBlob(dataKey, sealed, 'instances/ab/y'), { code: 'STORE_CORRUPT' });
  sealed[sealed.length - 1]! ^= 1;
  assert.throws(() => openBlob(dataKey, sealed, 'instances/ab/x'), { code: 'STORE_CORRUPT' });
});

test('backoff grows exponentially from the initial delay, capped, with bounded jitter', () => {
  const f = parseGatewayConfig({ forwarding: { initialBackoffMs: 1000, maxBackoffMs: 10_000 } }).forwarding;
  for (let i = 0; i < 50; i++) {
    const d1 = backoffMs(1, f);
    assert.ok(d1 >= 800 && d1 <= 1200);
    const d3 = backoffMs(3, f);
    assert.ok(d3 >= 3200 && d3 <= 4800);
    assert.ok(backoffMs(20, f) <= 12_000);
  }
});

test('the example configuration in docs/ is valid', async () => {
  const { loadGatewayConfig } = await import('../src/config/gateway-config.ts');
  const c = loadGatewayConfig(new URL('../docs/gateway.example.yaml', import.meta.url).pathname);
  assert.deepEqual(c.recipients.map((r) => r.id), ['ai-vendor', 'research-pacs']);
});

test('C-STORE failures a retry cannot cure are permanent: A9xx, Cxxx, 0117, 0122 (SOP class not supported), 0124 (not authorized); A7xx and 0110 are retried', async () => {
  const { permanentStatus } = await import('../src/net/dimse-scu.ts');
  for (const s of [0xa900, 0xa9ff, 0xc000, 0xc123, 0x0117, 0x0122, 0x0124]) assert.equal(permanentStatus(s), true, s.toString(16));
  for (const s of [0xa700, 0xa7ff, 0x0110, 0x0000, 0xb000]) assert.equal(permanentStatus(s), false, s.toString(16));
});

test('the dcmjs-dimse release is pinned, and the gateway refuses a release lacking a member it replaces', async () => {
  const { DIMSE_LIBRARY_VERSION, missingLibraryMembers } = await import('../src/net/dimse-lib.ts');
  const dimse = (await import('dcmjs-dimse')).default as unknown as Parameters<typeof missingLibraryMembers>[0];
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { dependencies: Record<string, string> };
  assert.equal(pkg.dependencies['dcmjs-dimse'], DIMSE_LIBRARY_VERSION, 'an exact version, not a range');
  assert.deepEqual(missingLibraryMembers(dimse), [], 'the installed library has every member the overrides need');
  // A patch release that renamed one private method: named, not silently ignored.
  class Network { _sendPDataTF(): void {} createStoreWritableStream(): void {} createDatasetFromStoreWritableStream(): void {} }
  class Scp extends Network {}
  const changed = { version: DIMSE_LIBRARY_VERSION, Dataset: dimse.Dataset, Transcoding: dimse.Transcoding, Scp };
  assert.deepEqual(missingLibraryMembers(changed), ['Network.prototype._performDimse']);
  assert.deepEqual(missingLibraryMembers({ ...changed, version: '0.3.4', Scp: dimse.Scp }), ['version 0.3.3 (found 0.3.4)']);
  // The private fields read on a live SCP: checked on first use; a renamed one is refused, not misread.
  const { RECEIVING_FIELDS, receivingState } = await import('../src/net/dimse-lib.ts');
  const live = Object.fromEntries(RECEIVING_FIELDS.map((f) => [f, undefined]));
  assert.equal(receivingState(live), live);
  const { dimseStoreStream: _renamed, ...older } = live;
  assert.throws(() => receivingState(older), { code: 'DIMSE_LIBRARY_CHANGED', message: /dimseStoreStream/ });
});
