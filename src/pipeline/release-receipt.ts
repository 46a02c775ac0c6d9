import { rawPublicKey } from '../integrity/ed25519.ts';
import { type NoteSigner, formatVerifierKey } from '../integrity/note.ts';
import { receiptDigest, signReceipt } from '../integrity/receipt-signature.ts';
import { signStatement } from '../integrity/statement.ts';
import type { Database } from '../store/database.ts';
import type { LogStore } from '../store/log-store.ts';
import { CUSTOS_VERSION } from '../version.ts';

/*
 * A signed receipt per delivered batch (docs/accountability.md): what went to which recipient, under
 * which de-identification and decision, signed with the log key and its digest recorded in the log,
 * so that the hospital and the recipient hold the same verifiable record (custos verify-receipt).
 */

export interface ReleasedItem { jobId: number; sopInstanceUID: string; bytes: number; basis?: Record<string, unknown> | undefined }

export async function issueReleaseReceipt(db: Database, log: LogStore, signer: NoteSigner, recipient: string, deid: { profile: string; edition?: string; options: string[]; key: string }, released: readonly ReleasedItem[]): Promise<number> {
  const bases = new Map<string, unknown>();
  for (const r of released) if (r.basis) bases.set(JSON.stringify({ consents: r.basis.consents, agreement: r.basis.agreement, siteMode: r.basis.siteMode, purpose: r.basis.purpose }), { consents: r.basis.consents, agreement: r.basis.agreement, siteMode: r.basis.siteMode, purpose: r.basis.purpose });
  const receipt = {
    kind: 'custos.release.receipt/v1', custosVersion: CUSTOS_VERSION, recipient, time: new Date().toISOString(),
    deidentification: deid,
    releases: released.map((r) => ({ jobId: r.jobId, sopInstanceUid: r.sopInstanceUID, bytes: r.bytes })),
    bases: [...bases.values()],
  };
  const signed = signReceipt(receipt, signer, formatVerifierKey(signer.name, rawPublicKey(signer.key)));
  const [index] = log.appendBatch([{ signed: signStatement({ type: 'custos/receipt/v1', digest: receiptDigest(signed), time: receipt.time, signer: signer.name }, signer.key) }], { checkpoint: 'soon' }).indexes;
  const [row] = await db.query<{ id: number }>('INSERT INTO release_receipts (recipient, receipt, log_index) VALUES ($1, $2, $3) RETURNING id', [recipient, JSON.stringify(signed), index]);
  return Number(row!.id);
}
