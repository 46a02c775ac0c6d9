/** Reading a de-identified instance held as chunks, and dropping its Part 10 prefix, without joining it. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ChunksSource, dropBytes } from '../src/dicom/byte-source.ts';

test('chunks: reads inside a chunk are views, reads across chunks are joined copies, past the end is DICOM_TRUNCATED', () => {
  const whole = Buffer.from(Array.from({ length: 40 }, (_, i) => i));
  const chunks = [whole.subarray(0, 10), whole.subarray(10, 11), whole.subarray(11, 30), whole.subarray(30)];
  const src = new ChunksSource(chunks);
  assert.equal(src.size, 40);
  for (let off = 0; off < 40; off++) {
    for (let len = 0; off + len <= 40; len++) assert.deepEqual(src.read(off, len), whole.subarray(off, off + len), `read(${off}, ${len})`);
  }
  const view = src.read(12, 5);
  assert.equal(view.buffer, whole.buffer, 'a read inside one chunk shares its memory');
  assert.throws(() => src.read(35, 6), (e: Error & { code?: string }) => e.code === 'DICOM_TRUNCATED');
});

test('chunks: dropping a prefix keeps the rest as views, across chunk boundaries', () => {
  const whole = Buffer.from(Array.from({ length: 30 }, (_, i) => i));
  const chunks = [whole.subarray(0, 10), whole.subarray(10, 20), whole.subarray(20)];
  for (let skip = 0; skip <= 30; skip++) assert.deepEqual(Buffer.concat(dropBytes(chunks, skip)), whole.subarray(skip), `skip ${skip}`);
  assert.equal(dropBytes(chunks, 10).length, 2);
});
