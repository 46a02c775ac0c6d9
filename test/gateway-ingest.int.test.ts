/**
 * Ingest writes an instance's blob and its row at the same time and acknowledges once both are
 * durable (src/pipeline/ingest.ts). One gateway for the cases that makes possible while it runs: the
 * same instance arriving several times at once, a blob write that fails after the row was sent, and
 * flow control (blob first while the work loop is behind), and the description that follows the
 * acknowledgement. Restarts: gateway-recovery.int.test.ts.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { generateCT } from '../bench/generate-ct.ts';
import { parseGatewayConfig } from '../src/config/gateway-config.ts';
import { asciiValue } from '../src/dicom/dataset.ts';
import { Tags } from '../src/dicom/tag.ts';
import { CustosError } from '../src/errors.ts';
import { type Gateway, startGateway } from '../src/gateway.ts';
import { type IngestedInstance, ingestInstance } from '../src/pipeline/ingest.ts';
import { FsBlobStore } from '../src/store/blob-store.ts';
import { SharedBufferPool } from '../src/store/buffer-pool.ts';
import { DataKeys } from '../src/store/data-keys.ts';
import { parse, tempDir } from './helpers.ts';
import { stow } from './stow.ts';
import { tokenOf } from './peers.ts';

const work = tempDir('custos-ingest-');
// Instances of their own for each test (the gateway is shared).
const files = generateCT(5, join(work, 'ct'), 5, '2.25.6180339887');
const bytes = (i: number): Buffer => readFileSync(files[i]!);
const sopUID = (i: number): string => asciiValue(parse(files[i]!).dataset, Tags.SOPInstanceUID);

let gw: Gateway;
let dataDir: string;
before(async () => {
  dataDir = join(work, 'data');
  gw = await startGateway(parseGatewayConfig({ dimse: { port: 0 }, http: { port: 0 } }), dataDir);
});
after(async () => { await gw?.close(); });

/** What ingest needs besides the database and blobs: the gateway's own keys. */
const keys = () => {
  const hex = (name: string): Buffer => Buffer.from(readFileSync(join(dataDir, 'keys', name), 'utf8').trim(), 'hex');
  return { keys: new DataKeys(hex('master.key')), deploymentKey: hex('deid.key') };
};
const rowsOf = async (i: number) => gw.db.query<{ id: number; blob_key: string }>('SELECT id, blob_key FROM instances WHERE sop_instance_uid = $1', [sopUID(i)]);
const blobFiles = (): string[] => {
  const dir = join(dataDir, 'blobs', 'instances');
  return existsSync(dir) ? readdirSync(dir, { recursive: true, withFileTypes: true }).filter((d) => d.isFile()).map((d) => join(d.parentPath, d.name)) : [];
};

test('the same instance sent three times at once is stored once and acknowledged each time', async () => {
  const blobsBefore = blobFiles().length;
  const statuses = await Promise.all([stow(gw.http.url, [bytes(0)], tokenOf(gw.dataDir)), stow(gw.http.url, [bytes(0)], tokenOf(gw.dataDir)), stow(gw.http.url, [bytes(0)], tokenOf(gw.dataDir))]);
  assert.deepEqual(statuses, [200, 200, 200]);
  const rows = await rowsOf(0);
  assert.equal(rows.length, 1);
  assert.equal(blobFiles().length - blobsBefore, 1, 'the copies not kept leave no blob behind');
  const dup = await gw.db.query(`SELECT id FROM events WHERE kind = 'instance.duplicate' AND instance_id = $1`, [rows[0]!.id]);
  assert.equal(dup.length, 2);
});

