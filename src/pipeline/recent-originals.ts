import type { SharedBufferPool } from '../store/buffer-pool.ts';

/**
 * Originals just ingested, kept in memory (bounded by bytes, oldest dropped first) so that the work
 * loop does not read back and decrypt what it received a moment ago. Only an optimisation: after a
 * restart, for anything evicted, or for a retry after an original was used up, the encrypted blob is
 * the source. An original is kept until each of its jobs has taken it (one per recipient); it is a
 * holder of the buffer while kept, and so is each caller of take() and peek() until release().
 */
export class RecentOriginals {
  private readonly items = new Map<number, { bytes: Buffer; uses: number }>();
  private bytes = 0;
  private readonly capacity: number;
  private readonly pool: SharedBufferPool | undefined;

  constructor(capacityBytes: number, pool?: SharedBufferPool) {
    this.capacity = capacityBytes;
    this.pool = pool;
  }

  /** Keep the original of an instance for `uses` jobs. */
  put(instanceId: number, bytes: Buffer, uses = 1): void {
    if (bytes.length > this.capacity / 4 || uses < 1 || this.items.has(instanceId)) return;
    this.pool?.retain(bytes);
    this.items.set(instanceId, { bytes, uses });
    this.bytes += bytes.length;
    for (const [id] of this.items) {
      if (this.bytes <= this.capacity) break;
      this.remove(id);
    }
  }

  /** The original for one of its jobs (used up after the last); the caller holds it until release(). */
  take(instanceId: number): Buffer | undefined {
    const it = this.items.get(instanceId);
    if (!it) return undefined;
    this.pool?.retain(it.bytes);
    if (--it.uses <= 0) this.remove(instanceId);
    return it.bytes;
  }

  /** The original without using it up; the caller holds it until release(). */
  peek(instanceId: number): Buffer | undefined {
    const it = this.items.get(instanceId);
    if (it) this.pool?.retain(it.bytes);
    return it?.bytes;
  }

  /** A caller of take() or peek() is done with the bytes (any other buffer: nothing to do). */
  release(bytes: Buffer): void {
    this.pool?.release(bytes);
  }

  private remove(instanceId: number): void {
    const it = this.items.get(instanceId);
    if (!it) return;
    this.items.delete(instanceId);
    this.bytes -= it.bytes.length;
    this.pool?.release(it.bytes);
  }
}
