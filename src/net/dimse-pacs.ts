import { CustosError } from '../errors.ts';
import { fileMeta, part10Prefix } from '../dicom/part10.ts';
import type { ListedInstance } from '../integrity/sweep-findings.ts';
import { Client, RawDataset, constants, requests, responses } from './dimse-lib.ts';
import { type PacsSource, type SweepScope, Throttle } from './pacs-source.ts';

export interface DimsePacsOptions {
  host: string;
  port: number;
  aeTitle: string;
  callingAeTitle: string;
  timeoutMs?: number;
  bytesPerSecond?: number | undefined;
}

type Req = InstanceType<typeof requests.CFindRequest> | InstanceType<typeof requests.CGetRequest>;
interface StoreRequest { getAffectedSopClassUid(): string; getAffectedSopInstanceUid(): string; getDataset(): unknown }
interface NetworkHooks { createDatasetFromStoreWritableStream(stream: { toBuffer(): Buffer }, pc: { getAcceptedTransferSyntaxUid(): string }, cb: (d: unknown) => void): void; dimse?: StoreRequest }

const text = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : Array.isArray(v) && typeof v[0] === 'string' ? v[0] : undefined);

/**
 * A DIMSE archive: C-FIND (PS3.4 C.4.1, study root, hierarchical) to list, C-GET (C.4.3) to fetch,
 * one instance per request on one association per call; the archive sends each as a C-STORE
 * sub-operation, answered only once it has been checked, so the next waits (memory holds one).
 */
export class DimsePacs implements PacsSource {
  readonly label: string;
  private readonly o: DimsePacsOptions;
  private readonly throttle: Throttle;

  constructor(o: DimsePacsOptions) {
    this.o = o;
    this.label = `dimse:${o.aeTitle}@${o.host}:${o.port}`;
    this.throttle = new Throttle(o.bytesPerSecond);
  }

  /** One association running `reqs` in turn; C-STOREs that come back (C-GET) go to `onStore`. */
  private run(reqs: Req[], onStore?: (r: StoreRequest) => Promise<void>): Promise<void> {
    return new Promise((resolve, reject) => {
      if (!reqs.length) { resolve(); return; }
      const client = new Client();
      for (const r of reqs) client.addRequest(r);
      let failure: CustosError | undefined;
      client.on('associationRejected', (r: { result: number; source: number; reason: number }) => {
        failure = new CustosError('SWEEP_SOURCE_FAILED', `the archive rejected the association (result ${r.result}, source ${r.source}, reason ${r.reason}); check its AE titles`);
      });
      client.on('networkError', (e: Error) => {
        failure ??= new CustosError('SWEEP_SOURCE_FAILED', `cannot reach the archive (${this.label}): ${(e as NodeJS.ErrnoException).code ?? e.message}`);
      });
      client.on('cStoreRequest', (req: StoreRequest, callback: (r: unknown) => void) => {
        const res = responses.CStoreResponse.fromRequest(req as never);
        res.setStatus(constants.Status.Success);
        (onStore ? onStore(req) : Promise.resolve()).then(() => callback(res), () => { res.setStatus(0xa700); callback(res); });
      });
      client.on('closed', () => (failure ? reject(failure) : resolve()));
      const t = this.o.timeoutMs ?? 60_000;
      try {
        client.send(this.o.host, this.o.port, this.o.callingAeTitle, this.o.aeTitle, { connectTimeout: t, associationTimeout: t, pduTimeout: t } as Parameters<typeof client.send>[4]);
      } catch (e) {
        reject(new CustosError('SWEEP_SOURCE_FAILED', (e as Error).message));
        return;
      }
      // The library would parse each instance it is sent into a dictionary; its bytes are kept as they came.
      const network = (client as unknown as { network?: NetworkHooks }).network;
      if (network) {
        network.createDatasetFromStoreWritableStream = function (this: NetworkHooks, stream, pc, cb) {
          const req = this.dimse!;
          cb(new RawDataset({ sopClassUID: req.getAffectedSopClassUid(), sopInstanceUID: req.getAffectedSopInstanceUid() }, pc.getAcceptedTransferSyntaxUid(), stream.toBuffer()));
        };
      }
    });
  }

