import { type KeyObject, X509Certificate, createPublicKey, createSign, createVerify, randomUUID } from 'node:crypto';
import { CustosError } from '../errors.ts';
import type { ByteSource } from '../dicom/byte-source.ts';
import { type DataElement, type Dataset, type DicomFile, asciiValue, findElement, putElement } from '../dicom/dataset.ts';
import { Tags, tag } from '../dicom/tag.ts';
import { EXPLICIT_VR_LITTLE_ENDIAN } from '../dicom/transfer-syntax.ts';
import { hasLongHeader, padByte } from '../dicom/vr.ts';

/*
 * DICOM Digital Signatures (PS3.3 C.12.1.1.3, PS3.15 Annex C): a MAC Parameters Sequence item and a
 * Digital Signatures Sequence item per signature. The MAC is computed over the byte stream PS3.3
 * C.12.1.1.3.1.1 defines, which no JavaScript DICOM library produces: the signed Data Elements in
 * Explicit VR Little Endian, in tag order, where sequences and items carry no length (item tags and a
 * sequence delimiter instead), then the signature item's own attributes except the certificate, the
 * signature and the timestamp. Signature: RSASSA-PKCS1-v1_5 (Base RSA Digital Signature Profile,
 * PS3.15 C.1) or ECDSA, with the signer's X.509 certificate (node:crypto).
 */

export const SIG = {
  MACParametersSequence: tag(0x4ffe, 0x0001),
  DigitalSignaturesSequence: tag(0xfffa, 0xfffa),
  MACIDNumber: tag(0x0400, 0x0005),
  MACCalculationTransferSyntaxUID: tag(0x0400, 0x0010),
  MACAlgorithm: tag(0x0400, 0x0015),
  DataElementsSigned: tag(0x0400, 0x0020),
  DigitalSignatureUID: tag(0x0400, 0x0100),
  DigitalSignatureDateTime: tag(0x0400, 0x0105),
  CertificateType: tag(0x0400, 0x0110),
  CertificateOfSigner: tag(0x0400, 0x0115),
  Signature: tag(0x0400, 0x0120),
  CertifiedTimestampType: tag(0x0400, 0x0305),
  CertifiedTimestamp: tag(0x0400, 0x0310),
  DataSetTrailingPadding: tag(0xfffc, 0xfffc),
} as const;

/** MAC Algorithm defined terms (PS3.3 C.12.1.1.3.1.1) and their node:crypto names. */
const MAC_ALGORITHMS: Record<string, string> = { SHA256: 'sha256', SHA384: 'sha384', SHA512: 'sha512', SHA1: 'sha1', RIPEMD160: 'ripemd160', MD5: 'md5' };

/** Not signable (PS3.3 C.12.1.1.3.1.1): group lengths, the signature attributes, padding, and anything of unknown VR. */
function signable(el: DataElement): boolean {
  if ((el.tag & 0xffff) === 0) return false;
  if (el.tag === SIG.MACParametersSequence || el.tag === SIG.DigitalSignaturesSequence || el.tag === SIG.DataSetTrailingPadding) return false;
  if (el.vr === 'UN') return false;
  return !el.items || el.items.every((item) => item.elements.every(signable));
}

const tagBytes = (t: number): Buffer => { const b = Buffer.alloc(4); b.writeUInt16LE(t >>> 16, 0); b.writeUInt16LE(t & 0xffff, 2); return b; };

