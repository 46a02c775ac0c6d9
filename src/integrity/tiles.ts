import { CustosError } from '../errors.ts';
import type { MerkleTree } from './merkle.ts';

/*
 * c2sp.org/tlog-tiles: the tree as static tiles of 256 hashes.
 *   /tile/<L>/<N>[.p/<W>]        hashes of level-8L subtrees N*256 .. N*256+W-1
 *   /tile/entries/<N>[.p/<W>]    entry bundle: each entry as uint16 big-endian length || data
 * N is written in groups of three digits, all but the last prefixed with "x": 1234067 -> x001/x234/067.
 */
export const TILE_WIDTH = 256;
const TILE_HEIGHT = 8;

export function encodeTileIndex(n: number): string {
  const s = String(n);
  const padded = s.padStart(Math.ceil(s.length / 3) * 3, '0');
  const groups = padded.match(/.{3}/g)!;
  return groups.map((g, i) => (i < groups.length - 1 ? `x${g}` : g)).join('/');
}

export interface TileRef { level: number | 'entries'; index: number; width: number }

/** Parse "<L>/<N>[.p/<W>]" or "entries/<N>[.p/<W>]"; the path is attacker-controlled. */
export function parseTilePath(path: string): TileRef {
  const m = /^(entries|[0-9]{1,2})\/((?:x[0-9]{3}\/)*[0-9]{3})(?:\.p\/([0-9]{1,3}))?$/.exec(path);
  if (!m) throw new CustosError('LOG_BAD_PROOF_REQUEST', 'not a tile path');
  const index = Number(m[2]!.replace(/x|\//g, ''));
  const width = m[3] === undefined ? TILE_WIDTH : Number(m[3]);
  if (width < 1 || width >= TILE_WIDTH && m[3] !== undefined) throw new CustosError('LOG_BAD_PROOF_REQUEST', `bad partial tile width ${m[3]}`);
  if (encodeTileIndex(index) !== m[2]) throw new CustosError('LOG_BAD_PROOF_REQUEST', 'non-canonical tile index');
  return { level: m[1] === 'entries' ? 'entries' : Number(m[1]), index, width };
}

/** The hashes of a hash tile of a tree of `size` leaves, or undefined when it does not exist at that width. */
export function hashTile(tree: MerkleTree, size: number, level: number, index: number, width: number): Buffer | undefined {
  const nodeLevel = level * TILE_HEIGHT;
  const nodesAtLevel = Math.floor(size / 2 ** nodeLevel); // complete subtrees of that height within `size`
  const available = Math.min(TILE_WIDTH, nodesAtLevel - index * TILE_WIDTH);
  if (available < width || width < 1) return undefined;
  const out: Buffer[] = [];
  for (let i = 0; i < width; i++) {
    const h = tree.nodeAt(nodeLevel, index * TILE_WIDTH + i);
    if (!h) return undefined;
    out.push(h);
  }
  return Buffer.concat(out);
}

/** An entry bundle: uint16 big-endian length prefixes (tlog-tiles "entries"). */
export function entryBundle(entries: readonly Buffer[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const len = Buffer.alloc(2);
    len.writeUInt16BE(e.length);
    parts.push(len, e);
  }
  return Buffer.concat(parts);
}
