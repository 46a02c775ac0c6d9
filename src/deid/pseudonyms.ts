import { createHmac } from 'node:crypto';
import { hmacKey } from '../hmac-key.ts';

/*
 * Keyed pseudonyms. PS3.15 E.3.10 and its notes warn that plain hashes of identifiers can be reversed by
 * dictionary attack; every derivation here is HMAC-SHA-256 under the deployment (or recipient) key, with a
 * distinct label per kind so one pseudonym never equals another of a different kind.
 */

const hmac = (key: Buffer, label: string, value: string): Buffer =>
  createHmac('sha256', hmacKey(key)).update(label).update('\0').update(value, 'utf8').digest();

/**
 * Derivations recur: the study, series and frame of reference UIDs and the patient of one instance are
 * those of the next in a batch. Results are remembered per key and kind (bounded: cleared when full).
 */
const memos = new WeakMap<Buffer, Map<string, Map<string, unknown>>>();
const MEMO_SIZE = 4096;

function memoized<T>(key: Buffer, kind: string, value: string, derive: () => T): T {
  let byKind = memos.get(key);
  if (!byKind) { byKind = new Map(); memos.set(key, byKind); }
  let memo = byKind.get(kind);
  if (!memo) { memo = new Map(); byKind.set(kind, memo); }
  const known = memo.get(value);
  if (known !== undefined) return known as T;
  const out = derive();
  if (memo.size >= MEMO_SIZE) memo.clear();
  memo.set(value, out);
  return out;
}

/**
 * A UID under the 2.25 root (PS3.5 B.2: the decimal form of a 128-bit number): at most 44 characters,
 * always valid, and the same for the same input UID under the same key.
 */
export function pseudonymousUID(key: Buffer, uid: string): string {
  return memoized(key, 'uid', uid, () => `2.25.${BigInt('0x' + hmac(key, 'uid', uid).subarray(0, 16).toString('hex')).toString(10)}`);
}

const ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789'; // no 0/O, 1/I: read aloud and typed safely

function code(bytes: Buffer, length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += ALPHABET[bytes[i]! & 31];
  return out;
}

/** Stable pseudonymous Patient ID (LO) and Patient's Name (PN) for one patient identity under a key. */
export function patientPseudonym(key: Buffer, patientKey: string): { readonly id: string; readonly name: string } {
  return memoized(key, 'patient', patientKey, () => {
    const c = code(hmac(key, 'patient', patientKey), 12);
    return Object.freeze({ id: `CUSTOS-${c}`, name: `CUSTOS^${c}` });
  });
}

/**
 * Per-patient date shift for the Retain Longitudinal Temporal Information Modified Dates option
 * (PS3.15 E.3.6): between 1 and 3652 days into the past, the same for every date of the patient so
 * intervals are kept, unknowable without the key.
 */
export function dateOffsetDays(key: Buffer, patientKey: string): number {
  return memoized(key, 'date-offset', patientKey, () => -(1 + (hmac(key, 'date-offset', patientKey).readUInt32BE(0) % 3652)));
}

/** A short non-reversible identifier of a key, safe to print and store (never the key). */
export function keyIdOf(key: Buffer): string {
  return hmac(key, 'key-id', 'custos').subarray(0, 8).toString('hex');
}

/** A recipient's own key derived from the deployment key (so recipients' datasets cannot be joined). */
export function recipientKey(key: Buffer, recipient: string): Buffer {
  return hmac(key, 'recipient', recipient);
}
