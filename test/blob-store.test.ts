/** Filesystem blobs written by the writer threads: durable files, encryption in the writer, failure when no writer is left. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Worker } from 'node:worker_threads';
import { FsBlobStore } from '../src/store/blob-store.ts';
import { openBlob } from '../src/store/data-keys.ts';
import { isCustosError } from '../src/errors.ts';
import { BufferSource } from '../src/dicom/byte-source.ts';
import { describeSource } from '../src/integrity/describe.ts';
import { PYDICOM, tempDir } from './helpers.ts';

test('parts are written as given; a plaintext in shared memory is sealed by the writer and opens with the data key', async () => {
  const store = new FsBlobStore(tempDir());
  await store.put('a/one', [Buffer.from('head'), Buffer.alloc(0), randomBytes(100_000)]);
  assert.equal(statSync(join(store.root, 'a/one')).size, 100_004);
  assert.equal(statSync(join(store.root, 'a/one')).mode & 0o777, 0o600);

  const key = randomBytes(32);
  const plain = randomBytes(600_000);
  const shared = Buffer.from(new SharedArrayBuffer(plain.length));
  plain.copy(shared);
  await store.putSealed('a/two', key, shared);
  await store.putSealed('a/three', key, plain); // ordinary memory: sealed on the caller's thread
  for (const k of ['a/two', 'a/three']) {
    const sealed = await store.get(k);
    assert.ok(!sealed.includes(plain.subarray(0, 64)), `${k} is not stored in clear`);
    assert.deepEqual(openBlob(key, sealed, k), plain);
  }
  await assert.rejects(store.put('a/one', [Buffer.from('x')]), (e) => isCustosError(e) && e.code === 'STORE_UNAVAILABLE', 'an existing blob is never replaced');
  assert.equal(readFileSync(join(store.root, 'a/one')).subarray(0, 4).toString(), 'head');
});

test('asked to, the writer runs the inspector it was given — the pipeline\'s description for the log (as the event loop would make it); not DICOM: none', async () => {
  const store = new FsBlobStore(tempDir(), { inspector: new URL('../src/pipeline/blob-description.ts', import.meta.url) });
  const key = randomBytes(32);
  for (const name of ['CT_small.dcm', 'MR_small_RLE.dcm']) {
    const file = readFileSync(join(PYDICOM, name));
    const shared = Buffer.from(new SharedArrayBuffer(file.length));
    file.copy(shared);
    const described = await (await store.putSealed(`d/${name}`, key, shared, { inspect: true })).inspected;
    assert.deepEqual(described, await describeSource(new BufferSource(file)), name);
    assert.equal((await store.putSealed(`e/${name}`, key, shared)).inspected, undefined, 'not asked: not described');
  }
  const junk = Buffer.from(new SharedArrayBuffer(1000));
  assert.equal(await (await store.putSealed('d/junk', key, junk, { inspect: true })).inspected, undefined);
  const plain = new FsBlobStore(tempDir());
  assert.equal(await (await plain.putSealed('d/x', key, Buffer.from(new SharedArrayBuffer(10)), { inspect: true })).inspected, undefined, 'no inspector: nothing');
  assert.deepEqual(openBlob(key, await store.get('d/junk'), 'd/junk'), Buffer.alloc(1000), 'stored all the same');
});

test('with every writer thread gone, a put fails at once instead of waiting forever', async () => {
  const store = new FsBlobStore(tempDir());
  const workers = (store as unknown as { writers: { workers: Array<{ worker: Worker }> } }).writers.workers;
  await Promise.all(workers.map((w) => w.worker.terminate()));
  await assert.rejects(store.put('x/y', [Buffer.from('data')]), (e) => isCustosError(e) && e.code === 'STORE_UNAVAILABLE');
});
