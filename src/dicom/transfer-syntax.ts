import { CustosError } from '../errors.ts';

/** How a dataset is encoded, PS3.5 10 and Annex A. */
export interface TransferSyntax {
  uid: string;
  explicitVR: boolean;
  littleEndian: boolean;
  deflated: boolean;
  encapsulated: boolean;
}

export const IMPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2';
export const EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1';
export const DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1.99';
export const EXPLICIT_VR_BIG_ENDIAN = '1.2.840.10008.1.2.2';

const NATIVE: Record<string, TransferSyntax> = {
  [IMPLICIT_VR_LITTLE_ENDIAN]: { uid: IMPLICIT_VR_LITTLE_ENDIAN, explicitVR: false, littleEndian: true, deflated: false, encapsulated: false },
  [EXPLICIT_VR_LITTLE_ENDIAN]: { uid: EXPLICIT_VR_LITTLE_ENDIAN, explicitVR: true, littleEndian: true, deflated: false, encapsulated: false },
  [DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN]: { uid: DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN, explicitVR: true, littleEndian: true, deflated: true, encapsulated: false },
  [EXPLICIT_VR_BIG_ENDIAN]: { uid: EXPLICIT_VR_BIG_ENDIAN, explicitVR: true, littleEndian: false, deflated: false, encapsulated: false },
};

/**
 * Resolve a Transfer Syntax UID. Every other syntax under 1.2.840.10008.1.2.4 / .5 (JPEG family,
 * JPEG-LS, JPEG 2000, RLE, MPEG, HTJ2K, …) is explicit VR little endian with encapsulated pixel data
 * (PS3.5 A.4), so the header can be rewritten without touching the compressed frames.
 */
export function transferSyntax(uid: string): TransferSyntax {
  const known = NATIVE[uid];
  if (known) return known;
  if (/^1\.2\.840\.10008\.1\.2\.(4|5|6|7|8)(\.\d+)*$/.test(uid) || uid === '1.2.840.10008.1.2.1.98') {
    return { uid, explicitVR: true, littleEndian: true, deflated: false, encapsulated: true };
  }
  // The value is input: named only if it is a well-formed UID, otherwise described (it may carry any text).
  const shown = /^[0-9]+(\.[0-9]+)*$/.test(uid) && uid.length <= 64 ? uid : `(not a UID: ${uid.length} characters)`;
  throw new CustosError('DICOM_UNSUPPORTED_TRANSFER_SYNTAX', `unsupported transfer syntax ${shown}`);
}
