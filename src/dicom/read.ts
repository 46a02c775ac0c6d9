import { inflateRawSync } from 'node:zlib';
import { CustosError } from '../errors.ts';
import { type ByteSource, BufferSource } from './byte-source.ts';
import type { DataElement, Dataset, DicomFile, ReadWarning } from './dataset.ts';
import type { ReadWarningCode } from '../errors.ts';
import { implicitVR } from './dictionary.ts';
import { type Tag, Tags, formatTag, groupOf } from './tag.ts';
import {
  transferSyntax, EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN, EXPLICIT_VR_BIG_ENDIAN,
} from './transfer-syntax.ts';
import { type VR, BINARY_SIZE, isVR, hasLongHeader, vrOfCode } from './vr.ts';

/*
 * A Part 10 reader written for Custos rather than taken from dcmjs or dicom-parser, because the
 * de-identifier needs what neither gives: every element kept as raw bytes (private tags, original
 * character sets and number formats survive untouched), deflated and big-endian syntaxes, pixel data
 * located but never copied or decoded, and input of any size read through a window (PS3.5 7, PS3.10 7).
 * Everything read here is attacker-controlled: lengths are checked against the source and nesting is bounded.
 */

const UNDEFINED = 0xffffffff;
const MAX_DEPTH = 32;

/** A value of `length` bytes is possible for `vr`: fixed-size binary VRs need a whole number of values. */
function fitsVR(vr: VR, length: number): boolean {
  const size = BINARY_SIZE[vr];
  return size === undefined || length % size === 0;
}

export interface ReadOptions {
  /** Top-level pixel data at least this long is left in the source as a byte range. Default 1 MiB. */
  streamThreshold?: number;
  /** Stop before top-level pixel data: header only, for damaged files (verification of what they claim to be). */
  stopAtPixelData?: boolean;
  /** The most a deflated dataset may inflate to, in bytes (default 1 GiB); see inflateLimit(). */
  maxInflatedBytes?: number;
}

/** Deflate expands at most about 1032:1; real DICOM datasets far less. Past the floor, more than this ratio is a bomb. */
const MAX_INFLATE_RATIO = 100;
const INFLATE_FLOOR = 64 << 20;
const DEFAULT_MAX_INFLATED = 1 << 30;

/**
 * How far `deflatedBytes` of deflate may inflate: up to the floor whatever the ratio, then at most
 * MAX_INFLATE_RATIO times the input, never past `max`. Inflation stops at the limit, so memory is
 * bounded by it, not by what the sender claims.
 */
export function inflateLimit(deflatedBytes: number, max = DEFAULT_MAX_INFLATED): number {
  return Math.min(max, Math.max(INFLATE_FLOOR, deflatedBytes * MAX_INFLATE_RATIO));
}

interface Cursor {
  src: ByteSource;
  /** What was repaired while reading (shared by nested cursors): recorded by the caller, never silent. */
  warnings: ReadWarning[];
  pos: number;
  explicit: boolean;
  little: boolean;
  streamThreshold: number;
  stopAtPixelData?: boolean;
}

const u16 = (b: Buffer, o: number, little: boolean): number => (little ? b.readUInt16LE(o) : b.readUInt16BE(o));
const u32 = (b: Buffer, o: number, little: boolean): number => (little ? b.readUInt32LE(o) : b.readUInt32BE(o));

/** The tag (group, element) in the first 4 bytes of an element or item header. */
const tagAt = (b: Buffer, little: boolean): Tag => ((u16(b, 0, little) << 16) | u16(b, 2, little)) >>> 0;

