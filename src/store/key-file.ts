import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { CustosError } from '../errors.ts';

/**
 * The deployment's pseudonymisation secret: 32 random bytes, hex, in a file readable by its owner
 * only (0600), generated on first use. Losing it means new pseudonyms; leaking it lets an attacker
 * test guesses of identifiers, so it never leaves this file (receipts carry only its key id).
 */
export function loadOrCreateKey(path: string): { key: Buffer; created: boolean } {
  let raw: string;
  try {
    raw = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new CustosError('IO', `cannot read key file ${path}: ${(e as Error).message}`);
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    const key = randomBytes(32);
    try {
      writeFileSync(path, key.toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
      return { key, created: true };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new CustosError('IO', `cannot create key file ${path}: ${(err as Error).message}`);
      raw = readFileSync(path, 'utf8'); // another process created it first: use theirs
    }
  }
  const hex = raw.trim();
  if (!/^[0-9a-fA-F]{64,}$/.test(hex) || hex.length % 2 !== 0) {
    throw new CustosError('DEID_KEY_INVALID', `key file ${path} must hold at least 32 bytes as hex (64+ hex digits)`);
  }
  if ((statSync(path).mode & 0o077) !== 0) {
    throw new CustosError('DEID_KEY_INVALID', `key file ${path} is readable by group or others; run: chmod 600 ${path}`);
  }
  return { key: Buffer.from(hex, 'hex'), created: false };
}
