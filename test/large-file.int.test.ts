import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { closeSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { BufferSource } from '../src/dicom/byte-source.ts';
import { putElement } from '../src/dicom/dataset.ts';
import { openSource, writeChunksAtomic } from '../src/dicom/file-io.ts';
import { readDicom } from '../src/dicom/read.ts';
import { Tags } from '../src/dicom/tag.ts';
import { encodePart10 } from '../src/dicom/write.ts';
import { makeProfile } from '../src/deid/profile.ts';
import { deidentifyFile } from '../src/pipeline/deid-file.ts';
import { PYDICOM, dcmdump, tempDir, plant } from './helpers.ts';

/** SHA-256 of the last `length` bytes of a file, read in blocks. */
function tailHash(path: string, length: number): string {
  const fd = openSync(path, 'r');
  const size = statSync(path).size;
  const h = createHash('sha256');
  const buf = Buffer.alloc(1 << 20);
  for (let off = size - length; off < size;) {
    const n = readSync(fd, buf, 0, Math.min(buf.length, size - off), off);
    h.update(buf.subarray(0, n));
    off += n;
  }
  closeSync(fd);
  return h.digest('hex');
}

test('a multi-frame file larger than the in-memory limit streams its pixel data through unchanged', async () => {
  const dir = tempDir();
  const base = plant(join(PYDICOM, 'CT_small.dcm'), dir, 'base.dcm', { '(0010,0010)': 'DOE^JOHN', '(0028,0008)': '300', '(0028,0010)': '512', '(0028,0011)': '512' });
  const src = new BufferSource(readFileSync(base));
  const f = readDicom(src);
  const frames = 300; // 300 x 512 x 512 x 2 bytes = 150 MiB, above the 64 MiB whole-file limit
  const pixels = Buffer.alloc(frames * 512 * 512 * 2);
  for (let i = 0; i < pixels.length; i += 4096) pixels.writeUInt32LE((i * 2654435761) >>> 0, i);
  putElement(f.dataset, { tag: Tags.PixelData, vr: 'OW', value: pixels });
  const big = join(dir, 'big.dcm');
  writeChunksAtomic(big, encodePart10(f.meta, f.dataset, f.transferSyntax, src), src);
  const expected = createHash('sha256').update(pixels).digest('hex');

  const source = openSource(big);
  assert.notEqual(source.constructor.name, 'BufferSource');
  const parsed = readDicom(source);
  const px = parsed.dataset.elements.find((e) => e.tag === Tags.PixelData)!;
  assert.ok(px.range && !px.value, 'pixel data must stay in the file, not in memory');
  source.close();

  const out = tempDir();
  const r = await deidentifyFile(big, out, { profile: makeProfile([]), key: Buffer.alloc(32, 9) });
  assert.equal(r.status, 'released', JSON.stringify(r));
  if (r.status !== 'released') return;
  const outPath = join(out, r.output.path);
  assert.equal(tailHash(outPath, pixels.length), expected);
  assert.ok(!dcmdump(outPath).includes('DOE'));
  assert.equal(r.output.sha256, createHash('sha256').update(readFileSync(outPath)).digest('hex'));
});