/** Parse a whole Part 10 file, or a bare dataset without preamble and meta information. */
export function readDicom(src: ByteSource, options: ReadOptions = {}): DicomFile {
  const streamThreshold = options.streamThreshold ?? 1 << 20;
  const warnings: ReadWarning[] = [];
  let pos = 0;
  let hadMeta = false;
  if (src.size >= 132 && src.read(128, 4).toString('latin1') === 'DICM') {
    pos = 132;
    hadMeta = true;
  } else if (src.size >= 8 && src.read(0, 2).readUInt16LE(0) === 0x0002) {
    hadMeta = true; // meta group without preamble (seen from some writers)
  }
  let meta: Dataset = { elements: [] };
  if (hadMeta) {
    const c: Cursor = { src, pos, explicit: true, little: true, streamThreshold, warnings };
    meta = readGroup2(c);
    pos = c.pos;
  }
  const tsEl = meta.elements.find((e) => e.tag === Tags.TransferSyntaxUID);
  const tsUid = tsEl?.value ? tsEl.value.toString('latin1').replace(/[\0 ]+$/, '') : guessSyntax(src, pos);
  const ts = transferSyntax(tsUid);
  let dsSource = src;
  if (ts.deflated) {
    // PS3.5 A.5: the dataset after the meta group is a raw deflate stream.
    const deflated = src.size - pos;
    const limit = inflateLimit(deflated, options.maxInflatedBytes);
    try {
      dsSource = new BufferSource(inflateRawSync(src.read(pos, deflated), { maxOutputLength: limit }));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
        throw new CustosError('DICOM_INFLATE_LIMIT', `the deflated dataset (${deflated} bytes) inflates to more than ${limit} bytes (at most ${MAX_INFLATE_RATIO}:1 past ${INFLATE_FLOOR >> 20} MiB, and the instance size limit): refused as a decompression bomb`);
      }
      throw new CustosError('DICOM_TRUNCATED', 'deflated dataset could not be inflated', { cause: e });
    }
    pos = 0;
  }
  // A deflated dataset was inflated into memory: its values are kept as views of that buffer, never as
  // ranges, which callers would read from the (compressed) source.
  const c: Cursor = { src: dsSource, pos, explicit: ts.explicitVR, little: ts.littleEndian, streamThreshold: ts.deflated ? Infinity : streamThreshold, stopAtPixelData: options.stopAtPixelData ?? false, warnings };
  const dataset = readElements(c, dsSource.size, 0);
  if (dataset.elements.length === 0) throw new CustosError('DICOM_NOT_DICOM', 'no data elements found');
  if (!ts.explicitVR) resolveAmbiguousVRs(dataset, ts.littleEndian);
  return warnings.length ? { meta, dataset, transferSyntax: ts, hadMeta, warnings } : { meta, dataset, transferSyntax: ts, hadMeta };
}

function readGroup2(c: Cursor): Dataset {
  const elements: DataElement[] = [];
  while (c.pos + 8 <= c.src.size) {
    const b = c.src.read(c.pos, 2);
    if (b.readUInt16LE(0) !== 0x0002) break;
    elements.push(readElement(c, 0));
  }
  if (elements.length === 0) throw new CustosError('DICOM_NOT_DICOM', 'file meta information is empty');
  return { elements };
}

/** No Transfer Syntax UID: infer it from the first element (PS3.5 7.1, bare datasets). */
function guessSyntax(src: ByteSource, pos: number): string {
  if (src.size < pos + 8) throw new CustosError('DICOM_NOT_DICOM', 'not a DICOM file (too short)');
  const b = src.read(pos, 8);
  const groupLE = b.readUInt16LE(0);
  const groupBE = b.readUInt16BE(0);
  const vr = b.toString('latin1', 4, 6);
  const plausible = (g: number): boolean => g >= 0x0008 && g <= 0x0fff && (g & 1) === 0;
  if (plausible(groupBE) && isVR(vr) && (!plausible(groupLE) || groupBE < groupLE)) return EXPLICIT_VR_BIG_ENDIAN;
  if (plausible(groupLE)) return isVR(vr) ? EXPLICIT_VR_LITTLE_ENDIAN : IMPLICIT_VR_LITTLE_ENDIAN;
  throw new CustosError('DICOM_NOT_DICOM', 'not a DICOM file (no DICM prefix and no recognisable dataset)');
}

/** Elements until `end` (defined length) or an Item Delimitation Item (undefined length). */
function readElements(c: Cursor, end: number, depth: number): Dataset {
  const elements: DataElement[] = [];
  let undefinedLength = false;
  let last = -1;
  let unordered = false;
  while (c.pos < end) {
    if (end - c.pos < 8) {
      // Trailing padding shorter than an element header: tolerated at the top level only.
      if (depth === 0 && c.src.read(c.pos, end - c.pos).every((x) => x === 0)) { c.pos = end; break; }
      throw new CustosError('DICOM_TRUNCATED', `file is truncated: incomplete element header at offset ${c.pos}`);
    }
    // One view of the element header (tag, VR, length: 8 or 12 bytes) serves every field of it.
    const h = c.src.read(c.pos, Math.min(12, end - c.pos));
    const t = tagAt(h, c.little);
    if (depth === 0 && c.stopAtPixelData && t === Tags.PixelData) break;
    if (t === Tags.ItemDelimitationItem) {
      c.pos += 8;
      undefinedLength = true;
      break;
    }
    if (depth === 0 && t === 0xfffcfffc) {
      // Data Set Trailing Padding (PS3.10 7.2): not part of the content, dropped.
      c.pos = end;
      break;
    }
    const el = readElement(c, depth, h);
    if (el.tag === last) throw duplicate(el.tag);
    if (el.tag < last) unordered = true;
    last = el.tag;
    elements.push(el);
  }
  if (unordered) {
    // PS3.5 7.1 requires ascending tags; older devices write some out of order, and dcmtk and
    // pydicom read them. Sorted (stably) and reported, so the output is valid and nothing is silent.
    elements.sort((a, b) => a.tag - b.tag);
    for (let i = 1; i < elements.length; i++) if (elements[i]!.tag === elements[i - 1]!.tag) throw duplicate(elements[i]!.tag);
    warn(c, 'DICOM_ELEMENTS_OUT_OF_ORDER', `data elements out of ascending tag order (first at depth ${depth}) were sorted`);
  }
  return undefinedLength ? { elements, undefinedLength } : { elements };
}

