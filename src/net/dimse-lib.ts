import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import type { Writable } from 'node:stream';
import dimse from 'dcmjs-dimse';
import { BufferSource } from '../dicom/byte-source.ts';
import { fileMeta, part10Prefix } from '../dicom/part10.ts';
import { readDicom } from '../dicom/read.ts';
import { EXPLICIT_VR_BIG_ENDIAN, EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN, transferSyntax } from '../dicom/transfer-syntax.ts';
import { encodeDataset } from '../dicom/write.ts';
import { CustosError } from '../errors.ts';
import { decodeCommandSet, encodeCommandSet } from './dimse-command.ts';

/*
 * dcmjs-dimse carries the DIMSE protocol (PS3.7, PS3.8) for us. Its Dataset parses and re-encodes
 * through dcmjs, which drops private tags, rewrites character sets and costs far more than the
 * network; Custos keeps datasets as the bytes it received or produced. RawDataset hands those bytes
 * to the library untouched, and the library's transcoding hook is routed to our own writer, which
 * converts between the uncompressed syntaxes without touching pixel data.
 */
export const { Client, Scp, Dataset, Transcoding, Implementation, requests, responses, constants, log } = dimse;

/** The dcmjs-dimse release the replacements below were written against (package.json pins it exactly). */
export const DIMSE_LIBRARY_VERSION = '0.3.3';

/**
 * What the replacements below need of the library: each member they replace or read must be there,
 * a function where they call it. Returns what is missing; a patch release that renamed a private
 * method would otherwise make a replacement silently do nothing.
 */
export function missingLibraryMembers(lib: { version?: unknown; Dataset: unknown; Transcoding: unknown; Scp: unknown }): string[] {
  const missing: string[] = [];
  const fn = (owner: unknown, name: string, label: string): void => {
    if (typeof (owner as Record<string, unknown> | undefined)?.[name] !== 'function') missing.push(label);
  };
  if (lib.version !== DIMSE_LIBRARY_VERSION) missing.push(`version ${DIMSE_LIBRARY_VERSION} (found ${String(lib.version)})`);
  const datasetProto = (lib.Dataset as { prototype?: unknown } | undefined)?.prototype;
  fn(datasetProto, '_fromElementsBuffer', 'Dataset.prototype._fromElementsBuffer');
  fn(datasetProto, 'getDenaturalizedCommandDataset', 'Dataset.prototype.getDenaturalizedCommandDataset');
  fn(lib.Transcoding, 'transcodeDataset', 'Transcoding.transcodeDataset');
  const scpProto = (lib.Scp as { prototype?: unknown } | undefined)?.prototype;
  const network = scpProto ? Object.getPrototypeOf(scpProto) : undefined;
  fn(network, '_sendPDataTF', 'Network.prototype._sendPDataTF');
  fn(network, '_performDimse', 'Network.prototype._performDimse');
  fn(network, 'createStoreWritableStream', 'Network.prototype.createStoreWritableStream');
  fn(network, 'createDatasetFromStoreWritableStream', 'Network.prototype.createDatasetFromStoreWritableStream');
  return missing;
}

{
  const missing = missingLibraryMembers(dimse as unknown as Parameters<typeof missingLibraryMembers>[0]);
  if (missing.length) throw new CustosError('DIMSE_LIBRARY_CHANGED', `dcmjs-dimse is not the release Custos was built on: missing ${missing.join(', ')}. Install the version package.json pins (npm ci)`);
}

export type PresentationContext = InstanceType<typeof import('dcmjs-dimse').association.PresentationContext>;
export type CStoreRequest = InstanceType<typeof import('dcmjs-dimse').requests.CStoreRequest>;

/**
 * The library's receiving state (dcmjs-dimse 0.3.3 Network, private fields): the request in progress
 * and its data set stream, which the SCP's own data fragment path (dimse-scp.ts takeDataFragment)
 * reads and sets as the library's would.
 */
