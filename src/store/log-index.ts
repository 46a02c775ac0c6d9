import type { LogRecord } from './log-store.ts';

/**
 * Where each log entry's record lies in statements.jsonl (byte offset and length; length 0: none),
 * and the look-ups that lead to records: by SOP Instance UID, study, series, pixel data root and
 * statement kind. The records themselves stay on disk: held all in memory they took about 1.9 KB of
 * heap each, 4 GB at a gateway's two million entries.
 */
export class LogIndex {
  private lineStart = new Float64Array(1024);
  private lineLength = new Uint32Array(1024);
  private readonly sop = new Map<string, number[]>();
  private readonly pixelRoot = new Map<string, number[]>();
  private readonly study = new Map<string, number[]>();
  private readonly seriesMember = new Map<string, number[]>();
  private readonly seriesStatement = new Map<string, number[]>();
  /** Records by statement type, for those found by kind (audit seals, receipts by digest). */
  private readonly kind = new Map<string, number[]>();

  /** Where entry i's record is; undefined when it has none. */
  line(i: number): { start: number; length: number } | undefined {
    const length = i < this.lineLength.length ? this.lineLength[i]! : 0;
    return length ? { start: this.lineStart[i]!, length } : undefined;
  }

  /** A record's line, and the look-ups that lead to it. */
  add(rec: LogRecord, start: number, length: number): void {
    if (rec.index >= this.lineStart.length) {
      const grown = Math.max(rec.index + 1, this.lineStart.length * 2);
      const starts = new Float64Array(grown); starts.set(this.lineStart); this.lineStart = starts;
      const lengths = new Uint32Array(grown); lengths.set(this.lineLength); this.lineLength = lengths;
    }
    this.lineStart[rec.index] = start;
    this.lineLength[rec.index] = length;
    for (const [m, k] of this.lookups(rec)) {
      const l = m.get(k);
      if (!l) m.set(k, [rec.index]);
      else if (l[l.length - 1]! < rec.index) l.push(rec.index); // appended in order: the usual case
      else if (!l.includes(rec.index)) l.splice(l.findIndex((x) => x > rec.index), 0, rec.index);
    }
  }

  /** Take a record out of the look-ups (a line another one for the same entry replaces). */
  remove(rec: LogRecord): void {
    for (const [m, k] of this.lookups(rec)) {
      const l = m.get(k);
      const at = l?.indexOf(rec.index) ?? -1;
      if (at >= 0) l!.splice(at, 1);
      if (l && !l.length) m.delete(k);
    }
  }

  /** Every entry found by any of the look-ups that lead to this record (where a copy of it would be). */
  sameKeys(rec: LogRecord): number[] {
    return [...new Set(this.lookups(rec).flatMap(([m, k]) => m.get(k) ?? []))];
  }

  receipt(digest: string): number | undefined { return this.kind.get(`custos/receipt/v1:${digest}`)?.[0]; }
  auditSeals(): number[] { return this.kind.get('custos/audit-seal/v1') ?? []; }
  bySop(uid: string): number[] { return this.sop.get(uid) ?? []; }
  byPixelRoot(root: string): number[] { return this.pixelRoot.get(root) ?? []; }
  byStudy(uid: string): number[] { return this.study.get(uid) ?? []; }
  seriesMembers(uid: string): number[] { return this.seriesMember.get(uid) ?? []; }
  seriesStatements(uid: string): number[] { return this.seriesStatement.get(uid) ?? []; }

  /** The look-ups a record is found by: (map, key) pairs. */
  private lookups(rec: LogRecord): Array<[Map<string, number[]>, string]> {
    const s = rec.signed?.statement;
    if (!s) return [];
    if (s.type === 'custos/audit-seal/v1') return [[this.kind, s.type]];
    if (s.type === 'custos/receipt/v1') return [[this.kind, `${s.type}:${s.digest}`]];
    if (s.type === 'custos/deletion-attestation/v1') return [[this.kind, s.type]];
    const pairs: Array<[Map<string, number[]>, string | null | undefined]> = s.type === 'custos/series/v1'
      ? [[this.seriesStatement, s.series.seriesInstanceUID], [this.study, s.series.studyInstanceUID]]
      : [[this.sop, s.instance.sopInstanceUID], [this.study, s.instance.studyInstanceUID], [this.pixelRoot, s.content.pixelRoot],
        ...(s.type === 'custos/ingest/v1' ? [[this.seriesMember, s.instance.seriesInstanceUID] as [Map<string, number[]>, string]] : [])];
    return pairs.filter((p): p is [Map<string, number[]>, string] => !!p[1]);
  }
}
