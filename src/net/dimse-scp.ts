import { type Server, type Socket, createServer } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { Writable } from 'node:stream';
import { fileMeta, part10Prefix } from '../dicom/part10.ts';
import { EXPLICIT_VR_BIG_ENDIAN, EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN, DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN, transferSyntax } from '../dicom/transfer-syntax.ts';
import { isCustosError } from '../errors.ts';
import { type IngestResult, type Origin, rejectionStatus } from '../pipeline/ingest.ts';
import { MAX_RECEIVE_PDU, RawDataset, Scp, constants, responses } from './dimse-lib.ts';

const { PresentationContextResult: PCR, RejectResult, RejectSource, RejectReason, Status } = constants;

export const VERIFICATION_SOP_CLASS = '1.2.840.10008.1.1';

/**
 * Storage SOP classes are accepted by UID (PS3.4 B.5 lists them, and the list grows every edition):
 * everything under the storage roots, and private SOP classes outside the DICOM root. Query/retrieve,
 * worklist and print are other services and are refused.
 */
export function isStorageSopClass(uid: string): boolean {
  if (!uid.startsWith('1.2.840.10008.')) return /^[0-9]+(\.[0-9]+)+$/.test(uid); // private storage
  return uid.startsWith('1.2.840.10008.5.1.4.1.1.')
    || /^1\.2\.840\.10008\.5\.1\.4\.(34|38|39|43|44|45)\./.test(uid);
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
  maxInstanceBytes: number;
  /** Calling AE titles allowed; undefined: any (only allowed while bound to loopback). */
  allowedCallingAeTitles?: readonly string[] | undefined;
  ingest(bytes: Buffer, origin: Origin): Promise<IngestResult>;
  onError?(e: Error): void;
}

/**
 * Collects one C-STORE data set as it arrives in P-DATA fragments, after its Part 10 prefix. Past
 * the size limit it keeps counting but drops the bytes: the instance is then refused, not buffered.
 */
class DatasetSink extends Writable {
  readonly chunks: Buffer[];
  private readonly limit: number;
  size = 0;
  constructor(prefix: Buffer, limit: number) {
    super();
    this.chunks = [prefix];
    this.limit = limit;
  }
  get tooLarge(): boolean {
    return this.size > this.limit;
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.size += chunk.length;
    if (this.tooLarge) this.chunks.length = 1; else this.chunks.push(chunk);
    cb();
  }
}

/**
 * The instance assembled in shared memory (one copy, as Buffer.concat would make): the blob writer
 * thread then reads it where it is to encrypt and store it, instead of being sent a copy.
 */
function concatShared(chunks: readonly Buffer[]): Buffer {
  const out = Buffer.from(new SharedArrayBuffer(chunks.reduce((n, c) => n + c.length, 0)));
  let o = 0;
  for (const c of chunks) { c.copy(out, o); o += c.length; }
  return out;
}

