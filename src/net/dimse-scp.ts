import { isStorageSopClass } from '../dicom/sop-classes.ts';
import { type Server, type Socket, createServer } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { Writable } from 'node:stream';
import { fileMeta, part10Prefix } from '../dicom/part10.ts';
import { EXPLICIT_VR_BIG_ENDIAN, EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN, DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN, transferSyntax } from '../dicom/transfer-syntax.ts';
import { isCustosError } from '../errors.ts';
import { type IngestResult, type Origin, rejectionStatus } from '../pipeline/ingest.ts';
import { MAX_RECEIVE_PDU, RawDataset, Scp, constants, responses } from './dimse-lib.ts';
import type { SharedBufferPool } from '../store/buffer-pool.ts';
import { ReceiveBuffer, type SpoolPolicy } from '../store/receive-buffer.ts';
import type { Received } from '../store/spool.ts';
import { SlabReads, adoptWithReads } from './socket-reads.ts';

const { PresentationContextResult: PCR, RejectResult, RejectSource, RejectReason, Status } = constants;

/** PS3.7 E.1-1: Command Field of a C-STORE-RQ. */
const C_STORE_RQ = 0x0001;

type PresentationContext = InstanceType<typeof import('dcmjs-dimse').association.PresentationContext>;
type CStoreRequest = InstanceType<typeof import('dcmjs-dimse').requests.CStoreRequest>;
/** The library's receiving state (dcmjs-dimse 0.3 Network): the request in progress and its data set stream. */
interface ReceivingState {
  dimse: CStoreRequest | undefined;
  dimseStream: unknown;
  dimseStoreStream: Writable | undefined;
  lastPduTime: number;
  association: { getPresentationContext(id: number): PresentationContext | undefined } | undefined;
  statistics: { addBytesReceived(n: number): void };
  _performDimse(pc: PresentationContext, dimse: CStoreRequest): void;
}

export const VERIFICATION_SOP_CLASS = '1.2.840.10008.1.1';

const AE_TITLE = /^[\x20-\x5b\x5d-\x7e]{0,16}$/;

/** A transfer syntax this gateway knows and that is not encapsulated (an unknown or malformed UID: false). */
function isNativeSyntax(uid: string): boolean {
  try { return !transferSyntax(uid).encapsulated; } catch { return false; }
}

/** Pick one proposed syntax: compressed kept as sent, then explicit LE, implicit LE, deflated, big endian. */
export function chooseTransferSyntax(proposed: readonly string[]): string | undefined {
  const supported = proposed.filter((uid) => { try { transferSyntax(uid); return true; } catch { return false; } });
  const rank = (uid: string): number => {
    if (transferSyntax(uid).encapsulated) return 0;
    return [EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN, DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN, EXPLICIT_VR_BIG_ENDIAN].indexOf(uid) + 1;
  };
  return supported.sort((a, b) => rank(a) - rank(b))[0];
}

export interface ScpPolicy {
  aeTitle: string;
  maxAssociations: number;
  /** Connections open at once from one address; more are rejected as transient, so no one sender holds every slot. */
  maxAssociationsPerSource?: number;
  /** ARTIM (PS3.8 9.1.5): a connection that sends no A-ASSOCIATE-RQ within this time is closed. Default 30 s. */
  artimMs?: number;
  /** A connection from which nothing arrives for this long is closed. Default 60 s. */
  idleMs?: number;
  maxInstanceBytes: number;
  /** SOP classes outside the DICOM root accepted for storage (`ingest.privateSopClasses`); others are refused. */
  privateSopClasses?: ReadonlySet<string>;
  /** Calling AE titles allowed; undefined: any (only allowed while bound to loopback). */
  allowedCallingAeTitles?: readonly string[] | undefined;
  ingest(received: Received, origin: Origin): Promise<IngestResult>;
  onError?(e: Error): void;
  /** Where received instances are assembled (shared memory used again); without it, fresh memory each. */
  pool?: SharedBufferPool;
  /**
   * Where an instance goes when memory would not hold it: past `spoolAboveBytes`, or when `memory`
   * (shared with every other receiver) has no room. Without a spool, every instance is held in memory.
   */
  spool?: SpoolPolicy;
}