export interface ReceivingState {
  dimse: CStoreRequest | undefined;
  dimseStream: unknown;
  dimseStoreStream: Writable | undefined;
  lastPduTime: number;
  association: { getPresentationContext(id: number): PresentationContext | undefined } | undefined;
  statistics: { addBytesReceived(n: number): void };
  _performDimse(pc: PresentationContext, dimse: CStoreRequest): void;
}

/** The private fields ReceivingState reads, set by the library's Network constructor. */
export const RECEIVING_FIELDS = ['dimse', 'dimseStream', 'dimseStoreStream', 'lastPduTime', 'statistics'] as const;

const checked = new WeakSet<object>();

/**
 * The receiving state of a live SCP (fields exist only on instances, so they are checked on the first
 * use of each: a library that renamed one is refused with DIMSE_LIBRARY_CHANGED, never misread).
 */
export function receivingState(scp: object): ReceivingState {
  if (!checked.has(scp)) {
    const missing = RECEIVING_FIELDS.filter((f) => !(f in scp));
    if (missing.length) throw new CustosError('DIMSE_LIBRARY_CHANGED', `dcmjs-dimse Network lacks ${missing.join(', ')}: not the release Custos was built on`);
    checked.add(scp);
  }
  return scp as unknown as ReceivingState;
}

// The library's own copy of dcmjs logs a warning with a stack trace for every malformed command set a
// peer sends (about 2 KB of stderr each): a hostile client could fill the logs. Its errors still show.
(createRequire(createRequire(import.meta.url).resolve('dcmjs-dimse'))('dcmjs') as { log: { setLevel(level: string): void } }).log.setLevel('error');

const UNCOMPRESSED = new Set([IMPLICIT_VR_LITTLE_ENDIAN, EXPLICIT_VR_LITTLE_ENDIAN, EXPLICIT_VR_BIG_ENDIAN]);

/** Whether RawDataset.transcodedTo takes a data set from one syntax to the other: uncompressed, little endian. */
const transcodable = (from: string, to: string): boolean =>
  UNCOMPRESSED.has(from) && UNCOMPRESSED.has(to) && from !== EXPLICIT_VR_BIG_ENDIAN && to !== EXPLICIT_VR_BIG_ENDIAN;

/** Whether a data set in `from` can go out in `to`: as it is, or transcoded. */
export function canSendAs(from: string, to: string): boolean {
  return from === to || transcodable(from, to);
}

// The library logs datasets and peers at info level; Custos logs its own, PHI-free, events instead.
log.setLevel('silent');

/**
 * The largest PDU Custos receives (PS3.8 D.3.3.1). The library's default (16 KiB) splits a CT slice
 * into 33 PDUs, each copied on its way in; 1 MiB takes a slice in one or two. Senders still send at
 * most what they are configured for.
 */
export const MAX_RECEIVE_PDU = 1 << 20;
/** The library never sends PDUs larger than this, whatever the peer accepts. */
const LIBRARY_MAX_SEND_PDU = 4 << 20;
Implementation.setMaxPduLength(MAX_RECEIVE_PDU);

export class RawDataset extends Dataset {
  /** The data set's bytes as consecutive chunks (sent as they are, without joining them). */
  readonly parts: readonly Buffer[];
  private joined: Buffer | undefined;

  constructor(ids: { sopClassUID: string; sopInstanceUID: string }, transferSyntaxUID: string, raw: Buffer | readonly Buffer[]) {
    super({ SOPClassUID: ids.sopClassUID, SOPInstanceUID: ids.sopInstanceUID }, transferSyntaxUID);
    this.parts = Buffer.isBuffer(raw) ? [raw] : raw;
    if (this.parts.length === 1) this.joined = this.parts[0];
  }

  /** The data set as one buffer (joined on first use when it came in chunks). */
  get raw(): Buffer {
    this.joined ??= Buffer.concat(this.parts);
    return this.joined;
  }

  override getDenaturalizedDataset(): Buffer {
    return this.raw;
  }

