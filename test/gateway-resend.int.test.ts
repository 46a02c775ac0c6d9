/**
 * A resend that arrives after a crash, before the restarted gateway's work loop got to the copy the
 * crash left with an incomplete blob (never acknowledged): ingest replaces that copy instead of
 * taking the resend for a duplicate. A file of its own: each PGlite start in a process is a WebAssembly
 * instance on a thread of its own, and V8 aborted once with more than four in one test process.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseGatewayConfig } from '../src/config/gateway-config.ts';
import { startGateway } from '../src/gateway.ts';
import { ingestInstance } from '../src/pipeline/ingest.ts';
import { FsBlobStore } from '../src/store/blob-store.ts';
import { DataKeys } from '../src/store/data-keys.ts';
import { openDatabase } from '../src/store/database.ts';
import { REPO, tempDir } from './helpers.ts';
import { stow } from './stow.ts';
import { tokenOf } from './peers.ts';

const config = () => parseGatewayConfig({ dimse: { port: 0 }, http: { port: 0 } });
const example = (n: number): Buffer => readFileSync(join(REPO, 'examples', `synthetic-ct-${n}.dcm`));

test('a resend that arrives before the work loop removed its torn copy replaces that copy instead of being taken for a duplicate', async () => {
  const dataDir = join(tempDir('custos-rec-'), 'data');
  const gw = await startGateway(config(), dataDir);
  assert.equal(await stow(gw.http.url, [example(3)], tokenOf(gw.dataDir)), 200);
  const [torn] = await gw.db.query<{ id: number; blob_key: string }>('SELECT id, blob_key FROM instances');
  await gw.close();
  truncateSync(join(dataDir, 'blobs', torn!.blob_key), 100);

  // Ingest on the data directory as a restarted gateway's listener would, before its work loop ran.
  const db = await openDatabase({ dir: join(dataDir, 'db') });
  try {
    await db.query('UPDATE instances SET log_index = NULL WHERE id = $1', [torn!.id]);
    const hex = (name: string): Buffer => Buffer.from(readFileSync(join(dataDir, 'keys', name), 'utf8').trim(), 'hex');
    const deps = { db, blobs: new FsBlobStore(join(dataDir, 'blobs')), keys: new DataKeys(hex('master.key')), deploymentKey: hex('deid.key'), routes: [] };
    const r = await ingestInstance(deps, example(3), { source: 'stow', callingAeTitle: null });
    assert.equal(r.status, 'stored');
    const rows = await db.query<{ id: number }>('SELECT id FROM instances');
    assert.equal(rows.length, 1);
    assert.notEqual(Number(rows[0]!.id), Number(torn!.id));
    assert.equal((await db.query(`SELECT id FROM events WHERE kind = 'instance.discarded' AND instance_id = $1`, [torn!.id])).length, 1);
    assert.ok(!existsSync(join(dataDir, 'blobs', torn!.blob_key)), 'the torn blob is removed');
    // A resend of an instance whose copy is whole is a duplicate, as before.
    assert.equal((await ingestInstance(deps, example(3), { source: 'stow', callingAeTitle: null })).status, 'duplicate');
  } finally {
    await db.close();
  }
});
