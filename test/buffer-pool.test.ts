/** Shared memory used again for received instances: holders counted, nothing handed out twice. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SharedBufferPool } from '../src/store/buffer-pool.ts';
import { RecentOriginals } from '../src/pipeline/recent-originals.ts';

test('pool: a buffer goes back after its last holder, and is handed out again only then', () => {
  const pool = new SharedBufferPool(1 << 20);
  const a = pool.acquire(100_000);
  assert.ok(a.buffer instanceof SharedArrayBuffer);
  assert.ok(a.length >= 100_000);
  const view = a.subarray(10, 20);
  pool.retain(view); // a second holder, through a view
  pool.release(a);
  const b = pool.acquire(100_000);
  assert.notEqual(b.buffer, a.buffer, 'still held through the view');
  pool.release(view);
  const c = pool.acquire(90_000); // same size class
  assert.equal(c.buffer, a.buffer, 'used again after the last release');
  // Buffers not from the pool pass through.
  const plain = Buffer.alloc(10);
  pool.retain(plain);
  pool.release(plain);
  assert.equal(pool.holders(plain), undefined);
});

test('pool: a miscounted buffer is never handed out again', () => {
  const pool = new SharedBufferPool(1 << 20);
  const a = pool.acquire(1000);
  pool.release(a);
  const write = process.stderr.write;
  let said = '';
  process.stderr.write = ((s: string) => { said += s; return true; }) as typeof process.stderr.write;
  try { pool.release(a); } finally { process.stderr.write = write; }
  assert.match(said, /released more often than retained/);
  assert.notEqual(pool.acquire(1000).buffer, a.buffer);
});

test('recent originals: kept for each job, then given back; eviction gives back too', () => {
  const pool = new SharedBufferPool(16 << 20);
  const recent = new RecentOriginals(4 << 20, pool);
  const bytes = pool.acquire(200_000).subarray(0, 150_000);
  recent.put(1, bytes, 2); // two recipients
  pool.release(bytes); // the association lets go once ingest settled
  assert.equal(pool.holders(bytes), 1);
  const peek = recent.peek(1)!; // the log step reads it
  recent.release(peek);
  const first = recent.take(1)!;
  const second = recent.take(1)!;
  assert.equal(recent.take(1), undefined, 'used up');
  assert.equal(pool.holders(bytes), 2, 'each job holds it until its batch is settled');
  recent.release(first);
  recent.release(second);
  assert.equal(pool.holders(bytes), 0);

  const buffers = Array.from({ length: 6 }, () => pool.acquire(1_000_000));
  buffers.forEach((b, i) => { recent.put(10 + i, b, 1); pool.release(b); });
  assert.equal(recent.peek(10), undefined, 'the oldest were evicted (4 MiB kept)');
  assert.equal(recent.peek(11), undefined);
  assert.equal(pool.holders(buffers[0]!), 0, 'and given back');
  const again = recent.peek(15)!;
  assert.equal(pool.holders(again), 2);
  recent.release(again);
});
