import { CustosError } from '../errors.ts';
import type { ByteSource } from './byte-source.ts';
import { type DicomFile, findElement } from './dataset.ts';
import { canDecode, decodeFrame, initCodecs } from './codecs.ts';
import { encapsulatedFrames, pixelDescription } from './frames.ts';
import { Tags } from './tag.ts';

/*
 * What later work will need of the pixel data, checked when an instance arrives, so that the
 * gateway refuses what it could never process instead of acknowledging it (PS3.4 B.2.3: C000).
 * Header-only: lengths and the first bytes of the first fragment are looked at; nothing is decoded
 * or copied.
 */

/** The first bytes a frame of each compressed syntax begins with. */
function magicOk(tsUid: string, head: Buffer): boolean | undefined {
  const jpeg = ['1.2.840.10008.1.2.4.50', '1.2.840.10008.1.2.4.51', '1.2.840.10008.1.2.4.57', '1.2.840.10008.1.2.4.70', '1.2.840.10008.1.2.4.80', '1.2.840.10008.1.2.4.81'];
  // ITU-T T.81 B.1.1.3 and T.87: SOI marker.
  if (jpeg.includes(tsUid)) return head[0] === 0xff && head[1] === 0xd8;
  // ISO/IEC 15444-1 A.4.1 (SOC, SIZ) or a JP2 signature box (I.5.1).
  if (/^1\.2\.840\.10008\.1\.2\.4\.(90|91|92|93|201|202|203)$/.test(tsUid)) {
    return (head[0] === 0xff && head[1] === 0x4f && head[2] === 0xff && head[3] === 0x51) || head.subarray(0, 8).equals(Buffer.from([0, 0, 0, 0x0c, 0x6a, 0x50, 0x20, 0x20]));
  }
  // PS3.5 G.5: a 64-byte RLE header whose first word counts 1 to 15 segments.
  if (tsUid === '1.2.840.10008.1.2.5') return head.length >= 64 && head.readUInt32LE(0) >= 1 && head.readUInt32LE(0) <= 15;
  return undefined; // other syntaxes (MPEG, …): not checked
}

/**
 * Throws DICOM_PIXEL_LENGTH when native pixel data is shorter than Rows × Columns × Samples ×
 * Bits Allocated × Number of Frames (PS3.5 8.1.1), DICOM_PIXEL_ENCODING when encapsulated pixel
 * data holds no fragment or its first fragment does not begin as its transfer syntax requires, and
 * DICOM_MISSING_ATTRIBUTE when pixel data comes without Rows, Columns or Bits Allocated.
 */
export function checkPixelData(file: DicomFile, source: ByteSource): void {
  const el = findElement(file.dataset, Tags.PixelData);
  if (!el) return;
  const d = pixelDescription(file.dataset, file.transferSyntax.littleEndian);
  if (!d) throw new CustosError('DICOM_MISSING_ATTRIBUTE', 'Pixel Data (7FE0,0010) without Rows, Columns or Bits Allocated');
  const span = el.range ?? (el.value ? { offset: -1, length: el.value.length } : { offset: -1, length: 0 });
  const read = (offset: number, length: number): Buffer => (el.range ? source.read(el.range.offset + offset, Math.min(length, span.length - offset)) : el.value!.subarray(offset, offset + length));
  if (!el.encapsulated) {
    const need = Math.ceil((d.rows * d.columns * d.samplesPerPixel * d.bitsAllocated * d.numberOfFrames) / 8);
    if (span.length < need) throw new CustosError('DICOM_PIXEL_LENGTH', `Pixel Data holds ${span.length} bytes; ${d.numberOfFrames} frame(s) of ${d.rows} × ${d.columns} × ${d.samplesPerPixel} at ${d.bitsAllocated} bits need ${need}`);
    return;
  }
  // Items (PS3.5 A.4): the Basic Offset Table, then fragments; their headers were checked by the reader.
  if (span.length < 8) throw new CustosError('DICOM_PIXEL_ENCODING', 'encapsulated Pixel Data has no Basic Offset Table item');
  const botLength = read(4, 4).readUInt32LE(0);
  const first = 8 + botLength;
  if (span.length < first + 8) throw new CustosError('DICOM_PIXEL_ENCODING', 'encapsulated Pixel Data holds no fragment');
  const fragmentLength = read(first + 4, 4).readUInt32LE(0);
  const ok = magicOk(file.transferSyntax.uid, read(first + 8, Math.min(64, fragmentLength)));
  if (ok === false) throw new CustosError('DICOM_PIXEL_ENCODING', `the first fragment of Pixel Data does not begin as transfer syntax ${file.transferSyntax.uid} requires`);
}

/** Encapsulated pixel data up to this size has its first frame decoded at ingest; above it, only its first bytes are looked at. */
const DECODE_CHECK_MAX = 64 << 20;

/**
 * Throws DICOM_PIXEL_ENCODING when the first frame of encapsulated pixel data in a syntax this
 * gateway decodes cannot be decoded, or decodes to fewer samples than Rows × Columns × Samples:
 * what the work loop would fail on later (clean-pixel-data, the log's frame digests). After
 * checkPixelData; one frame is decoded, not the instance.
 */
export async function checkFirstFrame(file: DicomFile, source: ByteSource): Promise<void> {
  const el = findElement(file.dataset, Tags.PixelData);
  const ts = file.transferSyntax.uid;
  if (!el?.encapsulated || !canDecode(ts)) return;
  const d = pixelDescription(file.dataset, file.transferSyntax.littleEndian);
  const length = el.range?.length ?? el.value?.length ?? 0;
  if (!d || length > DECODE_CHECK_MAX) return;
  const refuse = (why: string): CustosError => new CustosError('DICOM_PIXEL_ENCODING', `the first frame of Pixel Data ${why} (transfer syntax ${ts})`);
  let first: Buffer | undefined;
  try {
    first = encapsulatedFrames(el, d, source)[0];
  } catch (e) {
    if (e instanceof CustosError) throw refuse('cannot be found: its fragments do not add up');
    throw e;
  }
  if (!first) throw refuse('is missing');
  await initCodecs();
  let pixels: Uint8Array;
  try {
    pixels = decodeFrame(ts, first, d).pixels;
  } catch (e) {
    if (e instanceof CustosError) throw refuse('cannot be decoded');
    throw e;
  }
  const need = d.rows * d.columns * d.samplesPerPixel * Math.ceil(d.bitsAllocated / 8);
  if (pixels.length < need) throw refuse(`decodes to ${pixels.length} bytes where ${d.rows} × ${d.columns} × ${d.samplesPerPixel} need ${need}`);
}
