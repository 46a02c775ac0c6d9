import { isStorageSopClass } from '../dicom/sop-classes.ts';
import { EXPLICIT_VR_BIG_ENDIAN, EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN, DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN, transferSyntax } from '../dicom/transfer-syntax.ts';

/* Association negotiation (PS3.8 9.3.2, PS3.7 D.3.3.2): which presentation contexts the gateway accepts, in which syntax. */

export const VERIFICATION_SOP_CLASS = '1.2.840.10008.1.1';

export const AE_TITLE = /^[\x20-\x5b\x5d-\x7e]{0,16}$/;

/** A transfer syntax this gateway knows and that is not encapsulated (an unknown or malformed UID: false). */
function isNativeSyntax(uid: string): boolean {
  try { return !transferSyntax(uid).encapsulated; } catch { return false; }
}

/** Pick one proposed syntax: compressed kept as sent, then explicit LE, implicit LE, deflated, big endian. */
export function chooseTransferSyntax(proposed: readonly string[]): string | undefined {
  const supported = proposed.filter((uid) => { try { transferSyntax(uid); return true; } catch { return false; } });
  const rank = (uid: string): number => {
    if (transferSyntax(uid).encapsulated) return 0;
    return [EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN, DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN, EXPLICIT_VR_BIG_ENDIAN].indexOf(uid) + 1;
  };
  return supported.sort((a, b) => rank(a) - rank(b))[0];
}

/** The answer to one proposed presentation context (PS3.8 Table 9-18): a syntax to accept, or why not. */
export type ContextAnswer = { accept: string } | { reject: 'abstract-syntax' | 'transfer-syntaxes' };

/** Verification in a native syntax; storage classes (private ones only when configured) in any syntax Custos reads. */
export function answerContext(abstractSyntax: string, proposed: readonly string[], privateSopClasses?: ReadonlySet<string>): ContextAnswer {
  let ts: string | undefined;
  if (abstractSyntax === VERIFICATION_SOP_CLASS) ts = chooseTransferSyntax(proposed.filter(isNativeSyntax));
  else if (isStorageSopClass(abstractSyntax, privateSopClasses)) ts = chooseTransferSyntax(proposed);
  else return { reject: 'abstract-syntax' };
  return ts ? { accept: ts } : { reject: 'transfer-syntaxes' };
}