test('when the blob cannot be stored the instance is refused and its row taken back, so that the retry is stored', async () => {
  // A blob store whose disk is full: every write fails (the database is the gateway's own).
  const full = {
    put: async () => { throw new CustosError('STORE_UNAVAILABLE', 'cannot store blob: ENOSPC'); },
    putSealed: async () => { throw new CustosError('STORE_UNAVAILABLE', 'cannot store blob: ENOSPC'); },
    putSealedFrom: async () => { throw new CustosError('STORE_UNAVAILABLE', 'cannot store blob: ENOSPC'); },
    get: async () => { throw new CustosError('STORE_MISSING', 'missing'); },
    delete: async () => undefined,
  };
  const discardedBefore = (await gw.db.query(`SELECT id FROM events WHERE kind = 'instance.discarded'`)).length;
  await assert.rejects(
    ingestInstance({ db: gw.db, blobs: full, ...keys(), routes: [] }, bytes(1), { source: 'stow', callingAeTitle: null }),
    (e: Error & { code?: string }) => e.code === 'STORE_UNAVAILABLE',
  );
  assert.equal((await rowsOf(1)).length, 0, 'no row is left for an instance that was not stored');
  assert.equal((await gw.db.query(`SELECT id FROM events WHERE kind = 'instance.discarded'`)).length - discardedBefore, 1);
  // The sender retries: stored, not taken for a duplicate.
  assert.equal(await stow(gw.http.url, [bytes(1)], tokenOf(gw.dataDir)), 200);
  assert.equal((await rowsOf(1)).length, 1);
});

test('flow control: while the work loop is behind, the blob is written before the row; otherwise both at once', async () => {
  const store = new FsBlobStore(join(dataDir, 'blobs'));
  const order: string[] = [];
  const blobs = { get: store.get.bind(store), delete: store.delete.bind(store), put: store.put.bind(store), putSealedFrom: store.putSealedFrom.bind(store), putSealed: async (...a: Parameters<typeof store.putSealed>) => { const d = await store.putSealed(...a); order.push('blob durable'); return d; } };
  const db = { ...gw.db, query: gw.db.query.bind(gw.db), batch: gw.db.batch.bind(gw.db), transaction: gw.db.transaction.bind(gw.db), queryFirst: <T,>(sql: string, params?: readonly unknown[]) => { order.push('row sent'); return gw.db.queryFirst<T>(sql, params); } };
  const deps = (backlog: number) => ({ db, blobs, ...keys(), routes: [], backlog: () => backlog });
  assert.equal((await ingestInstance(deps(0), bytes(2), { source: 'stow', callingAeTitle: null })).status, 'stored');
  assert.deepEqual(order, ['row sent', 'blob durable'], 'keeping up: the row is sent while the blob is written');
  order.length = 0;
  assert.equal((await ingestInstance(deps(1000), bytes(3), { source: 'stow', callingAeTitle: null })).status, 'stored');
  assert.deepEqual(order, ['blob durable', 'row sent'], 'behind: the blob first');
});

test('the acknowledgement does not wait for the description; the received memory is held until the description is made', async () => {
  const store = new FsBlobStore(join(dataDir, 'blobs'));
  const pool = new SharedBufferPool(64 << 20);
  let describedNow!: () => void;
  const later = new Promise<undefined>((r) => { describedNow = () => r(undefined); });
  // The blob store's description is held back here until the test lets it go.
  const blobs = { get: store.get.bind(store), delete: store.delete.bind(store), put: store.put.bind(store), putSealedFrom: store.putSealedFrom.bind(store), putSealed: async (...a: Parameters<typeof store.putSealed>) => { await store.putSealed(...a); return { inspected: later }; } };
  const original = bytes(4);
  const received = pool.acquire(original.length).subarray(0, original.length);
  original.copy(received);
  let queued: IngestedInstance | undefined;
  const result = await ingestInstance({ db: gw.db, blobs, ...keys(), routes: [], pool, onQueued: (row) => { queued = row; } }, received, { source: 'dimse', callingAeTitle: 'MODALITY' });
  assert.equal(result.status, 'stored', 'acknowledged while the description is still on its way');
  assert.ok(queued?.described, 'the work loop is handed the description to come');
  pool.release(received); // the association lets go, as after its answer
  assert.equal(pool.holders(received), 1, 'ingest still holds the memory the description reads');
  assert.notEqual(pool.acquire(original.length).buffer, received.buffer, 'not handed out again meanwhile');
  describedNow();
  await queued.described;
  await new Promise((r) => setImmediate(r));
  assert.equal(pool.holders(received), 0, 'given back once described');
});

test('a data key read from the database is in memory of its own, not a slice of a shared pool (it is posted to a blob writer with every put)', async () => {
  const [row] = await gw.db.query<{ patient_ref: string }>('SELECT patient_ref FROM patient_keys WHERE wrapped_key IS NOT NULL LIMIT 1');
  const key = await keys().keys.load(gw.db, row!.patient_ref);
  assert.equal(key.length, 32);
  assert.equal(key.buffer.byteLength, 32);
});
