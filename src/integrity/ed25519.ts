import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';

// Raw 32-byte Ed25519 keys (RFC 8032) to and from node:crypto KeyObjects via their fixed DER prefixes.
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export function privateKeyFromSeed(seed: Uint8Array): KeyObject {
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
}

export function publicKeyFromRaw(raw: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
}

export function rawPublicKey(key: KeyObject): Buffer {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return (pub.export({ format: 'der', type: 'spki' }) as Buffer).subarray(SPKI_PREFIX.length);
}

export const signEd25519 = (key: KeyObject, msg: Uint8Array): Buffer => sign(null, msg, key);
export const verifyEd25519 = (key: KeyObject, msg: Uint8Array, sig: Uint8Array): boolean => sig.length === 64 && verify(null, msg, key, sig);