  /** The same dataset in another uncompressed syntax (PS3.5 A.1, A.2, A.3): headers rewritten, values kept. */
  transcodedTo(target: string): RawDataset {
    const from = this.getTransferSyntaxUid();
    if (!transcodable(from, target)) {
      throw new CustosError('FORWARD_UNSUPPORTED_SYNTAX', UNCOMPRESSED.has(from) && UNCOMPRESSED.has(target)
        ? `conversion between ${from} and ${target} needs value byte swapping, which Custos does not do`
        : `the recipient did not accept transfer syntax ${from}, and Custos does not transcode it to ${target}`);
    }
    const ids = { sopClassUID: String(this.getElement('SOPClassUID')), sopInstanceUID: String(this.getElement('SOPInstanceUID')) };
    const source = new BufferSource(Buffer.concat([part10Prefix(fileMeta(ids.sopClassUID, ids.sopInstanceUID, from)), this.raw]));
    const file = readDicom(source);
    const chunks = encodeDataset(file.dataset, transferSyntax(target));
    const raw = Buffer.concat(chunks.map((c) => (Buffer.isBuffer(c) ? c : source.read(c.offset, c.length))));
    return new RawDataset(ids, target, raw);
  }
}

const original = Transcoding.transcodeDataset.bind(Transcoding);
Transcoding.transcodeDataset = (ds, ts, opts) => {
  if (ds instanceof RawDataset) {
    if (ds.getTransferSyntaxUid() === ts) return ds;
    try {
      return ds.transcodedTo(ts);
    } catch (e) {
      transcodeFailures.set(ds, e as Error);
      throw e;
    }
  }
  return original(ds, ts, opts);
};

// Command sets received are decoded by hand too; anything else goes to the library's parser.
type ElementsDecoder = (buf: Buffer, ts: string, opts?: unknown) => Record<string, unknown>;
const libraryDecoder = (Dataset.prototype as unknown as { _fromElementsBuffer: ElementsDecoder })._fromElementsBuffer;
(Dataset.prototype as unknown as { _fromElementsBuffer: ElementsDecoder })._fromElementsBuffer = function (this: unknown, buf: Buffer, ts: string, opts?: unknown) {
  return (ts === IMPLICIT_VR_LITTLE_ENDIAN ? decodeCommandSet(buf) : undefined) ?? libraryDecoder.call(this, buf, ts, opts);
};

// Command sets are encoded by hand (dimse-command.ts); anything it does not know goes to the library.
const libraryCommandEncoder = Dataset.prototype.getDenaturalizedCommandDataset;
Dataset.prototype.getDenaturalizedCommandDataset = function (this: InstanceType<typeof Dataset>, ...args: unknown[]): Buffer {
  return encodeCommandSet(this.getElements() as Record<string, unknown>) ?? (libraryCommandEncoder as (...a: unknown[]) => Buffer).apply(this, args);
};

/*
 * Sending a data set: the library builds each P-DATA-TF PDU by copying the fragment into one growing
 * buffer and the PDU into another (four copies of every byte; measured 2.2 ms of copying per CT
 * slice, a third of all the time spent forwarding). For our RawDatasets the PDUs are framed here
 * instead (PS3.8 9.3.5, E.2): a 12-byte header per fragment and the fragment itself, a view of the
 * data set, written together with one writev. The command (small) is framed the same way, and so
 * is a command without a data set (every C-STORE response).
 */
