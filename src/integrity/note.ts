import { createHash, type KeyObject } from 'node:crypto';
import { CustosError } from '../errors.ts';
import { privateKeyFromSeed, publicKeyFromRaw, rawPublicKey, signEd25519, verifyEd25519 } from './ed25519.ts';

/*
 * C2SP signed-note (c2sp.org/signed-note) with Ed25519 (signature type 0x01):
 *
 *   <text ending in \n>
 *   \n
 *   — <key name> base64(key ID (4 bytes, big endian) || signature)\n
 *
 * Signatures of unknown keys are ignored (they may be witness cosignatures, c2sp.org/tlog-cosignature),
 * a known key whose signature fails rejects the note.
 */

const ED25519 = 0x01;
const EM_DASH = '\u2014';

export interface NoteSigner { name: string; id: number; key: KeyObject }
export interface NoteVerifier { name: string; id: number; key: KeyObject }

/** key ID = SHA-256(key name || 0x0A || 0x01 || public key)[:4] */
export function keyId(name: string, publicKey: Uint8Array): number {
  return createHash('sha256').update(name, 'utf8').update(Buffer.of(0x0a, ED25519)).update(publicKey).digest().readUInt32BE(0);
}

function checkName(name: string): void {
  if (!name || /[\s+]/u.test(name)) throw new CustosError('KEY_INVALID', `invalid key name ${JSON.stringify(name)}: must be non-empty, without spaces or '+'`);
}

const hex8 = (n: number): string => n.toString(16).padStart(8, '0');

/** Verifier key string: <name>+<hex key ID>+base64(0x01 || public key). */
export function formatVerifierKey(name: string, publicKey: Uint8Array): string {
  checkName(name);
  return `${name}+${hex8(keyId(name, publicKey))}+${Buffer.concat([Buffer.of(ED25519), publicKey]).toString('base64')}`;
}

/** Signer key string: PRIVATE+KEY+<name>+<hex key ID>+base64(0x01 || seed). */
export function formatSignerKey(name: string, seed: Uint8Array): string {
  const pub = rawPublicKey(privateKeyFromSeed(seed));
  checkName(name);
  return `PRIVATE+KEY+${name}+${hex8(keyId(name, pub))}+${Buffer.concat([Buffer.of(ED25519), seed]).toString('base64')}`;
}

/**
 * A signed-note key string split into name, key ID and key material, checked to be a 32-byte key of
 * signature type `type` (0x01 Ed25519 note signatures, 0x04 cosignature/v1: cosignature.ts).
 */
export function splitKey(s: string, prefix: string, type = ED25519): { name: string; id: number; material: Buffer } {
  if (!s.startsWith(prefix)) throw new CustosError('KEY_INVALID', 'malformed key: wrong prefix');
  const rest = s.slice(prefix.length);
  // name+hash+base64: the base64 part may itself contain '+', so split only twice.
  const i = rest.indexOf('+');
  const j = rest.indexOf('+', i + 1);
  if (i <= 0 || j < 0) throw new CustosError('KEY_INVALID', 'malformed key: want name+hash+key');
  const name = rest.slice(0, i);
  const hash = rest.slice(i + 1, j);
  const material = Buffer.from(rest.slice(j + 1), 'base64');
  checkName(name);
  if (!/^[0-9a-f]{8}$/.test(hash)) throw new CustosError('KEY_INVALID', 'malformed key: key ID must be 8 lower-case hex digits');
  if (material.length !== 33 || material[0] !== type) throw new CustosError('KEY_INVALID', `unsupported key: want an Ed25519 key (type 0x0${type}, 32 bytes), got ${material.length - 1} bytes of type ${material[0]}`);
  return { name, id: parseInt(hash, 16), material: material.subarray(1) };
}

export function parseVerifierKey(vkey: string): NoteVerifier {
  const { name, id, material } = splitKey(vkey.trim(), '');
  if (keyId(name, material) !== id) throw new CustosError('KEY_INVALID', 'verifier key ID does not match its name and public key');
  return { name, id, key: publicKeyFromRaw(material) };
}

export function parseSignerKey(skey: string): NoteSigner {
  const { name, id, material } = splitKey(skey.trim(), 'PRIVATE+KEY+');
  const key = privateKeyFromSeed(material);
  if (keyId(name, rawPublicKey(key)) !== id) throw new CustosError('KEY_INVALID', 'signer key ID does not match its name and key');
  return { name, id, key };
}

/** Sign `text` (must end in a newline) and return the note; extra signature lines may be kept. */
export function signNote(text: string, signer: NoteSigner, extraSignatureLines: string[] = []): string {
  if (!text.endsWith('\n')) throw new CustosError('NOTE_MALFORMED', 'note text must end with a newline');
  if (/[\x00-\x09\x0b-\x1f]/.test(text)) throw new CustosError('NOTE_MALFORMED', 'note text contains control characters');
  const sig = signEd25519(signer.key, Buffer.from(text, 'utf8'));
  const idb = Buffer.alloc(4);
  idb.writeUInt32BE(signer.id >>> 0);
  const line = `${EM_DASH} ${signer.name} ${Buffer.concat([idb, sig]).toString('base64')}\n`;
  return `${text}\n${line}${extraSignatureLines.join('')}`;
}

export interface OpenedNote { text: string; verifiedBy: string[]; otherSignatures: string[] }

/** Parse and verify a note against known keys. Throws NOTE_UNVERIFIED unless a known key signed it. */
export function openNote(note: string, verifiers: NoteVerifier[]): OpenedNote {
  // The note is attacker-controlled: bound its size and parse strictly.
  if (note.length > 1 << 16) throw new CustosError('NOTE_MALFORMED', `note too large: ${note.length} bytes`);
  const split = note.lastIndexOf('\n\n');
  if (split < 0 || !note.endsWith('\n')) throw new CustosError('NOTE_MALFORMED', 'note has no signature block');
  const text = note.slice(0, split + 1);
  const lines = note.slice(split + 2, -1).split('\n');
  if (lines.length > 100) throw new CustosError('NOTE_MALFORMED', `too many signatures: ${lines.length}`);
  const verifiedBy: string[] = [];
  const otherSignatures: string[] = [];
  for (const line of lines) {
    const m = /^\u2014 (\S+) ([A-Za-z0-9+/=]+)$/.exec(line);
    if (!m) throw new CustosError('NOTE_MALFORMED', 'malformed signature line');
    const blob = Buffer.from(m[2]!, 'base64');
    if (blob.length < 5) throw new CustosError('NOTE_MALFORMED', 'signature too short');
    const id = blob.readUInt32BE(0);
    const v = verifiers.find((k) => k.name === m[1] && k.id === id);
    if (!v) { otherSignatures.push(`${line}\n`); continue; }
    if (!verifyEd25519(v.key, Buffer.from(text, 'utf8'), blob.subarray(4))) {
      throw new CustosError('NOTE_UNVERIFIED', `signature by ${v.name} does not verify`);
    }
    verifiedBy.push(v.name);
  }
  if (verifiedBy.length === 0) throw new CustosError('NOTE_UNVERIFIED', 'no signature from a known key');
  return { text, verifiedBy, otherSignatures };
}
