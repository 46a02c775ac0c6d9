import type { PixelDescription } from '../dicom/frames.ts';
import { type DenyList, scrubText } from './scrub.ts';

/** A word found by OCR, in image pixel coordinates of the frame (already divided by the OCR scale). */
export interface OcrWord { text: string; confidence: number; line: number; box: Box }
/** x, y, width, height in pixels. */
export type Box = [number, number, number, number];

/** Which burned-in text to remove: PHI (deny list, PHI patterns, unreadable words) or all text. */
export type PixelTextMode = 'phi' | 'all';

const norm = (s: string): string => s.toUpperCase().replace(/[^\p{L}\p{N}]/gu, '');

/** Levenshtein distance, bounded: stops early past `max` (OCR misreads one or two characters). */
function within(a: string, b: string, max: number): boolean {
  if (Math.abs(a.length - b.length) > max) return false;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    let best = i;
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      best = Math.min(best, cur[j]!);
    }
    if (best > max) return false;
    prev = cur;
  }
  return prev[b.length]! <= max;
}

/** Does an OCR word look like one of the instance's identifying tokens (allowing OCR misreads)? */
export function matchesDenyToken(word: string, tokens: readonly string[]): boolean {
  const w = norm(word);
  if (w.length < 2) return false;
  for (const t of tokens) {
    const k = norm(t);
    if (k.length < 2) continue;
    if (w === k) return true;
    if (k.length >= 4 && (w.includes(k) || (w.length >= 4 && k.includes(w) && w.length >= k.length - 2))) return true;
    if (k.length >= 4 && within(w, k, k.length >= 8 ? 2 : 1)) return true;
  }
  return false;
}

/**
 * Choose the words to redact (pure). In "phi" mode: a line that holds a deny-listed token (fuzzy) or a
 * PHI pattern is redacted whole; unreadable words (low confidence, 4+ letters or digits) too. In "all"
 * mode every word with a letter or digit goes. Words on the allow list (e.g. L/R markers) are kept.
 */
export function wordsToRedact(words: readonly OcrWord[], deny: DenyList, mode: PixelTextMode, allow: readonly string[] = []): OcrWord[] {
  const allowed = new Set(allow.map(norm));
  const keep = (w: OcrWord): boolean => allowed.has(norm(w.text)) || !/[\p{L}\p{N}]/u.test(w.text);
  if (mode === 'all') return words.filter((w) => !keep(w));
  const lines = new Map<number, OcrWord[]>();
  for (const w of words) lines.set(w.line, [...(lines.get(w.line) ?? []), w]);
  const out = new Set<OcrWord>();
  for (const ws of lines.values()) {
    const text = ws.map((w) => w.text).join(' ');
    const hit = ws.some((w) => matchesDenyToken(w.text, deny.tokens)) || scrubText(text, deny, true) !== text;
    for (const w of ws) {
      if (keep(w)) continue;
      if (hit || (w.confidence < 50 && norm(w.text).length >= 4)) out.add(w);
    }
  }
  return [...out];
}

/** Drop boxes that lie inside another (several OCR passes find the same word). */
export function dedupeBoxes(boxes: readonly Box[]): Box[] {
  const inside = (a: Box, b: Box): boolean => a[0] >= b[0] && a[1] >= b[1] && a[0] + a[2] <= b[0] + b[2] && a[1] + a[3] <= b[1] + b[3];
  return boxes.filter((a, i) => !boxes.some((b, j) => j !== i && inside(a, b) && (!inside(b, a) || j < i)));
}

/** Grow boxes by a margin and clip them to the image. */
export function withMargin(boxes: readonly Box[], margin: number, d: PixelDescription): Box[] {
  return boxes.map(([x, y, w, h]) => {
    const x0 = Math.max(0, Math.floor(x - margin));
    const y0 = Math.max(0, Math.floor(y - margin));
    const x1 = Math.min(d.columns, Math.ceil(x + w + margin));
    const y1 = Math.min(d.rows, Math.ceil(y + h + margin));
    return [x0, y0, x1 - x0, y1 - y0] as Box;
  }).filter(([, , w, h]) => w > 0 && h > 0);
}

/**
 * Fill boxes in a decoded frame (little endian, interleaved) with the darkest value of its
 * photometric interpretation; every pixel outside the boxes keeps its bytes.
 */
export function fillBoxes(pixels: Uint8Array, d: PixelDescription, boxes: readonly Box[]): Uint8Array {
  const out = Buffer.from(pixels);
  const bytes = Math.ceil(d.bitsAllocated / 8);
  const fill: number[] = d.photometricInterpretation === 'MONOCHROME1' ? [2 ** d.bitsStored - 1]
    : d.photometricInterpretation.startsWith('YBR') ? [0, 128, 128].map((v) => (d.bitsAllocated > 8 ? v << (d.bitsStored - 8) : v))
    : Array(d.samplesPerPixel).fill(d.pixelRepresentation === 1 ? -(2 ** (d.bitsStored - 1)) : 0);
  for (const [x, y, w, h] of boxes) {
    for (let row = y; row < y + h; row++) {
      for (let col = x; col < x + w; col++) {
        for (let s = 0; s < d.samplesPerPixel; s++) {
          const o = ((row * d.columns + col) * d.samplesPerPixel + s) * bytes;
          const v = fill[s] ?? 0;
          if (bytes === 1) out[o] = v & 0xff;
          else if (bytes === 2) out.writeUInt16LE(v & 0xffff, o);
          else out.writeUInt32LE(v >>> 0, o);
        }
      }
    }
  }
  return out;
}
