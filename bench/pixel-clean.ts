/**
 * Clean Pixel Data throughput: 512x512 8-bit ultrasound frames with burned-in text, cleaned by
 * Custos (two OCR passes to find text, one to check the result, lossless re-encode), against the
 * Debian `tesseract` command reading the same frames once (the OCR peer), in the same run.
 * Writes its section of docs/benchmarks.md. Usage: node bench/pixel-clean.ts [frames]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeProfile } from '../src/deid/profile.ts';
import { deidentifyFile } from '../src/pipeline/deid-file.ts';
import { closeOcr } from '../src/pipeline/ocr.ts';
import { renderFrame, writeImage } from '../test/burned-in.ts';
import { machine, writeSection } from './report.ts';

const N = Number(process.argv[2] ?? 20);
const work = mkdtempSync(join(tmpdir(), 'custos-pxbench-'));
const files: string[] = [];
const pngs: string[] = [];
for (let i = 0; i < N; i++) {
  const frame = renderFrame(512, 512, [
    { text: `PATIENT ${i} DOE`, x: 10, y: 30, size: 20, color: 'white' },
    { text: `ID ${1000000 + i}`, x: 330, y: 30, size: 18, color: 'white' },
    { text: '2024-03-15 10:11', x: 330, y: 495, size: 14, color: 'white' },
  ]);
  const f = join(work, `us-${i}.dcm`);
  writeImage(f, { frames: [frame], rows: 512, columns: 512, sop: `2.25.8${i}` });
  files.push(f);
  const raw = join(work, `us-${i}.gray`);
  writeFileSync(raw, frame);
  const png = join(work, `us-${i}.png`);
  execFileSync('/usr/bin/convert', ['-size', '512x512', '-depth', '8', `gray:${raw}`, png]);
  pngs.push(png);
}
const settings = { profile: makeProfile(['clean-pixel-data']), key: Buffer.alloc(32, 3), pixels: { mode: 'phi' as const, rules: [], allow: [] } };
await deidentifyFile(files[0]!, join(work, 'warm'), settings); // load the OCR model once
const t0 = performance.now();
let boxes = 0;
for (const f of files) {
  const r = await deidentifyFile(f, join(work, 'out'), settings);
  if (r.status !== 'released') throw new Error(`${f}: ${r.status}`);
  boxes += r.pixels?.boxes.length ?? 0;
}
const custos = (performance.now() - t0) / 1000;
await closeOcr();
const t1 = performance.now();
for (const p of pngs) execFileSync('tesseract', [p, '-'], { stdio: 'ignore' });
const peer = (performance.now() - t1) / 1000;
rmSync(work, { recursive: true, force: true });

const md = `## Clean Pixel Data (OCR)

bench/pixel-clean.ts — ${machine()}.

${N} frames of 512×512×8-bit ultrasound with three lines of burned-in text each (${boxes} boxes redacted).

| tool | frames/s | time per frame |
|---|---|---|
| custos deid --option clean-pixel-data (2 OCR passes to find, 2 to check, redaction, re-encode) | ${(N / custos).toFixed(2)} | ${((custos / N) * 1000).toFixed(0)} ms |
| peer: Debian \`tesseract\` CLI, one pass per frame (process per frame) | ${(N / peer).toFixed(2)} | ${((peer / N) * 1000).toFixed(0)} ms |

Custos reads each frame twice (thresholded, and grey) to find text, and twice again after redaction to check
and one model load per worker thread; a long cine is sampled (16 frames) rather than read frame by
frame. Worker threads scale this across cores (\`--jobs\`, or by default above 300 files when pixels are cleaned).
`;
writeSection('pixels', md);
console.log(md);
