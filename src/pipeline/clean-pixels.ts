import { CustosError, isCustosError } from '../errors.ts';
import type { ByteSource } from '../dicom/byte-source.ts';
import { canDecode, canEncodeLosslessly, decodeFrame, encodeFrameLossless, initCodecs } from '../dicom/codecs.ts';
import { type DataElement, type DicomFile, findElement, asciiValue } from '../dicom/dataset.ts';
import { type PixelDescription, encapsulatedFrames, nativeFrames, pixelDescription } from '../dicom/frames.ts';
import { Tags, tag } from '../dicom/tag.ts';
import { EXPLICIT_VR_LITTLE_ENDIAN, type TransferSyntax, transferSyntax } from '../dicom/transfer-syntax.ts';
import { ocrImage } from '../deid/ocr-image.ts';
import { type PixelRule, ruleBoxes } from '../deid/pixel-rules.ts';
import { type Box, type OcrWord, type PixelTextMode, dedupeBoxes, fillBoxes, matchesDenyToken, withMargin, wordsToRedact } from '../deid/redaction.ts';
import type { DenyList } from '../deid/scrub.ts';
import { recognizeWords } from './ocr.ts';

/** How Clean Pixel Data (PS3.15 E.3.2) is done: which text goes, admin rules, words kept. */
export interface PixelCleaningSettings { mode: PixelTextMode; rules: readonly PixelRule[]; allow: readonly string[] }

export interface PixelReport {
  framesChecked: number;
  /** Redacted rectangles (no text), per source; OCR boxes apply to every frame. */
  boxes: Array<{ source: 'ocr' | 'rule'; rule?: string; x: number; y: number; width: number; height: number }>;
  transferSyntax: { from: string; to: string; note?: string };
}

export type PixelCleanResult =
  | { status: 'unchanged'; report: PixelReport }
  | { status: 'cleaned'; pixelData: DataElement; transferSyntax: TransferSyntax; photometricInterpretation: string; samplesPerPixel: number; report: PixelReport }
  | { status: 'held'; code: 'PIXEL_DECODE' | 'PIXEL_TEXT_UNCERTAIN' | 'PIXEL_TEXT_REMAINS'; message: string };

const MAX_OCR_FRAMES = 16;
const LOSSY_JPEG = new Set(['1.2.840.10008.1.2.4.50', '1.2.840.10008.1.2.4.51']);

const str = (f: DicomFile, t: number): string => asciiValue(f.dataset, t);

/** Frames as little-endian, interleaved samples, whatever the transfer syntax. */
export async function decodedFrames(file: DicomFile, source: ByteSource, d: PixelDescription): Promise<{ frames: Uint8Array[]; desc: PixelDescription }> {
  const px = findElement(file.dataset, Tags.PixelData)!;
  const ts = file.transferSyntax;
  if (!px.encapsulated) {
    const frames = nativeFrames(px, d, source).map((f) => toInterleavedLE(f, d, !ts.littleEndian));
    return { frames, desc: { ...d, planarConfiguration: 0 } };
  }
  if (!canDecode(ts.uid)) throw new CustosError('PIXEL_DECODE', `no decoder for transfer syntax ${ts.uid}`);
  await initCodecs();
  const toRgb = LOSSY_JPEG.has(ts.uid) && d.samplesPerPixel === 3;
  // JPEG 2000 colour (YBR_RCT / YBR_ICT) decodes to RGB; lossy JPEG colour is converted to RGB.
  const rgb = toRgb || (d.samplesPerPixel === 3 && /^YBR_(RCT|ICT)$/.test(d.photometricInterpretation));
  const desc: PixelDescription = { ...d, planarConfiguration: 0, photometricInterpretation: rgb ? 'RGB' : d.photometricInterpretation.replace(/_42[02]$/, '') };
  const frames = encapsulatedFrames(px, d, source).map((f) => {
    const { pixels, planar } = decodeFrame(ts.uid, f, d, toRgb);
    return planar ? interleave(pixels, desc) : pixels;
  });
  return { frames, desc };
}

