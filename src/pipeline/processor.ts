import { recordEvents } from '../audit/events.ts';
import type { GatewayConfig, RecipientConfig } from '../config/gateway-config.ts';
import { TABLE_EDITION, makeProfile } from '../deid/profile.ts';
import { recipientKey } from '../deid/pseudonyms.ts';
import { isCustosError } from '../errors.ts';
import type { NoteSigner } from '../integrity/note.ts';
import type { SiteMode } from '../policy/decision.ts';
import type { BlobStore } from '../store/blob-store.ts';
import { type DataKeys, openBlob } from '../store/data-keys.ts';
import type { Database } from '../store/database.ts';
import type { LogStore } from '../store/log-store.ts';
import type { Forwarder } from './forwarder.ts';
import type { IngestedInstance } from './ingest.ts';
import { type Described, describeSource } from './integrity.ts';
import { type ClaimedJob, type JobRow, type Settlement, requeueJobs, settleJobs } from './job-settlement.ts';
import { type LogStepContext, type LoggedBatch, logNewInstances } from './log-step.ts';
import { type RecipientSettings, type Sendable, prepareRelease } from './prepare-release.ts';
import type { RecentOriginals } from './recent-originals.ts';
import { recordDescribedDerivations } from './record-derivations.ts';
import { decideReleases } from './release-decision.ts';
import { issueReleaseReceipt } from './release-receipt.ts';
import type { SigningIdentity } from '../integrity/dicom-signature.ts';
import { type SeriesRisk, decideSeriesRisk, generalizeOutgoing } from './release-risk.ts';
import { signBuffers } from './sign-instance.ts';
import { ChunksSource } from '../dicom/byte-source.ts';
import type { VisualFeatures } from './deid-file.ts';
import { SeriesDefacer } from './series-defacer.ts';

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
  /** Who signs instances sent to recipients with `sign` (loaded or made on first use). */
  signing?: () => Promise<SigningIdentity>;
  /** Clean Recognizable Visual Features: how long a series is waited for, and whether ears go too. */
  defacing?: { quietSeconds: number; maxWaitSeconds: number; ears: boolean };
}

type InstanceRow = IngestedInstance;

/**
 * A batch stops taking jobs once the originals it holds reach this (memory bounded whatever the
 * instances' size: at most two batches per recipient, one travelling and one prepared, plus one instance).
 */
const BATCH_BYTES = 256 << 20;

