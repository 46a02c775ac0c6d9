import { createHash, type KeyObject } from 'node:crypto';
import { CustosError } from '../errors.ts';
import { privateKeyFromSeed, publicKeyFromRaw, rawPublicKey, signEd25519, verifyEd25519 } from './ed25519.ts';
import { splitKey } from './note.ts';

/*
 * Witness cosignatures (c2sp.org/tlog-cosignature, Ed25519, signature type 0x04): a note signature
 * line `— <witness name> base64(key ID || u64 timestamp || signature)` over
 * "cosignature/v1\ntime <t>\n" followed by the checkpoint's note text. No library does this format.
 */

const COSIGNATURE_V1 = 0x04;
const EM_DASH = '\u2014';

export interface Cosigner { name: string; id: number; key: KeyObject }

/** key ID = SHA-256(name || 0x0A || 0x04 || public key)[:4] */
export function cosignerKeyId(name: string, publicKey: Uint8Array): number {
  return createHash('sha256').update(name, 'utf8').update(Buffer.of(0x0a, COSIGNATURE_V1)).update(publicKey).digest().readUInt32BE(0);
}

const hex8 = (n: number): string => n.toString(16).padStart(8, '0');

function checkName(name: string): void {
  if (!name || /[\s+]/u.test(name)) throw new CustosError('KEY_INVALID', `invalid witness name ${JSON.stringify(name)}: must be non-empty, without spaces or '+'`);
}

export function formatCosignerVkey(name: string, publicKey: Uint8Array): string {
  checkName(name);
  return `${name}+${hex8(cosignerKeyId(name, publicKey))}+${Buffer.concat([Buffer.of(COSIGNATURE_V1), publicKey]).toString('base64')}`;
}

export function formatCosignerSkey(name: string, seed: Uint8Array): string {
  checkName(name);
  const pub = rawPublicKey(privateKeyFromSeed(seed));
  return `PRIVATE+KEY+${name}+${hex8(cosignerKeyId(name, pub))}+${Buffer.concat([Buffer.of(COSIGNATURE_V1), seed]).toString('base64')}`;
}

const split = (s: string, prefix: string): { name: string; id: number; material: Buffer } => splitKey(s.trim(), prefix, COSIGNATURE_V1);

export function parseCosignerVkey(vkey: string): Cosigner {
  const { name, id, material } = split(vkey, '');
  if (cosignerKeyId(name, material) !== id) throw new CustosError('KEY_INVALID', 'witness key ID does not match its name and public key');
  return { name, id, key: publicKeyFromRaw(material) };
}

export function parseCosignerSkey(skey: string): Cosigner {
  const { name, id, material } = split(skey, 'PRIVATE+KEY+');
  const key = privateKeyFromSeed(material);
  if (cosignerKeyId(name, rawPublicKey(key)) !== id) throw new CustosError('KEY_INVALID', 'witness key ID does not match its name and key');
  return { name, id, key };
}

const message = (checkpointText: string, time: number): Buffer => Buffer.from(`cosignature/v1\ntime ${time}\n${checkpointText}`, 'utf8');

/** The cosignature line for a checkpoint's note text (ending in a newline), at `time` (POSIX seconds). */
export function cosign(checkpointText: string, signer: Cosigner, time: number): string {
  const head = Buffer.alloc(12);
  head.writeUInt32BE(signer.id >>> 0, 0);
  head.writeBigUInt64BE(BigInt(time), 4);
  return `${EM_DASH} ${signer.name} ${Buffer.concat([head, signEd25519(signer.key, message(checkpointText, time))]).toString('base64')}\n`;
}

export interface VerifiedCosignature { witness: string; time: number; line: string }

/**
 * The valid cosignatures among a note's signature lines, from the given witnesses (others ignored).
 * A line that claims a known witness's key but fails is refused (NOTE_UNVERIFIED): someone forged it.
 */
export function verifiedCosignatures(checkpointText: string, signatureLines: readonly string[], witnesses: readonly Cosigner[]): VerifiedCosignature[] {
  const out: VerifiedCosignature[] = [];
  for (const raw of signatureLines) {
    const line = raw.endsWith('\n') ? raw : `${raw}\n`;
    const m = /^\u2014 (\S+) ([A-Za-z0-9+/=]+)\n$/.exec(line);
    if (!m) continue;
    const blob = Buffer.from(m[2]!, 'base64');
    if (blob.length !== 4 + 8 + 64) continue;
    const w = witnesses.find((k) => k.name === m[1] && k.id === blob.readUInt32BE(0));
    if (!w) continue;
    const time = blob.readBigUInt64BE(4);
    if (time > BigInt(Number.MAX_SAFE_INTEGER)) throw new CustosError('NOTE_UNVERIFIED', `cosignature by ${w.name} has an impossible time`);
    if (!verifyEd25519(w.key, message(checkpointText, Number(time)), blob.subarray(12))) throw new CustosError('NOTE_UNVERIFIED', `cosignature by ${w.name} does not verify`);
    if (!out.some((c) => c.witness === w.name)) out.push({ witness: w.name, time: Number(time), line });
  }
  return out;
}
