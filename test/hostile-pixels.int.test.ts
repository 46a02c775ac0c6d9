/**
 * Instances whose pixel data could never be processed are refused at ingest with their reason
 * (C000), instead of being acknowledged and dead-lettered later: native pixel data shorter than
 * the geometry, and a compressed first fragment that is not of its transfer syntax. Real files of
 * every compressed family are still accepted.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { BufferSource } from '../src/dicom/byte-source.ts';
import { putElement } from '../src/dicom/dataset.ts';
import { Tags } from '../src/dicom/tag.ts';
import { encodePart10 } from '../src/dicom/write.ts';
import { parseGatewayConfig } from '../src/config/gateway-config.ts';
import { type Gateway, startGateway } from '../src/gateway.ts';
import { encodeMultipart } from '../src/net/multipart.ts';
import { PYDICOM, REPO, parse, tempDir } from './helpers.ts';
import { api } from './peers.ts';

let gw: Gateway;
before(async () => { gw = await startGateway(parseGatewayConfig({ dimse: { port: 0 }, http: { port: 0 } }), join(tempDir('custos-pixels-hostile-'), 'data')); });
after(async () => { await gw?.close(); });

async function stowOne(bytes: Buffer): Promise<{ status: number; reason: string }> {
  const { parts, contentType } = encodeMultipart([bytes], 'application/dicom');
  const res = await api(gw)(`${gw.http.url}/dicomweb/studies`, { method: 'POST', headers: { 'content-type': contentType }, body: Buffer.concat(parts) });
  const body = (await res.json()) as Record<string, { Value: Array<Record<string, { Value: unknown[] }>> }>;
  return { status: res.status, reason: String(body['00081198']?.Value[0]?.['00000902']?.Value[0] ?? '') };
}

test('native pixel data shorter than Rows × Columns × frames is refused with DICOM_PIXEL_LENGTH', async () => {
  const path = join(REPO, 'examples', 'synthetic-ct-2.dcm');
  const f = parse(path);
  const source = new BufferSource(readFileSync(path));
  const el = f.dataset.elements.find((e) => e.tag === Tags.PixelData)!;
  const whole = el.value ?? source.read(el.range!.offset, el.range!.length);
  putElement(f.dataset, { tag: Tags.PixelData, vr: el.vr, value: Buffer.from(whole.subarray(0, whole.length / 2)) });
  const r = await stowOne(Buffer.concat(encodePart10(f.meta, f.dataset, f.transferSyntax, source) as Buffer[]));
  assert.equal(r.status, 409);
  assert.match(r.reason, /^DICOM_PIXEL_LENGTH/);
});

test('a JPEG whose first fragment is not JPEG is refused with DICOM_PIXEL_ENCODING', async () => {
  const bytes = Buffer.from(readFileSync(join(PYDICOM, 'SC_rgb_jpeg_dcmtk.dcm')));
  const pixel = bytes.lastIndexOf(Buffer.from([0xe0, 0x7f, 0x10, 0x00]));
  const bot = pixel + 12;
  const first = bot + 8 + bytes.readUInt32LE(bot + 4);
  assert.deepEqual([...bytes.subarray(first + 8, first + 10)], [0xff, 0xd8], 'the sample starts its first fragment with SOI');
  bytes.fill(0, first + 8, first + 10);
  const r = await stowOne(bytes);
  assert.equal(r.status, 409);
  assert.match(r.reason, /^DICOM_PIXEL_ENCODING/);
  const [q] = await gw.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM quarantine WHERE code LIKE 'DICOM_PIXEL_%'`);
  assert.ok(q!.n >= 2);
});

test('a JPEG that begins as JPEG but cannot be decoded is refused with DICOM_PIXEL_ENCODING', async () => {
  const bytes = Buffer.from(readFileSync(join(PYDICOM, 'SC_rgb_jpeg_dcmtk.dcm')));
  const pixel = bytes.lastIndexOf(Buffer.from([0xe0, 0x7f, 0x10, 0x00]));
  const bot = pixel + 12;
  const first = bot + 8 + bytes.readUInt32LE(bot + 4);
  const length = bytes.readUInt32LE(first + 4);
  // SOI kept, everything after it in the first fragment overwritten: the magic check alone passes it.
  bytes.fill(0x5a, first + 10, first + 8 + length);
  const r = await stowOne(bytes);
  assert.equal(r.status, 409);
  assert.match(r.reason, /^DICOM_PIXEL_ENCODING/);
});

test('real instances of every compressed family and native ones are still accepted', async () => {
  for (const name of ['SC_rgb_jpeg_dcmtk.dcm', 'MR_small_jpeg_ls_lossless.dcm', 'JPEG2000.dcm', 'MR_small_RLE.dcm', 'SC_rgb_rle_2frame.dcm', 'CT_small.dcm', 'MR_small.dcm']) {
    const r = await stowOne(readFileSync(join(PYDICOM, name)));
    assert.equal(r.status, 200, `${name}: ${r.reason}`);
  }
});
