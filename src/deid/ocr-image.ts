import type { PixelDescription } from '../dicom/frames.ts';

/**
 * Turn a decoded frame into an 8-bit image that OCR reads well (pure): the brightest channel of
 * colour pixels (so coloured overlay text stands out), windowed to the full range of the frame
 * (16-bit data), MONOCHROME1 inverted, then thresholded to black text on white, and enlarged for
 * small images. Returns a binary PGM (P5) image and its scale.
 */
export function ocrImage(pixels: Uint8Array, d: PixelDescription, opts: { threshold?: number } = {}): { pgm: Buffer; scale: number; width: number; height: number } {
  const n = d.rows * d.columns;
  const spp = d.samplesPerPixel;
  const bytes = d.bitsAllocated <= 8 ? 1 : 2;
  const view = Buffer.from(pixels.buffer, pixels.byteOffset, pixels.byteLength);
  const sample = (i: number): number => {
    if (bytes === 1) return view[i]!;
    const v = view.readUInt16LE(i * 2);
    return d.pixelRepresentation === 1 ? (v << 16) >> 16 : v;
  };
  const lum = new Float64Array(n);
  let min = Infinity;
  let max = -Infinity;
  for (let p = 0; p < n; p++) {
    let v = -Infinity;
    for (let s = 0; s < spp; s++) v = Math.max(v, sample(p * spp + s));
    lum[p] = v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const range = max - min || 1;
  const invert = d.photometricInterpretation === 'MONOCHROME1';
  // Overlay text is drawn at (or near) the brightest values: keep the top of the range as "ink".
  const t = opts.threshold ?? 0.6;
  const scale = Math.max(d.rows, d.columns) < 700 ? 2 : 1;
  const w = d.columns * scale;
  const h = d.rows * scale;
  const out = Buffer.alloc(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let v = (lum[Math.floor(y / scale) * d.columns + Math.floor(x / scale)]! - min) / range;
      if (invert) v = 1 - v;
      out[y * w + x] = v >= t ? 0 : 255; // ink black on white paper
    }
  }
  return { pgm: Buffer.concat([Buffer.from(`P5\n${w} ${h}\n255\n`, 'latin1'), out]), scale, width: w, height: h };
}
