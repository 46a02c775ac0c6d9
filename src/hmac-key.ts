import { createSecretKey, type KeyObject } from 'node:crypto';

/**
 * One KeyObject per key buffer, for createHmac: given a raw Buffer it imports the key again on every
 * call (measured: 11 µs against 2 µs per HMAC-SHA-256 of a short value).
 */
const keyObjects = new WeakMap<Buffer, KeyObject>();
export function hmacKey(key: Buffer): KeyObject {
  let k = keyObjects.get(key);
  if (!k) { k = createSecretKey(key); keyObjects.set(key, k); }
  return k;
}
