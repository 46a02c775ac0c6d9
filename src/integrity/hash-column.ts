import { HASH_SIZE } from './rfc6962.ts';

/**
 * 32-byte hashes appended one after another in one growing buffer. A log keeps several per entry
 * (its leaf, the leaf hash, the tree's inner nodes); as a Buffer each, every hash cost an object of
 * its own on the heap and a backing store beside it (about 300 bytes), and the collector a visit.
 * Written by hand: no library keeps fixed-size records in a growable buffer.
 */
export class HashColumn {
  private buf: Buffer = Buffer.alloc(64 * HASH_SIZE);
  private count = 0;

  get length(): number {
    return this.count;
  }

  push(hash: Uint8Array): void {
    if (hash.length !== HASH_SIZE) throw new RangeError(`a hash is ${HASH_SIZE} bytes, not ${hash.length}`);
    if ((this.count + 1) * HASH_SIZE > this.buf.length) {
      const grown = Buffer.alloc(this.buf.length * 2);
      this.buf.copy(grown, 0, 0, this.count * HASH_SIZE);
      this.buf = grown;
    }
    this.buf.set(hash, this.count * HASH_SIZE);
    this.count++;
  }

  /** The i-th hash (a view: hashes are never changed once appended), or undefined past the end. */
  at(i: number): Buffer | undefined {
    if (!(i >= 0 && i < this.count)) return undefined;
    return this.buf.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE);
  }
}
