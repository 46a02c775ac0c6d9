/**
 * A restart after a crash (src/pipeline/processor.ts, start): every instance not yet logged is read
 * back and logged; one whose blob a crash left missing or incomplete — ingest writes blob and row
 * at the same time, so it was never acknowledged — is removed with its jobs, and its resend is stored
 * anew instead of being taken for a duplicate (also when it arrives first: gateway-resend.int.test.ts).
 */
import assert from 'node:assert/strict';
import { readFileSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseGatewayConfig } from '../src/config/gateway-config.ts';
import { type Gateway, startGateway } from '../src/gateway.ts';
import { openDatabase } from '../src/store/database.ts';
import { REPO, tempDir } from './helpers.ts';
import { tokenOf, waitFor } from './peers.ts';
import { stow } from './stow.ts';

const config = () => parseGatewayConfig({ dimse: { port: 0 }, http: { port: 0 } });
const example = (n: number): Buffer => readFileSync(join(REPO, 'examples', `synthetic-ct-${n}.dcm`));

/** Wait until the work loop has logged an instance; its log index. */
const loggedIndex = (gw: Gateway, id: number): Promise<number> => waitFor('the instance to be logged', async () => {
  const [r] = await gw.db.query<{ log_index: number | null }>('SELECT log_index FROM instances WHERE id = $1', [id]);
  return r?.log_index === null || r?.log_index === undefined ? undefined : Number(r.log_index);
});

test('after a crash: an instance not yet logged is logged; one whose blob was left incomplete is removed, and its resend stored anew', async () => {
  const dataDir = join(tempDir('custos-rec-'), 'data');
  let gw = await startGateway(config(), dataDir);
  assert.equal(await stow(gw.http.url, [example(1), example(2)], tokenOf(gw.dataDir)), 200);
  const [torn, unlogged] = await gw.db.query<{ id: number; blob_key: string }>('SELECT id, blob_key FROM instances ORDER BY id');
  await gw.close();

  // What a crash leaves: one instance whose row was committed before its blob was whole, one
  // acknowledged but not yet logged.
  truncateSync(join(dataDir, 'blobs', torn!.blob_key), 100);
  const db = await openDatabase({ dir: join(dataDir, 'db') });
  await db.query('UPDATE instances SET log_index = NULL WHERE id = ANY($1::bigint[])', [[torn!.id, unlogged!.id]]);
  await db.close();

  gw = await startGateway(config(), dataDir);
  try {
    assert.ok(await loggedIndex(gw, Number(unlogged!.id)) >= 0);
    const discarded = await waitFor('the torn instance to be discarded', async () => {
      const ev = await gw.db.query<{ detail: { code: string } }>(`SELECT detail FROM events WHERE kind = 'instance.discarded' AND instance_id = $1`, [torn!.id]);
      return ev[0];
    });
    assert.equal(discarded.detail.code, 'STORE_CORRUPT');
    assert.deepEqual((await gw.db.query<{ id: number }>('SELECT id FROM instances ORDER BY id')).map((r) => Number(r.id)), [Number(unlogged!.id)]);
    // Its sender was never acknowledged, so it sends again: stored, not taken for a duplicate.
    assert.equal(await stow(gw.http.url, [example(1)], tokenOf(gw.dataDir)), 200);
    const rows = await gw.db.query<{ id: number }>('SELECT id FROM instances WHERE id <> $1', [unlogged!.id]);
    assert.equal(rows.length, 1);
    assert.notEqual(Number(rows[0]!.id), Number(torn!.id));
    assert.ok(await loggedIndex(gw, Number(rows[0]!.id)) >= 0);
  } finally {
    await gw.close();
  }
});
