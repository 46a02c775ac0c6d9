import type { CustosErrorCode } from '../errors.ts';
import type { Socket } from 'node:net';
import { dropBytes } from '../dicom/byte-source.ts';
import { datasetOffset } from '../dicom/part10.ts';
import { Client, RawDataset, canSendAs, requests, transcodeFailures } from './dimse-lib.ts';
import { type Delivery, type Forwarder, type Outgoing, failAll } from '../pipeline/forwarder.ts';

export interface DimseTls { ca?: Buffer; cert?: Buffer; key?: Buffer; rejectUnauthorized: boolean }
export interface DimseDestination { host: string; port: number; aeTitle: string; callingAeTitle: string; timeoutMs: number; tls?: DimseTls | undefined }

const hex = (n: number): string => `0x${n.toString(16).padStart(4, '0').toUpperCase()}`;

/** PS3.4 B.2.3: Success 0000 and Warnings B000, B006, B007 mean the instance was stored. */
const stored = (s: number): boolean => s === 0 || s === 0xb000 || s === 0xb006 || s === 0xb007;
/** Refused: Out of Resources (A7xx) is worth retrying; Data Set mismatch (A9xx) and Cannot Understand (Cxxx) are not. */
/**
 * C-STORE failures a retry cannot cure (PS3.4 B.2.3, PS3.7 C.4): A9xx data set does not match the
 * SOP class, Cxxx cannot understand, and the general refusals 0117 invalid SOP instance, 0122 SOP
 * class not supported, 0124 not authorized. Others (A7xx out of resources, 0110 processing
 * failure…) may pass and are retried.
 */
export const permanentStatus = (s: number): boolean => (s & 0xff00) === 0xa900 || (s & 0xf000) === 0xc000 || s === 0x0117 || s === 0x0122 || s === 0x0124;

/** The library's connection object, as far as it is used here. */
interface NetworkLike {
  socket?: Socket;
  association?: { getAcceptedPresentationContextFromRequest(r: unknown): { getAcceptedTransferSyntaxUid(): string | undefined } | undefined };
  sendRequests(r: unknown[]): void;
  sendAssociationReleaseRequest(): void;
  removeAllListeners(event: string): void;
  on(event: string, fn: () => void): void;
}

/** A batch on its way: its requests, the answers so far, and how it ends. */
interface Sending {
  items: readonly Outgoing[];
  requests: Array<InstanceType<typeof requests.CStoreRequest>>;
  datasets: RawDataset[];
  results: Array<Delivery | undefined>;
  resolve: (d: Delivery[]) => void;
}

/** An association to the recipient: sending one batch, or open and idle until its timer releases it. */
interface Association {
  client: InstanceType<typeof Client>;
  network?: NetworkLike;
  accepted: boolean;
  closing: boolean;
  current?: Sending | undefined;
  failure?: { code: CustosErrorCode; message: string };
  idle?: NodeJS.Timeout;
}

/**
 * C-STORE SCU (PS3.4 B), each instance in its own syntax when accepted. An association is kept open
 * for `keepOpenMs` after a batch and used for the next one when every instance of it has an accepted
 * presentation context there (else a new association is negotiated): under a stream, setting one up
 * per batch of a few instances cost about 1 ms per instance alone, more under load (connect,
 * A-ASSOCIATE, A-RELEASE, each a round trip). dcmjs-dimse releases an association once its queue is
 * empty; here its end-of-queue event is taken over, and the release is sent when the association has
 * been idle for `keepOpenMs` (0: at once, as the library does).
 */
export class DimseForwarder implements Forwarder {
  private readonly dest: DimseDestination;
  private readonly keepOpenMs: number;
  private open: Association | undefined;

  constructor(dest: DimseDestination, keepOpenMs = 0) {
    this.dest = dest;
    this.keepOpenMs = keepOpenMs;
  }

  deliver(items: readonly Outgoing[]): Promise<Delivery[]> {
    if (!items.length) return Promise.resolve([]);
    return new Promise((resolve) => {
      const batch: Sending = { items, requests: [], datasets: [], results: new Array(items.length), resolve };
      items.forEach((it, i) => {
        const ds = new RawDataset(it, it.transferSyntaxUID, dropBytes(it.part10, datasetOffset(it.part10[0]!)));
        batch.datasets.push(ds);
        const req = new requests.CStoreRequest(ds);
        req.on('response', (res: { getStatus(): number; getErrorComment?(): string }) => {
          const st = res.getStatus();
          batch.results[i] = stored(st) ? { ok: true, status: st }
            : { ok: false, code: 'DIMSE_FAILED', message: `the recipient answered C-STORE with status ${hex(st)}`, permanent: permanentStatus(st) };
        });
        batch.requests.push(req);
      });
      const a = this.open;
      if (a && a.accepted && !a.closing && !a.current && a.network?.association
        && batch.items.every((it, i) => {
          // The library's lookup falls back to any accepted context of the SOP class, whatever its
          // transfer syntax: the instance must be sendable in the one found (same syntax, or transcodable).
          const pc = a.network!.association!.getAcceptedPresentationContextFromRequest(batch.requests[i]!);
          return pc !== undefined && canSendAs(it.transferSyntaxUID, pc.getAcceptedTransferSyntaxUid() ?? '');
        })) {
        clearTimeout(a.idle);
        a.current = batch;
        a.network.socket?.ref();
        a.network.sendRequests(batch.requests);
        return;
      }
      if (a && !a.current) this.release(a); // an instance of this batch was not negotiated there
      this.associate(batch);
    });
  }

