/**
 * Ingest writes an instance's blob and its row at the same time and acknowledges once both are
 * durable. These tests check the cases that makes possible: a crash between the row and a whole
 * blob (the row is discarded at the next start, and the sender's resend is stored anew), the same
 * instance arriving several times at once (one copy kept, each acknowledged), and an instance
 * acknowledged but not yet logged when the gateway stopped (logged after the restart).
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseGatewayConfig } from '../src/config/gateway-config.ts';
import { CustosError } from '../src/errors.ts';
import { type Gateway, startGateway } from '../src/gateway.ts';
import { ingestInstance } from '../src/pipeline/ingest.ts';
import { FsBlobStore } from '../src/store/blob-store.ts';
import { DataKeys } from '../src/store/data-keys.ts';
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

/** What ingest needs besides the database and blobs: the gateway's own keys. */
const keysOf = (dataDir: string) => {
  const hex = (name: string): Buffer => Buffer.from(readFileSync(join(dataDir, 'keys', name), 'utf8').trim(), 'hex');
  return { keys: new DataKeys(hex('master.key')), deploymentKey: hex('deid.key') };
};

/** Wait until the work loop has logged an instance; its log index. */
const loggedIndex = (gw: Gateway, id: number): Promise<number> => waitFor('the instance to be logged', async () => {
  const [r] = await gw.db.query<{ log_index: number | null }>('SELECT log_index FROM instances WHERE id = $1', [id]);
  return r?.log_index === null || r?.log_index === undefined ? undefined : Number(r.log_index);
});

/** A gateway on a fresh data directory for the length of `fn`. */
async function withGateway(fn: (gw: Gateway, dataDir: string) => Promise<void>): Promise<void> {
  const dataDir = join(tempDir('custos-rec-'), 'data');
  const gw = await startGateway(config(), dataDir);
  try { await fn(gw, dataDir); } finally { await gw.close(); }
}

const blobFiles = (dataDir: string): string[] => readdirSync(join(dataDir, 'blobs', 'instances'), { recursive: true, withFileTypes: true })
  .filter((d) => d.isFile()).map((d) => join(d.parentPath, d.name));

test('an instance whose blob a crash left incomplete is discarded at the next start, and its resend is stored anew', async () => {
  const dataDir = join(tempDir('custos-rec-'), 'data');
  let gw = await startGateway(config(), dataDir);
  assert.equal(await stow(gw.http.url, [EXAMPLE]), 200);
  const [first] = await gw.db.query<{ id: number; blob_key: string }>('SELECT id, blob_key FROM instances');
  await gw.close();

  // What a crash after the row's commit and before the blob was whole leaves: a torn blob, not yet logged.
  truncateSync(join(dataDir, 'blobs', first!.blob_key), 100);
  const db = await openDatabase({ dir: join(dataDir, 'db') });
  await db.query('UPDATE instances SET log_index = NULL WHERE id = $1', [first!.id]);
  await db.close();

  gw = await startGateway(config(), dataDir);
  try {
    const discarded = await waitFor('the torn instance to be discarded', async () => {
      const ev = await gw.db.query<{ detail: { code: string } }>(`SELECT detail FROM events WHERE kind = 'instance.discarded' AND instance_id = $1`, [first!.id]);
      return ev[0];
    });
    assert.equal(discarded.detail.code, 'STORE_CORRUPT');
    assert.equal((await gw.db.query('SELECT id FROM instances')).length, 0);
    // The sender was never acknowledged, so it sends again: stored, not taken for a duplicate.
    assert.equal(await stow(gw.http.url, [EXAMPLE]), 200);
    const [again] = await gw.db.query<{ id: number }>('SELECT id FROM instances');
    assert.ok(again && Number(again.id) !== Number(first!.id));
    assert.ok(await loggedIndex(gw, Number(again.id)) >= 0);
  } finally {
    await gw.close();
  }
});

