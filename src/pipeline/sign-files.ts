import { isCustosError } from '../errors.ts';
import { compareContent } from '../integrity/compare.ts';
import type { NoteSigner } from '../integrity/note.ts';
import { type IngestStatement, type SeriesStatement, signStatement } from '../integrity/statement.ts';
import { type SeriesMember, inPositionOrder, seriesRoot } from '../integrity/series.ts';
import type { LogStore } from '../store/log-store.ts';
import { type Described, describeFile } from './integrity.ts';

export type SignOutcome =
  | { path: string; status: 'recorded' | 'already'; index: number }
  | { path: string; status: 'failed'; error: { code: string; message: string } };

const BATCH = 256;

/**
 * Record files in the log: an ingest statement per instance, appended in batches (one fsync and one
 * checkpoint per batch). An instance already recorded with the same content is not recorded again.
 * `onBatch` is called after each durable checkpoint with the outcomes it acknowledged.
 */
export async function signFiles(paths: string[], log: LogStore, signer: NoteSigner, source: string, onBatch?: (acked: SignOutcome[], size: number) => void): Promise<SignOutcome[]> {
  const out: SignOutcome[] = [];
  let pending: Array<{ path: string; d: Described }> = [];
  let dupes: Array<{ path: string; of: string }> = [];
  const flush = (): void => {
    if (!pending.length) return;
    const time = new Date().toISOString();
    const signed = pending.map(({ d }) => signStatement({ type: 'custos/ingest/v1', instance: d.ids, content: d.content, source, time, signer: signer.name } satisfies IngestStatement, signer.key));
    const { indexes } = log.appendBatch(signed.map((s) => ({ signed: s })));
    const acked = pending.map(({ path }, i) => ({ path, status: 'recorded' as const, index: indexes[i]! }));
    out.push(...acked);
    for (const d of dupes) out.push({ path: d.path, status: 'already', index: acked.find((a) => a.path === d.of)!.index });
    onBatch?.(acked, log.size);
    pending = [];
    dupes = [];
  };
  for (const path of paths) {
    let d: Described;
    try {
      d = await describeFile(path);
    } catch (e) {
      out.push({ path, status: 'failed', error: { code: isCustosError(e) ? e.code : 'IO', message: (e as Error).message } });
      continue;
    }
    const same = log.findIngest(d.ids.sopInstanceUID, d.content);
    if (same !== undefined) { out.push({ path, status: 'already', index: same }); continue; }
    // The same instance twice in one batch (e.g. the same image in two transfer syntaxes): record it once.
    const dup = pending.find((p) => p.d.ids.sopInstanceUID === d.ids.sopInstanceUID && compareContent(p.d.content, d.content) === undefined);
    if (dup) { dupes.push({ path, of: dup.path }); continue; }
    pending.push({ path, d });
    if (pending.length >= BATCH) flush();
  }
  flush();
  recordSeries(log, signer, new Set(out.filter((o) => o.status !== 'failed').map((o) => (log.record((o as { index: number }).index)?.signed?.statement as IngestStatement | undefined)?.instance.seriesInstanceUID).filter((u): u is string => Boolean(u))));
  return out;
}

/**
 * Record a series statement (series root over the members in position order) for each series
 * touched, unless the latest one already has the same root.
 */
function recordSeries(log: LogStore, signer: NoteSigner, series: Set<string>): void {
  const items: SeriesStatement[] = [];
  for (const uid of series) {
    const latest = new Map<string, IngestStatement>();
    for (const i of log.findSeriesMembers(uid)) {
      const s = log.record(i)?.signed?.statement as IngestStatement | undefined;
      if (s) latest.set(s.instance.sopInstanceUID, s);
    }
    const members: SeriesMember[] = [...latest.values()].map((s) => ({ sopInstanceUID: s.instance.sopInstanceUID, position: s.instance.position ?? null, pixelRoot: s.content.pixelRoot }));
    const root = seriesRoot(members);
    const prev = log.findSeriesStatements(uid).at(-1);
    if (prev !== undefined && (log.record(prev)?.signed?.statement as SeriesStatement | undefined)?.root === root) continue;
    const any = [...latest.values()][0]!;
    items.push({ type: 'custos/series/v1', series: { studyInstanceUID: any.instance.studyInstanceUID, seriesInstanceUID: uid }, members: inPositionOrder(members), root, time: new Date().toISOString(), signer: signer.name });
  }
  log.appendBatch(items.map((s) => ({ signed: signStatement(s, signer.key) })));
}
