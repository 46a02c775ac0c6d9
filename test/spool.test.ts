/**
 * The spool: received bytes too large for memory, encrypted on disk under a key only this process
 * holds, read back by random access; the receive buffer that moves to it past its share of memory;
 * STOW-RS parts found in a spooled body.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { BufferSource } from '../src/dicom/byte-source.ts';
import { encodeMultipart, parseMultipart, splitMultipart } from '../src/net/multipart.ts';
import { SharedBufferPool } from '../src/store/buffer-pool.ts';
import { ReceiveBuffer } from '../src/store/receive-buffer.ts';
import { MemoryBudget, Spool, chunksOf } from '../src/store/spool.ts';
import { tempDir } from './helpers.ts';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

test('spooled bytes read back exactly at any offset and length, and are not on disk in the clear', () => {
  const spool = new Spool(join(tempDir(), 'spool'));
  const plain = randomBytes(3 * (1 << 20) + 77);
  const w = spool.create();
  for (let o = 0; o < plain.length; o += 65_519) w.write(plain.subarray(o, Math.min(plain.length, o + 65_519)));
  const s = w.finish();
  assert.equal(s.size, plain.length);
  assert.equal(s.sha256(), sha(plain));
  const [file] = readdirSync(spool.dir);
  const onDisk = readFileSync(join(spool.dir, file!));
  assert.equal(onDisk.length, plain.length);
  assert.equal(onDisk.indexOf(plain.subarray(1000, 1032)), -1, 'encrypted at rest');
  const src = s.open();
  for (const [offset, length] of [[0, 1], [15, 2], [16, 16], [1_048_570, 20], [2_000_001, 1_100_000], [plain.length - 3, 3], [5, plain.length - 5]] as const) {
    assert.ok(src.read(offset, length).equals(plain.subarray(offset, offset + length)), `bytes at ${offset}+${length}`);
  }
  assert.throws(() => src.read(plain.length - 1, 2), (e: Error & { code?: string }) => e.code === 'DICOM_TRUNCATED');
  assert.ok(Buffer.concat([...chunksOf(src)].map((c) => Buffer.from(c))).equals(plain));
  const part = s.slice(100_000, 2_000_000);
  assert.equal(part.sha256(), sha(plain.subarray(100_000, 2_100_000)));
  assert.ok(part.open().read(0, 10).equals(plain.subarray(100_000, 100_010)));
  src.close();
  s.remove();
  assert.deepEqual(readdirSync(spool.dir), []);
});

test('spool files left by an earlier process are removed at start (their keys are gone)', () => {
  const dir = join(tempDir(), 'spool');
  new Spool(dir).create().write(Buffer.from('left by a crash'));
  assert.equal(readdirSync(dir).length, 1);
  new Spool(dir);
  assert.deepEqual(readdirSync(dir), []);
});

test('the receive buffer holds bytes in memory within its budget and moves to the spool past it', () => {
  const spool = new Spool(join(tempDir(), 'spool'));
  const memory = new MemoryBudget(4 << 20);
  const pool = new SharedBufferPool(16 << 20);
  const small = new ReceiveBuffer(1024, 64 << 20, pool, { spool, memory, spoolAboveBytes: 2 << 20 });
  const a = randomBytes(1 << 20);
  small.write(a);
  assert.ok(memory.inUse >= a.length, 'the memory held is counted');
  const heldA = small.finish();
  assert.ok(heldA.received.memory?.equals(a), 'held in memory');
  // A second one grows past spoolAboveBytes: it goes to the spool, with what it held, and lets go of its memory.
  const used = memory.inUse;
  const big = new ReceiveBuffer(1024, 64 << 20, pool, { spool, memory, spoolAboveBytes: 2 << 20 });
  const b = randomBytes(3 << 20);
  big.write(b.subarray(0, 1 << 20));
  big.write(b.subarray(1 << 20));
  assert.equal(memory.inUse, used, 'no memory held for a spooled one');
  const heldB = big.finish();
  assert.equal(heldB.received.memory, undefined);
  assert.equal(heldB.received.sha256(), sha(b));
  assert.equal(readdirSync(spool.dir).length, 1);
  heldB.done();
  assert.deepEqual(readdirSync(spool.dir), [], 'done removes the spool file');
  // With the budget used up by others, even a small one is spooled.
  assert.ok(memory.reserve(memory.limit - memory.inUse));
  const squeezed = new ReceiveBuffer(1024, 64 << 20, pool, { spool, memory, spoolAboveBytes: 2 << 20 });
  squeezed.write(Buffer.from('tiny'));
  const heldC = squeezed.finish();
  assert.equal(heldC.received.memory, undefined);
  assert.ok(heldC.received.open().read(0, 4).equals(Buffer.from('tiny')));
  heldC.done();
  heldA.done();
  const refused = new ReceiveBuffer(1024, 64 << 20, pool, { spool, memory: new MemoryBudget(1 << 20), spoolAboveBytes: 1 << 20 });
  refused.write(randomBytes(2 << 20));
  refused.release();
  assert.deepEqual(readdirSync(spool.dir), [], 'released: nothing left on disk');
});

test('STOW-RS parts are found the same in a spooled body as in memory, across window boundaries', () => {
  const bodies = [randomBytes(10), randomBytes((1 << 20) - 3), randomBytes(2 << 20), Buffer.alloc(0), randomBytes(5)];
  const { parts, contentType } = encodeMultipart(bodies, 'application/dicom');
  const boundary = /boundary=(.+)$/.exec(contentType)![1]!;
  const body = Buffer.concat(parts);
  const inMemory = parseMultipart(body, boundary);
  const spool = new Spool(join(tempDir(), 'spool'));
  const w = spool.create();
  w.write(body);
  const spooled = w.finish();
  const src = spooled.open();
  const ranges = splitMultipart(src, boundary);
  assert.equal(ranges.length, bodies.length);
  ranges.forEach((r, i) => {
    assert.ok(inMemory[i]!.body.equals(bodies[i]!));
    assert.equal(spooled.slice(r.start, r.length).sha256(), sha(bodies[i]!), `part ${i}`);
  });
  assert.throws(() => splitMultipart(src, boundary, 4), (e: Error & { code?: string }) => e.code === 'MULTIPART_TOO_MANY_PARTS');
  assert.throws(() => splitMultipart(new BufferSource(body.subarray(0, body.length - 40)), boundary), (e: Error & { code?: string }) => e.code === 'MULTIPART_MALFORMED');
  src.close();
});
