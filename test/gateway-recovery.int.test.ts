/**
 * Ingest when the same instance arrives several times at once, and the work loop's hand-over after a
 * restart (instances stored but not yet logged are read from the database once, on start).
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseGatewayConfig } from '../src/config/gateway-config.ts';
import { startGateway } from '../src/gateway.ts';
import { encodeMultipart } from '../src/net/multipart.ts';
import { openDatabase } from '../src/store/database.ts';
import { REPO, tempDir } from './helpers.ts';
import { waitFor } from './peers.ts';

const EXAMPLE = readFileSync(join(REPO, 'examples', 'synthetic-ct-1.dcm'));
const config = () => parseGatewayConfig({ dimse: { port: 0 }, http: { port: 0 } });

const stow = async (url: string, bodies: Buffer[]): Promise<number> => {
  const { parts, contentType } = encodeMultipart(bodies, 'application/dicom');
  const res = await fetch(`${url}/dicomweb/studies`, { method: 'POST', headers: { 'content-type': contentType }, body: Buffer.concat(parts) });
  await res.arrayBuffer();
  return res.status;
};

const blobFiles = (dataDir: string): string[] => readdirSync(join(dataDir, 'blobs', 'instances'), { recursive: true, withFileTypes: true })
  .filter((d) => d.isFile()).map((d) => join(d.parentPath, d.name));

test('the same instance sent twice at once is stored once and acknowledged twice', async () => {
  const dataDir = join(tempDir('custos-rec-'), 'data');
  const gw = await startGateway(config(), dataDir);
  try {
    const statuses = await Promise.all([stow(gw.http.url, [EXAMPLE]), stow(gw.http.url, [EXAMPLE]), stow(gw.http.url, [EXAMPLE])]);
    assert.deepEqual(statuses, [200, 200, 200]);
    assert.equal((await gw.db.query('SELECT id FROM instances')).length, 1);
    assert.equal(blobFiles(dataDir).length, 1, 'the copies not kept leave no blob behind');
    const kinds = (await gw.db.query<{ kind: string }>('SELECT kind FROM events ORDER BY id')).map((e) => e.kind);
    assert.equal(kinds.filter((k) => k === 'instance.duplicate').length, 2);
  } finally {
    await gw.close();
  }
});

test('an instance stored but not yet logged when the gateway stopped is logged after the restart', async () => {
  const dataDir = join(tempDir('custos-rec-'), 'data');
  let gw = await startGateway(config(), dataDir);
  assert.equal(await stow(gw.http.url, [EXAMPLE]), 200);
  const [row] = await gw.db.query<{ id: number }>('SELECT id FROM instances');
  await gw.close();
  // What a crash after the acknowledgement and before the work loop's log step leaves.
  const db = await openDatabase({ dir: join(dataDir, 'db') });
  await db.query('UPDATE instances SET log_index = NULL WHERE id = $1', [row!.id]);
  await db.close();

  gw = await startGateway(config(), dataDir);
  try {
    const index = await waitFor('the instance to be logged', async () => {
      const [r] = await gw.db.query<{ log_index: number | null }>('SELECT log_index FROM instances WHERE id = $1', [row!.id]);
      return r?.log_index === null || r?.log_index === undefined ? undefined : Number(r.log_index);
    });
    assert.ok(index >= 0);
  } finally {
    await gw.close();
  }
});