/** The MAC byte stream of one element (Explicit VR Little Endian, no lengths on sequences and items). */
function* elementStream(el: DataElement, source: ByteSource): Generator<Buffer> {
  if (el.items) {
    const h = Buffer.alloc(8);
    tagBytes(el.tag).copy(h);
    h.write('SQ', 4, 'latin1');
    yield h;
    for (const item of el.items) {
      yield tagBytes(Tags.Item);
      for (const e of item.elements) yield* elementStream(e, source);
    }
    yield tagBytes(Tags.SequenceDelimitationItem);
    return;
  }
  if (el.encapsulated) {
    // The fragments as they are (each item tag and length), behind the element's tag and VR, no length.
    const h = Buffer.alloc(8);
    tagBytes(el.tag).copy(h);
    h.write('OB', 4, 'latin1'); // PS3.5 A.4: encapsulated pixel data is OB, whatever a file says
    yield h;
    // Each fragment as its item tag and value, without its length (as for items of a sequence).
    const at = el.range?.offset ?? 0;
    const size = el.range?.length ?? el.value!.length;
    const read = (o: number, n: number): Buffer => (el.range ? source.read(at + o, n) : el.value!.subarray(o, o + n));
    for (let o = 0; o + 8 <= size;) {
      const head = read(o, 8);
      const n = head.readUInt32LE(4);
      if (head.readUInt16LE(0) !== 0xfffe || head.readUInt16LE(2) !== 0xe000 || o + 8 + n > size) throw new CustosError('DICOM_BAD_LENGTH', 'encapsulated pixel data items are malformed');
      yield Buffer.from(head.subarray(0, 4));
      for (let v = 0; v < n; v += 1 << 22) yield read(o + 8 + v, Math.min(1 << 22, n - v));
      o += 8 + n;
    }
    yield tagBytes(Tags.SequenceDelimitationItem);
    return;
  }
  const length = el.range ? el.range.length : (el.value?.length ?? 0);
  const padded = length + (length & 1);
  const long = hasLongHeader(el.vr);
  const h = Buffer.alloc(long ? 12 : 8);
  tagBytes(el.tag).copy(h);
  h.write(el.vr, 4, 'latin1');
  if (long) h.writeUInt32LE(padded, 8);
  else h.writeUInt16LE(padded, 6);
  yield h;
  if (el.range) {
    // Read a window at a time: pixel data is hashed without being held whole.
    for (let o = 0; o < el.range.length; o += 1 << 22) yield source.read(el.range.offset + o, Math.min(1 << 22, el.range.length - o));
  } else if (length) yield el.value!;
  if (length & 1) yield Buffer.of(padByte(el.vr));
}

/** The signature item's attributes that the MAC covers: all but the certificate, the signature and the timestamp. */
const coveredInItem = (t: number): boolean => t !== SIG.CertificateOfSigner && t !== SIG.Signature && t !== SIG.CertifiedTimestampType && t !== SIG.CertifiedTimestamp;

export function* macStream(ds: Dataset, signed: ReadonlySet<number>, sigItem: Dataset, source: ByteSource): Generator<Buffer> {
  for (const el of ds.elements) if (signed.has(el.tag)) yield* elementStream(el, source);
  for (const el of sigItem.elements) if (coveredInItem(el.tag)) yield* elementStream(el, source);
}

const str = (t: number, vr: 'UI' | 'CS' | 'DT', v: string): DataElement => ({ tag: t, vr, value: Buffer.from(v.length % 2 ? v + (vr === 'UI' ? '\0' : ' ') : v, 'latin1') });
const us = (t: number, n: number): DataElement => { const b = Buffer.alloc(2); b.writeUInt16LE(n); return { tag: t, vr: 'US', value: b }; };

