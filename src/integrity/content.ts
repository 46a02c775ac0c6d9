import { createHash } from 'node:crypto';
import { type Charset, charsetFor, DEFAULT_CHARSET } from '../dicom/charset.ts';
import type { ByteSource } from '../dicom/byte-source.ts';
import { canDecode, decodeFrame, initCodecs } from '../dicom/codecs.ts';
import { type DataElement, type Dataset, type DicomFile, findElement } from '../dicom/dataset.ts';
import { type PixelDescription, encapsulatedFrames, forEachNativeFrame, pixelDescription } from '../dicom/frames.ts';
import { Tags, tag } from '../dicom/tag.ts';
import { isStringVR } from '../dicom/vr.ts';
import { canonicalJSON } from './canonical-json.ts';
import { MerkleTree } from './merkle.ts';

/**
 * What an instance is, as digests that survive lossless transcoding:
 * - frames: SHA-256 of each decoded frame (little endian, interleaved samples, bits above Bits Stored
 *   cleared), so explicit LE -> RLE -> JPEG-LS keeps them and any pixel change does not;
 * - pixelRoot: RFC 6962 Merkle root over the frame hashes (pins an edit to frames);
 * - geometry: digest of the attributes that say how to read and place the pixels;
 * - header: digest of the identity and clinical attributes.
 */
export interface ContentDigests {
  pixelRoot: string | null;
  frames: string[];
  /** "decoded": frames hashed as pixels; "encoded": no decoder for the syntax, the encoded frames are bound. */
  pixelEncoding: 'decoded' | 'encoded' | 'none';
  geometry: string;
  header: string;
}

const GEOMETRY = [
  tag(0x0028, 0x0002), tag(0x0028, 0x0004), tag(0x0028, 0x0008), tag(0x0028, 0x0010), tag(0x0028, 0x0011),
  tag(0x0028, 0x0030), tag(0x0018, 0x1164), tag(0x0028, 0x0034), tag(0x0028, 0x0100), tag(0x0028, 0x0101),
  tag(0x0028, 0x0102), tag(0x0028, 0x0103), tag(0x0020, 0x0032), tag(0x0020, 0x0037), tag(0x0018, 0x0050),
  tag(0x0018, 0x0088), tag(0x0028, 0x1052), tag(0x0028, 0x1053), tag(0x0028, 0x1054), tag(0x0020, 0x0052),
];

const HEADER = [
  Tags.PatientName, Tags.PatientID, Tags.IssuerOfPatientID, Tags.PatientBirthDate, tag(0x0010, 0x0040), tag(0x0010, 0x1010),
  Tags.SOPClassUID, Tags.SOPInstanceUID, Tags.StudyInstanceUID, Tags.SeriesInstanceUID, Tags.StudyDate, tag(0x0008, 0x0030),
  Tags.SeriesDate, Tags.AcquisitionDate, tag(0x0008, 0x0032), Tags.ContentDate, tag(0x0008, 0x0033), Tags.AccessionNumber,
  Tags.StudyID, Tags.Modality, Tags.BodyPartExamined, tag(0x0020, 0x0060), tag(0x0020, 0x0062), Tags.StudyDescription,
  Tags.SeriesDescription, Tags.ProtocolName, tag(0x0020, 0x0011), tag(0x0020, 0x0012), tag(0x0020, 0x0013), tag(0x0008, 0x0008),
  tag(0x0008, 0x0070), tag(0x0008, 0x1090), tag(0x0018, 0x1000), Tags.InstitutionName, tag(0x0018, 0x0010), tag(0x0018, 0x0060),
  tag(0x0008, 0x0090), Tags.BurnedInAnnotation, Tags.PatientIdentityRemoved,
];

const NUMERIC_READ: Record<string, [number, (b: Buffer, o: number, little: boolean) => number]> = {
  US: [2, (b, o, l) => (l ? b.readUInt16LE(o) : b.readUInt16BE(o))],
  SS: [2, (b, o, l) => (l ? b.readInt16LE(o) : b.readInt16BE(o))],
  UL: [4, (b, o, l) => (l ? b.readUInt32LE(o) : b.readUInt32BE(o))],
  SL: [4, (b, o, l) => (l ? b.readInt32LE(o) : b.readInt32BE(o))],
  FL: [4, (b, o, l) => (l ? b.readFloatLE(o) : b.readFloatBE(o))],
  FD: [8, (b, o, l) => (l ? b.readDoubleLE(o) : b.readDoubleBE(o))],
};

