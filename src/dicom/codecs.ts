import { createRequire } from 'node:module';
import codecs from 'dcmjs-codecs';
import { CustosError } from '../errors.ts';
import type { PixelDescription } from './frames.ts';

/*
 * Decoding of compressed frames through dcmjs-codecs (WebAssembly builds of dcmtk/OpenJPEG/CharLS/
 * libjpeg-turbo, shipped inside the npm package, no download at run time).
 */
let ready: Promise<void> | undefined;

export function initCodecs(): Promise<void> {
  if (!ready) {
    const wasm = createRequire(import.meta.url).resolve('dcmjs-codecs/build/dcmjs-native-codecs.wasm');
    ready = codecs.NativeCodecs.initializeAsync({ webAssemblyModulePathOrUrl: wasm, logCodecsInfo: false, logCodecsTrace: false });
  }
  return ready;
}

type Ctx = InstanceType<typeof codecs.Context>;
type Decoder = (ctx: Ctx, toRgb: boolean) => Ctx;

function decoderFor(ts: string): Decoder | undefined {
  const N = codecs.NativeCodecs;
  if (ts === '1.2.840.10008.1.2.5') return (c) => N.decodeRle(c);
  if (['1.2.840.10008.1.2.4.50', '1.2.840.10008.1.2.4.51', '1.2.840.10008.1.2.4.57', '1.2.840.10008.1.2.4.70'].includes(ts)) return (c, toRgb) => N.decodeJpeg(c, { convertColorspaceToRgb: toRgb });
  if (ts === '1.2.840.10008.1.2.4.80' || ts === '1.2.840.10008.1.2.4.81') return (c) => N.decodeJpegLs(c);
  if (['1.2.840.10008.1.2.4.90', '1.2.840.10008.1.2.4.91', '1.2.840.10008.1.2.4.92', '1.2.840.10008.1.2.4.93'].includes(ts)) return (c) => N.decodeJpeg2000(c);
  if (['1.2.840.10008.1.2.4.201', '1.2.840.10008.1.2.4.202', '1.2.840.10008.1.2.4.203'].includes(ts)) return (c) => N.decodeHtJpeg2000(c);
  return undefined;
}

export function canDecode(ts: string): boolean {
  return decoderFor(ts) !== undefined;
}

/**
 * Decode one compressed frame; initCodecs() must have resolved. Returns little-endian samples and
 * whether they are planar. `toRgb` converts JPEG YCbCr to RGB (for re-encoding a lossy colour frame).
 */
export function decodeFrame(ts: string, frame: Uint8Array, d: PixelDescription, toRgb = false): { pixels: Uint8Array; planar: boolean } {
  const decode = decoderFor(ts);
  if (!decode) throw new CustosError('PIXEL_DECODE', `no decoder for transfer syntax ${ts}`);
  const ctx = new codecs.Context({
    width: d.columns, height: d.rows, bitsAllocated: d.bitsAllocated, bitsStored: d.bitsStored,
    samplesPerPixel: d.samplesPerPixel, pixelRepresentation: d.pixelRepresentation,
    planarConfiguration: d.planarConfiguration, photometricInterpretation: d.photometricInterpretation,
    encodedBuffer: frame,
  });
  try {
    const out = decode(ctx, toRgb);
    const pixels = out.getDecodedBuffer();
    if (!pixels) throw new CustosError('PIXEL_DECODE', 'decoder returned no pixels');
    return { pixels, planar: out.getPlanarConfiguration() === 1 };
  } catch (e) {
    throw new CustosError('PIXEL_DECODE', `frame could not be decoded (${ts}): ${(e as Error).message}`);
  }
}

/** Transfer syntaxes whose encoding is lossless, with the encoder that re-creates them (PS3.5 A.4, A.6-A.8). */
const LOSSLESS_ENCODERS: Record<string, (c: Ctx) => Ctx> = {
  '1.2.840.10008.1.2.5': (c) => codecs.NativeCodecs.encodeRle(c),
  '1.2.840.10008.1.2.4.57': (c) => codecs.NativeCodecs.encodeJpeg(c, { lossy: false, predictor: 1 }),
  '1.2.840.10008.1.2.4.70': (c) => codecs.NativeCodecs.encodeJpeg(c, { lossy: false, predictor: 1 }),
  '1.2.840.10008.1.2.4.80': (c) => codecs.NativeCodecs.encodeJpegLs(c, { lossy: false }),
  '1.2.840.10008.1.2.4.90': (c) => codecs.NativeCodecs.encodeJpeg2000(c, { lossy: false }),
  '1.2.840.10008.1.2.4.201': (c) => codecs.NativeCodecs.encodeHtJpeg2000(c, { lossy: false }),
};

export function canEncodeLosslessly(ts: string): boolean {
  return ts in LOSSLESS_ENCODERS;
}

/**
 * Encode one interleaved little-endian frame losslessly in `ts`; initCodecs() must have resolved.
 * Returns the encoded frame and the photometric interpretation it now has (e.g. YBR_RCT for JPEG 2000 colour).
 */
export function encodeFrameLossless(ts: string, pixels: Uint8Array, d: PixelDescription): { data: Uint8Array; photometricInterpretation: string } {
  const encode = LOSSLESS_ENCODERS[ts];
  if (!encode) throw new CustosError('PIXEL_DECODE', `no lossless encoder for transfer syntax ${ts}`);
  const ctx = new codecs.Context({
    width: d.columns, height: d.rows, bitsAllocated: d.bitsAllocated, bitsStored: d.bitsStored,
    samplesPerPixel: d.samplesPerPixel, pixelRepresentation: d.pixelRepresentation,
    planarConfiguration: 0, photometricInterpretation: d.photometricInterpretation, decodedBuffer: pixels,
  });
  try {
    const done = encode(ctx);
    const out = done.getEncodedBuffer();
    if (!out) throw new CustosError('PIXEL_DECODE', 'encoder returned nothing');
    return { data: out, photometricInterpretation: done.getPhotometricInterpretation() ?? d.photometricInterpretation };
  } catch (e) {
    throw new CustosError('PIXEL_DECODE', `frame could not be encoded (${ts}): ${(e as Error).message}`);
  }
}