  private async find(req: InstanceType<typeof requests.CFindRequest>): Promise<Array<Record<string, unknown>>> {
    const rows: Array<Record<string, unknown>> = [];
    let status: number | undefined;
    req.on('response', (res: { getStatus(): number; getDataset(): { getElements(): Record<string, unknown> } | undefined }) => {
      status = res.getStatus();
      if (status === constants.Status.Pending || status === 0xff01) { const d = res.getDataset(); if (d) rows.push(d.getElements()); }
    });
    await this.run([req]);
    if (status !== constants.Status.Success) throw new CustosError('SWEEP_SOURCE_FAILED', `the archive answered C-FIND with status ${status === undefined ? 'none' : `0x${status.toString(16)}`}`);
    return rows;
  }

  async *studies(scope: SweepScope): AsyncIterable<string> {
    if (scope.studies?.length) { yield* scope.studies; return; }
    const rows = await this.find(requests.CFindRequest.createStudyFindRequest({ StudyInstanceUID: '', StudyDate: scope.since ? `${scope.since}-` : '' }));
    for (const r of rows) { const uid = text(r.StudyInstanceUID); if (uid) yield uid; }
  }

  async *instances(study: string): AsyncIterable<ListedInstance> {
    const series = await this.find(requests.CFindRequest.createSeriesFindRequest({ StudyInstanceUID: study, SeriesInstanceUID: '' }));
    for (const s of series) {
      const se = text(s.SeriesInstanceUID);
      if (!se) continue;
      const images = await this.find(requests.CFindRequest.createImageFindRequest({ StudyInstanceUID: study, SeriesInstanceUID: se, SOPInstanceUID: '', SOPClassUID: '' }));
      for (const i of images) {
        const sop = text(i.SOPInstanceUID);
        if (sop) yield { studyInstanceUID: study, seriesInstanceUID: se, sopInstanceUID: sop, sopClassUID: text(i.SOPClassUID) };
      }
    }
  }

  async retrieve(items: readonly ListedInstance[], each: (item: ListedInstance, part10: Buffer | undefined, problem?: string) => Promise<void>): Promise<void> {
    const pending = new Map(items.map((it) => [it.sopInstanceUID, it]));
    const reqs = items.map((it) => {
      const r = requests.CGetRequest.createImageGetRequest(it.studyInstanceUID, it.seriesInstanceUID, it.sopInstanceUID);
      r.on('response', (res: { getStatus(): number }) => {
        const st = res.getStatus();
        if (st !== constants.Status.Pending && pending.has(it.sopInstanceUID)) {
          pending.delete(it.sopInstanceUID);
          void each(it, undefined, `the archive answered C-GET with status 0x${st.toString(16).padStart(4, '0')} without sending it`);
        }
      });
      return r;
    });
    let failure: unknown;
    try {
      await this.run(reqs, async (req) => {
        const it = pending.get(req.getAffectedSopInstanceUid());
        const ds = req.getDataset();
        if (!it || !(ds instanceof RawDataset)) return; // not asked for: answered, not judged
        pending.delete(it.sopInstanceUID);
        await this.throttle.after(ds.raw.length);
        const part10 = Buffer.concat([part10Prefix(fileMeta(req.getAffectedSopClassUid(), it.sopInstanceUID, ds.getTransferSyntaxUid())), ds.raw]);
        await each(it, part10);
      });
    } catch (e) {
      failure = e;
    }
    for (const it of pending.values()) await each(it, undefined, failure instanceof Error ? failure.message : 'the association ended before it was sent');
  }

  async close(): Promise<void> {}
}
