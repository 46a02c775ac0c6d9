import { CustosError } from '../errors.ts';
import { type ByteSource, ChunksSource } from '../dicom/byte-source.ts';
import { putElement } from '../dicom/dataset.ts';
import { readDicom } from '../dicom/read.ts';
import { Tags } from '../dicom/tag.ts';
import { EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN, transferSyntax } from '../dicom/transfer-syntax.ts';
import { type Chunk, encodePart10 } from '../dicom/write.ts';
import { type SignatureReport, type SigningIdentity, signDataset, verifyDatasetSignatures } from '../integrity/dicom-signature.ts';
import type { X509Certificate } from 'node:crypto';

/**
 * A Part 10 instance with a DICOM digital signature added (PS3.15 C.1). Implicit VR Little Endian is
 * re-encoded in Explicit VR Little Endian first (the VRs are known, the values unchanged); big endian
 * and deflated instances are refused (DICOM_SIGNATURE_UNSUPPORTED). Ranges of `source` stay ranges.
 */
export function signPart10(source: ByteSource, who: SigningIdentity, now?: Date): { chunks: Chunk[]; transferSyntaxUID: string } {
  const file = readDicom(source);
  let ts = file.transferSyntax;
  if (ts.uid === IMPLICIT_VR_LITTLE_ENDIAN) {
    ts = transferSyntax(EXPLICIT_VR_LITTLE_ENDIAN);
    putElement(file.meta, { tag: Tags.TransferSyntaxUID, vr: 'UI', value: Buffer.from(`${EXPLICIT_VR_LITTLE_ENDIAN}\0`, 'latin1') });
  }
  if (!ts.explicitVR || !ts.littleEndian || ts.deflated) throw new CustosError('DICOM_SIGNATURE_UNSUPPORTED', `instances in ${ts.uid} are not signed: convert them to Explicit VR Little Endian first`);
  const ds = signDataset({ ...file, transferSyntax: ts }, source, who, now ? { now } : {});
  return { chunks: encodePart10(file.meta, ds, ts, source), transferSyntaxUID: ts.uid };
}

/** A Part 10 instance held as buffers, signed: its new buffers (views of the old where unchanged), syntax and size. */
export function signBuffers(part10: readonly Buffer[], who: SigningIdentity): { part10: Buffer[]; transferSyntaxUID: string; bytes: number } {
  const src = new ChunksSource(part10);
  const signed = signPart10(src, who);
  const out = signed.chunks.map((c) => (Buffer.isBuffer(c) ? c : src.read(c.offset, c.length)));
  return { part10: out, transferSyntaxUID: signed.transferSyntaxUID, bytes: out.reduce((n, b) => n + b.length, 0) };
}

/** The digital signatures embedded in a Part 10 instance, each checked (none: an empty list). */
export function embeddedSignatures(source: ByteSource, anchors: readonly X509Certificate[] = []): SignatureReport[] {
  return verifyDatasetSignatures(readDicom(source), source, anchors);
}
