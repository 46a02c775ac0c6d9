import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { createWorker, type Worker } from 'tesseract.js';

/*
 * OCR through tesseract.js with the English model of @tesseract.js-data/eng, loaded from the
 * installed package (no download at run time). One recognizer per thread, created on first use.
 */
let worker: Promise<Worker> | undefined;

function recognizer(): Promise<Worker> {
  if (!worker) {
    const req = createRequire(import.meta.url);
    const langPath = join(dirname(req.resolve('@tesseract.js-data/eng/package.json')), '4.0.0');
    worker = createWorker('eng', 1, { langPath, gzip: true, cacheMethod: 'none' });
  }
  return worker;
}

export interface RawWord { text: string; confidence: number; line: number; x0: number; y0: number; x1: number; y1: number }

interface TWord { text: string; confidence: number; bbox: { x0: number; y0: number; x1: number; y1: number } }
interface TLine { words: TWord[] }
interface TBlock { paragraphs: Array<{ lines: TLine[] }> }

/** Words of an image (PGM/PNG bytes) with their boxes, confidence and line number. */
export async function recognizeWords(image: Buffer): Promise<RawWord[]> {
  const w = await recognizer();
  const r = await w.recognize(image, {}, { blocks: true });
  const blocks = (r.data as unknown as { blocks: TBlock[] | null }).blocks ?? [];
  const out: RawWord[] = [];
  let line = 0;
  for (const b of blocks) for (const p of b.paragraphs) for (const l of p.lines) {
    for (const wd of l.words) out.push({ text: wd.text, confidence: wd.confidence, line, ...wd.bbox });
    line++;
  }
  return out;
}

/** Stop this thread's recognizer (lets the process exit). */
export async function closeOcr(): Promise<void> {
  if (!worker) return;
  const w = worker;
  worker = undefined;
  await (await w).terminate();
}
