import { BufferSource } from '../dicom/byte-source.ts';
import { readDicom } from '../dicom/read.ts';
import { DEFAULT_DEFACE } from '../deid/deface.ts';
import { isCustosError } from '../errors.ts';
import { type DataKeys, sealBlob } from '../store/data-keys.ts';
import type { Queryable } from '../store/database.ts';
import { type PixelOverride, type SeriesMember, defaceSeries } from './deface-series.ts';
import type { VisualFeatures } from './deid-file.ts';
import type { IngestedInstance } from './ingest.ts';

/** A series' instance as the defacer loads it. */
type SeriesRow = IngestedInstance & { sop_instance_uid: string };

/** What a job of a CT/MR instance gets: its series' defacing, a wait while the series arrives, or a hold. */
export type SeriesVerdict =
  | { notAVolume: true }
  | { visualFeatures: VisualFeatures }
  | { wait: { delayMs: number; message: string } }
  | { held: { code: string; message: string } };

interface Done {
  held?: { code: string; message: string };
  /** Per instance id: new pixel data (absent: unchanged), and whether the series was defaced or faceless. */
  pixels: Map<number, PixelOverride>;
  status: 'defaced' | 'none-found';
  members: Set<number>;
}

export interface SeriesDefacerDeps {
  db: Queryable;
  keys: DataKeys;
  /** The original of an instance (decrypted), and the call that releases it. */
  original: (row: SeriesRow) => Promise<Buffer>;
  release: (bytes: Buffer) => void;
  quietSeconds: number;
  maxWaitSeconds: number;
  ears: boolean;
}

/**
 * What is kept of series already defaced: new pixels up to this many bytes (a 200-slice CT is about
 * 100 MB), oldest dropped first, so that jobs of a few series interleaved in the queue do not deface
 * them again; results without pixels (faceless, held back) cost nothing and are kept for more series.
 */
const CACHED_PIXEL_BYTES = 768 << 20;
const CACHED_SERIES = 1000;

/**
 * Clean Recognizable Visual Features in the gateway (docs/deid.md): a CT or MR instance is released
 * only with its whole series, defaced once (deface-series.ts) after no instance of it has arrived
 * for `quietSeconds`. The result is kept for the next jobs of the series, the report and review
 * renderings in the database (defacing_reviews) for the console.
 */
export class SeriesDefacer {
  private readonly d: SeriesDefacerDeps;
  private readonly done = new Map<string, Done>();
  private readonly running = new Map<string, Promise<Done>>();
  constructor(deps: SeriesDefacerDeps) {
    this.d = deps;
  }

  async verdict(row: { id: number }): Promise<SeriesVerdict> {
    const [me] = await this.d.db.query<{ study_instance_uid: string; series_instance_uid: string; modality: string | null }>('SELECT study_instance_uid, series_instance_uid, modality FROM instances WHERE id = $1', [row.id]);
    if (!me) return { held: { code: 'DEFACE_UNCERTAIN', message: 'the instance is no longer stored' } };
    // Other modalities go the per-instance way (PET of the head is held there: hold-back.ts).
    if (!['CT', 'MR'].includes((me.modality ?? '').toUpperCase())) return { notAVolume: true };
    const series = me.series_instance_uid;
    const [age] = await this.d.db.query<{ quiet: number; span: number }>(
      `SELECT extract(epoch FROM now() - max(received_at))::float8 AS quiet, extract(epoch FROM max(received_at) - min(received_at))::float8 AS span
       FROM instances WHERE study_instance_uid = $1 AND series_instance_uid = $2 AND purged_at IS NULL`, [me.study_instance_uid, series]);
    const quiet = Number(age?.quiet ?? 0);
    const span = Number(age?.span ?? 0);
    const cached = this.done.get(series);
    if (cached?.members.has(Number(row.id))) return this.answer(cached, Number(row.id));
    if (quiet < this.d.quietSeconds) {
      if (span > this.d.maxWaitSeconds) return { held: { code: 'DEFACE_UNCERTAIN', message: `the series was still arriving after ${Math.round(span)} s: not defaced half done` } };
      return { wait: { delayMs: Math.max(500, (this.d.quietSeconds - quiet) * 1000), message: `waiting for the rest of the series (defacing needs all of it; last instance ${Math.round(quiet)} s ago)` } };
    }
    let job = this.running.get(series);
    if (!job) {
      job = this.deface(me.study_instance_uid, series).finally(() => this.running.delete(series));
      this.running.set(series, job);
    }
    const result = await job;
    if (!result.members.has(Number(row.id))) return { held: { code: 'DEFACE_UNCERTAIN', message: 'the instance arrived after its series was defaced: send the series again' } };
    return this.answer(result, Number(row.id));
  }

