import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { createWhole } from './key-file.ts';
import { dirname } from 'node:path';
import { CustosError } from '../errors.ts';
import { rawPublicKey } from '../integrity/ed25519.ts';
import { type NoteSigner, formatSignerKey, formatVerifierKey, parseSignerKey } from '../integrity/note.ts';

/**
 * The log's Ed25519 signing key, as a signed-note signer key string (PRIVATE+KEY+name+id+key) in a
 * file only its owner can read. Its name is the log's origin; created on first use.
 */
export function loadOrCreateLogKey(path: string, origin?: string): { signer: NoteSigner; vkey: string; created: boolean } {
  let created = false;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
    if ((statSync(path).mode & 0o077) !== 0) throw new CustosError('KEY_INVALID', `log key ${path} is readable by group or others; run: chmod 600 ${path}`);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    text = formatSignerKey(origin ?? `custos.local/log-${randomBytes(4).toString('hex')}`, randomBytes(32)) + '\n';
    try {
      createWhole(path, text);
      created = true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      text = readFileSync(path, 'utf8');
    }
  }
  const signer = parseSignerKey(text);
  return { signer, vkey: formatVerifierKey(signer.name, rawPublicKey(signer.key)), created };
}