/** How long the loop waits for more work after a small batch (adds at most this to latency). */
const GATHER_MS = 15;

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
  private readonly profiles = new WeakMap<RecipientConfig, RecipientSettings>();
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

  private readonly logContext: LogStepContext;
  /** Risk decisions per recipient and output series (every instance of a series released alike). */
  private readonly seriesRisk = new Map<string, SeriesRisk>();

  /** Whole-series defacing for recipients with clean-recognizable-visual-features. */
  private readonly defacer: SeriesDefacer;

  constructor(deps: ProcessorDeps) {
    this.d = deps;
    this.defacer = new SeriesDefacer({
      db: deps.db, keys: deps.keys, original: (row) => this.original(row, false), release: (b) => this.done(b),
      quietSeconds: deps.defacing?.quietSeconds ?? 20, maxWaitSeconds: deps.defacing?.maxWaitSeconds ?? 900, ears: deps.defacing?.ears ?? false,
    });
    this.logContext = { original: (row) => this.original(row, false), done: (bytes) => this.done(bytes), recovered: this.recovered, blobs: deps.blobs, log: deps.log };
  }

  /** A recipient's de-identification settings, made once per version of its definition. */
  private settingsOf(recipient: string): RecipientSettings | undefined {
    const r = this.d.recipients.find((x) => x.id === recipient);
    if (!r) return undefined;
    let s = this.profiles.get(r);
    if (!s) {
      s = {
        profile: r.deid.profile === 'none' ? null : makeProfile(r.deid.options), key: r.deid.key === 'recipient' ? recipientKey(this.d.deploymentKey, r.id) : this.d.deploymentKey,
        ...(r.sign && this.d.signing ? { sign: this.d.signing } : {}),
      };
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
        const logged = await logNewInstances(logging, this.logContext);
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
      await requeueJobs(this.d.db, left);
      throw e;
    }
    return jobs.length;
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
    const decisions = await decideReleases(this.d.db, this.d.recipients, this.d.site, recipient, jobs);
    for (let k = jobs.length - 1; k >= 0; k--) {
      const d = decisions.get(Number(jobs[k]!.id));
      if (d?.outcome === 'deny') outcomes.push({ job: jobs.splice(k, 1)[0]!, outcome: { kind: 'withheld', reasons: d.reasons } });
    }
    for (const [i, job] of jobs.entries()) {
      if (held >= BATCH_BYTES) {
        // Enough originals held for one batch (large instances): the rest wait for the next one.
        const rest = jobs.splice(i);
        this.claimed -= rest.length;
        await requeueJobs(this.d.db, rest);
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
   * Deliver a prepared batch, log the derivations of what was delivered, and settle every job.
   * Resolves with the storage error that stopped it, if any (its unsettled jobs are requeued).
   */
  private async send(batch: Batch): Promise<Error | undefined> {
    try {
      const { settings, forwarder, outcomes } = batch;
      let sendable = batch.sendable;
      const risky = new Map<Sendable, { maxRisk: number; allowGeneralization: boolean }>();
      if (sendable.length && forwarder && settings) {
        // Decided again just before it leaves: a withdrawal or an agreement ending meanwhile stops it.
        const again = await decideReleases(this.d.db, this.d.recipients, this.d.site, sendable[0]!.job.recipient, sendable.map((x) => x.job as ClaimedJob));
        sendable = sendable.filter((x) => {
          const d = again.get(Number(x.job.id));
          if (d?.outcome === 'permit') x.basis = { ...d.basis, obligations: d.obligations, retentionDays: d.retentionDays, ...(d.maxRisk !== undefined ? { maxRisk: d.maxRisk } : {}) };
          if (d?.outcome === 'permit' && d.maxRisk !== undefined) risky.set(x, { maxRisk: d.maxRisk, allowGeneralization: d.allowGeneralization === true });
          if (d?.outcome !== 'deny') return true;
          outcomes.push({ job: x.job, outcome: { kind: 'withheld', reasons: d.reasons } });
          return false;
        });
        // The agreement's risk threshold (docs/risk.md): each series judged once per recipient against the population.
        const kept: Sendable[] = [];
        for (const x of sendable) {
          const r = risky.get(x);
          if (!r || !x.original) { kept.push(x); continue; }
          const seriesKey = `${x.job.recipient}\0${x.output?.ids.seriesInstanceUID ?? x.out.sopInstanceUID}`;
          let decided = this.seriesRisk.get(seriesKey);
          if (!decided) {
            decided = await decideSeriesRisk(this.d.db, this.d.deploymentKey, x.original, x.out, r.maxRisk, r.allowGeneralization);
            if (this.seriesRisk.size >= 10_000) this.seriesRisk.clear();
            this.seriesRisk.set(seriesKey, decided);
          }
          if ('withheld' in decided) { outcomes.push({ job: x.job, outcome: { kind: 'withheld', reasons: [decided.withheld] } }); continue; }
          x.basis = { ...x.basis, risk: { journalist: decided.risk, population: decided.population, ...(Object.keys(decided.levels).length ? { generalized: decided.levels } : {}) } };
          if (Object.keys(decided.levels).length) {
            x.out = generalizeOutgoing(x.out, decided.levels);
            if (settings.sign) x.out = { ...x.out, ...signBuffers(x.out.part10, await settings.sign()) };
            if (x.output) x.output = await describeSource(new ChunksSource(x.out.part10), x.output.content);
          }
          kept.push(x);
        }
        sendable = kept;
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
      await settleJobs(this.d.db, this.d.forwarding, outcomes);
      await this.receipt(batch, outcomes);
      return undefined;
    } catch (e) {
      process.stderr.write(`custos: delivery not settled: ${isCustosError(e) ? `${e.code}: ` : ''}${(e as Error).message}\n`);
      await requeueJobs(this.d.db, batch.jobs);
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
  private async prepare(job: JobRow, row: InstanceRow & { transfer_syntax_uid: string }, settings: RecipientSettings): Promise<Sendable | Settlement> {
    let visualFeatures: VisualFeatures | undefined;
    if (settings.profile?.options.has('clean-recognizable-visual-features')) {
      // PS3.15 E.3.3: CT and MR go with their whole series, defaced once it has all arrived.
      const v = await this.defacer.verdict(row);
      if ('wait' in v) return { job, outcome: { kind: 'wait', code: 'SERIES_ARRIVING', message: v.wait.message, delayMs: v.wait.delayMs } };
      if ('held' in v) return { job, outcome: { kind: 'held', code: v.held.code, message: v.held.message } };
      if ('visualFeatures' in v) visualFeatures = v.visualFeatures;
    }
    const original = await this.original(row, true);
    try {
      const prepared = await prepareRelease(original, job, row, settings, this.d.log.store, visualFeatures);
      // What is sent holds views of the original: it is let go once the batch is settled (send()).
      if ('out' in prepared) return { ...prepared, original };
      this.done(original);
      return prepared;
    } catch (e) {
      this.done(original);
      throw e;
    }
  }
}

/** A recipient's claimed jobs after de-identification; `settings` and `forwarder` are unset for an unknown recipient. */
type Batch = { jobs: JobRow[]; settings: RecipientSettings | undefined; forwarder: Forwarder | undefined; sendable: Sendable[]; outcomes: Settlement[] };

