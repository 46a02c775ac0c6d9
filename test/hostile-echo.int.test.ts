/**
 * Input text is never echoed into errors: a Transfer Syntax UID carrying a (synthetic) name is
 * described, not quoted, in the STOW-RS answer, the quarantine reason, `custos deid`'s stderr and
 * its receipt.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { BufferSource } from '../src/dicom/byte-source.ts';
import { Tags } from '../src/dicom/tag.ts';
import { encodePart10 } from '../src/dicom/write.ts';
import { parseGatewayConfig } from '../src/config/gateway-config.ts';
import { startGateway } from '../src/gateway.ts';
import { encodeMultipart } from '../src/net/multipart.ts';
import { REPO, parse, runCli, tempDir } from './helpers.ts';
import { api } from './peers.ts';

const NAME = 'DOE^JANE^1957';

function withTextInTransferSyntax(dir: string): string {
  const f = parse(join(REPO, 'examples', 'synthetic-ct-1.dcm'));
  const meta = { elements: f.meta.elements.map((e) => (e.tag === Tags.TransferSyntaxUID ? { ...e, value: Buffer.from(`${NAME} `, 'latin1') } : e)) };
  const out = join(dir, 'ts-with-text.dcm');
  writeFileSync(out, Buffer.concat(encodePart10(meta, f.dataset, f.transferSyntax, new BufferSource(readFileSync(join(REPO, 'examples', 'synthetic-ct-1.dcm')))) as Buffer[]));
  return out;
}

test('a Transfer Syntax UID carrying text is described, never quoted, by the gateway and by custos deid', { timeout: 120_000 }, async () => {
  const work = tempDir('custos-echo-');
  const file = withTextInTransferSyntax(work);
  const r = runCli(['deid', file, '--out', join(work, 'out'), '--data-dir', join(work, 'cli')]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /DICOM_UNSUPPORTED_TRANSFER_SYNTAX/);
  assert.ok(!r.stderr.includes('DOE') && !r.stdout.includes('DOE'), r.stderr);
  assert.ok(!readFileSync(join(work, 'out', 'custos-receipt.json'), 'utf8').includes('DOE'));

  const gw = await startGateway(parseGatewayConfig({ dimse: { port: 0 }, http: { port: 0 } }), join(work, 'data'));
  try {
    const { parts, contentType } = encodeMultipart([readFileSync(file)], 'application/dicom');
    const res = await api(gw)(`${gw.http.url}/dicomweb/studies`, { method: 'POST', headers: { 'content-type': contentType }, body: Buffer.concat(parts) });
    const text = await res.text();
    assert.equal(res.status, 409);
    assert.match(text, /DICOM_UNSUPPORTED_TRANSFER_SYNTAX/);
    assert.ok(!text.includes('DOE'), text);
    const q = await gw.db.query<{ code: string; reason: string }>('SELECT code, reason FROM quarantine');
    assert.equal(q[0]!.code, 'DICOM_UNSUPPORTED_TRANSFER_SYNTAX');
    assert.ok(!q[0]!.reason.includes('DOE'), q[0]!.reason);
    assert.match(q[0]!.reason, /not a UID: 13 characters/);
  } finally {
    await gw.close();
  }
});

test('custos deid names inputs relative to the folder given, or by number and digest with --hide-paths', { timeout: 60_000 }, () => {
  const work = tempDir('custos-paths-');
  const folder = join(work, 'DOE_JANE_1957', 'study');
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, 'broken.dcm'), readFileSync(join(REPO, 'examples', 'synthetic-ct-1.dcm')).subarray(0, 700));
  const plain = runCli(['deid', join(work, 'DOE_JANE_1957'), '--out', join(work, 'out1'), '--data-dir', join(work, 'cli')]);
  assert.equal(plain.status, 1);
  assert.match(plain.stderr, /^failed: study\/broken\.dcm: DICOM_TRUNCATED/m);
  assert.ok(!plain.stderr.includes('DOE_JANE'), plain.stderr);
  const hidden = runCli(['deid', folder, '--hide-paths', '--out', join(work, 'out2'), '--data-dir', join(work, 'cli')]);
  assert.equal(hidden.status, 1);
  assert.match(hidden.stderr, /^failed: input #1 \(sha256 [0-9a-f]{16}\): DICOM_TRUNCATED/m);
  assert.ok(!hidden.stderr.includes('broken.dcm'), hidden.stderr);
});
