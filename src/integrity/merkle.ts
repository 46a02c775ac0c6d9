import { CustosError } from '../errors.ts';
import { HashColumn } from './hash-column.ts';
import { EMPTY_ROOT, HASH_SIZE, leafHash, nodeHash, splitPoint } from './rfc6962.ts';

/*
 * An append-only RFC 9162 Merkle tree kept as complete levels:
 *
 *   level 2:        h(0..3)
 *   level 1:    h(0,1)     h(2,3)     (only complete subtrees are stored)
 *   level 0:   h0   h1    h2   h3   h4
 *
 * so the hash of any aligned perfect subtree is a lookup, and a root, inclusion or consistency
 * proof for any tree size touches O(log n) stored nodes.
 */
export class MerkleTree {
  private readonly levels: HashColumn[] = [new HashColumn()];

  get size(): number {
    return this.levels[0]!.length;
  }

  /** Append a leaf hash; returns its index. */
  appendLeafHash(h: Buffer): number {
    const index = this.size;
    this.levels[0]!.push(h);
    let level = 0;
    let i = index;
    while (i & 1) {
      const left = this.levels[level]!.at(i - 1)!;
      const right = this.levels[level]!.at(i)!;
      if (!this.levels[level + 1]) this.levels[level + 1] = new HashColumn();
      this.levels[level + 1]!.push(nodeHash(left, right));
      level++;
      i >>= 1;
    }
    return index;
  }

  appendData(data: Uint8Array): number {
    return this.appendLeafHash(leafHash(data));
  }

  leafHashAt(i: number): Buffer {
    return this.levels[0]!.at(i)!;
  }

  /** Hash of the aligned perfect subtree at `level` and `index`, if complete. */
  nodeAt(level: number, index: number): Buffer | undefined {
    return this.levels[level]?.at(index);
  }

  /** MTH(D[lo:hi]) (RFC 9162 2.1.1). */
  hashRange(lo: number, hi: number): Buffer {
    const n = hi - lo;
    if (n === 0) return EMPTY_ROOT;
    if ((n & (n - 1)) === 0 && lo % n === 0) {
      const level = Math.log2(n);
      const stored = this.levels[level]?.at(lo / n);
      if (stored) return stored;
    }
    if (n === 1) return this.levels[0]!.at(lo)!;
    const k = splitPoint(n);
    return nodeHash(this.hashRange(lo, lo + k), this.hashRange(lo + k, hi));
  }

  root(size = this.size): Buffer {
    checkSize(size, this.size);
    return this.hashRange(0, size);
  }

  /** PATH(m, D[0:size]) — RFC 9162 2.1.3.1. */
  inclusionProof(index: number, size = this.size): Buffer[] {
    checkSize(size, this.size);
    if (index < 0 || index >= size) throw new CustosError('LOG_BAD_PROOF_REQUEST', `leaf index ${index} is not below tree size ${size}`);
    const path = (m: number, lo: number, hi: number): Buffer[] => {
      const n = hi - lo;
      if (n === 1) return [];
      const k = splitPoint(n);
      return m < k ? [...path(m, lo, lo + k), this.hashRange(lo + k, hi)] : [...path(m - k, lo + k, hi), this.hashRange(lo, lo + k)];
    };
    return path(index, 0, size);
  }

  /** PROOF(m, D[0:n]) — RFC 9162 2.1.4.1. */
  consistencyProof(m: number, n = this.size): Buffer[] {
    checkSize(n, this.size);
    if (m < 1 || m > n) throw new CustosError('LOG_BAD_PROOF_REQUEST', `consistency from size ${m} to ${n} is undefined`);
    const sub = (mm: number, lo: number, hi: number, b: boolean): Buffer[] => {
      const nn = hi - lo;
      if (mm === nn) return b ? [] : [this.hashRange(lo, hi)];
      const k = splitPoint(nn);
      return mm <= k
        ? [...sub(mm, lo, lo + k, b), this.hashRange(lo + k, hi)]
        : [...sub(mm - k, lo + k, hi, false), this.hashRange(lo, lo + k)];
    };
    return sub(m, 0, n, true);
  }
}

function checkSize(size: number, have: number): void {
  if (!Number.isInteger(size) || size < 0 || size > have) throw new CustosError('LOG_BAD_PROOF_REQUEST', `tree size ${size} is not between 0 and ${have}`);
}

