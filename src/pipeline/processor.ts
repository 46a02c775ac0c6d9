import { type AuditEvent, eventsStatement, recordEvents } from '../audit/events.ts';
import type { GatewayConfig, RecipientConfig } from '../config/gateway-config.ts';
import { BufferSource, ChunksSource } from '../dicom/byte-source.ts';
import { TABLE_EDITION, makeProfile, type Profile } from '../deid/profile.ts';
import { recipientKey } from '../deid/pseudonyms.ts';
import { isCustosError } from '../errors.ts';
import type { NoteSigner } from '../integrity/note.ts';
import type { Forwarder, Outgoing } from './forwarder.ts';
import type { BlobStore } from '../store/blob-store.ts';
import { type DataKeys, openBlob } from '../store/data-keys.ts';
import { consentsOfPatient } from '../policy/consent-registry.ts';
import { type ConsentRecord, type Decision, type Reason, type SiteMode, decide } from '../policy/decision.ts';
import { agreementsOf, currentVetting } from '../policy/recipient-policy.ts';
import type { Database, Statement } from '../store/database.ts';
import type { LogStore } from '../store/log-store.ts';
import { deidentifySource } from './deid-file.ts';
import { type IngestedInstance, discardStatements } from './ingest.ts';
import { type Described, describeSource } from './integrity.ts';
import { recordDescribedDerivations, recordIngests } from './record-derivations.ts';
import { issueReleaseReceipt } from './release-receipt.ts';
import type { RecentOriginals } from './recent-originals.ts';

export interface ProcessorDeps {
  db: Database;
  blobs: BlobStore;
  keys: DataKeys;
  deploymentKey: Buffer;
  recipients: readonly RecipientConfig[];
  forwarding: GatewayConfig['forwarding'];
  forwarders: ReadonlyMap<string, Forwarder>;
  log: { store: LogStore; signer: NoteSigner };
  recent?: RecentOriginals;
  /** The site's opt-in or opt-out per purpose (config policy.purposes). */
  site: Readonly<Record<string, SiteMode>>;
}

type InstanceRow = IngestedInstance;
interface JobRow { id: number; instance_id: number; recipient: string; attempts: number }
/** A job claimed for delivery, with the instance it delivers. */
type ClaimedJob = JobRow & { instance: InstanceRow & { transfer_syntax_uid: string } };

/**
 * A batch stops taking jobs once the originals it holds reach this (memory bounded whatever the
 * instances' size: at most two batches per recipient, one travelling and one prepared, plus one instance).
 */
const BATCH_BYTES = 256 << 20;

/** How long the loop waits for more work after a small batch (adds at most this to latency). */
const GATHER_MS = 15;