function toInterleavedLE(frame: Uint8Array, d: PixelDescription, bigEndian: boolean): Uint8Array {
  let b: Uint8Array = frame;
  if (bigEndian && d.bitsAllocated === 16) b = Buffer.from(frame).swap16();
  if (bigEndian && d.bitsAllocated === 32) b = Buffer.from(frame).swap32();
  return d.planarConfiguration === 1 && d.samplesPerPixel > 1 ? interleave(b, d) : b;
}

function interleave(b: Uint8Array, d: PixelDescription): Uint8Array {
  const n = d.rows * d.columns;
  const bytes = d.bitsAllocated / 8;
  const out = Buffer.alloc(b.length);
  for (let s = 0; s < d.samplesPerPixel; s++) for (let i = 0; i < n; i++) out.set(b.subarray((s * n + i) * bytes, (s * n + i + 1) * bytes), (i * d.samplesPerPixel + s) * bytes);
  return out;
}

/** Two OCR passes per frame: thresholded (bright or coloured overlay text) and plain grey, inverted. */
async function ocrFrame(pixels: Uint8Array, d: PixelDescription): Promise<OcrWord[]> {
  const words: OcrWord[] = [];
  let lineBase = 0;
  for (const threshold of [0.6, 0.35]) {
    const img = ocrImage(pixels, d, { threshold });
    const raw = await recognizeWords(img.pgm);
    for (const w of raw) {
      words.push({ text: w.text, confidence: w.confidence, line: lineBase + w.line, box: [w.x0 / img.scale, w.y0 / img.scale, (w.x1 - w.x0) / img.scale, (w.y1 - w.y0) / img.scale] });
    }
    lineBase += 10_000;
  }
  return words;
}

function sampleIndexes(n: number): number[] {
  if (n <= MAX_OCR_FRAMES) return Array.from({ length: n }, (_, i) => i);
  return [...new Set(Array.from({ length: MAX_OCR_FRAMES }, (_, i) => Math.round((i * (n - 1)) / (MAX_OCR_FRAMES - 1))))];
}

/**
 * Find and remove burned-in text: admin rules plus OCR of the frames (up to 16 sampled frames of a
 * long cine; boxes found in any apply to all), fill with a margin, check by OCR again that no
 * identifying token remains, and re-encode losslessly (the original syntax where that is lossless).
 * Holds back on anything it cannot decode or is not sure of.
 */
export async function cleanPixels(file: DicomFile, source: ByteSource, deny: DenyList, s: PixelCleaningSettings): Promise<PixelCleanResult> {
  const d = pixelDescription(file.dataset, file.transferSyntax.littleEndian);
  const from = file.transferSyntax.uid;
  if (!d) return { status: 'unchanged', report: { framesChecked: 0, boxes: [], transferSyntax: { from, to: from } } };
  if (d.bitsAllocated !== 8 && d.bitsAllocated !== 16) return { status: 'held', code: 'PIXEL_DECODE', message: `Bits Allocated ${d.bitsAllocated} is not supported for pixel cleaning` };
  let frames: Uint8Array[];
  let desc: PixelDescription;
  try {
    ({ frames, desc } = await decodedFrames(file, source, d));
  } catch (e) {
    return { status: 'held', code: 'PIXEL_DECODE', message: isCustosError(e) ? e.message : `pixel data could not be decoded: ${(e as Error).message}` };
  }
  const report: PixelReport = { framesChecked: 0, boxes: [], transferSyntax: { from, to: from } };
  const boxes: Box[] = [];
  for (const r of ruleBoxes(s.rules, { manufacturer: str(file, tag(0x0008, 0x0070)), model: str(file, tag(0x0008, 0x1090)), sopClassUID: str(file, Tags.SOPClassUID), modality: str(file, Tags.Modality), rows: d.rows, columns: d.columns })) {
    boxes.push(r.box);
    report.boxes.push({ source: 'rule', rule: r.rule, x: r.box[0], y: r.box[1], width: r.box[2], height: r.box[3] });
  }
  const margin = Math.max(3, Math.round(Math.max(d.rows, d.columns) * 0.01));
  const sampled = sampleIndexes(frames.length);
  for (const i of sampled) {
    const words = await ocrFrame(frames[i]!, desc);
    for (const w of wordsToRedact(words, deny, s.mode, s.allow)) boxes.push(w.box);
  }
  report.framesChecked = sampled.length;
  if (boxes.length === 0) return { status: 'unchanged', report };
  const ruleCount = report.boxes.length;
  const padded = dedupeBoxes(withMargin(boxes, margin, d));
  for (const [x, y, w, h] of dedupeBoxes(withMargin(boxes.slice(ruleCount), margin, d))) report.boxes.push({ source: 'ocr', x, y, width: w, height: h });
  const area = padded.reduce((a, [, , w, h]) => a + w * h, 0);
  if (area > 0.5 * d.rows * d.columns) return { status: 'held', code: 'PIXEL_TEXT_UNCERTAIN', message: 'text covers more than half of the image: not released without review' };
  const cleaned = frames.map((f) => fillBoxes(f, desc, padded));
  // Check: OCR the cleaned frames again; any identifying token still readable holds the instance back.
  for (const i of sampled) {
    const again = await ocrFrame(cleaned[i]!, desc);
    if (again.some((w) => matchesDenyToken(w.text, deny.tokens))) return { status: 'held', code: 'PIXEL_TEXT_REMAINS', message: 'identifying text is still readable after redaction' };
  }
  return { status: 'cleaned', ...encodeFrames(cleaned, desc, file.transferSyntax, report), samplesPerPixel: desc.samplesPerPixel, report };
}

