import type { SharedBufferPool } from './buffer-pool.ts';
import { type MemoryBudget, type Received, type Spool, type SpoolWriter, inMemory } from './spool.ts';

/** Where received bytes go when memory would not hold them (see ReceiveBuffer). */
export interface SpoolPolicy { spool: Spool; memory: MemoryBudget; spoolAboveBytes: number }

/**
 * Bytes being received (a DIMSE data set, a STOW-RS body), assembled in order: in shared memory
 * (from the pool: the blob writer thread encrypts an instance where it lies), in room that doubles
 * when short, while that room fits both `spoolAboveBytes` and the memory budget every receiver
 * shares; past either, in a spool file (encrypted) from then on. Memory is so bounded by the budget,
 * whatever is sent and however many send at once. Without a spool policy, everything is held.
 */
export class ReceiveBuffer {
  private buf: Buffer | undefined;
  private used = 0;
  /** Bytes of the memory budget held. */
  private reserved = 0;
  private writer: SpoolWriter | undefined;
  private readonly maxLength: number;
  private readonly pool: SharedBufferPool | undefined;
  private readonly spool: SpoolPolicy | undefined;

  /** `expected`: the first room to take; `maxLength`: room never grows past it. */
  constructor(expected: number, maxLength: number, pool?: SharedBufferPool, spool?: SpoolPolicy) {
    this.maxLength = maxLength;
    this.pool = pool;
    this.spool = spool;
    this.grow(Math.min(Math.max(expected, 1), maxLength));
  }

  get size(): number {
    return this.writer ? this.writer.size : this.used;
  }

  write(chunk: Buffer): void {
    if (this.buf && this.used + chunk.length > this.buf.length) {
      this.grow(Math.min(Math.max(this.used + chunk.length, this.buf.length * 2), Math.max(this.maxLength, this.used + chunk.length)));
    }
    if (this.writer) { this.writer.write(chunk); return; }
    chunk.copy(this.buf!, this.used);
    this.used += chunk.length;
  }

  /** Room for `bytes` in memory if it may be had, else the spool from here on (with what was held). */
  private grow(bytes: number): void {
    const s = this.spool;
    const extra = Math.max(0, bytes - this.reserved);
    if (s && (bytes > s.spoolAboveBytes || !s.memory.reserve(extra))) {
      this.writer = s.spool.create();
      if (this.buf) this.writer.write(this.buf.subarray(0, this.used));
      this.dropMemory();
      return;
    }
    if (s) this.reserved += extra;
    const grown = this.pool ? this.pool.acquire(bytes) : Buffer.from(new SharedArrayBuffer(bytes));
    if (this.buf) { this.buf.copy(grown, 0, 0, this.used); this.pool?.release(this.buf); }
    this.buf = grown;
  }

  private dropMemory(): void {
    if (this.buf) this.pool?.release(this.buf);
    this.buf = undefined;
    this.spool?.memory.release(this.reserved);
    this.reserved = 0;
  }

  /**
   * What was received: a view of the memory, or the spool file; `done` lets go of it (once whoever
   * uses it is finished). Nothing more may be written.
   */
  finish(): { received: Received; done: () => void } {
    if (this.writer) {
      const spooled = this.writer.finish();
      this.writer = undefined;
      return { received: spooled, done: () => spooled.remove() };
    }
    const bytes = this.buf!.subarray(0, this.used);
    const reserved = this.reserved;
    this.buf = undefined;
    this.reserved = 0;
    return { received: inMemory(bytes), done: () => { this.pool?.release(bytes); this.spool?.memory.release(reserved); } };
  }

  /** Not needed (refused, or the connection ended): memory, budget and spool file let go. Safe to repeat. */
  release(): void {
    this.dropMemory();
    this.writer?.discard();
    this.writer = undefined;
  }
}