/** The root computed from a leaf hash and its inclusion proof — RFC 9162 2.1.3.2. Throws on a malformed proof. */
export function rootFromInclusionProof(index: number, size: number, leaf: Uint8Array, proof: readonly Uint8Array[]): Buffer {
  // index, size and proof are attacker-controlled: check every bound before using them.
  if (!Number.isInteger(index) || !Number.isInteger(size) || index < 0 || index >= size) {
    throw new CustosError('LOG_PROOF_INVALID', `leaf index ${index} is not below tree size ${size}`);
  }
  let fn = index;
  let sn = size - 1;
  let r: Buffer = Buffer.from(leaf);
  for (const p of proof) {
    if (p.length !== HASH_SIZE) throw new CustosError('LOG_PROOF_INVALID', `proof node of ${p.length} bytes, want ${HASH_SIZE}`);
    if (sn === 0) throw new CustosError('LOG_PROOF_INVALID', `proof too long: ${proof.length} nodes`);
    if ((fn & 1) === 1 || fn === sn) {
      r = nodeHash(p, r);
      while ((fn & 1) === 0 && fn !== 0) { fn >>= 1; sn >>= 1; }
    } else {
      r = nodeHash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn !== 0) throw new CustosError('LOG_PROOF_INVALID', `proof too short: ${proof.length} nodes`);
  return r;
}

export function verifyInclusion(index: number, size: number, leaf: Uint8Array, proof: readonly Uint8Array[], root: Uint8Array): void {
  const got = rootFromInclusionProof(index, size, leaf, proof);
  if (!got.equals(root)) throw new RootMismatchError(got, Buffer.from(root));
}

/** RFC 9162 2.1.4.2: verify that the tree of size2/root2 extends the tree of size1/root1. */
export function verifyConsistency(size1: number, size2: number, root1: Uint8Array, root2: Uint8Array, proof: readonly Uint8Array[]): void {
  if (!Number.isInteger(size1) || !Number.isInteger(size2) || size1 < 0 || size2 < size1) {
    throw new CustosError('LOG_PROOF_INVALID', `sizes ${size1} -> ${size2} do not grow`);
  }
  if (size1 === size2) {
    if (proof.length) throw new CustosError('LOG_PROOF_INVALID', `proof of ${proof.length} nodes for equal sizes, want 0`);
    if (!Buffer.from(root1).equals(Buffer.from(root2))) throw new RootMismatchError(Buffer.from(root1), Buffer.from(root2));
    return;
  }
  if (size1 === 0) {
    if (proof.length) throw new CustosError('LOG_PROOF_INVALID', `proof of ${proof.length} nodes from size 0, want 0`);
    return;
  }
  if (proof.length === 0) throw new CustosError('LOG_PROOF_INVALID', 'empty consistency proof');
  for (const p of proof) if (p.length !== HASH_SIZE) throw new CustosError('LOG_PROOF_INVALID', `proof node of ${p.length} bytes, want ${HASH_SIZE}`);
  const path = [...proof].map((p) => Buffer.from(p));
  if ((size1 & (size1 - 1)) === 0) path.unshift(Buffer.from(root1)); // size1 a power of two: prepend first_hash
  let fn = size1 - 1;
  let sn = size2 - 1;
  while ((fn & 1) === 1) { fn >>= 1; sn >>= 1; }
  let fr: Buffer = path[0]!;
  let sr: Buffer = path[0]!;
  for (const c of path.slice(1)) {
    if (sn === 0) throw new CustosError('LOG_PROOF_INVALID', `consistency proof too long: ${proof.length} nodes`);
    if ((fn & 1) === 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      while ((fn & 1) === 0 && fn !== 0) { fn >>= 1; sn >>= 1; }
    } else {
      sr = nodeHash(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn !== 0) throw new CustosError('LOG_PROOF_INVALID', `consistency proof too short: ${proof.length} nodes`);
  if (!fr.equals(Buffer.from(root1))) throw new RootMismatchError(fr, Buffer.from(root1));
  if (!sr.equals(Buffer.from(root2))) throw new RootMismatchError(sr, Buffer.from(root2));
}

/** The one failure that matters: a computed root differs from the expected one (both carried). */
export class RootMismatchError extends CustosError {
  readonly computed: Buffer;
  readonly expected: Buffer;
  constructor(computed: Buffer, expected: Buffer) {
    super('LOG_ROOT_MISMATCH', `root mismatch: computed ${computed.toString('base64')}, expected ${expected.toString('base64')}`);
    this.computed = computed;
    this.expected = expected;
  }
}
