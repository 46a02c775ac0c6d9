import { randomBytes } from 'node:crypto';
import { fsyncSync, linkSync, mkdirSync, openSync, closeSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
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
      createWhole(path, key.toString('hex') + '\n');
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

/**
 * Create a small secret file whole or not at all: written and fsynced under a temporary name, then
 * linked into place (EEXIST when another process was first). A process killed half-way leaves no
 * empty or partial key behind, which the next run would refuse.
 */
export function createWhole(path: string, text: string): void {
  const tmp = `${path}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(tmp, path);
  } finally {
    rmSync(tmp, { force: true });
  }
}
