/** The gateway with its blobs in S3-compatible object storage (a real single-node Swift with s3api). */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { parseGatewayConfig } from '../src/config/gateway-config.ts';
import { startGateway } from '../src/gateway.ts';
import { encodeMultipart, parseMultipart } from '../src/net/multipart.ts';
import { REPO, tempDir } from './helpers.ts';
import { SWIFT_AVAILABLE, type Swift, startSwift } from './swift.ts';
import { api } from './peers.ts';

let swift: Swift;
const work = tempDir('custos-s3-');
before(async () => {
  swift = await startSwift(join(work, 'swift'));
  process.env.AWS_ACCESS_KEY_ID = swift.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = swift.secretAccessKey;
});
after(async () => { await swift?.stop(); });

const s3config = (bucket: string) => parseGatewayConfig({ dimse: { port: 0 }, http: { port: 0 }, blobs: { kind: 's3', bucket, endpoint: swift.endpoint, prefix: 'custos/' } });

test('blobs in S3: originals stored encrypted as objects, read back by WADO-RS; a missing bucket stops the start', { skip: !SWIFT_AVAILABLE && 'Swift is not installed' }, async () => {
  await assert.rejects(startGateway(s3config('no-such-bucket'), join(work, 'd0')), { code: 'STORE_UNAVAILABLE', message: /S3 bucket no-such-bucket does not exist/ });
  const client = new S3Client({ region: 'us-east-1', endpoint: swift.endpoint, forcePathStyle: true });
  await client.send(new CreateBucketCommand({ Bucket: 'custos-blobs' }));
  const gw = await startGateway(s3config('custos-blobs'), join(work, 'd1'));
  try {
    const files = readdirSync(join(REPO, 'examples')).filter((f) => f.endsWith('.dcm')).map((f) => readFileSync(join(REPO, 'examples', f)));
    const { parts, contentType } = encodeMultipart([...files, Buffer.from('junk')], 'application/dicom');
    const res = await api(gw)(`${gw.http.url}/dicomweb/studies`, { method: 'POST', headers: { 'content-type': contentType }, body: Buffer.concat(parts) });
    assert.equal(res.status, 202);
    const listed = await client.send(new ListObjectsV2Command({ Bucket: 'custos-blobs', Prefix: 'custos/' }));
    const keys = (listed.Contents ?? []).map((o) => o.Key!);
    assert.equal(keys.filter((k) => k.startsWith('custos/instances/')).length, files.length);
    assert.equal(keys.filter((k) => k.startsWith('custos/quarantine/')).length, 1);
    for (const k of keys) {
      const body = Buffer.from(await (await client.send(new GetObjectCommand({ Bucket: 'custos-blobs', Key: k }))).Body!.transformToByteArray());
      assert.ok(!body.includes(Buffer.from('DICM')) && !body.includes(Buffer.from('junk')), `${k} is stored in clear`);
    }
    const [row] = await gw.db.query<{ study_instance_uid: string }>('SELECT study_instance_uid FROM instances LIMIT 1');
    const wado = await api(gw)(`${gw.http.url}/dicomweb/studies/${row!.study_instance_uid}`);
    assert.equal(wado.status, 200);
    const boundary = /boundary=([^;]+)/.exec(wado.headers.get('content-type')!)![1]!;
    for (const p of parseMultipart(Buffer.from(await wado.arrayBuffer()), boundary)) assert.ok(files.some((f) => f.equals(p.body)));
  } finally {
    await gw.close();
  }
});