/** DT with seconds, fraction and zone, as dcmtk writes it (YYYYMMDDHHMMSS.FFFFFF+ZZZZ), in UTC. */
function dicomDateTime(d: Date): string {
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}.${p(d.getUTCMilliseconds() * 1000, 6)}+0000`;
}

function macIdOf(item: Dataset): number | undefined {
  const v = findElement(item, SIG.MACIDNumber)?.value;
  return v && v.length >= 2 ? v.readUInt16LE(0) : undefined;
}

/** A 2.25 UID from a random UUID (PS3.5 B.2): no registered root needed. */
const newUid = (): string => `2.25.${BigInt(`0x${randomUUID().replaceAll('-', '')}`).toString()}`;

/** Whether the dataset is stored as the MAC stream encodes it: Explicit VR Little Endian, not deflated (compressed pixel data included). */
const macSyntaxFits = (file: DicomFile): boolean => file.transferSyntax.explicitVR && file.transferSyntax.littleEndian && !file.transferSyntax.deflated;

export interface SigningIdentity { key: KeyObject; certificate: Buffer }

/**
 * Add a digital signature over every signable top-level attribute (pixel data included) of an
 * instance in Explicit VR Little Endian (others: DICOM_SIGNATURE_UNSUPPORTED, the caller
 * transcodes). Returns the dataset with both sequences added; `file.dataset` is not changed.
 */
export function signDataset(file: DicomFile, source: ByteSource, who: SigningIdentity, opts: { mac?: 'SHA256' | 'SHA384' | 'SHA512'; now?: Date } = {}): Dataset {
  if (!macSyntaxFits(file)) {
    throw new CustosError('DICOM_SIGNATURE_UNSUPPORTED', `signing needs an Explicit VR Little Endian encoding (compressed pixel data included); this instance is in ${file.transferSyntax.uid}`);
  }
  const mac = opts.mac ?? 'SHA256';
  const ds: Dataset = { ...file.dataset, elements: [...file.dataset.elements] };
  const macSeq = findElement(ds, SIG.MACParametersSequence);
  const sigSeq = findElement(ds, SIG.DigitalSignaturesSequence);
  const used = new Set([...(macSeq?.items ?? []), ...(sigSeq?.items ?? [])].map(macIdOf));
  let id = 0;
  while (used.has(id)) id++;
  if (id > 0xffff) throw new CustosError('DICOM_SIGNATURE_UNSUPPORTED', 'no MAC ID Number left');
  const signedTags = ds.elements.filter(signable).map((e) => e.tag);
  const at = Buffer.alloc(signedTags.length * 4);
  signedTags.forEach((t, i) => { at.writeUInt16LE(t >>> 16, i * 4); at.writeUInt16LE(t & 0xffff, i * 4 + 2); });
  const cert = new X509Certificate(who.certificate);
  if (!cert.publicKey.equals(createPublicKey(who.key))) throw new CustosError('KEY_INVALID', 'the signing key does not match its certificate');
  const sigItem: Dataset = { elements: [
    us(SIG.MACIDNumber, id),
    str(SIG.DigitalSignatureUID, 'UI', newUid()),
    str(SIG.DigitalSignatureDateTime, 'DT', dicomDateTime(opts.now ?? new Date())),
    str(SIG.CertificateType, 'CS', 'X509_1993_SIG'),
    { tag: SIG.CertificateOfSigner, vr: 'OB', value: Buffer.from(who.certificate) },
  ] };
  const signer = createSign(MAC_ALGORITHMS[mac]!);
  for (const b of macStream(ds, new Set(signedTags), sigItem, source)) signer.update(b);
  const signature = signer.sign(who.key);
  putElement(sigItem, { tag: SIG.Signature, vr: 'OB', value: signature });
  const macItem: Dataset = { elements: [
    us(SIG.MACIDNumber, id),
    // The instance's own syntax: for compressed pixel data the dataset is Explicit VR Little Endian
    // and the fragments are signed as they are, so the MAC is computed in the syntax it is stored in.
    str(SIG.MACCalculationTransferSyntaxUID, 'UI', file.transferSyntax.uid),
    str(SIG.MACAlgorithm, 'CS', mac),
    { tag: SIG.DataElementsSigned, vr: 'AT', value: at },
  ] };
  putElement(ds, { tag: SIG.MACParametersSequence, vr: 'SQ', items: [...(macSeq?.items ?? []), macItem] });
  putElement(ds, { tag: SIG.DigitalSignaturesSequence, vr: 'SQ', items: [...(sigSeq?.items ?? []), sigItem] });
  return ds;
}


export interface SignatureReport {
  uid: string;
  macId: number;
  time: string;
  macAlgorithm: string;
  signedAttributes: number;
  signer: { subject: string; issuer: string; validFrom: string; validTo: string; selfSigned: boolean } | null;
  valid: boolean;
  /** Whether the certificate chains to one of the trust anchors given (undefined: none given). */
  trusted?: boolean;
  reason?: string;
}

/**
 * Check every digital signature of an instance (top level). A signature is valid when the signed
 * attributes are all present and the signature over the MAC stream verifies with the certificate's
 * key; `trusted` says whether that certificate was issued by one of `anchors`.
 */
export function verifyDatasetSignatures(file: DicomFile, source: ByteSource, anchors: readonly X509Certificate[] = []): SignatureReport[] {
  const ds = file.dataset;
  const macItems = findElement(ds, SIG.MACParametersSequence)?.items ?? [];
  const sigItems = findElement(ds, SIG.DigitalSignaturesSequence)?.items ?? [];
  return sigItems.map((item): SignatureReport => {
    const macId = macIdOf(item) ?? -1;
    const base = { uid: asciiValue(item, SIG.DigitalSignatureUID), macId, time: asciiValue(item, SIG.DigitalSignatureDateTime), macAlgorithm: '', signedAttributes: 0, signer: null };
    const params = macItems.find((m) => macIdOf(m) === macId);
    if (!params) return { ...base, valid: false, reason: `no MAC Parameters item with MAC ID Number ${macId}` };
    const macAlgorithm = asciiValue(params, SIG.MACAlgorithm);
    const atValue = findElement(params, SIG.DataElementsSigned)?.value ?? Buffer.alloc(0);
    const tags: number[] = [];
    for (let o = 0; o + 4 <= atValue.length; o += 4) tags.push(((atValue.readUInt16LE(o) << 16) | atValue.readUInt16LE(o + 2)) >>> 0);
    const withAlg = { ...base, macAlgorithm, signedAttributes: tags.length };
    let cert: X509Certificate;
    try {
      const der = findElement(item, SIG.CertificateOfSigner)?.value;
      if (!der) return { ...withAlg, valid: false, reason: 'no Certificate of Signer' };
      cert = new X509Certificate(der);
    } catch (e) {
      return { ...withAlg, valid: false, reason: `the Certificate of Signer cannot be read: ${(e as Error).message}` };
    }
    const signer = { subject: cert.subject, issuer: cert.issuer, validFrom: new Date(cert.validFrom).toISOString(), validTo: new Date(cert.validTo).toISOString(), selfSigned: cert.checkIssued(cert) && cert.verify(cert.publicKey) };
    const trusted = anchors.length ? anchors.some((a) => (a.fingerprint256 === cert.fingerprint256) || (cert.checkIssued(a) && cert.verify(a.publicKey))) : undefined;
    const out = { ...withAlg, signer, ...(trusted !== undefined ? { trusted } : {}) };
    const macSyntax = asciiValue(params, SIG.MACCalculationTransferSyntaxUID);
    if (macSyntax !== EXPLICIT_VR_LITTLE_ENDIAN && macSyntax !== file.transferSyntax.uid) return { ...out, valid: false, reason: `MAC Calculation Transfer Syntax ${macSyntax} is neither Explicit VR Little Endian nor the instance's own syntax: it was re-encoded after signing` };
    const hash = MAC_ALGORITHMS[macAlgorithm];
    if (!hash) return { ...out, valid: false, reason: `MAC Algorithm ${JSON.stringify(macAlgorithm)} is not supported` };
    if (!macSyntaxFits(file)) {
      return { ...out, valid: false, reason: `the instance is in ${file.transferSyntax.uid}, not the syntax its MAC was computed in: re-encoded after signing` };
    }
    const present = new Set(ds.elements.map((e) => e.tag));
    const missing = tags.filter((t) => !present.has(t));
    if (missing.length) return { ...out, valid: false, reason: `signed attribute(s) missing: ${missing.slice(0, 5).map((t) => `(${(t >>> 16).toString(16).padStart(4, '0')},${(t & 0xffff).toString(16).padStart(4, '0')})`).join(', ')}` };
    const signature = findElement(item, SIG.Signature)?.value;
    if (!signature) return { ...out, valid: false, reason: 'no Signature' };
    try {
      const v = createVerify(hash);
      for (const b of macStream(ds, new Set(tags), item, source)) v.update(b);
      if (!v.verify(cert.publicKey, signature)) return { ...out, valid: false, reason: 'the signature does not match: a signed attribute was changed' };
    } catch (e) {
      return { ...out, valid: false, reason: `the signature cannot be checked: ${(e as Error).message}` };
    }
    return { ...out, valid: true };
  });
}
