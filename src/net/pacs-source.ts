import type { ListedInstance } from '../integrity/sweep-findings.ts';

/** What a sweep looks at: studies in scope, each study's instances, and the instances themselves. */
export interface SweepScope {
  /** Studies dated on or after this day (YYYYMMDD), as the archive's Study Date says. */
  since?: string | undefined;
  /** Only these studies (UIDs); they are looked at even when the archive no longer lists them. */
  studies?: readonly string[] | undefined;
}

/**
 * An archive to sweep (DICOMweb or DIMSE). Listings are metadata only; `retrieve` fetches the listed
 * instances one at a time and hands each to `each` before the next is asked for, so memory holds one
 * instance whatever the study's size.
 */
export interface PacsSource {
  /** How reports name the archive (no credentials). */
  readonly label: string;
  studies(scope: SweepScope): AsyncIterable<string>;
  instances(studyInstanceUID: string): AsyncIterable<ListedInstance>;
  retrieve(items: readonly ListedInstance[], each: (item: ListedInstance, part10: Buffer | undefined, problem?: string) => Promise<void>): Promise<void>;
  close(): Promise<void>;
}

/** Bandwidth limit: after moving `bytes`, wait so that the average stays under `bytesPerSecond`. */
export class Throttle {
  private readonly rate: number;
  private readonly started = performance.now();
  private moved = 0;
  constructor(bytesPerSecond: number | undefined) {
    this.rate = bytesPerSecond ?? 0;
  }
  async after(bytes: number): Promise<void> {
    this.moved += bytes;
    if (this.rate <= 0) return;
    const due = (this.moved / this.rate) * 1000 - (performance.now() - this.started);
    if (due > 0) await new Promise((r) => setTimeout(r, due));
  }
}
