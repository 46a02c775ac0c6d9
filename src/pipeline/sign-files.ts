import { isCustosError } from '../errors.ts';
import { compareContent } from '../integrity/compare.ts';
import type { NoteSigner } from '../integrity/note.ts';
import { type IngestStatement, signStatement } from '../integrity/statement.ts';
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
    const same = log.findBySop(d.ids.sopInstanceUID).find((i) => {
      const s = log.record(i)?.signed?.statement;
      return s?.type === 'custos/ingest/v1' && compareContent(s.content, d.content) === undefined;
    });
    if (same !== undefined) { out.push({ path, status: 'already', index: same }); continue; }
    // The same instance twice in one batch (e.g. the same image in two transfer syntaxes): record it once.
    const dup = pending.find((p) => p.d.ids.sopInstanceUID === d.ids.sopInstanceUID && compareContent(p.d.content, d.content) === undefined);
    if (dup) { dupes.push({ path, of: dup.path }); continue; }
    pending.push({ path, d });
    if (pending.length >= BATCH) flush();
  }
  flush();
  return out;
}
