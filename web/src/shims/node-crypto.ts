import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { Buffer } from 'buffer';

/*
 * The part of node:crypto the integrity code uses, for the browser ("Check a copy"): SHA-256
 * (@noble/hashes, synchronous as node's is; WebCrypto's digest is asynchronous only) and Ed25519
 * verification (@noble/curves) of raw public keys given in SPKI form. Signing is not offered: the
 * browser only verifies.
 */

type Input = Uint8Array | string;
const bytes = (d: Input, enc?: string): Uint8Array => (typeof d === 'string' ? Buffer.from(d, (enc ?? 'utf8') as BufferEncoding) : d);

export function createHash(algorithm: string) {
  if (algorithm !== 'sha256') throw new Error(`hash ${algorithm} is not available in the browser`);
  const h = sha256.create();
  const api = {
    update(d: Input, enc?: string) { h.update(bytes(d, enc)); return api; },
    digest(enc?: string): Buffer & string {
      const out = Buffer.from(h.digest());
      return (enc ? out.toString(enc as BufferEncoding) : out) as Buffer & string;
    },
  };
  return api;
}

export function hash(algorithm: string, data: Input, outputEncoding = 'hex'): Buffer | string {
  const out = createHash(algorithm).update(data).digest();
  return outputEncoding === 'buffer' ? out : out.toString(outputEncoding as BufferEncoding);
}

/** An Ed25519 public key from its SPKI DER (12-byte prefix + 32 raw bytes), as node's KeyObject would hold it. */
export interface KeyObject { type: 'public'; raw: Uint8Array; export(): Buffer }

export function createPublicKey(opts: { key: Uint8Array; format: 'der'; type: 'spki' }): KeyObject {
  const der = opts.key;
  return { type: 'public', raw: der.subarray(der.length - 32), export: () => Buffer.from(der) };
}

export function verify(_algorithm: null, data: Uint8Array, key: KeyObject, signature: Uint8Array): boolean {
  try {
    return ed25519.verify(signature, data, key.raw);
  } catch {
    return false;
  }
}

export function randomBytes(n: number): Buffer {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(n)));
}

export function createPrivateKey(): never {
  throw new Error('signing is not available in the browser');
}

export const sign = createPrivateKey;
