import { randomUUID } from 'node:crypto';
import { recordEvents } from '../audit/events.ts';
import type { RouteConfig } from '../config/gateway-config.ts';
import type { ByteSource } from '../dicom/byte-source.ts';
import { asciiValue } from '../dicom/dataset.ts';
import { admitInstance } from '../dicom/admission.ts';
import { isStorageSopClass } from '../dicom/sop-classes.ts';
import { readDicom } from '../dicom/read.ts';
import { DEFAULT_QUASI, type QuasiValues } from '../deid/risk.ts';
import { riskInputOf } from '../deid/risk-inputs.ts';
import { recordPopulation } from '../policy/risk-population.ts';
import { Tags } from '../dicom/tag.ts';
import { CustosError, isCustosError } from '../errors.ts';
import { type Described, describeSource } from '../integrity/describe.ts';
import { recipientsFor } from '../policy/routing.ts';
import type { RecentOriginals } from './recent-originals.ts';
import type { BlobStore } from '../store/blob-store.ts';
import type { SharedBufferPool } from '../store/buffer-pool.ts';
import { type DataKeys, openBlob, patientRef } from '../store/data-keys.ts';
import type { Database, Statement } from '../store/database.ts';
import { type Received, inMemory } from '../store/spool.ts';

export interface IngestDeps {
  db: Database;
  blobs: BlobStore;
  keys: DataKeys;
  /** Deployment pseudonymisation key: patient references are HMACs under it. */
  deploymentKey: Buffer;
  routes: readonly RouteConfig[];
  /** Called once an instance is durable (blob and row) with work queued: the work loop's hand-over. */
  onQueued?: (instance: IngestedInstance) => void;
  /** Instances acknowledged and still on their way through the work loop (Processor.backlog). */
  backlog?: () => number;
  /** Hands the plaintext of a committed instance to the work loop (saves a read and a decrypt). */
  recent?: RecentOriginals;
  /** Where received instances' shared memory comes from: held here while the blob store describes one. */
  pool?: SharedBufferPool;
  /** Private SOP classes configured for storage (`ingest.privateSopClasses`); other private classes are refused. */
  privateSopClasses?: ReadonlySet<string>;
  /** The configured largest instance (bytes): a deflated dataset may not inflate past it. */
  maxInstanceBytes?: number;
  /**
   * The quarantine's size budget: rejected input is kept (encrypted) while `usedBytes` stays within
   * `maxBytes`; past it only the row (code, reason, size, SHA-256) is recorded, not the bytes.
   */
  quarantineBudget?: { maxBytes: number; usedBytes: number };
}

/** A stored instance as the work loop needs it (a row of `instances`). */
export interface IngestedInstance {
  id: number; patient_ref: string; blob_key: string; source: string; calling_ae: string | null; log_index: number | null;
  /** Its ids and content digests when the blob store makes them after storing it (else the work loop does). */
  described?: Promise<Described | undefined>;
}

export interface Origin {
  source: 'dimse' | 'stow';
  callingAeTitle: string | null;
  /** What the DIMSE command or STOW request said the instance is; checked against the dataset. */
  expected?: { sopClassUID?: string; sopInstanceUID?: string; studyInstanceUID?: string };
}

export type IngestResult =
  | { status: 'stored' | 'duplicate'; instanceId: number; sopClassUID: string; sopInstanceUID: string; recipients: string[] }
  | { status: 'rejected'; code: string; message: string; quarantineId: number | null; sopClassUID?: string; sopInstanceUID?: string };

/**
 * The PS3.4 B.2.3 C-STORE status of a rejected instance, shared by DIMSE and STOW-RS:
 * A900 Data Set does not match SOP Class (missing or contradicting UIDs), else C000 Cannot understand.
 */
export function rejectionStatus(code: string): number {
  if (code === 'SOP_CLASS_NOT_SUPPORTED') return 0x0122; // PS3.4 B.2.3 (C-STORE), PS3.18 Table I.2-1 (STOW-RS)
  return code === 'INGEST_MISMATCH' || code === 'DICOM_MISSING_ATTRIBUTE' ? 0xa900 : 0xc000;
}