test('the same instance sent twice at once is stored once and acknowledged twice', () => withGateway(async (gw, dataDir) => {
  const statuses = await Promise.all([stow(gw.http.url, [EXAMPLE]), stow(gw.http.url, [EXAMPLE]), stow(gw.http.url, [EXAMPLE])]);
  assert.deepEqual(statuses, [200, 200, 200]);
  assert.equal((await gw.db.query('SELECT id FROM instances')).length, 1);
  assert.equal(blobFiles(dataDir).length, 1, 'the copies not kept leave no blob behind');
  const kinds = (await gw.db.query<{ kind: string }>('SELECT kind FROM events ORDER BY id')).map((e) => e.kind);
  assert.equal(kinds.filter((k) => k === 'instance.duplicate').length, 2);
}));

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
    assert.ok(await loggedIndex(gw, Number(row!.id)) >= 0);
  } finally {
    await gw.close();
  }
});

test('when the blob cannot be stored the instance is refused and its row taken back, so that the retry is stored', () => withGateway(async (gw, dataDir) => {
  // A blob store whose disk is full: every write fails (the database is the gateway's own).
  const full = {
    put: async () => { throw new CustosError('STORE_UNAVAILABLE', 'cannot store blob: ENOSPC'); },
    putSealed: async () => { throw new CustosError('STORE_UNAVAILABLE', 'cannot store blob: ENOSPC'); },
    get: async () => { throw new CustosError('STORE_MISSING', 'missing'); },
    delete: async () => undefined,
  };
  await assert.rejects(
    ingestInstance({ db: gw.db, blobs: full, ...keysOf(dataDir), routes: [] }, EXAMPLE, { source: 'stow', callingAeTitle: null }),
    (e: Error & { code?: string }) => e.code === 'STORE_UNAVAILABLE',
  );
  assert.equal((await gw.db.query('SELECT id FROM instances')).length, 0, 'no row is left for an instance that was not stored');
  assert.equal((await gw.db.query(`SELECT id FROM events WHERE kind = 'instance.discarded'`)).length, 1);
  // The sender retries: stored, not taken for a duplicate.
  assert.equal(await stow(gw.http.url, [EXAMPLE]), 200);
  assert.equal((await gw.db.query('SELECT id FROM instances')).length, 1);
  assert.equal(blobFiles(dataDir).length, 1);
}));

test('flow control: while the work loop is behind, the blob is written before the row; otherwise both at once', () => withGateway(async (gw, dataDir) => {
  const store = new FsBlobStore(join(dataDir, 'blobs2'));
  const order: string[] = [];
  const blobs = { ...store, get: store.get.bind(store), delete: store.delete.bind(store), put: store.put.bind(store), putSealed: async (...a: Parameters<typeof store.putSealed>) => { await store.putSealed(...a); order.push('blob durable'); } };
  const db = { ...gw.db, query: gw.db.query.bind(gw.db), batch: gw.db.batch.bind(gw.db), transaction: gw.db.transaction.bind(gw.db), queryFirst: <T,>(sql: string, params?: readonly unknown[]) => { order.push('row sent'); return gw.db.queryFirst<T>(sql, params); } };
  const sample = (n: number): Buffer => readFileSync(join(REPO, 'examples', `synthetic-ct-${n}.dcm`));
  const deps = (backlog: number) => ({ db, blobs, ...keysOf(dataDir), routes: [], backlog: () => backlog });
  assert.equal((await ingestInstance(deps(0), sample(2), { source: 'stow', callingAeTitle: null })).status, 'stored');
  assert.deepEqual(order, ['row sent', 'blob durable'], 'keeping up: the row is sent while the blob is written');
  order.length = 0;
  assert.equal((await ingestInstance(deps(1000), sample(3), { source: 'stow', callingAeTitle: null })).status, 'stored');
  assert.deepEqual(order, ['blob durable', 'row sent'], 'behind: the blob first');
}));
