import { createHash } from 'node:crypto';
import { BufferSource } from '../dicom/byte-source.ts';
import { isInstanceStatement } from '../integrity/statement.ts';
import {
  type Counts, type Finding, type ListedInstance, type RecordedInstance,
  emptyCounts, judgeListed, missingFrom, sampled,
} from '../integrity/sweep-findings.ts';
import type { PacsSource, SweepScope } from '../net/pacs-source.ts';
import type { LogRecord, LogStore } from '../store/log-store.ts';
import { type LogView, type Verdict, verifySource } from './verify.ts';

/**
 * full: every recorded instance is fetched and its content checked; sample: a share of each series
 * (at least one); metadata: nothing is fetched (recorded instances are `present`).
 */
export type SweepMode = { kind: 'full' } | { kind: 'sample'; share: number; seed: number } | { kind: 'metadata' };

export interface SweepSummary {
  source: string;
  mode: SweepMode['kind'];
  share?: number;
  scope: SweepScope;
  startedAt: string;
  finishedAt: string;
  studies: number;
  listed: number;
  fetched: number;
  bytes: number;
  counts: Counts;
}

function recordedOf(rec: LogRecord | undefined): RecordedInstance | undefined {
  const s = rec?.signed?.statement;
  if (!rec || !s || !isInstanceStatement(s)) return undefined;
  return {
    index: rec.index, kind: s.type === 'custos/ingest/v1' ? 'ingest' : 'derivation',
    studyInstanceUID: s.instance.studyInstanceUID, seriesInstanceUID: s.instance.seriesInstanceUID,
    sopInstanceUID: s.instance.sopInstanceUID, sopClassUID: s.instance.sopClassUID,
  };
}

const latestFirst = (a: RecordedInstance, b: RecordedInstance): number => b.index - a.index;

function fromVerdict(item: ListedInstance, v: Verdict): Finding {
  const at = { studyInstanceUID: item.studyInstanceUID, seriesInstanceUID: item.seriesInstanceUID, sopInstanceUID: item.sopInstanceUID };
  switch (v.status) {
    case 'authentic': return { status: 'authentic', ...at, index: v.index, reason: `as recorded ${v.time} from ${v.source}` };
    case 'derived': return { status: 'derived', ...at, index: v.index, ...(v.parentIndex !== undefined ? { parentIndex: v.parentIndex } : {}), reason: `a de-identified copy recorded ${v.time}` };
    case 'tampered': return { status: 'tampered', ...at, ...(v.index !== undefined ? { index: v.index } : {}), reason: v.reason };
    case 'unknown': case 'skipped': return { status: 'unreadable', ...at, reason: v.reason };
  }
}

const unitHash = (s: string): number => createHash('sha256').update(s).digest().readUInt32BE(0) / 2 ** 32;

/**
 * Sweep an archive against the log: list each study in scope (metadata), judge each instance, fetch
 * the recorded ones the mode asks for and check their content, and report what is missing. Findings
 * go to `onFinding` as they are made (nothing is kept but the study being swept).
 */
