import { type Server, type Socket, createServer } from 'node:net';
import type { Writable } from 'node:stream';
import { createServer as createTlsServer } from 'node:tls';
import { fileMeta, part10Prefix } from '../dicom/part10.ts';
import { IMPLICIT_VR_LITTLE_ENDIAN } from '../dicom/transfer-syntax.ts';
import { CustosError, isCustosError } from '../errors.ts';
import { type IngestResult, type Origin, rejectionStatus } from '../pipeline/ingest.ts';
import { type CStoreRequest, type PresentationContext, MAX_RECEIVE_PDU, Scp, constants, receivingState, responses } from './dimse-lib.ts';
import type { SharedBufferPool } from '../store/buffer-pool.ts';
import type { SpoolPolicy } from '../store/receive-buffer.ts';
import type { Received } from '../store/spool.ts';
import { type DataFragmentTaker, deliverWholePdus, readWholePdus } from './pdu-reader.ts';
import { DatasetSink, ReceivedDataset } from './dataset-sink.ts';
import { AE_TITLE, answerContext } from './negotiation.ts';

const { PresentationContextResult: PCR, RejectResult, RejectSource, RejectReason, Status } = constants;

/** PS3.7 E.1-1: Command Field of a C-STORE-RQ. */
const C_STORE_RQ = 0x0001;

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
        const answer = answerContext(pc.getAbstractSyntaxUid(), pc.getTransferSyntaxUids(), policy.privateSopClasses);
        if ('accept' in answer) pc.setResult(PCR.Accept, answer.accept);
        else pc.setResult(answer.reject === 'abstract-syntax' ? PCR.RejectAbstractSyntaxNotSupported : PCR.RejectTransferSyntaxesNotSupported);
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
      const lib = receivingState(this);
      const request = lib.dimse;
      if (!request || request.getCommandFieldType() !== C_STORE_RQ || lib.dimseStream) return false;
      let pc: PresentationContext | undefined;
      try { pc = lib.association?.getPresentationContext(pcId); } catch { pc = undefined; } // unknown id: the library throws
      if (!pc) throw new CustosError('DIMSE_PROTOCOL', `P-DATA for presentation context ${pcId}, which was not negotiated`);
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

const scpClasses = new WeakMap<ScpPolicy, ReturnType<typeof makeScpClass>>();
const openCount = new WeakMap<ScpPolicy, number>();
const openBySource = new WeakMap<ScpPolicy, Map<string, number>>();
const sourceCounts = (policy: ScpPolicy): Map<string, number> => {
  let m = openBySource.get(policy);
  if (!m) openBySource.set(policy, m = new Map());
  return m;
};
