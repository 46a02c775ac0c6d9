import { type AuditEvent, eventsStatement } from '../audit/events.ts';
import { BufferSource } from '../dicom/byte-source.ts';
import { isCustosError } from '../errors.ts';
import type { NoteSigner } from '../integrity/note.ts';
import type { BlobStore } from '../store/blob-store.ts';
import type { Statement } from '../store/database.ts';
import type { LogStore } from '../store/log-store.ts';
import { type IngestedInstance, discardStatements } from './ingest.ts';
import { type Described, describeSource } from './integrity.ts';
import { recordIngests } from './record-derivations.ts';

/** What the log step needs of the work loop: the original of an instance (and its release), what was found at start, where to log. */
export interface LogStepContext {
  original(row: IngestedInstance): Promise<Buffer>;
  done(bytes: Buffer): void;
  /** Instances found unlogged at start: their blobs may be incomplete (a crash before the acknowledgement). */
  recovered: ReadonlySet<number>;
  blobs: BlobStore;
  log: { store: LogStore; signer: NoteSigner };
}

/** Newly logged instances as the next claim records them (custos_log_and_claim), and other statements to run first. */
export type LoggedBatch = { ids: number[]; indexes: number[]; statements: Statement[] };

/**
 * Step 1: an ingest statement per new instance, appended to the log in one durable batch. Returns
 * what records it in the database (run with the next claim, forwardReady()): each kept instance's
 * log index (-1: not logged), and the statements for the rare rest (discarded, unreadable).
 */
export async function logNewInstances(rows: readonly IngestedInstance[], ctx: LogStepContext): Promise<LoggedBatch> {
  if (!rows.length) return { ids: [], indexes: [], statements: [] };
  const final: number[] = new Array(rows.length).fill(-1);
  const readable: Array<{ i: number; described: Described; source: string }> = [];
  const events: AuditEvent[] = [];
  const discarded: Array<{ id: number; code: string }> = [];
  for (const [i, row] of rows.entries()) {
    try {
      let described = await row.described;
      if (!described) {
        const bytes = await ctx.original(row);
        try { described = await describeSource(new BufferSource(bytes)); } finally { ctx.done(bytes); }
      }
      readable.push({ i, described, source: row.source === 'dimse' ? `dimse:${(row.calling_ae ?? '').trim()}` : row.source });
    } catch (e) {
      if (isCustosError(e) && e.code === 'STORE_UNAVAILABLE') throw e;
      const code = isCustosError(e) ? e.code : 'INTERNAL';
      if (ctx.recovered.has(Number(row.id)) && (code === 'STORE_MISSING' || code === 'STORE_CORRUPT')) {
        // Found at start with its blob missing or incomplete: a crash came before it was acknowledged
        // (ingest writes blob and row at once). Removed, so that its sender's resend is stored anew.
        discarded.push({ id: Number(row.id), code });
        await ctx.blobs.delete(row.blob_key).catch(() => undefined);
        continue;
      }
      // Unreadable (shredded key, damaged blob, undecodable pixels): not logged (-1); its jobs end with the reason.
      events.push({ kind: 'instance.unlogged', instanceId: Number(row.id), detail: { code } });
    }
  }
  recordIngests(readable, ctx.log.store, ctx.log.signer, undefined, 'soon').forEach((index, k) => { final[readable[k]!.i] = index; });
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
