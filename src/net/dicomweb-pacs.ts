import { CustosError } from '../errors.ts';
import type { ListedInstance } from '../integrity/sweep-findings.ts';
import { contentTypeParams, parseMultipart } from './multipart.ts';
import { type PacsSource, type SweepScope, Throttle } from './pacs-source.ts';

type DicomJson = Record<string, { vr: string; Value?: unknown[] }>;
const str = (j: DicomJson, tag: string): string | undefined => {
  const v = j[tag]?.Value?.[0];
  return typeof v === 'string' ? v : undefined;
};

/** QIDO-RS pages (PS3.18 10.6): this many results per request. */
const PAGE = 500;

export interface DicomWebPacsOptions {
  url: string;
  headers?: Record<string, string> | undefined;
  timeoutMs?: number;
  bytesPerSecond?: number | undefined;
  /** The largest instance taken (a bigger one is reported unreadable, not held in memory). */
  maxInstanceBytes?: number;
}

/** A DICOMweb archive: QIDO-RS to list, WADO-RS (PS3.18 10.4) to fetch one instance per request. */
export class DicomWebPacs implements PacsSource {
  readonly label: string;
  private readonly base: string;
  private readonly o: DicomWebPacsOptions;
  private readonly throttle: Throttle;

  constructor(o: DicomWebPacsOptions) {
    this.o = o;
    this.base = o.url.replace(/\/+$/, '');
    const u = new URL(this.base);
    this.label = `dicomweb:${u.origin}${u.pathname}`;
    this.throttle = new Throttle(o.bytesPerSecond);
  }

  private async get(path: string, accept: string): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, { headers: { ...this.o.headers, accept }, signal: AbortSignal.timeout(this.o.timeoutMs ?? 60_000) });
    } catch (e) {
      const cause = (e as { cause?: NodeJS.ErrnoException }).cause;
      throw new CustosError('SWEEP_SOURCE_FAILED', `cannot reach the archive (${this.label}): ${cause?.code ?? (e as Error).name}`);
    }
    return res;
  }

  private async *query(path: string): AsyncIterable<DicomJson> {
    for (let offset = 0; ; offset += PAGE) {
      const sep = path.includes('?') ? '&' : '?';
      const res = await this.get(`${path}${sep}limit=${PAGE}&offset=${offset}`, 'application/dicom+json');
      if (res.status === 204) return;
      if (!res.ok) throw new CustosError('SWEEP_SOURCE_FAILED', `the archive answered a query with HTTP ${res.status}`);
      const text = await res.text();
      let rows: DicomJson[];
      try { rows = text ? JSON.parse(text) as DicomJson[] : []; } catch { throw new CustosError('SWEEP_SOURCE_FAILED', 'the archive answered a query with something other than DICOM JSON'); }
      if (!Array.isArray(rows)) throw new CustosError('SWEEP_SOURCE_FAILED', 'the archive answered a query with something other than a list');
      yield* rows;
      if (rows.length < PAGE) return;
    }
  }

  async *studies(scope: SweepScope): AsyncIterable<string> {
    if (scope.studies?.length) { yield* scope.studies; return; }
    const filter = scope.since ? `?StudyDate=${scope.since}-` : '';
    for await (const row of this.query(`/studies${filter}`)) {
      const uid = str(row, '0020000D');
      if (uid) yield uid;
    }
  }

  async *instances(study: string): AsyncIterable<ListedInstance> {
    for await (const row of this.query(`/studies/${encodeURIComponent(study)}/instances?includefield=0020000E&includefield=00080016`)) {
      const series = str(row, '0020000E');
      const sop = str(row, '00080018');
      if (!series || !sop) continue;
      yield { studyInstanceUID: study, seriesInstanceUID: series, sopInstanceUID: sop, sopClassUID: str(row, '00080016') };
    }
  }

  async retrieve(items: readonly ListedInstance[], each: (item: ListedInstance, part10: Buffer | undefined, problem?: string) => Promise<void>): Promise<void> {
    const limit = this.o.maxInstanceBytes ?? 2 * 1024 ** 3;
    for (const it of items) {
      const path = `/studies/${encodeURIComponent(it.studyInstanceUID)}/series/${encodeURIComponent(it.seriesInstanceUID)}/instances/${encodeURIComponent(it.sopInstanceUID)}`;
      let body: Buffer | undefined;
      let problem: string | undefined;
      try {
        // Any transfer syntax: the content digests are over decoded frames, so the archive's own is best.
        const res = await this.get(path, 'multipart/related; type="application/dicom"; transfer-syntax=*');
        const length = Number(res.headers.get('content-length') ?? 0);
        if (res.status === 404) problem = 'the archive lists it but does not deliver it (HTTP 404)';
        else if (!res.ok) problem = `the archive answered HTTP ${res.status}`;
        else if (length > limit) { problem = `larger than ${limit} bytes`; await res.body?.cancel(); }
        else {
          const raw = Buffer.from(await res.arrayBuffer());
          await this.throttle.after(raw.length);
          const { mediaType, params } = contentTypeParams(res.headers.get('content-type') ?? '');
          if (mediaType === 'application/dicom') body = raw;
          else if (mediaType === 'multipart/related' && params.boundary) {
            const parts = parseMultipart(raw, params.boundary, 2);
            if (parts.length !== 1) problem = `the archive sent ${parts.length} parts for one instance`;
            else body = parts[0]!.body;
          } else problem = `the archive sent ${mediaType || 'no content type'}`;
        }
      } catch (e) {
        problem = e instanceof CustosError ? `${e.code}: ${e.message}` : (e as Error).message;
      }
      await each(it, body, problem);
    }
  }

  async close(): Promise<void> {}
}