export async function sweepArchive(
  source: PacsSource,
  log: LogStore,
  view: LogView,
  opts: { scope: SweepScope; mode: SweepMode },
  onFinding: (f: Finding) => void | Promise<void>,
): Promise<SweepSummary> {
  const startedAt = new Date().toISOString();
  const counts = emptyCounts();
  let studies = 0, listed = 0, fetched = 0, bytes = 0;
  const emit = async (f: Finding): Promise<void> => { counts[f.status]++; await onFinding(f); };
  const recordsOf = (indexes: readonly number[]): RecordedInstance[] => indexes.map((i) => recordedOf(log.record(i))).filter((r): r is RecordedInstance => !!r).sort(latestFirst);

  for await (const study of source.studies(opts.scope)) {
    studies++;
    const inStudy = recordsOf(log.findByStudy(study));
    const bySop = new Map<string, RecordedInstance[]>();
    for (const r of inStudy) { const l = bySop.get(r.sopInstanceUID); if (l) l.push(r); else bySop.set(r.sopInstanceUID, [r]); }
    const recordedSeries = new Set(inStudy.map((r) => r.seriesInstanceUID));
    const listedSops = new Set<string>();
    const toCheck: Array<{ item: ListedInstance; record: RecordedInstance }> = [];
    for await (const item of source.instances(study)) {
      listed++;
      listedSops.add(item.sopInstanceUID);
      const recorded = bySop.get(item.sopInstanceUID) ?? recordsOf(log.findBySop(item.sopInstanceUID));
      const judged = judgeListed(item, recorded, { seriesRecorded: recordedSeries.has(item.seriesInstanceUID) || log.findSeriesMembers(item.seriesInstanceUID).length > 0, studyRecorded: inStudy.length > 0 });
      if (judged.status === 'check') toCheck.push({ item, record: judged.record });
      else await emit(judged);
    }
    // Which to fetch: all (full), a share of each series with at least one (sample), none (metadata).
    const fetch = new Set<ListedInstance>();
    if (opts.mode.kind === 'full') for (const c of toCheck) fetch.add(c.item);
    else if (opts.mode.kind === 'sample') {
      const { share, seed } = opts.mode;
      const perSeries = new Map<string, ListedInstance[]>();
      for (const c of toCheck) {
        const l = perSeries.get(c.item.seriesInstanceUID) ?? [];
        l.push(c.item);
        perSeries.set(c.item.seriesInstanceUID, l);
      }
      for (const items of perSeries.values()) {
        const chosen = items.filter((i) => sampled(i.sopInstanceUID, share, seed, unitHash));
        for (const i of chosen.length ? chosen : [items[Math.floor(unitHash(`${seed}:${items[0]!.seriesInstanceUID}`) * items.length)]!]) fetch.add(i);
      }
    }
    for (const c of toCheck) {
      if (!fetch.has(c.item)) await emit({ status: 'present', studyInstanceUID: study, seriesInstanceUID: c.item.seriesInstanceUID, sopInstanceUID: c.item.sopInstanceUID, index: c.record.index, reason: 'recorded and listed where recorded; content not fetched' });
    }
    await source.retrieve([...fetch], async (item, part10, problem) => {
      if (!part10) { await emit({ status: 'unreadable', studyInstanceUID: study, seriesInstanceUID: item.seriesInstanceUID, sopInstanceUID: item.sopInstanceUID, reason: problem ?? 'not delivered' }); return; }
      fetched++;
      bytes += part10.length;
      await emit(fromVerdict(item, await verifySource(() => new BufferSource(part10), view)));
    });
    for (const f of missingFrom(study, inStudy, listedSops)) await emit(f);
  }
  const mode = opts.mode;
  return {
    source: source.label, mode: mode.kind, ...(mode.kind === 'sample' ? { share: mode.share } : {}), scope: opts.scope,
    startedAt, finishedAt: new Date().toISOString(), studies, listed, fetched, bytes, counts,
  };
}

/** A sweep's findings in a few lines for people: counts, then each finding that needs a look. */
export function summaryText(s: SweepSummary): string {
  const c = s.counts;
  const lines = [
    `sweep of ${s.source} (${s.mode}${s.share !== undefined ? ` ${Math.round(s.share * 100)}%` : ''}): ${s.studies} studies, ${s.listed} instances listed, ${s.fetched} fetched (${(s.bytes / 1048576).toFixed(1)} MiB)`,
    `  authentic ${c.authentic}, derived ${c.derived}, present (not fetched) ${c.present}`,
    `  tampered ${c.tampered}, inserted ${c.inserted}, missing ${c.missing}, unknown ${c.unknown}, unreadable ${c.unreadable}`,
  ];
  return lines.join('\n') + '\n';
}