interface Header {
  sopClassUID: string; sopInstanceUID: string; studyInstanceUID: string; seriesInstanceUID: string;
  modality: string; bodyPart: string; transferSyntaxUID: string; patientId: string; issuer: string;
  /** Repairs made while reading (their codes), recorded with the instance's received event. */
  warnings: string[];
  /** The quasi-identifiers, read only for the first instance of a series counted (docs/risk.md). */
  quasi: () => QuasiValues;
}

async function readHeader(source: ByteSource, origin: Origin, maxInflatedBytes: number | undefined, privateSopClasses: ReadonlySet<string> | undefined): Promise<Header> {
  // A full parse (pixel data stays a range of the source): truncated or malformed files fail here.
  const file = readDicom(source, maxInflatedBytes === undefined ? {} : { maxInflatedBytes });
  const admitted = await admitInstance(file, source);
  if (!isStorageSopClass(admitted.sopClassUID, privateSopClasses)) {
    throw new CustosError('SOP_CLASS_NOT_SUPPORTED', 'the SOP Class UID is not a storage class this gateway accepts (private classes: ingest.privateSopClasses)');
  }
  const h: Header = {
    ...admitted,
    transferSyntaxUID: file.transferSyntax.uid,
    patientId: asciiValue(file.dataset, Tags.PatientID),
    issuer: asciiValue(file.dataset, Tags.IssuerOfPatientID),
    warnings: (file.warnings ?? []).map((w) => w.code),
    quasi: () => riskInputOf(file.dataset, DEFAULT_QUASI).values,
  };
  const e = origin.expected;
  if (e?.sopClassUID && e.sopClassUID !== h.sopClassUID) throw new CustosError('INGEST_MISMATCH', 'the dataset\'s SOP Class UID differs from the one in the request');
  if (e?.sopInstanceUID && e.sopInstanceUID !== h.sopInstanceUID) throw new CustosError('INGEST_MISMATCH', 'the dataset\'s SOP Instance UID differs from the one in the request');
  if (e?.studyInstanceUID && e.studyInstanceUID !== h.studyInstanceUID) throw new CustosError('INGEST_MISMATCH', 'the instance belongs to another study than the one in the request URL');
  return h;
}

/**
 * Ingest one instance (a whole Part 10 file, in memory or spooled to disk; the caller keeps it until
 * this settles). Returns only once the instance is durable: its encrypted bytes fsynced in the blob
 * store and its row and forwarding jobs committed — the caller acknowledges (C-STORE success, STOW
 * 200) after this and not before. Bad input is kept in quarantine with its reason and reported as
 * rejected; only storage failures throw.
 */
