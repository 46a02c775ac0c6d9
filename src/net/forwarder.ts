/** One de-identified instance to deliver. */
export interface Outgoing {
  sopClassUID: string;
  sopInstanceUID: string;
  studyInstanceUID: string;
  transferSyntaxUID: string;
  /** The whole Part 10 file. */
  part10: Buffer;
}

/** Per instance: delivered, or why not; `permanent` failures are not retried. */
export type Delivery = { ok: true; status?: number } | { ok: false; code: string; message: string; permanent: boolean };

/** Sends batches to one recipient; never throws: every item gets a Delivery. */
export interface Forwarder {
  deliver(items: readonly Outgoing[]): Promise<Delivery[]>;
}

export const failAll = (n: number, code: string, message: string, permanent = false): Delivery[] =>
  Array.from({ length: n }, () => ({ ok: false as const, code, message, permanent }));