/** A received data set: the whole Part 10 file in `raw`, or nothing when it exceeded the limit. */
class ReceivedDataset extends RawDataset {
  readonly tooLarge: number | undefined;
  constructor(ts: string, raw: Buffer, tooLarge?: number) {
    super({ sopClassUID: '', sopInstanceUID: '' }, ts, raw);
    this.tooLarge = tooLarge;
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

    override associationRequested(association: InstanceType<typeof import('dcmjs-dimse').association.Association>): void {
      const called = association.getCalledAeTitle().trim();
      this.callingAe = association.getCallingAeTitle().trim();
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
          const ts = chooseTransferSyntax(pc.getTransferSyntaxUids().filter((t: string) => !transferSyntax(t).encapsulated));
          if (ts) pc.setResult(PCR.Accept, ts); else pc.setResult(PCR.RejectTransferSyntaxesNotSupported);
        } else if (isStorageSopClass(abstract)) {
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

    // The file meta information is written first, so the instance is assembled with one copy.
    override createStoreWritableStream(pc: InstanceType<typeof import('dcmjs-dimse').association.PresentationContext>, request: InstanceType<typeof import('dcmjs-dimse').requests.CStoreRequest>): Writable {
      return new DatasetSink(part10Prefix(fileMeta(request.getAffectedSopClassUid(), request.getAffectedSopInstanceUid(), pc.getAcceptedTransferSyntaxUid() ?? IMPLICIT_VR_LITTLE_ENDIAN, this.callingAe)), policy.maxInstanceBytes);
    }

    override createDatasetFromStoreWritableStream(writable: Writable, pc: InstanceType<typeof import('dcmjs-dimse').association.PresentationContext>, callback: (ds: InstanceType<typeof import('dcmjs-dimse').Dataset>) => void): void {
      const sink = writable as DatasetSink;
      const ts = pc.getAcceptedTransferSyntaxUid() ?? IMPLICIT_VR_LITTLE_ENDIAN;
      callback(sink.tooLarge ? new ReceivedDataset(ts, Buffer.alloc(0), sink.size) : new ReceivedDataset(ts, concatShared(sink.chunks)));
    }

    override cStoreRequest(request: InstanceType<typeof import('dcmjs-dimse').requests.CStoreRequest>, callback: (r: InstanceType<typeof import('dcmjs-dimse').responses.CStoreResponse>) => void): void {
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
      policy.ingest(ds.raw, { source: 'dimse', callingAeTitle: this.callingAe, expected: { sopClassUID, sopInstanceUID } }).then(
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
  const accept = (socket: Socket): void => {
    socket.setNoDelay(true);
    deliverWholePdus(socket);
    const count = (openCount.get(policy) ?? 0) + 1;
    openCount.set(policy, count);
    socket.once('close', () => { openCount.set(policy, (openCount.get(policy) ?? 1) - 1); });
    const scp = new ScpClass(socket, { associationTimeout: 30_000, pduTimeout: 60_000 });
    if (count > policy.maxAssociations) scp.overloaded = true;
  };
  const server: Server = tls
    ? createTlsServer({ cert: tls.cert, key: tls.key, ...(tls.ca ? { ca: tls.ca } : {}), requestCert: tls.requireClientCert, rejectUnauthorized: tls.requireClientCert, minVersion: 'TLSv1.2' }, accept)
    : createServer({ noDelay: true }, accept);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

/**
 * The library appends every socket read to the PDU it is assembling with Buffer.concat, so a 512 KiB
 * PDU arriving in 64 KiB reads is copied 8 times (measured: 1.1 MB copied per CT slice, and the
 * garbage collections that follow). Here its 'data' listener is handed whole PDUs instead (PS3.8
 * 9.3.1: a 6-byte header whose last 4 bytes are the length), each assembled with one copy — the
 * library passes a whole PDU on without copying. A PDU longer than we advertised is a protocol
 * violation: the connection is closed rather than buffered.
 */
function deliverWholePdus(socket: Socket): void {
  const on = socket.on.bind(socket);
  socket.on = ((event: string, listener: (...args: unknown[]) => void) => {
    if (event !== 'data') return on(event, listener);
    let parts: Buffer[] = [];
    let have = 0;
    return on('data', (chunk: Buffer) => {
      parts.push(chunk);
      have += chunk.length;
      for (;;) {
        if (have < 6) return;
        // A header split across reads is joined once, not on every later read of the same PDU.
        if (parts[0]!.length < 6) parts = [Buffer.concat(parts, have)];
        const need = 6 + parts[0]!.readUInt32BE(2);
        if (need > MAX_RECEIVE_PDU + 6) { socket.destroy(new Error(`PDU of ${need} bytes exceeds the ${MAX_RECEIVE_PDU}-byte maximum`)); return; }
        if (have < need) return;
        const all = parts.length === 1 ? parts[0]! : Buffer.concat(parts, have);
        listener(all.subarray(0, need));
        parts = have > need ? [all.subarray(need)] : [];
        have -= need;
      }
    });
  }) as Socket['on'];
}

const scpClasses = new WeakMap<ScpPolicy, ReturnType<typeof makeScpClass>>();
const openCount = new WeakMap<ScpPolicy, number>();
