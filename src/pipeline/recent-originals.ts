/**
 * Originals just ingested, kept in memory (bounded by bytes, oldest dropped first) so that the work
 * loop does not read back and decrypt what it received a moment ago. Only an optimisation: after a
 * restart, or for anything evicted, the encrypted blob is the source.
 */
export class RecentOriginals {
  private readonly items = new Map<number, Buffer>();
  private bytes = 0;
  private readonly capacity: number;

  constructor(capacityBytes: number) {
    this.capacity = capacityBytes;
  }

  put(instanceId: number, bytes: Buffer): void {
    if (bytes.length > this.capacity / 4) return;
    this.items.set(instanceId, bytes);
    this.bytes += bytes.length;
    for (const [id, b] of this.items) {
      if (this.bytes <= this.capacity) break;
      this.items.delete(id);
      this.bytes -= b.length;
    }
  }

  get(instanceId: number): Buffer | undefined {
    return this.items.get(instanceId);
  }

  /** Forget an instance once every job of it has taken its copy. */
  drop(instanceId: number): void {
    const b = this.items.get(instanceId);
    if (!b) return;
    this.items.delete(instanceId);
    this.bytes -= b.length;
  }
}
