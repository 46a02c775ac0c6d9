import { Writable } from 'node:stream';
import type { SharedBufferPool } from '../store/buffer-pool.ts';
import { ReceiveBuffer, type SpoolPolicy } from '../store/receive-buffer.ts';
import type { Received } from '../store/spool.ts';
import { MAX_RECEIVE_PDU, RawDataset } from './dimse-lib.ts';

/**
 * Collects one C-STORE data set as it arrives in P-DATA fragments, behind its Part 10 prefix, in
 * shared memory: the blob writer thread encrypts the instance where it lies instead of being sent a
 * copy. Each fragment is copied as it is written (so nothing keeps the PDU it came in, which
 * deliverWholePdus reuses), into room sized by the previous instance of the association (a series
 * is alike) and doubled when short. An instance that outgrows the memory it may take (its own limit,
 * or the budget all receivers share) continues in a spool file instead. Past the size limit it keeps
 * counting but drops the bytes: the instance is then refused, not buffered.
 */
export class DatasetSink extends Writable {
  private readonly limit: number;
  private readonly buffer: ReceiveBuffer;
  size = 0;
  constructor(prefix: Buffer, limit: number, expected: number, pool: SharedBufferPool | undefined, spool: SpoolPolicy | undefined) {
    super({ highWaterMark: MAX_RECEIVE_PDU }); // each write is taken at once: never ask the library to wait
    this.limit = limit;
    this.buffer = new ReceiveBuffer(prefix.length + Math.min(Math.max(expected, 64 << 10), limit), prefix.length + limit, pool, spool);
    this.buffer.write(prefix);
  }
  get tooLarge(): boolean {
    return this.size > this.limit;
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.take(chunk);
    cb();
  }
  /** `length` bytes from `offset` on in the concatenation of `parts` (socket reads), taken as they lie. */
  append(parts: readonly Buffer[], offset: number, length: number): void {
    for (const p of parts) {
      if (length === 0) break;
      if (offset >= p.length) { offset -= p.length; continue; }
      const n = Math.min(p.length - offset, length);
      this.take(p.subarray(offset, offset + n));
      offset = 0;
      length -= n;
    }
  }
  private take(chunk: Buffer): void {
    this.size += chunk.length;
    if (this.tooLarge) { this.buffer.release(); return; }
    this.buffer.write(chunk);
  }
  /** The whole Part 10 file; `done` lets go of it (called once its ingest settles). */
  instance(): { received: Received; done: () => void } {
    return this.buffer.finish();
  }
  /** Too large, or the association ended: nothing kept is needed. */
  release(): void {
    this.buffer.release();
  }
}

/** A received data set: the whole Part 10 file, or nothing when it exceeded the limit. */
export class ReceivedDataset extends RawDataset {
  readonly tooLarge: number | undefined;
  readonly received: Received | undefined;
  readonly done: () => void;
  constructor(ts: string, received?: { received: Received; done: () => void }, tooLarge?: number) {
    super({ sopClassUID: '', sopInstanceUID: '' }, ts, received?.received.memory ?? Buffer.alloc(0));
    this.tooLarge = tooLarge;
    this.received = received?.received;
    this.done = received?.done ?? (() => undefined);
  }
}
