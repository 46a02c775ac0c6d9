import type { Socket } from 'node:net';
import { dropBytes } from '../dicom/byte-source.ts';
import { datasetOffset } from '../dicom/part10.ts';
import { Client, RawDataset, requests, transcodeFailures } from './dimse-lib.ts';
import { type Delivery, type Forwarder, type Outgoing, failAll } from './forwarder.ts';

export interface DimseTls { ca?: Buffer; cert?: Buffer; key?: Buffer; rejectUnauthorized: boolean }
export interface DimseDestination { host: string; port: number; aeTitle: string; callingAeTitle: string; timeoutMs: number; tls?: DimseTls | undefined }

const hex = (n: number): string => `0x${n.toString(16).padStart(4, '0').toUpperCase()}`;

/** PS3.4 B.2.3: Success 0000 and Warnings B000, B006, B007 mean the instance was stored. */
const stored = (s: number): boolean => s === 0 || s === 0xb000 || s === 0xb006 || s === 0xb007;
/** Refused: Out of Resources (A7xx) is worth retrying; Data Set mismatch (A9xx) and Cannot Understand (Cxxx) are not. */
const permanentStatus = (s: number): boolean => (s & 0xff00) === 0xa900 || (s & 0xf000) === 0xc000;

/** C-STORE SCU (PS3.4 B): one association per batch, each instance in its own syntax when accepted. */
export class DimseForwarder implements Forwarder {
  private readonly dest: DimseDestination;

  constructor(dest: DimseDestination) {
    this.dest = dest;
  }

  deliver(items: readonly Outgoing[]): Promise<Delivery[]> {
    if (!items.length) return Promise.resolve([]);
    return new Promise((resolve) => {
      const results: Array<Delivery | undefined> = new Array(items.length);
      const datasets: RawDataset[] = [];
      const client = new Client();
      let failure: { code: string; message: string } | undefined;
      items.forEach((it, i) => {
        const ds = new RawDataset(it, it.transferSyntaxUID, dropBytes(it.part10, datasetOffset(it.part10[0]!)));
        datasets.push(ds);
        const req = new requests.CStoreRequest(ds);
        req.on('response', (res: { getStatus(): number; getErrorComment?(): string }) => {
          const s = res.getStatus();
          results[i] = stored(s) ? { ok: true, status: s }
            : { ok: false, code: 'DIMSE_FAILED', message: `the recipient answered C-STORE with status ${hex(s)}`, permanent: permanentStatus(s) };
        });
        client.addRequest(req);
      });
      // Nagle's algorithm holds the last small PDU of each C-STORE for the peer's delayed ACK (~40 ms per
      // instance); the library opens the socket without noDelay, so set it as soon as it connects.
      client.on('connected', () => { (client as unknown as { network?: { socket?: Socket } }).network?.socket?.setNoDelay(true); });
      client.on('associationRejected', (r: { result: number; source: number; reason: number }) => {
        failure = { code: 'DIMSE_REJECTED', message: `the recipient rejected the association (result ${r.result}, source ${r.source}, reason ${r.reason}); check its AE titles` };
      });
      client.on('networkError', (e: Error) => {
        failure ??= { code: 'DIMSE_FAILED', message: `network error: ${(e as NodeJS.ErrnoException).code ?? e.message}` };
      });
      client.on('closed', () => {
        resolve(Array.from(results, (r, i) => {
          if (r) return r;
          const why = transcodeFailures.get(datasets[i]!);
          if (why) return { ok: false, code: 'FORWARD_UNSUPPORTED_SYNTAX', message: why.message, permanent: true };
          if (failure) return { ok: false, code: failure.code, message: failure.message, permanent: false };
          return { ok: false, code: 'FORWARD_UNSUPPORTED_SYNTAX', message: `the recipient accepted no presentation context for SOP class ${items[i]!.sopClassUID} in transfer syntax ${items[i]!.transferSyntaxUID}`, permanent: true };
        }));
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
        resolve(failAll(items.length, 'DIMSE_FAILED', (e as Error).message));
      }
    });
  }
}