export async function ingestInstance(deps: IngestDeps, input: Buffer | Received, origin: Origin): Promise<IngestResult> {
  const received = Buffer.isBuffer(input) ? inMemory(input) : input;
  const sha256 = received.sha256();
  let h: Header;
  const source = received.open();
  try {
    h = await readHeader(source, origin, deps.maxInstanceBytes, deps.privateSopClasses);
  } catch (e) {
    if (!isCustosError(e)) throw e;
    const quarantineId = await quarantine(deps, received, sha256, origin, e.code, e.message);
    return { status: 'rejected', code: e.code, message: e.message, quarantineId, ...(origin.expected?.sopInstanceUID ? { sopInstanceUID: origin.expected.sopInstanceUID } : {}), ...(origin.expected?.sopClassUID ? { sopClassUID: origin.expected.sopClassUID } : {}) };
  } finally {
    source.close();
  }
  const ids = { sopClassUID: h.sopClassUID, sopInstanceUID: h.sopInstanceUID };
  const ref = patientRef(deps.deploymentKey, h.patientId, h.issuer);
  let dataKey: Buffer;
  try {
    dataKey = deps.keys.cached(ref) ?? await deps.db.transaction((tx) => deps.keys.forPatient(tx, ref));
  } catch (e) {
    // The patient's data was destroyed (retention): nothing of theirs is stored again, not even in
    // quarantine, until a policy says otherwise. Refused, not retried.
    if (isCustosError(e) && e.code === 'PATIENT_SHREDDED') return { status: 'rejected', code: e.code, message: 'this patient\'s data was destroyed by retention; the instance was not stored', quarantineId: null, ...ids };
    throw e;
  }
  deps.keys.remember(ref, dataKey);
  const blobKey = `instances/${sha256.slice(0, 2)}/${sha256}-${randomUUID()}`;
  const recipients = recipientsFor(deps.routes, { Modality: h.modality, BodyPartExamined: h.bodyPart, SOPClassUID: h.sopClassUID, callingAeTitle: origin.callingAeTitle, source: origin.source });
  const receivedEvent = JSON.stringify({ source: origin.source, bytes: received.size, sha256, transferSyntaxUID: h.transferSyntaxUID, recipients, ...(h.warnings.length ? { warnings: h.warnings } : {}) });
  const same = `${h.sopInstanceUID}\0${sha256}`;
  const inFlight = inFlightOf(deps);
  for (;;) {
    // The same instance arriving again while the first copy is being stored: wait for that one's
    // outcome (acknowledging the second before the first is durable could lose both).
    const earlier = inFlight.get(same);
    if (!earlier) break;
    await earlier;
  }
  let settle!: () => void;
  inFlight.set(same, new Promise<void>((r) => { settle = r; }));
  try {
    // One statement, one commit: the row, its jobs (the persistent queue) and its audit events
    // (migration 2, custos_ingest); no row for a duplicate.
    const insert = async (key: string): Promise<Array<{ id: number }>> => (await deps.db.queryFirst<{ id: number | null }>(
      'SELECT custos_ingest($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) AS id',
      [h.sopInstanceUID, h.sopClassUID, h.studyInstanceUID, h.seriesInstanceUID, h.modality || null, h.bodyPart || null, h.transferSyntaxUID, ref, key, received.size, sha256, origin.source, origin.callingAeTitle, recipients, receivedEvent],
    )).filter((r): r is { id: number } => r.id !== null);
    // The blob and the row are written at once, and the instance is acknowledged only when both are
    // durable. Until then nothing reads it: the work loop learns of it from onQueued below, and after a
    // crash it checks every instance not yet logged (Processor.start), discarding those whose blob
    // did not become whole — never acknowledged, so their senders still hold them.
    let { row, described } = await storeOnce(deps, blobKey, dataKey, received, insert);
    if (!row) {
      // Already held (a resend): acknowledge, store nothing new — unless the copy held is one whose
      // blob never became whole (left by a crash, or by a failed write whose row could not be taken
      // back), which was never acknowledged: it is replaced by this one, whose blob is already durable.
      const [other] = await deps.db.query<{ id: number; log_index: number | null; blob_key: string; patient_ref: string }>(
        'SELECT id, log_index, blob_key, patient_ref FROM instances WHERE sop_instance_uid = $1 AND sha256 = $2', [h.sopInstanceUID, sha256]);
      if (other && (other.log_index !== null || await blobIsWhole(deps, other))) {
        await deps.blobs.delete(blobKey);
        await recordEvents(deps.db, [{ kind: 'instance.duplicate', instanceId: Number(other.id), detail: { source: origin.source } }]);
        return { status: 'duplicate', instanceId: Number(other.id), ...ids, recipients: [] };
      }
      // The held copy is torn (removed here), or already gone (the work loop removed it meanwhile):
      // this one is stored anew.
      if (other) {
        await deps.db.batch(discardStatements([Number(other.id)], 'STORE_CORRUPT'));
        await deps.blobs.delete(other.blob_key).catch(() => undefined);
      }
      [row] = await insert(blobKey);
      if (!row) {
        await deps.blobs.delete(blobKey);
        throw new CustosError('STORE_UNAVAILABLE', 'the instance was stored again meanwhile; retry');
      }
    }
    if (received.memory) deps.recent?.put(Number(row.id), received.memory, recipients.length); // one use per job
    deps.onQueued?.({ id: Number(row.id), patient_ref: ref, blob_key: blobKey, source: origin.source, calling_ae: origin.callingAeTitle, log_index: null, ...(described ? { described } : {}) });
    countInPopulation(deps, ref, h);
    return { status: 'stored', instanceId: Number(row.id), ...ids, recipients };
  } finally {
    inFlight.delete(same);
    settle();
  }
}

