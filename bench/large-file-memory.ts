/**
 * Memory of header-only de-identification against file size: multi-frame CT files of ~100 MB and
 * ~2 GB (generated, kept out of git), peak RSS of `custos deid` and of `gdcmanon` on each.
 * Writes its section of docs/benchmarks.md. Usage: node bench/large-file-memory.ts
 */
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BufferSource } from '../src/dicom/byte-source.ts';
import { putElement } from '../src/dicom/dataset.ts';
import { readDicom } from '../src/dicom/read.ts';
import { Tags, tag } from '../src/dicom/tag.ts';
import { encodePart10 } from '../src/dicom/write.ts';
import { SAMPLE } from './generate-ct.ts';
import { machine, writeSection } from './report.ts';
import { gdcmanonCertificate } from './run-tools.ts';

/** Write a multi-frame CT of `frames` 512x512x16-bit frames, streaming the pixel data in blocks. */
function writeMultiFrame(path: string, frames: number): void {
  const src = new BufferSource(readFileSync(SAMPLE));
  const f = readDicom(src);
  const us = (v: number) => { const b = Buffer.alloc(2); b.writeUInt16LE(v); return b; };
  f.dataset.elements = f.dataset.elements.filter((e) => e.tag !== Tags.PixelData);
  putElement(f.dataset, { tag: tag(0x0028, 0x0010), vr: 'US', value: us(512) });
  putElement(f.dataset, { tag: tag(0x0028, 0x0011), vr: 'US', value: us(512) });
  const nf = String(frames);
  putElement(f.dataset, { tag: tag(0x0028, 0x0008), vr: 'IS', value: Buffer.from(nf.length % 2 ? nf + ' ' : nf, 'latin1') });
  const head = Buffer.concat(encodePart10(f.meta, f.dataset, f.transferSyntax, src) as Buffer[]);
  const frameBytes = 512 * 512 * 2;
  const pxHeader = Buffer.alloc(12);
  pxHeader.writeUInt16LE(0x7fe0, 0); pxHeader.writeUInt16LE(0x0010, 2); pxHeader.write('OW', 4, 'latin1'); pxHeader.writeUInt32LE(frames * frameBytes, 8);
  const fd = openSync(path, 'w');
  writeSync(fd, head); writeSync(fd, pxHeader);
  const block = Buffer.alloc(frameBytes * 16);
  for (let i = 0; i < block.length; i += 2) block.writeUInt16LE((i * 7) & 0x0fff, i);
  for (let done = 0; done < frames; done += 16) writeSync(fd, block, 0, Math.min(16, frames - done) * frameBytes);
  closeSync(fd);
}

function peakRss(argv: string[]): number {
  const r = spawnSync('/usr/bin/time', ['-f', '%M', ...argv], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${argv[0]} failed: ${r.stderr}`);
  return Number(r.stderr.trim().split('\n').pop()) / 1024;
}

const work = mkdtempSync(join(tmpdir(), 'custos-membench-'));
const cert = gdcmanonCertificate(work);
const rows: string[] = [];
for (const frames of [200, 4000]) {
  const input = join(work, `mf-${frames}.dcm`);
  writeMultiFrame(input, frames);
  const mb = statSync(input).size / 1e6;
  const custos = peakRss([process.execPath, 'bin/custos.js', 'deid', input, '--out', join(work, `out-${frames}`), '--data-dir', work, '-q']);
  rmSync(join(work, `out-${frames}`), { recursive: true, force: true });
  let gdcm = '';
  if (existsSync('/usr/bin/gdcmanon')) {
    gdcm = peakRss(['gdcmanon', '-e', '--certificate', cert, '-i', input, '-o', join(work, `g-${frames}.dcm`)]).toFixed(0);
    rmSync(join(work, `g-${frames}.dcm`), { force: true });
  }
  rows.push(`| ${frames} frames, ${mb.toFixed(0)} MB | ${custos.toFixed(0)} | ${gdcm} |`);
  rmSync(input, { force: true });
}
rmSync(work, { recursive: true, force: true });
const md = `## Memory against file size (header-only de-identification)

bench/large-file-memory.ts — ${machine()}.

Multi-frame CT (512×512×16-bit frames), Basic Profile. Files above 64 MiB are read through a
1 MiB window and their pixel data streamed from input to output (and through SHA-256) in 4 MiB
blocks, so peak memory does not grow with the file.

| input | custos deid peak RSS (MB) | gdcmanon peak RSS (MB) |
|---|---|---|
${rows.join('\n')}
`;
writeSection('memory', md);
console.log(md);
