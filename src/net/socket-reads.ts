import { Socket } from 'node:net';

/** Room for reads: a slab is used for reads until less than MIN_READ bytes are left in it. */
const SLAB_BYTES = 1 << 20;
const MIN_READ = 64 << 10;

/**
 * Reads of one connection into memory used again. Node reads a socket into fresh memory (up to 64 KiB
 * per read), and on this virtual machine the first touch of fresh memory costs a page fault per 4 KiB
 * page, then garbage collection: measured on loopback, 265 MB (500 CT slices) from two senders took
 * 0.62–0.77 s of CPU through 'data' events against 0.30 s read into memory used again.
 *
 * A read's bytes stay where they were read until the caller lets go of them: a slab is written again
 * only once `inUse` no longer holds a view of it (the bytes of a PDU still being assembled).
 */
export class SlabReads {
  private readonly slabs: Buffer[] = [];
  private slab: Buffer | undefined;
  private used = 0;
  private readonly inUse: () => readonly Buffer[];

  constructor(inUse: () => readonly Buffer[]) {
    this.inUse = inUse;
  }

  /** Where the next read goes. */
  next(): Buffer {
    if (!this.slab || this.slab.length - this.used < MIN_READ) {
      const held = this.inUse();
      this.slab = this.slabs.find((s) => !held.some((b) => b.buffer === s.buffer));
      if (!this.slab) {
        this.slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
        this.slabs.push(this.slab);
      }
      this.used = 0;
    }
    return this.slab.subarray(this.used);
  }

  /** The read that filled `n` bytes of the buffer `next` gave: a view of them. */
  filled(n: number): Buffer {
    const view = this.slab!.subarray(this.used, this.used + n);
    this.used += n;
    return view;
  }
}

/**
 * A server's connection, read through `onRead` from memory it manages instead of 'data' events.
 * net.Socket reads into the caller's memory only with its `onread` option, which only a socket the
 * caller constructs takes; a server constructs the sockets it accepts. So the accepted socket, paused
 * before its first read (`pauseOnConnect`), hands its handle to a socket constructed with `onread`
 * (`handle` is the option Node's own server passes; it is not in the public documentation), and the
 * two close together: the server counts and closes the accepted one, whose owners may destroy it.
 * Returns undefined, leaving the accepted socket as it is, where that is not possible (a TLS socket).
 */
export function adoptWithReads(accepted: Socket, nextBuffer: () => Buffer, onRead: (n: number) => void): Socket | undefined {
  const internal = accepted as unknown as { _handle: unknown };
  const handle = internal._handle;
  if (!handle || accepted.constructor !== Socket) return undefined;
  internal._handle = null;
  const options = { handle, onread: { buffer: nextBuffer, callback: (n: number): boolean => { onRead(n); return true; } } };
  const socket = new Socket(options as unknown as ConstructorParameters<typeof Socket>[0]);
  socket.once('close', () => accepted.destroy());
  accepted.once('close', () => socket.destroy());
  return socket;
}