interface PDataCommand { getCommandDataset(): { getDenaturalizedCommandDataset(): Buffer }; getDataset(): unknown }
interface NetworkLike { socket: Socket; statistics: { addBytesSent(n: number): void } }
const networkPrototype = Object.getPrototypeOf(Scp.prototype) as { _sendPDataTF(this: NetworkLike, command: PDataCommand, pcId: number, maxPdu: number): void };
const librarySendPDataTF = networkPrototype._sendPDataTF;
networkPrototype._sendPDataTF = function (this: NetworkLike, command: PDataCommand, pcId: number, maxPdu: number): void {
  const dataset = command.getDataset();
  if (dataset !== undefined && dataset !== null && !(dataset instanceof RawDataset)) { librarySendPDataTF.call(this, command, pcId, maxPdu); return; }
  const limit = maxPdu === 0 ? LIBRARY_MAX_SEND_PDU : Math.min(maxPdu, LIBRARY_MAX_SEND_PDU);
  const parts: Buffer[] = [];
  // A fragment may span chunks of the data set: its PDU header is followed by a view of each.
  const frame = (chunks: readonly Buffer[], command: boolean): void => {
    const step = limit - 6; // the PDU's variable field holds one PDV item: 4-byte length, context id, control header
    const total = chunks.reduce((n, c) => n + c.length, 0);
    let chunk = 0;
    let at = 0;
    for (let off = 0; off < total || off === 0; off += step) {
      const length = Math.min(step, total - off);
      const last = off + step >= total;
      const head = Buffer.allocUnsafe(12);
      head.writeUInt8(0x04, 0); // P-DATA-TF
      head.writeUInt8(0, 1);
      head.writeUInt32BE(length + 6, 2);
      head.writeUInt32BE(length + 2, 6); // PDV item length
      head.writeUInt8(pcId, 10);
      head.writeUInt8((command ? 0x01 : 0) | (last ? 0x02 : 0), 11); // PS3.8 E.2 message control header
      parts.push(head);
      for (let need = length; need > 0;) {
        const c = chunks[chunk]!;
        const n = Math.min(need, c.length - at);
        parts.push(c.subarray(at, at + n));
        need -= n;
        at += n;
        if (at === c.length) { chunk++; at = 0; }
      }
      if (last) break;
    }
  };
  frame([command.getCommandDataset().getDenaturalizedCommandDataset()], true);
  if (dataset) frame(dataset.parts.filter((c) => c.length > 0), false);
  this.socket.cork();
  let bytes = 0;
  for (const p of parts) { this.socket.write(p); bytes += p.length; }
  this.socket.uncork();
  this.statistics.addBytesSent(bytes);
};

/*
 * Two things dcmjs-dimse 0.3 keeps for the life of an association, which Custos keeps open between
 * batches (dimse-scu.ts): the stream collecting a received command set's fragments is forgotten only
 * when a data set follows, so after a command alone (every C-STORE response) the next command set is
 * appended to it and the k-th response on an association decodes all k command sets before it; and
 * every request sent stays in its list of pending requests, which each response searches from the
 * oldest, holding each request's data set. Measured forwarding 500 CT slices to storescp on one
 * association: on average 58 KB of command sets decoded per response, and a search of 250 requests.
 * Both grow without bound under a steady stream. Once a message has been handled, its command stream
 * is dropped, and a request that got its final (not Pending, PS3.7 C.4) response leaves the list.
 */
/** The library's base class of responses (the class its _performDimse tells responses by). */
const Response = Object.getPrototypeOf(responses.CStoreResponse) as abstract new (...args: never[]) => unknown;
interface PendingRequest { getMessageId(): number }
interface ReceivedResponse { getMessageIdBeingRespondedTo(): number; getStatus(): number }
interface PerformingNetwork { dimseStream: unknown; pending: PendingRequest[] }
const performingPrototype = networkPrototype as unknown as { _performDimse(this: PerformingNetwork, pc: unknown, dimse: unknown): void };
const libraryPerformDimse = performingPrototype._performDimse;
performingPrototype._performDimse = function (this: PerformingNetwork, pc: unknown, dimse: unknown): void {
  this.dimseStream = undefined;
  libraryPerformDimse.call(this, pc, dimse);
  if (dimse instanceof Response) {
    const r = dimse as unknown as ReceivedResponse;
    if (r.getStatus() === constants.Status.Pending) return;
    const id = r.getMessageIdBeingRespondedTo();
    const i = this.pending.findIndex((p) => p.getMessageId() === id);
    if (i >= 0) this.pending.splice(i, 1);
  }
};

/** Why the library could not send a dataset (it only logs it): read by the SCU to report the job. */
export const transcodeFailures = new WeakMap<RawDataset, Error>();