  /** Release the idle association, if any (the gateway stopping). */
  close(): void {
    if (this.open && !this.open.current) this.release(this.open);
  }

  private associate(batch: Sending): void {
    const client = new Client();
    const a: Association = { client, accepted: false, closing: false, current: batch };
    for (const r of batch.requests) client.addRequest(r);
    // Nagle's algorithm holds the last small PDU of each C-STORE for the peer's delayed ACK (~40 ms per
    // instance); the library opens the socket without noDelay, so set it as soon as it connects.
    client.on('connected', () => { a.network?.socket?.setNoDelay(true); });
    client.on('associationAccepted', () => { a.accepted = true; });
    client.on('associationRejected', (r: { result: number; source: number; reason: number }) => {
      a.failure = { code: 'DIMSE_REJECTED', message: `the recipient rejected the association (result ${r.result}, source ${r.source}, reason ${r.reason}); check its AE titles` };
    });
    client.on('networkError', (e: Error) => {
      a.failure ??= { code: 'DIMSE_FAILED', message: `network error: ${(e as NodeJS.ErrnoException).code ?? e.message}` };
    });
    client.on('closed', () => {
      clearTimeout(a.idle);
      a.closing = true;
      if (this.open === a) this.open = undefined;
      if (a.current) this.finish(a);
    });
    try {
      const t = this.dest.timeoutMs;
      const tls = this.dest.tls;
      client.send(this.dest.host, this.dest.port, this.dest.callingAeTitle, this.dest.aeTitle, {
        connectTimeout: t, associationTimeout: t, pduTimeout: t,
        // PS3.15 B.1 / BCP 195: TLS 1.2 or later, the peer verified against the configured CA.
        ...(tls ? { securityOptions: { ...(tls.ca ? { ca: tls.ca } : {}), ...(tls.cert ? { cert: tls.cert, key: tls.key } : {}), rejectUnauthorized: tls.rejectUnauthorized, minVersion: 'TLSv1.2' } } : {}),
      } as Parameters<typeof client.send>[4]);
    } catch (e) {
      a.current = undefined;
      batch.resolve(failAll(batch.items.length, 'DIMSE_FAILED', (e as Error).message));
      return;
    }
    a.network = (client as unknown as { network?: NetworkLike }).network;
    // The library's end-of-queue handler would release the association: ours ends the batch instead.
    a.network?.removeAllListeners('done');
    a.network?.on('done', () => {
      if (!a.current) return;
      this.finish(a);
      if (a.closing) return;
      if (this.keepOpenMs <= 0 || (this.open && this.open !== a)) { this.release(a); return; }
      this.open = a;
      a.network?.socket?.unref(); // an idle association keeps no process alive
      a.idle = setTimeout(() => this.release(a), this.keepOpenMs);
      a.idle.unref();
    });
  }

  /** The current batch is over (its queue done, or the association gone): every item gets its answer. */
  private finish(a: Association): void {
    const b = a.current!;
    a.current = undefined;
    b.resolve(Array.from(b.results, (r, i) => {
      if (r) return r;
      const why = transcodeFailures.get(b.datasets[i]!);
      if (why) return { ok: false, code: 'FORWARD_UNSUPPORTED_SYNTAX', message: why.message, permanent: true };
      if (a.failure || !a.accepted || a.closing) {
        const f = a.failure ?? { code: 'DIMSE_FAILED', message: 'the association ended before the recipient answered' };
        return { ok: false, code: f.code, message: f.message, permanent: false };
      }
      return { ok: false, code: 'FORWARD_UNSUPPORTED_SYNTAX', message: `the recipient accepted no presentation context for SOP class ${b.items[i]!.sopClassUID} in transfer syntax ${b.items[i]!.transferSyntaxUID}`, permanent: true };
    }));
  }

  /** A-RELEASE-RQ (PS3.8 7.2); the socket closes on the peer's A-RELEASE-RP, or after the timeout. */
  private release(a: Association): void {
    if (a.closing) return;
    a.closing = true;
    clearTimeout(a.idle);
    if (this.open === a) this.open = undefined;
    try {
      a.network?.sendAssociationReleaseRequest();
    } catch {
      a.network?.socket?.destroy();
      return;
    }
    const socket = a.network?.socket;
    setTimeout(() => socket?.destroy(), this.dest.timeoutMs).unref();
  }
}
