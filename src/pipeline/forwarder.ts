/** What the work loop hands to a recipient and what it gets back: implemented by net/ (DIMSE SCU, STOW-RS client). */
import type { CustosErrorCode } from '../errors.ts';
/** One de-identified instance to deliver. */
export interface Outgoing {
  sopClassUID: string;
  sopInstanceUID: string;
  studyInstanceUID: string;
  transferSyntaxUID: string;
  /**
   * The whole Part 10 file as consecutive chunks (a de-identified instance is its new header and
   * views of the original's pixel data: nothing is joined just to be sent).
   */
  part10: readonly Buffer[];
  /** Its length in bytes. */
  bytes: number;
}

/** Per instance: delivered, or why not; `permanent` failures are not retried. */
export type Delivery = { ok: true; status?: number } | { ok: false; code: CustosErrorCode; message: string; permanent: boolean };

/** Sends batches to one recipient; never throws: every item gets a Delivery. */
export interface Forwarder {
  deliver(items: readonly Outgoing[]): Promise<Delivery[]>;
  /** Let go of what is kept open between batches (the gateway stopping). */
  close?(): void;
}

export const failAll = (n: number, code: CustosErrorCode, message: string, permanent = false): Delivery[] =>
  Array.from({ length: n }, () => ({ ok: false as const, code, message, permanent }));