/** Delay before attempt n+1: exponential from initialBackoffMs, capped, with ±20 % jitter. */
export function backoffMs(attempts: number, f: GatewayConfig['forwarding']): number {
  const base = Math.min(f.maxBackoffMs, f.initialBackoffMs * 2 ** Math.max(0, attempts - 1));
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

/**
 * The work loop: record newly received instances in the integrity log, then take ready jobs from
 * the queue in the database, de-identify each for its recipient and deliver them in batches.
 * A job is marked done only after the recipient confirmed it; after a crash, jobs left running are
 * taken again (a recipient may then receive an instance twice with the same UIDs — an overwrite,
 * never a second copy, because pseudonymous UIDs are deterministic).
 */
export class Processor {
  private readonly d: ProcessorDeps;
  /** Settings per recipient definition (a new version is a new object, so settings are made anew). */
  private readonly profiles = new WeakMap<RecipientConfig, { profile: Profile | null; key: Buffer }>();
  private running = false;
  private wakeUp: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private dirty = false;
  /**
   * Instances stored and not yet logged, in the order they were stored: handed over by ingest
   * (ingested()) once durable, and at start read from the database (an instance is never looked up
   * while its blob may still be being written).
   */
  private readonly fresh: InstanceRow[] = [];
  /** Ids of the instances found unlogged at start: their blobs may be incomplete (a crash before the acknowledgement). */
  private readonly recovered = new Set<number>();
  /** Jobs claimed and not yet settled. */
  private claimed = 0;
  /** Per recipient, the batch being delivered; resolves with the storage error that stopped it, if any. */
  private readonly inFlight = new Map<string, Promise<Error | undefined>>();

  constructor(deps: ProcessorDeps) {
    this.d = deps;
  }

  /** A recipient's de-identification settings, made once per version of its definition. */
  private settingsOf(recipient: string): { profile: Profile | null; key: Buffer } | undefined {
    const r = this.d.recipients.find((x) => x.id === recipient);
    if (!r) return undefined;
    let s = this.profiles.get(r);
    if (!s) {
      s = { profile: r.deid.profile === 'none' ? null : makeProfile(r.deid.options), key: r.deid.key === 'recipient' ? recipientKey(this.d.deploymentKey, r.id) : this.d.deploymentKey };
      this.profiles.set(r, s);
    }
    return s;
  }

  async start(): Promise<void> {
    const requeued = await this.d.db.query<{ id: number }>(`UPDATE jobs SET state = 'pending', updated_at = now() WHERE state = 'running' RETURNING id`);
    await recordEvents(this.d.db, requeued.map((r) => ({ kind: 'job.requeued', jobId: Number(r.id), detail: { reason: 'restart' } })));
    const unlogged = await this.d.db.query<InstanceRow>('SELECT id, patient_ref, blob_key, source, calling_ae, log_index FROM instances WHERE log_index IS NULL ORDER BY id');
    for (const row of unlogged) this.recovered.add(Number(row.id));
    this.fresh.push(...unlogged);
    this.running = true;
    this.loop = this.run();
  }

  /** An instance is durable (blob and row) with its jobs queued: log it, then forward it. */
  ingested(row: InstanceRow): void {
    this.fresh.push(row);
    this.wake();
  }

  /** Instances acknowledged and on their way: not yet logged, or claimed and not yet settled. */
  backlog(): number {
    return this.fresh.length + this.claimed;
  }

  /** New work arrived: run now instead of at the next poll. */
  wake(): void {
    this.dirty = true;
    this.wakeUp?.();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wakeUp?.();
    await this.loop;
    await Promise.all(this.inFlight.values());
  }

  private async run(): Promise<void> {
    while (this.running) {
      this.dirty = false;
      let busy = false;
      let forwarded = 0;
      let logging: InstanceRow[] = [];
      try {
        logging = this.fresh.splice(0, 256);
        const taken = logging.length;
        const logged = await this.logNewInstances(logging);
        // The log's statements and the claim of ready jobs: one transaction, one request.
        forwarded = await this.forwardReady(logged, () => {
          for (const r of logging) this.recovered.delete(Number(r.id));
          logging = [];
        });
        busy = forwarded > 0 || taken > 0;
      } catch (e) {
        // Not recorded as logged (the transaction failed): log them again on the next turn.
        this.fresh.unshift(...logging);
        // A storage error (database or blob store down): keep the service up and try again later.
        process.stderr.write(`custos: processing paused: ${isCustosError(e) ? `${e.code}: ` : ''}${(e as Error).message}\n`);
        await new Promise((r) => setTimeout(r, 1000));
      }
      if (!this.running) continue;
      if (busy && forwarded < this.d.forwarding.batchSize) {
        // Group commit: a short pause lets a stream's next instances gather, so that one log append
        // (a few fsyncs), one transaction and one association serve many instead of one each.
        await new Promise((r) => setTimeout(r, GATHER_MS));
        continue;
      }
      if (busy || this.dirty) continue;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 500);
        this.wakeUp = () => { clearTimeout(t); resolve(); };
      });
      this.wakeUp = undefined;
    }
  }

  /**
   * The original of an instance: from the recent originals (held by the caller until
   * this.done(bytes); `forJob` uses up one job's share), else read back and decrypted.
   */
  private async original(row: InstanceRow, forJob: boolean): Promise<Buffer> {
    const recent = forJob ? this.d.recent?.take(Number(row.id)) : this.d.recent?.peek(Number(row.id));
    if (recent) return recent;
    const key = await this.d.keys.load(this.d.db, row.patient_ref);
    return openBlob(key, await this.d.blobs.get(row.blob_key), row.blob_key);
  }

  /** The caller of original() no longer reads the bytes, nor any view of them. */
  private done(bytes: Buffer): void {
    this.d.recent?.release(bytes);
  }

  /**
   * Step 1: an ingest statement per new instance, appended to the log in one durable batch. Returns
   * what records it in the database (run with the next claim, forwardReady()): each kept instance's
   * log index (-1: not logged), and the statements for the rare rest (discarded, unreadable).
   */
  private async logNewInstances(rows: readonly InstanceRow[]): Promise<LoggedBatch> {
    if (!rows.length) return { ids: [], indexes: [], statements: [] };
    const final: number[] = new Array(rows.length).fill(-1);
    const readable: Array<{ i: number; described: Described; source: string }> = [];
    const events: AuditEvent[] = [];
    const discarded: Array<{ id: number; code: string }> = [];
    for (const [i, row] of rows.entries()) {
      try {
        let described = await row.described;
        if (!described) {
          const bytes = await this.original(row, false);
          try { described = await describeSource(new BufferSource(bytes)); } finally { this.done(bytes); }
        }
        readable.push({ i, described, source: row.source === 'dimse' ? `dimse:${(row.calling_ae ?? '').trim()}` : row.source });
      } catch (e) {
        if (isCustosError(e) && e.code === 'STORE_UNAVAILABLE') throw e;
        const code = isCustosError(e) ? e.code : 'INTERNAL';
        if (this.recovered.has(Number(row.id)) && (code === 'STORE_MISSING' || code === 'STORE_CORRUPT')) {
          // Found at start with its blob missing or incomplete: a crash came before it was acknowledged
          // (ingest writes blob and row at once). Removed, so that its sender's resend is stored anew.
          discarded.push({ id: Number(row.id), code });
          await this.d.blobs.delete(row.blob_key).catch(() => undefined);
          continue;
        }
        // Unreadable (shredded key, damaged blob, undecodable pixels): not logged (-1); its jobs end with the reason.
        events.push({ kind: 'instance.unlogged', instanceId: Number(row.id), detail: { code } });
      }
    }
    recordIngests(readable, this.d.log.store, this.d.log.signer, undefined, 'soon').forEach((index, k) => { final[readable[k]!.i] = index; });
    // The instance.logged events are written by custos_log_and_claim (migration 3).
    const ev = eventsStatement(events);
    const gone = new Set(discarded.map((d) => d.id));
    const kept = rows.map((r, i) => ({ id: Number(r.id), idx: final[i]! })).filter((r) => !gone.has(r.id));
    return {
      ids: kept.map((r) => r.id),
      indexes: kept.map((r) => r.idx),
      statements: [...(ev ? [ev] : []), ...discarded.flatMap((d) => discardStatements([d.id], d.code))],
    };
  }

  /**
   * Step 2: claim ready jobs and de-identify them per recipient, then hand them to that recipient's
   * sender. One batch per recipient is in flight at a time: while it travels (the recipient answers
   * each C-STORE before the next is sent), the loop logs and prepares the next batch, instead of
   * waiting (measured: delivery was 65 % of the loop's time, most of it waiting for the recipient).
   */
  private async forwardReady(logged: LoggedBatch, committed: () => void): Promise<number> {
    const f = this.d.forwarding;
    // The log step's records and the claim, in one transaction (custos_log_and_claim, migration 3);
    // the claim returns each job's instance too (one statement where the claim and a look-up were two).
    const jobs = await this.d.db.batch<ClaimedJob>([...logged.statements, {
      sql: 'SELECT id, instance_id, recipient, attempts, instance FROM custos_log_and_claim($1::bigint[], $2::bigint[], $3)',
      params: [logged.ids, logged.indexes, f.batchSize * Math.max(1, this.d.forwarders.size)],
    }]);
    committed();
    if (!jobs.length) return 0;
    this.claimed += jobs.length;
    const byRecipient = new Map<string, ClaimedJob[]>();
    for (const j of jobs) byRecipient.set(j.recipient, [...(byRecipient.get(j.recipient) ?? []), j]);
    const handedOver = new Set<number>();
    try {
      await Promise.all([...byRecipient].map(async ([recipient, list]) => {
        const batch = await this.prepareBatch(recipient, list.sort((a, b) => Number(a.id) - Number(b.id)));
        // The previous batch's storage failure stops this one too (its jobs go back to the queue below).
        const previous = await this.inFlight.get(recipient);
        if (previous) { this.inFlight.delete(recipient); throw previous; }
        for (const j of list) handedOver.add(Number(j.id));
        this.inFlight.set(recipient, this.send(batch));
      }));
    } catch (e) {
      const left = jobs.filter((j) => !handedOver.has(Number(j.id)));
      this.claimed -= left.length;
      await this.requeue(left);
      throw e;
    }
    return jobs.length;
  }

  /**
   * Storage failed mid-batch: put claimed jobs that were not settled back in the queue (best effort:
   * if the database is down, the next start requeues them).
   */
  private async requeue(jobs: readonly JobRow[]): Promise<void> {
    if (!jobs.length) return;
    await this.d.db.query(`UPDATE jobs SET state = 'pending', updated_at = now() WHERE id = ANY($1::bigint[]) AND state = 'running'`, [jobs.map((j) => j.id)]).catch(() => undefined);
  }

  /** De-identify a recipient's claimed jobs: what to send, and the jobs already settled (held, dead). */
  private async prepareBatch(recipient: string, jobs: ClaimedJob[]): Promise<Batch> {
    const forwarder = this.d.forwarders.get(recipient);
    const settings = this.settingsOf(recipient);
    if (!forwarder || !settings) {
      // The recipient was removed from the configuration: keep the jobs, say why.
      return { jobs, settings: undefined, forwarder: undefined, sendable: [], outcomes: jobs.map((j) => ({ job: j, outcome: { kind: 'dead', code: 'RECIPIENT_UNKNOWN', message: `recipient "${recipient}" is not in the configuration` } })) };
    }
    const outcomes: Settlement[] = [];
    const sendable: Sendable[] = [];
    let held = 0;
    // The egress decision first (docs/policy.md): a job it denies is withheld with its reasons and
    // never de-identified.
    const decisions = await this.decideJobs(recipient, jobs);
    for (let k = jobs.length - 1; k >= 0; k--) {
      const d = decisions.get(Number(jobs[k]!.id));
      if (d?.outcome === 'deny') outcomes.push({ job: jobs.splice(k, 1)[0]!, outcome: { kind: 'withheld', reasons: d.reasons } });
    }
    for (const [i, job] of jobs.entries()) {
      if (held >= BATCH_BYTES) {
        // Enough originals held for one batch (large instances): the rest wait for the next one.
        const rest = jobs.splice(i);
        this.claimed -= rest.length;
        await this.requeue(rest);
        break;
      }
      try {
        const prepared = await this.prepare(job, job.instance, settings);
        if ('outcome' in prepared) outcomes.push(prepared); else { sendable.push(prepared); held += prepared.original?.length ?? 0; }
      } catch (e) {
        // One bad instance (undecodable pixels, a damaged blob…) ends its own job, with the reason;
        // only a storage outage stops the loop (and is retried).
        if (isCustosError(e) && e.code === 'STORE_UNAVAILABLE') throw e;
        outcomes.push({ job, outcome: { kind: 'dead', code: isCustosError(e) ? e.code : 'INTERNAL', message: (e as Error).message } });
      }
    }
    return { jobs: [...jobs, ...outcomes.filter((o) => o.outcome.kind === 'withheld').map((o) => o.job)], settings, forwarder, sendable, outcomes };
  }

  /**
   * The egress decision for each of a recipient's jobs, now: its vetting and agreements read once,
   * each patient's consents once.
   */
  private async decideJobs(recipient: string, jobs: readonly ClaimedJob[]): Promise<Map<number, Decision>> {
    const out = new Map<number, Decision>();
    const r = this.d.recipients.find((x) => x.id === recipient);
    if (!r || !jobs.length) return out;
    const [vetting, agreements, facts] = await Promise.all([
      currentVetting(this.d.db, recipient),
      agreementsOf(this.d.db, recipient),
      this.d.db.query<{ id: number; study_instance_uid: string; sop_class_uid: string; modality: string | null; body_part: string | null }>(
        'SELECT id, study_instance_uid, sop_class_uid, modality, body_part FROM instances WHERE id = ANY($1::bigint[])', [jobs.map((j) => j.instance_id)]),
    ]);
    const consents = new Map<string, ConsentRecord[]>();
    const now = new Date();
    for (const job of jobs) {
      const f = facts.find((x) => Number(x.id) === Number(job.instance_id));
      if (!f) continue;
      const ref = job.instance.patient_ref;
      if (!consents.has(ref)) consents.set(ref, await consentsOfPatient(this.d.db, ref));
      out.set(Number(job.id), decide({
        purpose: r.purpose,
        release: { studyInstanceUID: f.study_instance_uid, sopClassUID: f.sop_class_uid, modality: f.modality ?? undefined, bodyPart: f.body_part ?? undefined },
        consents: consents.get(ref)!,
        site: this.d.site,
        recipient: { id: r.id, organization: r.organization ?? r.id, devices: r.models.map((m) => m.id), vetting: vetting && { status: vetting.status, version: vetting.version }, deid: r.deid },
        agreements,
        now,
      }));
    }
    return out;
  }

  /**
   * Deliver a prepared batch, log the derivations of what was delivered, and settle every job.
   * Resolves with the storage error that stopped it, if any (its unsettled jobs are requeued).
   */
  private async send(batch: Batch): Promise<Error | undefined> {
    try {
      const { settings, forwarder, outcomes } = batch;
      let sendable = batch.sendable;
      if (sendable.length && forwarder && settings) {
        // Decided again just before it leaves: a withdrawal or an agreement ending meanwhile stops it.
        const again = await this.decideJobs(sendable[0]!.job.recipient, sendable.map((x) => x.job as ClaimedJob));
        sendable = sendable.filter((x) => {
          const d = again.get(Number(x.job.id));
          if (d?.outcome === 'permit') x.basis = { ...d.basis, obligations: d.obligations, retentionDays: d.retentionDays, ...(d.maxRisk !== undefined ? { maxRisk: d.maxRisk } : {}) };
          if (d?.outcome !== 'deny') return true;
          outcomes.push({ job: x.job, outcome: { kind: 'withheld', reasons: d.reasons } });
          return false;
        });
      }
      if (sendable.length && forwarder && settings) {
        const results = await forwarder.deliver(sendable.map((s) => s.out));
        const derived: Array<{ input: Described; output: Described }> = [];
        sendable.forEach((s, i) => {
          const res = results[i]!;
          if (res.ok) {
            outcomes.push({ job: s.job, outcome: { kind: 'done', sopInstanceUID: s.out.sopInstanceUID, bytes: s.out.bytes, ...(s.basis ? { basis: s.basis } : {}) } });
            if (s.input && s.output) derived.push({ input: s.input, output: s.output });
          } else {
            const last = s.job.attempts + 1 >= this.d.forwarding.maxAttempts;
            outcomes.push({ job: s.job, outcome: res.permanent || last ? { kind: 'dead', code: res.code, message: res.message } : { kind: 'retry', code: res.code, message: res.message } });
          }
        });
        if (derived.length && settings.profile) {
          recordDescribedDerivations(derived, this.d.log.store, this.d.log.signer, { edition: TABLE_EDITION, options: [...settings.profile.options].sort() }, 'gateway', 'soon');
        }
      }
      await this.settle(outcomes);
      await this.receipt(batch, outcomes);
      return undefined;
    } catch (e) {
      process.stderr.write(`custos: delivery not settled: ${isCustosError(e) ? `${e.code}: ` : ''}${(e as Error).message}\n`);
      await this.requeue(batch.jobs);
      return e as Error;
    } finally {
      this.claimed -= batch.jobs.length;
      // Delivered or not, nothing reads the originals' bytes any more (the association is closed).
      for (const s of batch.sendable) if (s.original) this.done(s.original);
      // Settled jobs may have freed the way for more (retries, the next batch): look again.
      this.wake();
    }
  }

  /** A signed receipt for what this batch delivered; its failure is reported, never undoes the delivery. */
  private async receipt(batch: Batch, outcomes: readonly Settlement[]): Promise<void> {
    const done = outcomes.flatMap((o) => (o.outcome.kind === 'done' ? [{ jobId: Number(o.job.id), sopInstanceUID: o.outcome.sopInstanceUID, bytes: o.outcome.bytes, basis: o.outcome.basis }] : []));
    const r = this.d.recipients.find((x) => x.id === batch.jobs[0]?.recipient);
    if (!done.length || !r) return;
    try {
      await issueReleaseReceipt(this.d.db, this.d.log.store, this.d.log.signer, r.id,
        { profile: r.deid.profile, ...(r.deid.profile === 'basic' ? { edition: TABLE_EDITION } : {}), options: [...r.deid.options].sort(), key: r.deid.key }, done);
    } catch (e) {
      process.stderr.write(`custos: release receipt not issued: ${isCustosError(e) ? `${e.code}: ` : ''}${(e as Error).message}\n`);
    }
  }

  /** The original of a job's instance, de-identified for the recipient: what to send, or why not. */
  private async prepare(job: JobRow, row: InstanceRow & { transfer_syntax_uid: string }, settings: { profile: Profile | null; key: Buffer }): Promise<Sendable | Settlement> {
    const original = await this.original(row, true);
    try {
      const prepared = await this.prepareFrom(original, job, row, settings);
      // What is sent holds views of the original: it is let go once the batch is settled (send()).
      if ('out' in prepared) return { ...prepared, original };
      this.done(original);
      return prepared;
    } catch (e) {
      this.done(original);
      throw e;
    }
  }

  private async prepareFrom(original: Buffer, job: JobRow, row: InstanceRow & { transfer_syntax_uid: string }, settings: { profile: Profile | null; key: Buffer }): Promise<Sendable | Settlement> {
    const src = new BufferSource(original);
    const input = this.ingestDescription(row) ?? await describeSource(src);
    if (!settings.profile) return { job, out: { ...input.ids, transferSyntaxUID: row.transfer_syntax_uid, part10: [original], bytes: original.length } };
    const r = await deidentifySource(src, { profile: settings.profile, key: settings.key }, { digests: false });
    if (r.status === 'held' || r.status === 'skipped') return { job, outcome: { kind: 'held', code: r.reason.code, message: r.reason.message } };
    if (r.status === 'failed') return { job, outcome: { kind: 'dead', code: r.error.code, message: r.error.message } };
    // The new header and views of the original's pixel data, never joined (measured: joining them
    // was 1.1 ms per CT slice on the event loop, most of it faulting in fresh memory).
    const part10 = r.chunks.map((c) => (Buffer.isBuffer(c) ? c : src.read(c.offset, c.length)));
    // Header-only de-identification leaves the pixel data as it was: its frame digests carry over.
    const output = await describeSource(new ChunksSource(part10), r.pixels ? undefined : input.content);
    return { job, input, output, out: { ...output.ids, transferSyntaxUID: r.transferSyntaxUID, part10, bytes: r.output.bytes } };
  }

  /** What the ingest statement of an instance recorded about it (ids and content digests). */
  private ingestDescription(row: InstanceRow): Described | undefined {
    if (row.log_index === null || Number(row.log_index) < 0) return undefined;
    const st = this.d.log.store.record(Number(row.log_index))?.signed?.statement;
    return st?.type === 'custos/ingest/v1' ? { ids: st.instance, content: st.content } : undefined;
  }

  /** Record every job's outcome and its audit event: one transaction, sent as one batch. */
  private async settle(list: Settlement[]): Promise<void> {
    if (!list.length) return;
    const f = this.d.forwarding;
    const events: AuditEvent[] = [];
    const statements: Statement[] = [];
    const done = list.flatMap((s) => (s.outcome.kind === 'done' ? [{ id: Number(s.job.id), ...s.outcome }] : []));
    if (done.length) {
      // Marked done, each with its job.forwarded event (migration 3).
      statements.push({ sql: 'SELECT custos_settle_done($1::bigint[], $2::text[], $3::bigint[])', params: [done.map((d) => d.id), done.map((d) => d.sopInstanceUID), done.map((d) => d.bytes)] });
      // Each release keeps the decision it went out under: consents and versions, agreement, vetting, obligations.
      const based = done.filter((d) => d.basis);
      if (based.length) statements.push({ sql: 'UPDATE jobs SET release_basis = v.b::jsonb FROM unnest($1::bigint[], $2::text[]) AS v(id, b) WHERE jobs.id = v.id', params: [based.map((d) => d.id), based.map((d) => JSON.stringify(d.basis))] });
    }
    for (const { job, outcome: o } of list) {
      const base = { instanceId: Number(job.instance_id), jobId: Number(job.id), recipient: job.recipient };
      if (o.kind === 'done') continue;
      if (o.kind === 'withheld') {
        statements.push({ sql: `UPDATE jobs SET state = 'withheld', withheld_reasons = $2::jsonb, updated_at = now() WHERE id = $1`, params: [job.id, JSON.stringify(o.reasons)] });
        events.push({ kind: 'job.withheld', ...base, detail: { reasons: o.reasons.map((r) => r.code), ...(o.reasons.find((r) => r.consent) ? { consents: o.reasons.flatMap((r) => (r.consent ? [r.consent] : [])) } : {}) } });
        continue;
      }
      if (o.kind === 'retry') {
        const delay = backoffMs(job.attempts + 1, f);
        statements.push({ sql: `UPDATE jobs SET state = 'pending', attempts = attempts + 1, next_attempt_at = now() + ($2::int * interval '1 millisecond'), last_error_code = $3, last_error = $4, updated_at = now() WHERE id = $1`, params: [job.id, delay, o.code, o.message] });
        events.push({ kind: 'job.retry', ...base, detail: { attempt: job.attempts + 1, code: o.code, message: o.message, retryInMs: delay } });
        continue;
      }
      statements.push({ sql: `UPDATE jobs SET state = $2, attempts = attempts + $5, last_error_code = $3, last_error = $4, updated_at = now() WHERE id = $1`, params: [job.id, o.kind, o.code, o.message, o.kind === 'dead' ? 1 : 0] });
      events.push({ kind: o.kind === 'held' ? 'job.held' : 'job.dead', ...base, detail: { code: o.code, message: o.message } });
    }
    const ev = eventsStatement(events);
    if (ev) statements.push(ev);
    await this.d.db.batch(statements);
  }
}

/** Newly logged instances as the next claim records them (custos_log_and_claim), and other statements to run first. */
type LoggedBatch = { ids: number[]; indexes: number[]; statements: Statement[] };

type Sendable = { job: JobRow; out: Outgoing; input?: Described; output?: Described; original?: Buffer; basis?: ReleaseBasis };
/** What a release was decided under (docs/policy.md), kept with its job for the accountability record. */
type ReleaseBasis = Record<string, unknown>;

/** A recipient's claimed jobs after de-identification; `settings` and `forwarder` are unset for an unknown recipient. */
type Batch = { jobs: JobRow[]; settings: { profile: Profile | null; key: Buffer } | undefined; forwarder: Forwarder | undefined; sendable: Sendable[]; outcomes: Settlement[] };

type Settlement = {
  job: JobRow;
  outcome:
    | { kind: 'done'; sopInstanceUID: string; bytes: number; basis?: ReleaseBasis }
    | { kind: 'retry' | 'dead' | 'held'; code: string; message: string }
    | { kind: 'withheld'; reasons: Reason[] };
};
