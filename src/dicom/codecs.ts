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

type Decoder = (ctx: InstanceType<typeof codecs.Context>) => InstanceType<typeof codecs.Context>;

function decoderFor(ts: string): Decoder | undefined {
  const N = codecs.NativeCodecs;
  if (ts === '1.2.840.10008.1.2.5') return (c) => N.decodeRle(c);
  if (['1.2.840.10008.1.2.4.50', '1.2.840.10008.1.2.4.51', '1.2.840.10008.1.2.4.57', '1.2.840.10008.1.2.4.70'].includes(ts)) return (c) => N.decodeJpeg(c, { convertColorspaceToRgb: false });
  if (ts === '1.2.840.10008.1.2.4.80' || ts === '1.2.840.10008.1.2.4.81') return (c) => N.decodeJpegLs(c);
  if (['1.2.840.10008.1.2.4.90', '1.2.840.10008.1.2.4.91', '1.2.840.10008.1.2.4.92', '1.2.840.10008.1.2.4.93'].includes(ts)) return (c) => N.decodeJpeg2000(c);
  if (['1.2.840.10008.1.2.4.201', '1.2.840.10008.1.2.4.202', '1.2.840.10008.1.2.4.203'].includes(ts)) return (c) => N.decodeHtJpeg2000(c);
  return undefined;
}

export function canDecode(ts: string): boolean {
  return decoderFor(ts) !== undefined;
}

/** Decode one compressed frame; initCodecs() must have resolved. Returns interleaved little-endian samples. */
export function decodeFrame(ts: string, frame: Uint8Array, d: PixelDescription): { pixels: Uint8Array; planar: boolean } {
  const decode = decoderFor(ts);
  if (!decode) throw new CustosError('PIXEL_DECODE', `no decoder for transfer syntax ${ts}`);
  const ctx = new codecs.Context({
    width: d.columns, height: d.rows, bitsAllocated: d.bitsAllocated, bitsStored: d.bitsStored,
    samplesPerPixel: d.samplesPerPixel, pixelRepresentation: d.pixelRepresentation,
    planarConfiguration: d.planarConfiguration, photometricInterpretation: d.photometricInterpretation,
    encodedBuffer: frame,
  });
  try {
    const out = decode(ctx);
    const pixels = out.getDecodedBuffer();
    if (!pixels) throw new Error('decoder returned no pixels');
    return { pixels, planar: out.getPlanarConfiguration() === 1 };
  } catch (e) {
    throw new CustosError('PIXEL_DECODE', `frame could not be decoded (${ts}): ${(e as Error).message}`);
  }
}