/**
 * Re-encode: native stays native (interleaved: the output's Planar Configuration becomes 0); a lossless
 * syntax is kept; a lossy one becomes explicit VR little endian.
 */
export function encodeFrames(frames: Uint8Array[], d: PixelDescription, ts: TransferSyntax, report: Pick<PixelReport, 'transferSyntax'>): { pixelData: DataElement; transferSyntax: TransferSyntax; photometricInterpretation: string } {
  const vr = d.bitsAllocated > 8 ? 'OW' : 'OB';
  if (!ts.encapsulated) {
    const data = Buffer.concat(frames.map((f) => {
      let b = Buffer.from(f);
      if (!ts.littleEndian && d.bitsAllocated === 16) b = b.swap16();
      return b;
    }));
    return { pixelData: { tag: Tags.PixelData, vr, value: data.length % 2 ? Buffer.concat([data, Buffer.alloc(1)]) : data }, transferSyntax: ts, photometricInterpretation: d.photometricInterpretation };
  }
  if (canEncodeLosslessly(ts.uid)) {
    const items: Buffer[] = [item(Buffer.alloc(0))];
    let photometricInterpretation = d.photometricInterpretation;
    for (const f of frames) {
      const enc = encodeFrameLossless(ts.uid, f, d);
      items.push(item(Buffer.from(enc.data)));
      photometricInterpretation = enc.photometricInterpretation;
    }
    return { pixelData: { tag: Tags.PixelData, vr: 'OB', value: Buffer.concat(items), encapsulated: true, undefinedLength: true }, transferSyntax: ts, photometricInterpretation };
  }
  report.transferSyntax = { from: ts.uid, to: EXPLICIT_VR_LITTLE_ENDIAN, note: `the original syntax ${ts.uid} is lossy: re-encoded without loss as explicit VR little endian` };
  return { pixelData: { tag: Tags.PixelData, vr, value: Buffer.concat(frames.map((f) => Buffer.from(f))) }, transferSyntax: transferSyntax(EXPLICIT_VR_LITTLE_ENDIAN), photometricInterpretation: d.photometricInterpretation };
}

/** One item of encapsulated pixel data (PS3.5 A.4), padded to even length. */
function item(data: Buffer): Buffer {
  const padded = data.length % 2 ? Buffer.concat([data, Buffer.alloc(1)]) : data;
  const h = Buffer.alloc(8);
  h.writeUInt16LE(0xfffe, 0); h.writeUInt16LE(0xe000, 2); h.writeUInt32LE(padded.length, 4);
  return Buffer.concat([h, padded]);
}