/** A value as normalised text: strings trimmed, DS/IS as numbers, binary numbers decoded. */
function valueText(el: DataElement | undefined, cs: Charset, little: boolean): string | null {
  if (!el) return null;
  if (el.items) return `[${el.items.length} item(s)]`;
  const v = el.value ?? Buffer.alloc(0);
  if (isStringVR(el.vr)) {
    const s = cs.decode(v, el.vr).replace(/[\0 ]+$/, '').trim();
    if (el.vr === 'DS' || el.vr === 'IS') return s.split('\\').map((x) => (x.trim() === '' ? '' : String(Number(x)))).join('\\');
    return s.split('\\').map((x) => x.trim()).join('\\');
  }
  const num = NUMERIC_READ[el.vr];
  if (num) {
    const out: number[] = [];
    for (let o = 0; o + num[0] <= v.length; o += num[0]) out.push(num[1](v, o, little));
    return out.join('\\');
  }
  return createHash('sha256').update(v).digest('hex');
}

function attributesDigest(ds: Dataset, tags: number[], cs: Charset, little: boolean): string {
  const obj: Record<string, string | null> = {};
  for (const t of tags) obj[t.toString(16).padStart(8, '0')] = valueText(findElement(ds, t), cs, little);
  return createHash('sha256').update(canonicalJSON(obj)).digest('hex');
}

/** Decoded samples in one canonical form: little endian, interleaved, unused high bits cleared. */
function hashFrame(pixels: Uint8Array, d: PixelDescription, bigEndian: boolean, planar: boolean): string {
  const bytesPerSample = d.bitsAllocated / 8;
  const needsSwap = bigEndian && bytesPerSample > 1 && Number.isInteger(bytesPerSample);
  const needsMask = d.bitsStored < d.bitsAllocated && Number.isInteger(bytesPerSample) && bytesPerSample <= 4;
  const needsInterleave = planar && d.samplesPerPixel > 1;
  if (!needsSwap && !needsMask && !needsInterleave) return createHash('sha256').update(pixels).digest('hex');
  let b = Buffer.from(pixels);
  if (needsSwap) { if (bytesPerSample === 2) b.swap16(); else if (bytesPerSample === 4) b.swap32(); }
  if (needsInterleave) {
    const n = d.rows * d.columns;
    const out = Buffer.alloc(b.length);
    for (let s = 0; s < d.samplesPerPixel; s++) for (let i = 0; i < n; i++) b.copy(out, (i * d.samplesPerPixel + s) * bytesPerSample, (s * n + i) * bytesPerSample, (s * n + i + 1) * bytesPerSample);
    b = out;
  }
  if (needsMask) {
    const mask = d.bitsStored >= 32 ? 0xffffffff : (2 ** d.bitsStored - 1);
    for (let o = 0; o + bytesPerSample <= b.length; o += bytesPerSample) {
      if (bytesPerSample === 1) b[o] = b[o]! & mask;
      else if (bytesPerSample === 2) b.writeUInt16LE(b.readUInt16LE(o) & mask, o);
      else b.writeUInt32LE((b.readUInt32LE(o) & mask) >>> 0, o);
    }
  }
  return createHash('sha256').update(b).digest('hex');
}

export async function contentDigests(file: DicomFile, source: ByteSource, samePixelsAs?: ContentDigests): Promise<ContentDigests> {
  const ds = file.dataset;
  const little = file.transferSyntax.littleEndian;
  const cs = charsetFor(valueText(findElement(ds, Tags.SpecificCharacterSet), DEFAULT_CHARSET, true) ?? '');
  const geometry = attributesDigest(ds, GEOMETRY, DEFAULT_CHARSET, little);
  const header = attributesDigest(ds, HEADER, cs, little);
  // The caller knows the pixel data is byte-identical to an instance already described (a header-only
  // de-identification): its frame digests stand, and hashing them again would only cost time.
  if (samePixelsAs) return { pixelRoot: samePixelsAs.pixelRoot, frames: samePixelsAs.frames, pixelEncoding: samePixelsAs.pixelEncoding, geometry, header };
  const px = findElement(ds, Tags.PixelData);
  const d = pixelDescription(ds, little);
  if (!px || !d) return { pixelRoot: null, frames: [], pixelEncoding: 'none', geometry, header };
  let frames: string[];
  let pixelEncoding: ContentDigests['pixelEncoding'] = 'decoded';
  if (!px.encapsulated) {
    const hashes: string[] = [];
    forEachNativeFrame(px, d, source, (f) => { hashes.push(hashFrame(f, d, !little, d.planarConfiguration === 1)); });
    frames = hashes;
  } else if (canDecode(file.transferSyntax.uid)) {
    await initCodecs();
    frames = encapsulatedFrames(px, d, source).map((f) => {
      const { pixels, planar } = decodeFrame(file.transferSyntax.uid, f, d);
      return hashFrame(pixels, d, false, planar);
    });
  } else {
    pixelEncoding = 'encoded';
    frames = encapsulatedFrames(px, d, source).map((f) => createHash('sha256').update(f).digest('hex'));
  }
  const tree = new MerkleTree();
  for (const f of frames) tree.appendData(Buffer.from(f, 'hex'));
  return { pixelRoot: tree.root().toString('hex'), frames, pixelEncoding, geometry, header };
}
