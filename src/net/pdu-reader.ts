import type { Socket } from 'node:net';
import { MAX_RECEIVE_PDU } from './dimse-lib.ts';
import { SlabReads, adoptWithReads } from './socket-reads.ts';

/**
 * Takes a data set fragment (PS3.8 E.2) of `length` bytes from `offset` on in the concatenation of
 * `parts`, for presentation context `pcId`; false: not taken, the library is to have the PDU.
 */
export type DataFragmentTaker = (pcId: number, last: boolean, parts: readonly Buffer[], offset: number, length: number) => boolean;

/**
 * The library appends every socket read to the PDU it is assembling with Buffer.concat, so a 512 KiB
 * PDU arriving in 64 KiB reads is copied 8 times (measured: 1.1 MB copied per CT slice, and the
 * garbage collections that follow). Here it is handed whole PDUs instead (PS3.8 9.3.1: a 6-byte
 * header whose last 4 bytes are the length). A P-DATA-TF PDU holding one data set fragment (the bulk
 * of every C-STORE) goes to `takeFragment` first, straight from the reads it arrived in; one the
 * library is to have instead is assembled in one buffer per connection, used again for the next such
 * PDU (memory used again costs no page faults: assembling in fresh memory was about 1 ms per CT
 * slice), and any other PDU (association, release, command) is copied whole, so that nothing handed
 * on lies in memory a later read writes. A PDU longer than we advertised is a protocol violation:
 * the connection is closed rather than buffered.
 */
class PduAssembler {
  private parts: Buffer[] = [];
  private have = 0;
  private reusable: Buffer | undefined;
  private readonly deliver: (pdu: Buffer) => void;
  private readonly takeFragment: DataFragmentTaker | undefined;
  private readonly fail: (e: Error) => void;

  constructor(deliver: (pdu: Buffer) => void, takeFragment: DataFragmentTaker | undefined, fail: (e: Error) => void) {
    this.deliver = deliver;
    this.takeFragment = takeFragment;
    this.fail = fail;
  }

  /** The reads holding the PDU being assembled (their memory is not to be read into again yet). */
  get pending(): readonly Buffer[] {
    return this.parts;
  }

  push(chunk: Buffer): void {
    this.parts.push(chunk);
    this.have += chunk.length;
    for (;;) {
      const have = this.have;
      if (have < 6) return;
      // A header split across reads is joined once, not on every later read of the same PDU.
      if (this.parts[0]!.length < 6) this.parts = [Buffer.concat(this.parts, have)];
      const parts = this.parts;
      const head = parts[0]!;
      const need = 6 + head.readUInt32BE(2);
      if (need > MAX_RECEIVE_PDU + 6) { this.parts = []; this.have = 0; this.fail(new Error(`PDU of ${need} bytes exceeds the ${MAX_RECEIVE_PDU}-byte maximum`)); return; }
      if (have < need) return;
      const fragment = isSingleDataFragment(head, need);
      try {
        if (fragment && this.takeFragment?.(head[10]!, (head[11]! & 0x02) !== 0, parts, 12, need - 12)) {
          // taken from the reads as they are
        } else if (fragment) {
          this.reusable = this.reusable && this.reusable.length >= need ? this.reusable : Buffer.allocUnsafeSlow(MAX_RECEIVE_PDU + 6);
          this.deliver(joinInto(this.reusable, parts, need));
        } else {
          this.deliver(joinInto(Buffer.allocUnsafe(need), parts, need));
        }
      } catch (e) {
        // The library throws from its PDU handlers on some malformed input (an unknown presentation
        // context, found by fuzzing): thrown from a socket's read, that would stop the process. The
        // connection is closed instead.
        this.parts = []; this.have = 0;
        this.fail(e instanceof Error ? e : new Error(String(e)));
        return;
      }
      // What follows the PDU arrived with its last read (a PDU is handed on as soon as it is complete).
      const last = parts[parts.length - 1]!;
      const rest = have - need;
      this.parts = rest === 0 ? [] : rest <= last.length ? [last.subarray(last.length - rest)] : [Buffer.concat(parts, have).subarray(need)];
      this.have = rest;
    }
  }
}

/** The first `length` bytes of the concatenation of `parts`, copied into `into`: a view of them there. */
function joinInto(into: Buffer, parts: readonly Buffer[], length: number): Buffer {
  let o = 0;
  for (const p of parts) { const n = Math.min(p.length, length - o); p.copy(into, o, 0, n); o += n; if (o === length) break; }
  return into.subarray(0, length);
}

/**
 * Hands the library's 'data' listener whole PDUs (see PduAssembler), assembled from the socket's
 * 'data' events: for sockets read by Node (TLS, and tests).
 */
export function deliverWholePdus(socket: Socket, takeFragment?: DataFragmentTaker): Socket {
  const on = socket.on.bind(socket);
  socket.on = ((event: string, listener: (...args: unknown[]) => void) => {
    if (event !== 'data') return on(event, listener);
    const assembler = new PduAssembler(listener, takeFragment, (e) => socket.destroy(e));
    return on('data', (chunk: Buffer) => assembler.push(chunk));
  }) as Socket['on'];
  return socket;
}

/**
 * The same for an accepted plain TCP connection, read into memory used again (socket-reads.ts): the
 * library is given the socket returned, which emits no 'data' events. A connection that cannot be
 * read so is left to deliverWholePdus, and resumed.
 */
export function readWholePdus(accepted: Socket, takeFragment?: DataFragmentTaker): Socket {
  let assembler: PduAssembler | undefined;
  let early: Buffer[] = [];
  const reads = new SlabReads(() => assembler?.pending ?? []);
  const socket = adoptWithReads(accepted, () => reads.next(), (n) => {
    const bytes = reads.filled(n);
    if (assembler) assembler.push(bytes);
    else early.push(Buffer.from(bytes)); // read before the library listens (not seen: it listens at once)
  });
  if (!socket) {
    // Paused on accept: it reads once the library listens (in its constructor, this same turn).
    process.nextTick(() => accepted.resume());
    return deliverWholePdus(accepted, takeFragment);
  }
  const on = socket.on.bind(socket);
  socket.on = ((event: string, listener: (...args: unknown[]) => void) => {
    if (event !== 'data') return on(event, listener);
    assembler = new PduAssembler(listener, takeFragment, (e) => socket.destroy(e));
    for (const b of early) assembler.push(b);
    early = [];
    return socket;
  }) as Socket['on'];
  return socket;
}

/**
 * A P-DATA-TF PDU (PS3.8 9.3.5) of `length` bytes whose single PDV item is a data set fragment
 * (message control header bit 0 clear, PS3.8 E.2), judged from its first bytes.
 */
function isSingleDataFragment(head: Buffer, length: number): boolean {
  return head.length >= 12 && head[0] === 0x04 && head.readUInt32BE(6) + 10 === length && (head[11]! & 0x01) === 0;
}