/** Two elements with one tag: which of them a reader uses differs between toolkits, so the instance is refused. */
const duplicate = (t: Tag): CustosError => new CustosError('DICOM_DUPLICATE_ELEMENT', `element ${formatTag(t)} occurs twice in one dataset`);

function warn(c: Cursor, code: ReadWarningCode, message: string): void {
  if (!c.warnings.some((w) => w.code === code)) c.warnings.push({ code, message });
}

/** One element at c.pos; `h` is a view of at least its first 8 bytes when the caller has one. */
function readElement(c: Cursor, depth: number, h: Buffer = c.src.read(c.pos, Math.min(12, c.src.size - c.pos))): DataElement {
  const start = c.pos;
  if (h.length < 8) throw new CustosError('DICOM_TRUNCATED', `file is truncated: incomplete element header at offset ${start}`);
  const t = tagAt(h, c.little);
  let vr: VR;
  let length: number;
  if (c.explicit && groupOf(t) !== 0xfffe) {
    const known = vrOfCode((h[4]! << 8) | h[5]!);
    if (!known) {
      const code = h.toString('latin1', 4, 6);
      throw new CustosError('DICOM_BAD_VR', `invalid VR ${JSON.stringify(code.replace(/[^\x20-\x7e]/g, '?'))} for ${formatTag(t)} at offset ${start}`);
    }
    vr = known;
    if (hasLongHeader(vr)) {
      length = u32(h.length >= 12 ? h : c.src.read(start, 12), 8, c.little);
      c.pos = start + 12;
    } else {
      length = u16(h, 6, c.little);
      c.pos = start + 8;
    }
  } else {
    vr = implicitVR(t);
    length = u32(h, 4, c.little);
    c.pos = start + 8;
  }

  if (t === Tags.PixelData && length === UNDEFINED) return readEncapsulated(c, t, vr, depth);

  const implicitDictSQ = vr === 'UN' && implicitVR(t) === 'SQ';
  if (vr === 'SQ' || (vr === 'UN' && (length === UNDEFINED || (implicitDictSQ && c.little)))) {
    // PS3.5 6.2.2: a UN sequence (undefined length, or a known SQ sent as UN) is implicit VR little endian inside.
    const inner: Cursor = vr === 'SQ' ? c : { ...c, explicit: false, little: true };
    const items = readSequence(inner, length, depth + 1, t);
    c.pos = inner.pos;
    return length === UNDEFINED ? { tag: t, vr: 'SQ', items, undefinedLength: true } : { tag: t, vr: 'SQ', items };
  }
  if (vr === 'UN' && c.explicit && c.little && groupOf(t) % 2 === 0) {
    // PS3.5 6.2.2: a standard attribute sent as UN (by a node that did not know it) has the same
    // bytes as in implicit little endian, so the dictionary's VR is restored when it fits the value.
    const known = implicitVR(t);
    if (known !== 'UN' && known !== 'SQ' && fitsVR(known, length)) {
      vr = known;
      warn(c, 'DICOM_UN_RELABELLED', 'standard attributes encoded as UN were given their dictionary VR');
    }
  }
  if (length === UNDEFINED) {
    throw new CustosError('DICOM_BAD_LENGTH', `undefined length on non-sequence ${formatTag(t)} (${vr}) at offset ${start}`);
  }
  if (c.pos + length > c.src.size) {
    throw new CustosError('DICOM_TRUNCATED', `file is truncated: ${formatTag(t)} needs ${length} bytes at offset ${c.pos}, file ends at ${c.src.size}`);
  }
  if (t === Tags.PixelData && depth === 0 && length >= c.streamThreshold) {
    const range = { offset: c.pos, length };
    c.pos += length;
    return { tag: t, vr, range };
  }
  const value = c.src.read(c.pos, length);
  c.pos += length;
  return { tag: t, vr, value };
}

