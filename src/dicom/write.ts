import { deflateRawSync } from 'node:zlib';
import { type ByteSource, BufferSource } from './byte-source.ts';
import type { ByteRange, DataElement, Dataset } from './dataset.ts';
import { Tags } from './tag.ts';
import type { TransferSyntax } from './transfer-syntax.ts';
import { hasLongHeader, padByte } from './vr.ts';

/** Output as a list of buffers and byte ranges of the source still to be streamed. */
export type Chunk = Buffer | ByteRange;

const UNDEFINED = 0xffffffff;

interface Enc { explicit: boolean; little: boolean }

function header(enc: Enc, tag: number, vr: string, length: number): Buffer {
  const g = tag >>> 16;
  const e = tag & 0xffff;
  if (!enc.explicit || g === 0xfffe) {
    const b = Buffer.allocUnsafe(8);
    if (enc.little) { b.writeUInt16LE(g, 0); b.writeUInt16LE(e, 2); b.writeUInt32LE(length, 4); }
    else { b.writeUInt16BE(g, 0); b.writeUInt16BE(e, 2); b.writeUInt32BE(length, 4); }
    return b;
  }
  const long = hasLongHeader(vr as never) || length > 0xffff;
  // A value too long for a 16-bit length is written as UN (PS3.5 6.2.2), rare but must stay valid.
  const outVr = long && !hasLongHeader(vr as never) ? 'UN' : vr;
  const b = Buffer.allocUnsafe(long ? 12 : 8);
  if (enc.little) { b.writeUInt16LE(g, 0); b.writeUInt16LE(e, 2); } else { b.writeUInt16BE(g, 0); b.writeUInt16BE(e, 2); }
  b.write(outVr, 4, 'latin1');
  if (long) {
    b.writeUInt16LE(0, 6);
    if (enc.little) b.writeUInt32LE(length, 8); else b.writeUInt32BE(length, 8);
  } else if (enc.little) b.writeUInt16LE(length, 6);
  else b.writeUInt16BE(length, 6);
  return b;
}

function pushElements(out: Chunk[], ds: Dataset, enc: Enc): void {
  for (const el of ds.elements) pushElement(out, el, enc);
}

function pushElement(out: Chunk[], el: DataElement, enc: Enc): void {
  if (el.vr === 'SQ' || el.items) {
    // Sequences and items are written with undefined length (PS3.5 7.5.1): one pass, no size bookkeeping.
    out.push(header(enc, el.tag, 'SQ', UNDEFINED));
    for (const item of el.items ?? []) {
      out.push(header(enc, Tags.Item, '', UNDEFINED));
      pushElements(out, item, enc);
      out.push(header(enc, Tags.ItemDelimitationItem, '', 0));
    }
    out.push(header(enc, Tags.SequenceDelimitationItem, '', 0));
    return;
  }
  if (el.encapsulated) {
    out.push(header(enc, el.tag, el.vr, UNDEFINED));
    out.push(el.range ?? el.value!);
    out.push(header(enc, Tags.SequenceDelimitationItem, '', 0));
    return;
  }
  if (el.range) {
    out.push(header(enc, el.tag, el.vr, el.range.length + (el.range.length & 1)));
    out.push(el.range);
    if (el.range.length & 1) out.push(Buffer.from([padByte(el.vr)]));
    return;
  }
  const v = el.value ?? Buffer.alloc(0);
  const odd = v.length & 1;
  out.push(header(enc, el.tag, el.vr, v.length + odd));
  if (v.length) out.push(v);
  if (odd) out.push(Buffer.from([padByte(el.vr)]));
}

/** The file meta information group (PS3.10 7.1), always explicit VR little endian, with its group length. */
export function encodeMeta(meta: Dataset): Buffer {
  const body: Chunk[] = [];
  pushElements(body, { elements: meta.elements.filter((e) => e.tag !== Tags.FileMetaInformationGroupLength) }, { explicit: true, little: true });
  const bodyBuf = Buffer.concat(body as Buffer[]);
  const gl = Buffer.alloc(12);
  gl.writeUInt16LE(0x0002, 0); gl.writeUInt16LE(0x0000, 2); gl.write('UL', 4, 'latin1'); gl.writeUInt16LE(4, 6);
  gl.writeUInt32LE(bodyBuf.length, 8);
  return Buffer.concat([gl, bodyBuf]);
}

/** Encode a dataset in a transfer syntax; ranges refer to `source` and are resolved by the caller. */
export function encodeDataset(ds: Dataset, ts: TransferSyntax): Chunk[] {
  const out: Chunk[] = [];
  pushElements(out, ds, { explicit: ts.explicitVR, little: ts.littleEndian });
  return out;
}

/** All chunks of a Part 10 file: preamble, "DICM", meta, dataset (deflated where the syntax says so). */
export function encodePart10(meta: Dataset, ds: Dataset, ts: TransferSyntax, source: ByteSource): Chunk[] {
  const prefix = Buffer.alloc(132);
  prefix.write('DICM', 128, 'latin1');
  const body = encodeDataset(ds, ts);
  if (ts.deflated) {
    // PS3.5 A.5: deflate needs the whole dataset; deflated files are small by nature.
    const flat = Buffer.concat(body.map((c) => (Buffer.isBuffer(c) ? c : source.read(c.offset, c.length))));
    return [prefix, encodeMeta(meta), deflateRawSync(flat)];
  }
  return [prefix, encodeMeta(meta), ...body];
}

/**
 * Merge runs of small buffers (element headers and values) into one, and turn ranges of an in-memory
 * source into views: a few large chunks, so hashing and writing make a few calls instead of hundreds.
 * Ranges of a file source stay ranges (streamed later).
 */
export function coalesceChunks(chunks: readonly Chunk[], source: ByteSource): Chunk[] {
  const out: Chunk[] = [];
  let small: Buffer[] = [];
  const flush = (): void => {
    if (small.length) out.push(small.length === 1 ? small[0]! : Buffer.concat(small));
    small = [];
  };
  for (const c of chunks) {
    const buf = Buffer.isBuffer(c) ? c : source instanceof BufferSource ? source.buffer.subarray(c.offset, c.offset + c.length) : undefined;
    if (buf && buf.length < 65536) { small.push(buf); continue; }
    flush();
    out.push(buf ?? c);
  }
  flush();
  return out;
}
