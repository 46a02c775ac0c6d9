import { createHash } from 'node:crypto';
import { canonicalJSON } from './canonical-json.ts';
import { signEd25519, verifyEd25519 } from './ed25519.ts';
import { type NoteSigner, parseVerifierKey } from './note.ts';

/*
 * Signed de-identification receipts (docs/accountability.md): the receipt, as canonical JSON
 * without its signature, signed with the deployment's log key (Ed25519). Anyone with the log's
 * verifier key checks it offline; its digest can also be recorded in the integrity log.
 */

const DOMAIN = 'custos/receipt/v1\0';

export interface ReceiptSignature { algorithm: 'Ed25519'; verifierKey: string; value: string }

const body = (receipt: Record<string, unknown>): Buffer => {
  const { signature: _omit, ...rest } = receipt;
  void _omit;
  return Buffer.from(DOMAIN + canonicalJSON(rest), 'utf8');
};

/** SHA-256 of what is signed (hex): what the log records. */
export function receiptDigest(receipt: Record<string, unknown>): string {
  return createHash('sha256').update(body(receipt)).digest('hex');
}

export function signReceipt<T extends Record<string, unknown>>(receipt: T, signer: NoteSigner, verifierKey: string): T & { signature: ReceiptSignature } {
  return { ...receipt, signature: { algorithm: 'Ed25519', verifierKey, value: signEd25519(signer.key, body(receipt)).toString('base64') } };
}

export type ReceiptCheck = { ok: true; signer: string } | { ok: false; why: string };

/** Check a receipt's signature; with `pinned`, only that verifier key is trusted. */
export function verifyReceipt(receipt: unknown, pinned?: string): ReceiptCheck {
  if (typeof receipt !== 'object' || receipt === null) return { ok: false, why: 'not a receipt (a JSON object)' };
  const r = receipt as Record<string, unknown> & { signature?: Partial<ReceiptSignature> };
  const s = r.signature;
  if (!s || s.algorithm !== 'Ed25519' || typeof s.verifierKey !== 'string' || typeof s.value !== 'string') return { ok: false, why: 'the receipt is not signed' };
  if (pinned !== undefined && s.verifierKey !== pinned) return { ok: false, why: 'signed by another key than the one given' };
  let key;
  try { key = parseVerifierKey(s.verifierKey); } catch { return { ok: false, why: 'the verifier key in the receipt is malformed' }; }
  if (!verifyEd25519(key.key, body(r), Buffer.from(s.value, 'base64'))) return { ok: false, why: 'the signature does not verify: the receipt was changed after it was signed, or forged' };
  return { ok: true, signer: key.name };
}