/** Series already counted into the population by this process (bounded; a repeat is a no-op in the database too). */
const counted = new Set<string>();

/** Count a new series into the population (keyed, docs/risk.md): off the acknowledgement's path; derived data, so a failure is only reported. */
function countInPopulation(deps: IngestDeps, ref: string, h: Header): void {
  const k = `${ref}\0${h.seriesInstanceUID}`;
  if (counted.has(k)) return;
  if (counted.size >= 50_000) counted.clear();
  counted.add(k);
  void recordPopulation(deps.db, deps.deploymentKey, ref, h.seriesInstanceUID, h.quasi()).catch((e: Error) => {
    counted.delete(k);
    process.stderr.write(`custos: population count not updated (the next instance of the series retries): ${isCustosError(e) ? `${e.code}: ` : ''}${e.message}\n`);
  });
}

/**
 * Instances on their way beyond which ingest slows its acknowledgements. Measured on the gateway
 * bench (three runs each, steady state): 4 → 0.56–0.64× Orthanc's rate, p99 90–108 ms; 8 → 0.63–0.70×,
 * p99 118–123 ms; 16 → 0.57–0.66×, p99 175–237 ms; none → p99 growing with the queue, up to 506 ms.
 */
const BACKLOG_LIMIT = 8;

/**
 * Write the blob and insert the row at the same time (the blob first while the work loop is behind);
 * resolves once both are durable, with the new row, or none when the instance was already held, and
 * the instance's description for the log to come if the blob store makes it.
 */
async function storeOnce(deps: IngestDeps, blobKey: string, dataKey: Buffer, received: Received, insert: (blobKey: string) => Promise<Array<{ id: number }>>): Promise<{ row: { id: number } | undefined; described?: Promise<Described | undefined> | undefined }> {
  let described: Promise<Described | undefined> | undefined;
  const bytes = received.memory;
  const blob = (bytes
    ? deps.blobs.putSealed(blobKey, dataKey, bytes, { inspect: true }).then((put) => {
      // The description follows the acknowledgement: the blob store's thread reads the bytes until then
      // (it runs blob-description.ts, which the gateway gives the store as its inspector).
      described = put.inspected as Promise<Described | undefined> | undefined;
      if (described) { deps.pool?.retain(bytes); void described.finally(() => deps.pool?.release(bytes)); }
      return undefined;
    })
    // Spooled (too large to hold): streamed to the blob store, and described from the spool before
    // the caller removes it (so that the work loop never reads the whole instance back to log it).
    : Promise.all([withSource(received, (src) => deps.blobs.putSealedFrom(blobKey, dataKey, src)), withSource(received, (src) => describeSource(src)).catch(() => undefined)])
      .then(([, d]) => { described = Promise.resolve(d); return undefined; })
  ).then(() => undefined, (e: unknown) => e);
  // Flow control: while the work loop has more than BACKLOG_LIMIT instances on their way, the blob
  // is written first and the row after it — a slower acknowledgement, so that forwarding catches up
  // instead of the queue (and every instance's latency) growing.
  if ((deps.backlog?.() ?? 0) > BACKLOG_LIMIT) await blob;
  let row: { id: number } | undefined;
  try {
    [row] = await insert(blobKey);
  } catch (e) {
    await blob;
    await deps.blobs.delete(blobKey).catch(() => undefined);
    throw e;
  }
  const blobError = await blob;
  if (blobError) {
    // Not stored: take back the row and its jobs (if that fails too, a resend or the next start does).
    if (row) await deps.db.batch(discardStatements([Number(row.id)], 'STORE_UNAVAILABLE')).catch(() => undefined);
    throw blobError;
  }
  return { row, described };
}

