import { inflateSync } from 'fflate';
import { Buffer } from 'buffer';

/* node:zlib's raw inflate for deflated DICOM (PS3.5 A.5) in the browser, with its output limit. */
export function inflateRawSync(data: Uint8Array, opts: { maxOutputLength?: number } = {}): Buffer {
  const out = inflateSync(data);
  if (opts.maxOutputLength !== undefined && out.length > opts.maxOutputLength) {
    throw Object.assign(new Error('inflated data exceeds the limit'), { code: 'ERR_BUFFER_TOO_LARGE' });
  }
  return Buffer.from(out.buffer, out.byteOffset, out.length);
}