function readSequence(c: Cursor, length: number, depth: number, t: Tag): Dataset[] {
  if (depth > MAX_DEPTH) throw new CustosError('DICOM_BAD_LENGTH', `sequences nested deeper than ${MAX_DEPTH} at ${formatTag(t)}`);
  const items: Dataset[] = [];
  const end = length === UNDEFINED ? c.src.size : c.pos + length;
  if (end > c.src.size) throw new CustosError('DICOM_TRUNCATED', `file is truncated inside sequence ${formatTag(t)}`);
  while (c.pos < end) {
    const h = c.src.read(c.pos, 8); // item header: tag and length
    const it = tagAt(h, c.little);
    const len = u32(h, 4, c.little);
    c.pos += 8;
    if (it === Tags.SequenceDelimitationItem) {
      if (length !== UNDEFINED) throw new CustosError('DICOM_BAD_LENGTH', `sequence delimiter in defined-length sequence ${formatTag(t)}`);
      return items;
    }
    if (it !== Tags.Item) throw new CustosError('DICOM_BAD_LENGTH', `expected an item in sequence ${formatTag(t)}, found ${formatTag(it)} at offset ${c.pos - 8}`);
    if (len === UNDEFINED) {
      items.push(readElements(c, end, depth));
    } else {
      if (c.pos + len > end) throw new CustosError('DICOM_BAD_LENGTH', `item longer than its sequence ${formatTag(t)}`);
      items.push(readElements(c, c.pos + len, depth));
    }
  }
  if (length === UNDEFINED) throw new CustosError('DICOM_TRUNCATED', `file is truncated: sequence ${formatTag(t)} has no delimiter`);
  return items;
}

/** Encapsulated pixel data (PS3.5 A.4): walk item headers to the delimiter without reading fragments. */
function readEncapsulated(c: Cursor, t: Tag, vr: VR, depth: number): DataElement {
  const start = c.pos;
  for (;;) {
    const h = c.src.read(c.pos, 8);
    const it = tagAt(h, true);
    const len = h.readUInt32LE(4);
    if (it === Tags.SequenceDelimitationItem) {
      const length = c.pos - start;
      c.pos += 8;
      if (depth === 0 && length >= c.streamThreshold) return { tag: t, vr, range: { offset: start, length }, encapsulated: true, undefinedLength: true };
      return { tag: t, vr, value: c.src.read(start, length), encapsulated: true, undefinedLength: true };
    }
    if (it !== Tags.Item || len === UNDEFINED) {
      throw new CustosError('DICOM_BAD_LENGTH', `bad fragment item ${formatTag(it)} in encapsulated pixel data at offset ${c.pos}`);
    }
    c.pos += 8 + len;
    if (c.pos > c.src.size) throw new CustosError('DICOM_TRUNCATED', `file is truncated inside encapsulated pixel data`);
  }
}

/**
 * Attributes whose VR is "US or SS" (PS3.6) and whose values are pixel values, given as US by the
 * dictionary: in implicit VR their VR follows the image's Pixel Representation (PS3.5 A.1 c): SS when
 * the pixels are signed — also inside sequence items (Real World Value Mapping, Histogram). Resolved
 * when the dataset is read, so that a conversion to an explicit syntax writes the right VR. LUT and
 * palette descriptors stay US (their first and third values are always unsigned, PS3.3 C.11.1.1).
 */
const US_OR_SS = new Set([
  0x00189810, 0x00221452, 0x00280106, 0x00280107, 0x00280108, 0x00280109, 0x00280120, 0x00280121,
  0x00409211, 0x00409216, 0x00603004, 0x00603006,
]);

function resolveAmbiguousVRs(ds: Dataset, little: boolean): void {
  const pr = ds.elements.find((e) => e.tag === 0x00280103)?.value;
  const signed = pr !== undefined && pr.length >= 2 && (little ? pr.readUInt16LE(0) : pr.readUInt16BE(0)) === 1;
  if (signed) markSigned(ds, 0);
  const waveforms = ds.elements.find((e) => e.tag === 0x54000100)?.items;
  if (waveforms) for (const item of waveforms) resolveWaveformVRs(item, little);
}

/** "OB or OW" waveform values (PS3.5 A.1, PS3.3 C.10.9.1): OB when Waveform Bits Allocated is 8, else OW (the dictionary's). */
const OB_OR_OW_WAVEFORM = new Set([0x54000110, 0x54000112, 0x5400100a, 0x54001010]);

function resolveWaveformVRs(item: Dataset, little: boolean): void {
  const bits = item.elements.find((e) => e.tag === 0x54001004)?.value;
  if (!bits || bits.length < 2 || (little ? bits.readUInt16LE(0) : bits.readUInt16BE(0)) !== 8) return;
  for (const e of item.elements) if (OB_OR_OW_WAVEFORM.has(e.tag) && e.vr === 'OW') e.vr = 'OB';
}

function markSigned(ds: Dataset, depth: number): void {
  for (const e of ds.elements) {
    if (US_OR_SS.has(e.tag) && e.vr === 'US') e.vr = 'SS';
    else if (e.items && depth < MAX_DEPTH) for (const it of e.items) markSigned(it, depth + 1);
  }
}