/** Whether a held instance's blob is there and authenticates (a storage outage is thrown, not answered). */
async function blobIsWhole(deps: IngestDeps, row: { blob_key: string; patient_ref: string }): Promise<boolean> {
  try {
    openBlob(deps.keys.cached(row.patient_ref) ?? await deps.keys.load(deps.db, row.patient_ref), await deps.blobs.get(row.blob_key), row.blob_key);
    return true;
  } catch (e) {
    if (isCustosError(e) && (e.code === 'STORE_MISSING' || e.code === 'STORE_CORRUPT')) return false;
    throw e;
  }
}

const inFlightByDeps = new WeakMap<IngestDeps, Map<string, Promise<void>>>();
const inFlightOf = (deps: IngestDeps): Map<string, Promise<void>> => {
  let m = inFlightByDeps.get(deps);
  if (!m) inFlightByDeps.set(deps, (m = new Map()));
  return m;
};

/**
 * Remove instances whose blob is not whole (its write failed, or a crash came first): their rows and
 * jobs go, an audit event says why, and a resend is stored anew instead of being taken for a duplicate.
 * Only instances the log step never marked: those were never acknowledged, none of their jobs ran,
 * and the totals (migration 4) never counted them; a marked one is left as it is, with no event.
 */
export function discardStatements(instanceIds: readonly number[], code: string): Statement[] {
  const detail = { code, reason: 'its stored copy is missing or incomplete; a resend is stored anew' };
  return [{
    sql: `WITH gone AS (DELETE FROM instances WHERE id = ANY($1::bigint[]) AND log_index IS NULL RETURNING id)
          INSERT INTO events (kind, instance_id, detail) SELECT 'instance.discarded', id, $2::jsonb FROM gone ORDER BY id`,
    params: [instanceIds, JSON.stringify(detail)],
  }];
}

async function withSource<T>(received: Received, use: (src: ByteSource) => Promise<T>): Promise<T> {
  const src = received.open();
  try { return await use(src); } finally { src.close(); }
}

/** Keep rejected input, encrypted under a key of its own, with the reason (PHI may be inside). */
async function quarantine(deps: IngestDeps, received: Received, sha256: string, origin: Origin, code: string, reason: string): Promise<number | null> {
  const budget = deps.quarantineBudget;
  const size = received.size;
  const keep = !budget || budget.usedBytes + size <= budget.maxBytes;
  let blobKey: string | null = null;
  let wrapped: Buffer | null = null;
  if (keep) {
    if (budget) budget.usedBytes += size; // taken before the write, so concurrent rejections cannot overrun it
    blobKey = `quarantine/${randomUUID()}`;
    const k = deps.keys.oneOff(blobKey);
    wrapped = k.wrapped;
    const key = blobKey;
    if (received.memory) await deps.blobs.putSealed(key, k.key, received.memory);
    else await withSource(received, (src) => deps.blobs.putSealedFrom(key, k.key, src));
  }
  const [row] = await deps.db.query<{ id: number }>(
    'INSERT INTO quarantine (source, calling_ae, code, reason, blob_key, wrapped_key, bytes, sha256) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id',
    [origin.source, origin.callingAeTitle, code, reason, blobKey, wrapped, size, sha256],
  );
  const id = row ? Number(row.id) : null;
  await recordEvents(deps.db, [{ kind: 'instance.quarantined', detail: { quarantineId: id, code, source: origin.source, ...(keep ? {} : { kept: false, why: 'quarantine budget full' }) } }]);
  return id;
}
