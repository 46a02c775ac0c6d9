import { CustosError } from '../errors.ts';
import { HASH_SIZE } from './rfc6962.ts';

/** A checkpoint body (c2sp.org/tlog-checkpoint): origin, tree size, base64 root hash, extension lines. */
export interface Checkpoint { origin: string; size: number; root: Buffer; extensions: string[] }

export function formatCheckpoint(c: Checkpoint): string {
  return `${c.origin}\n${c.size}\n${c.root.toString('base64')}\n${c.extensions.map((e) => `${e}\n`).join('')}`;
}

export function parseCheckpoint(text: string): Checkpoint {
  const lines = text.split('\n');
  if (lines.length < 4 || lines.at(-1) !== '') throw new CustosError('NOTE_MALFORMED', 'checkpoint needs origin, size and root lines');
  const [origin, sizeLine, rootLine, ...rest] = lines.slice(0, -1) as [string, string, string, ...string[]];
  if (!origin) throw new CustosError('NOTE_MALFORMED', 'checkpoint origin is empty');
  if (!/^(0|[1-9]\d{0,15})$/.test(sizeLine)) throw new CustosError('NOTE_MALFORMED', `checkpoint size ${JSON.stringify(sizeLine.slice(0, 20))} is not a decimal number`);
  const root = Buffer.from(rootLine, 'base64');
  if (root.length !== HASH_SIZE || root.toString('base64') !== rootLine) throw new CustosError('NOTE_MALFORMED', 'checkpoint root is not a base64 SHA-256 hash');
  return { origin, size: Number(sizeLine), root, extensions: rest };
}