/**
 * Collects one C-STORE data set as it arrives in P-DATA fragments, behind its Part 10 prefix, in
 * shared memory: the blob writer thread encrypts the instance where it lies instead of being sent a
 * copy. Each fragment is copied as it is written (so nothing keeps the PDU it came in, which
 * deliverWholePdus reuses), into room sized by the previous instance of the association (a series
 * is alike) and doubled when short. An instance that outgrows the memory it may take (its own limit,
 * or the budget all receivers share) continues in a spool file instead. Past the size limit it keeps
 * counting but drops the bytes: the instance is then refused, not buffered.
 */
class DatasetSink extends Writable {
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
class ReceivedDataset extends RawDataset {
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

/** PS3.4 B.2.3 C-STORE status for an ingest outcome. */
function storeStatus(r: IngestResult): { status: number; comment?: string } {
  if (r.status !== 'rejected') return { status: Status.Success };
  return { status: rejectionStatus(r.code), comment: `${r.code}: ${r.message}` };
}

function makeScpClass(policy: ScpPolicy) {
  return class GatewayScp extends Scp {
    private callingAe = '';
    /** More associations are open than allowed: reject this one as transient (PS3.8 9.3.4). */
    overloaded = false;
    /** Called when the A-ASSOCIATE-RQ arrives (stops the ARTIM timer). */
    requested?: () => void;

    override associationRequested(association: InstanceType<typeof import('dcmjs-dimse').association.Association>): void {
      this.requested?.();
      const called = association.getCalledAeTitle().trim();
      this.callingAe = association.getCallingAeTitle().trim();
      // PS3.8 9.3.2: AE titles are of the default repertoire, without control characters or backslash.
      if (!AE_TITLE.test(this.callingAe)) {
        this.callingAe = '';
        this.sendAssociationReject(RejectResult.Permanent, RejectSource.ServiceUser, RejectReason.CallingAeNotRecognized);
        return;
      }
      if (this.overloaded) {
        this.sendAssociationReject(RejectResult.Transient, RejectSource.ServiceProviderPresentation, RejectReason.LocalLimitExceeded);
        return;
      }
      if (called !== policy.aeTitle) {
        this.sendAssociationReject(RejectResult.Permanent, RejectSource.ServiceUser, RejectReason.CalledAeNotRecognized);
        return;
      }
      if (policy.allowedCallingAeTitles && !policy.allowedCallingAeTitles.includes(this.callingAe)) {
        this.sendAssociationReject(RejectResult.Permanent, RejectSource.ServiceUser, RejectReason.CallingAeNotRecognized);
        return;
      }
      for (const { id } of association.getPresentationContexts()) {
        const pc = association.getPresentationContext(id);
        const abstract = pc.getAbstractSyntaxUid();
        if (abstract === VERIFICATION_SOP_CLASS) {
          const ts = chooseTransferSyntax(pc.getTransferSyntaxUids().filter((t: string) => isNativeSyntax(t)));
          if (ts) pc.setResult(PCR.Accept, ts); else pc.setResult(PCR.RejectTransferSyntaxesNotSupported);
        } else if (isStorageSopClass(abstract, policy.privateSopClasses)) {
          const ts = chooseTransferSyntax(pc.getTransferSyntaxUids());
          if (ts) pc.setResult(PCR.Accept, ts); else pc.setResult(PCR.RejectTransferSyntaxesNotSupported);
        } else {
          pc.setResult(PCR.RejectAbstractSyntaxNotSupported);
        }
      }
      association.setMaxPduLength(MAX_RECEIVE_PDU); // what we advertise is what we can receive
      this.sendAssociationAccept();
    }

    override associationReleaseRequested(): void {
      this.sendAssociationReleaseResponse();
    }

    override cEchoRequest(request: InstanceType<typeof import('dcmjs-dimse').requests.CEchoRequest>, callback: (r: InstanceType<typeof import('dcmjs-dimse').responses.CEchoResponse>) => void): void {
      const res = responses.CEchoResponse.fromRequest(request);
      res.setStatus(Status.Success);
      callback(res);
    }

    /** Data set size of the association's last instance: the next one's room. */
    private lastSize = 0;
    /** Sinks whose instance went to ingest (which lets go of it), not to be released when the association ends. */
    private readonly handedOver = new WeakSet<DatasetSink>();

    // The file meta information is written first, so the instance is assembled with one copy.
    override createStoreWritableStream(pc: PresentationContext, request: CStoreRequest): Writable {
      const sink = new DatasetSink(part10Prefix(fileMeta(request.getAffectedSopClassUid(), request.getAffectedSopInstanceUid(), pc.getAcceptedTransferSyntaxUid() ?? IMPLICIT_VR_LITTLE_ENDIAN, this.callingAe)), policy.maxInstanceBytes, this.lastSize, policy.pool, policy.spool);
      // An association that ends mid-instance leaves nothing held (memory, budget, spool file).
      (this as unknown as { socket?: Socket }).socket?.once('close', () => { if (!this.handedOver.has(sink)) sink.release(); });
      return sink;
    }

    override createDatasetFromStoreWritableStream(writable: Writable, pc: PresentationContext, callback: (ds: InstanceType<typeof import('dcmjs-dimse').Dataset>) => void): void {
      const sink = writable as DatasetSink;
      const ts = pc.getAcceptedTransferSyntaxUid() ?? IMPLICIT_VR_LITTLE_ENDIAN;
      this.lastSize = sink.size;
      this.handedOver.add(sink);
      if (sink.tooLarge) sink.release();
      callback(sink.tooLarge ? new ReceivedDataset(ts, undefined, sink.size) : new ReceivedDataset(ts, sink.instance()));
    }

    /**
     * A data set fragment of the C-STORE request in progress (PS3.8 E.2), written into its sink straight
     * from the socket's reads. The library would copy it twice more first: into the PDU it parses, and
     * into a zero-filled buffer for the PDV's value (measured: a third of the main thread's copying, and
     * most of its garbage). What the library itself does with a data fragment is done here the same way:
     * the sink is made on the first one, and the last one completes the request. Anything else (no
     * C-STORE in progress, an unknown context) is left to the library: false.
     */
    takeDataFragment(pcId: number, last: boolean, parts: readonly Buffer[], offset: number, length: number): boolean {
      const lib = this as unknown as ReceivingState;
      const request = lib.dimse;
      if (!request || request.getCommandFieldType() !== C_STORE_RQ || lib.dimseStream) return false;
      let pc: PresentationContext | undefined;
      try { pc = lib.association?.getPresentationContext(pcId); } catch { pc = undefined; } // unknown id: the library throws
      if (!pc) throw new Error(`P-DATA for presentation context ${pcId}, which was not negotiated`);
      lib.lastPduTime = Date.now();
      lib.statistics.addBytesReceived(offset + length);
      try {
        const sink = (lib.dimseStoreStream ??= this.createStoreWritableStream(pc, request)) as DatasetSink;
        sink.append(parts, offset, length);
        if (!last) return true;
        sink.end();
        this.createDatasetFromStoreWritableStream(sink, pc, (ds) => {
          request.setDataset(ds);
          lib._performDimse(pc, request);
          lib.dimseStream = undefined;
          lib.dimseStoreStream = undefined;
          lib.dimse = undefined;
        });
      } catch (e) {
        (this as unknown as { emit(event: string, e: unknown): void }).emit('networkError', e); // as the library does
      }
      return true;
    }

    override cStoreRequest(request: CStoreRequest, callback: (r: InstanceType<typeof import('dcmjs-dimse').responses.CStoreResponse>) => void): void {
      const ds = request.getDataset() as ReceivedDataset;
      const sopClassUID = request.getAffectedSopClassUid();
      const sopInstanceUID = request.getAffectedSopInstanceUid();
      const respond = (status: number, comment?: string): void => {
        const res = responses.CStoreResponse.fromRequest(request);
        res.setStatus(status);
        if (comment) res.setErrorComment(comment.slice(0, 64)); // (0000,0902) is LO: 64 characters
        callback(res);
      };
      if (ds.tooLarge !== undefined) {
        // A700 Refused: Out of Resources — the sender keeps the instance.
        respond(0xa700, `INSTANCE_TOO_LARGE: ${ds.tooLarge} bytes, limit ${policy.maxInstanceBytes}`);
        return;
      }
      // The association holds the received bytes until their ingest settles (ingest takes its own holds).
      policy.ingest(ds.received!, { source: 'dimse', callingAeTitle: this.callingAe, expected: { sopClassUID, sopInstanceUID } }).finally(() => ds.done()).then(
        (r) => { const s = storeStatus(r); respond(s.status, s.comment); },
        (e: Error) => {
          // Not stored durably: refuse (A700 Out of Resources) so that the sender keeps the instance and retries.
          policy.onError?.(e);
          respond(0xa700, `${isCustosError(e) ? e.code : 'INTERNAL'}: not stored, retry later`);
        },
      );
    }
  };
}

/** TLS settings of a DICOM TLS listener (PS3.15 B.1). */
export interface ListenerTls { cert: Buffer; key: Buffer; ca?: Buffer | undefined; requireClientCert: boolean }

/**
 * A DIMSE listener bound to one address (dcmjs-dimse's own Server binds every interface), plain TCP
 * or DICOM TLS. Listeners started from the same policy share its association limit.
 */
export function startDimseServer(host: string, port: number, policy: ScpPolicy, tls?: ListenerTls): Promise<Server> {
  const ScpClass = scpClasses.get(policy) ?? makeScpClass(policy);
  scpClasses.set(policy, ScpClass);
  const accept = (accepted: Socket): void => {
    let scp: InstanceType<typeof ScpClass> | undefined;
    const source = accepted.remoteAddress ?? ''; // read before the handle is adopted below
    const take: DataFragmentTaker = (pcId, last, parts, offset, length) => scp?.takeDataFragment(pcId, last, parts, offset, length) ?? false;
    const socket = tls ? deliverWholePdus(accepted, take) : readWholePdus(accepted, take);
    socket.setNoDelay(true);
    const count = (openCount.get(policy) ?? 0) + 1;
    openCount.set(policy, count);
    // Per source address, so that one host (or one attacker) cannot hold every slot.
    const perSource = sourceCounts(policy);
    const fromSource = (perSource.get(source) ?? 0) + 1;
    perSource.set(source, fromSource);
    // The library's own timers never start on a socket it did not connect; these close what idles.
    // On the socket the library reads (for plain TCP another Socket over the accepted one's handle).
    const artim = setTimeout(() => socket.destroy(), policy.artimMs ?? 30_000);
    socket.setTimeout(policy.idleMs ?? 60_000, () => socket.destroy());
    socket.once('close', () => {
      clearTimeout(artim);
      openCount.set(policy, (openCount.get(policy) ?? 1) - 1);
      const left = (perSource.get(source) ?? 1) - 1;
      if (left > 0) perSource.set(source, left); else perSource.delete(source);
    });
    scp = new ScpClass(socket, { associationTimeout: 30_000, pduTimeout: 60_000 });
    scp.requested = () => clearTimeout(artim);
    if (count > policy.maxAssociations || fromSource > (policy.maxAssociationsPerSource ?? Number.POSITIVE_INFINITY)) scp.overloaded = true;
  };
  const server: Server = tls
    ? createTlsServer({ cert: tls.cert, key: tls.key, ...(tls.ca ? { ca: tls.ca } : {}), requestCert: tls.requireClientCert, rejectUnauthorized: tls.requireClientCert, minVersion: 'TLSv1.2' }, accept)
    : createServer({ noDelay: true, pauseOnConnect: true }, accept);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

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

const scpClasses = new WeakMap<ScpPolicy, ReturnType<typeof makeScpClass>>();
const openCount = new WeakMap<ScpPolicy, number>();
const openBySource = new WeakMap<ScpPolicy, Map<string, number>>();
const sourceCounts = (policy: ScpPolicy): Map<string, number> => {
  let m = openBySource.get(policy);
  if (!m) openBySource.set(policy, m = new Map());
  return m;
};
