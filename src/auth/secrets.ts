import { createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

/*
 * Credentials' secrets: made from the system CSPRNG, kept only as digests, compared in constant
 * time. Random secrets of 256 bits (tokens, sessions) need no slow hash: SHA-256 of the secret is
 * stored. Passwords, chosen by people, are hashed with scrypt (RFC 7914) from node:crypto.
 */

const b64url = (b: Buffer): string => b.toString('base64url');
export const sha256 = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** Constant-time equality of two digests (different lengths compare unequal without early exit on content). */
export function sameDigest(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Constant-time equality of two strings, for a configured static secret. */
export function sameSecret(given: string, expected: string): boolean {
  return sameDigest(sha256(given), sha256(expected));
}

/** An API token: `cst_<id>.<secret>`. The id is public (listed, revoked by it); only SHA-256 of the secret is stored. */
export function newToken(): { id: string; token: string; secretDigest: Buffer } {
  const id = b64url(randomBytes(9));
  const secret = b64url(randomBytes(32));
  return { id, token: `cst_${id}.${secret}`, secretDigest: sha256(secret) };
}

/** Split a presented token; undefined when it is not of our form (then it is simply a bad credential). */
export function parseToken(token: string): { id: string; secretDigest: Buffer } | undefined {
  const m = /^cst_([A-Za-z0-9_-]{12})\.([A-Za-z0-9_-]{43})$/.exec(token);
  return m ? { id: m[1]!, secretDigest: sha256(m[2]!) } : undefined;
}

/** A session identifier (cookie value) and its digest (database key), with a CSRF token for the session. */
export function newSession(): { id: string; digest: Buffer; csrf: string } {
  const id = b64url(randomBytes(32));
  return { id, digest: sha256(id), csrf: b64url(randomBytes(32)) };
}

/** A random password for a new account (printed once). */
export const newPassword = (): string => b64url(randomBytes(18));

// Crockford's base32: no I, L, O, U, so a code read aloud or typed from paper survives.
const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** A patient access code: 16 characters of base32 (80 bits), shown as XXXX-XXXX-XXXX-XXXX. */
export function newPatientCode(): { code: string; digest: Buffer } {
  const bytes = randomBytes(10);
  let bits = 0n;
  for (const b of bytes) bits = (bits << 8n) | BigInt(b);
  let s = '';
  for (let i = 0; i < 16; i++) s = CROCKFORD[Number(bits & 31n)]! + s, bits >>= 5n;
  return { code: s.match(/.{4}/g)!.join('-'), digest: sha256(s) };
}

/** The digest of a code as typed: case, dashes and spaces ignored; O read as 0, I and L as 1. */
export function patientCodeDigest(typed: string): Buffer | undefined {
  const s = typed.toUpperCase().replace(/[\s-]/g, '').replace(/O/g, '0').replace(/[IL]/g, '1');
  return /^[0-9A-HJKMNP-TV-Z]{16}$/.test(s) ? sha256(s) : undefined;
}

// scrypt cost: N = 2^15, r = 8 (32 MiB, about 60 ms here), as OWASP's password storage guidance.
const SCRYPT = { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 } as const;

const scryptAsync = (password: string, salt: Buffer, o: { N: number; r: number; p: number }): Promise<Buffer> =>
  new Promise((resolve, reject) => scrypt(password.normalize('NFC'), salt, 32, { ...o, maxmem: SCRYPT.maxmem }, (e, key) => (e ? reject(e) : resolve(key))));

/** `scrypt$<log2 N>$<r>$<p>$<salt>$<hash>` (base64url). */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(password, salt, SCRYPT);
  return ['scrypt', Math.log2(SCRYPT.N), SCRYPT.r, SCRYPT.p, b64url(salt), b64url(key)].join('$');
}

/** Check a password against a stored hash; false for a malformed hash (never throws on bad input). */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const m = /^scrypt\$(\d{1,2})\$(\d{1,2})\$(\d{1,2})\$([A-Za-z0-9_-]+)\$([A-Za-z0-9_-]+)$/.exec(stored);
  if (!m) return false;
  const [logN, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (logN < 14 || logN > 20 || r < 1 || r > 16 || p < 1 || p > 4) return false;
  const key = await scryptAsync(password, Buffer.from(m[4]!, 'base64url'), { N: 2 ** logN, r, p });
  return sameDigest(key, Buffer.from(m[5]!, 'base64url'));
}

/** A hash to compare against when the account does not exist, so a wrong name costs what a wrong password does. */
let dummy: Promise<string> | undefined;
export const dummyPasswordHash = (): Promise<string> => (dummy ??= hashPassword(newPassword()));