  private answer(d: Done, id: number): SeriesVerdict {
    if (d.held) return { held: d.held };
    const pixels = d.pixels.get(id);
    return { visualFeatures: d.status === 'defaced' ? { status: 'defaced', ...(pixels ? { pixels } : {}) } : { status: 'none-found' } };
  }

  private async deface(study: string, series: string): Promise<Done> {
    // The latest copy of each instance (a resend with other content is a new row).
    const rows = await this.d.db.query<SeriesRow>(
      `SELECT DISTINCT ON (sop_instance_uid) id, patient_ref, blob_key, source, calling_ae, log_index, transfer_syntax_uid, sop_instance_uid
       FROM instances WHERE study_instance_uid = $1 AND series_instance_uid = $2 AND purged_at IS NULL ORDER BY sop_instance_uid, id DESC`, [study, series]);
    const loaded: Buffer[] = [];
    const done: Done = { pixels: new Map(), status: 'none-found', members: new Set(rows.map((r) => Number(r.id))) };
    try {
      const members: SeriesMember[] = [];
      for (const r of rows) {
        const bytes = await this.d.original(r);
        loaded.push(bytes);
        const source = new BufferSource(bytes);
        members.push({ source, file: readDicom(source) });
      }
      const result = await defaceSeries(members, { ...DEFAULT_DEFACE, ears: this.d.ears });
      const patient = rows[0]!.patient_ref;
      if (result.status === 'held') {
        done.held = { code: result.code, message: result.message };
        await this.record(patient, series, 'held', { code: result.code, message: result.message, instances: rows.length });
      } else {
        done.status = result.status === 'defaced' ? 'defaced' : 'none-found';
        if (result.status === 'defaced') rows.forEach((r, k) => { const p = result.pixels[k]; if (p) done.pixels.set(Number(r.id), p); });
        await this.record(patient, series, result.report.outcome, { ...result.report, instances: rows.length }, result.status === 'defaced' ? result.renders : undefined);
      }
    } catch (e) {
      if (isCustosError(e) && e.code === 'STORE_UNAVAILABLE') throw e;
      done.held = { code: 'DEFACE_UNCERTAIN', message: `the series could not be defaced: ${(e as Error).message}` };
    } finally {
      for (const b of loaded) this.d.release(b);
    }
    this.done.set(series, done);
    const bytesOf = (d: Done): number => [...d.pixels.values()].reduce((n, p) => n + (p.pixelData.value?.length ?? 0), 0);
    let total = [...this.done.values()].reduce((n, d) => n + bytesOf(d), 0);
    for (const [k, d] of this.done) {
      if (total <= CACHED_PIXEL_BYTES && this.done.size <= CACHED_SERIES) break;
      if (k === series) continue;
      total -= bytesOf(d);
      this.done.delete(k);
    }
    return done;
  }

  /** The report, and the renderings sealed with the patient's key (the "before" one shows the face). */
  private async record(patient: string, series: string, outcome: string, report: object, renders?: { before: Buffer; after: Buffer }): Promise<void> {
    let before: Buffer | null = null;
    let after: Buffer | null = null;
    if (renders) {
      const key = await this.d.keys.load(this.d.db, patient);
      before = Buffer.concat(sealBlob(key, [renders.before], `defacing/${series}/${this.d.ears}/before`));
      after = Buffer.concat(sealBlob(key, [renders.after], `defacing/${series}/${this.d.ears}/after`));
    }
    await this.d.db.query(
      `INSERT INTO defacing_reviews (patient_ref, series_instance_uid, ears, outcome, report, before_png, after_png) VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7)
       ON CONFLICT (series_instance_uid, ears) DO UPDATE SET outcome = excluded.outcome, report = excluded.report, before_png = excluded.before_png, after_png = excluded.after_png, created_at = now()`,
      [patient, series, this.d.ears, outcome, JSON.stringify(report), before, after]);
  }
}
