import { randomBytes } from 'node:crypto';
import type { NoteSigner } from '../integrity/note.ts';
import { leafHash } from '../integrity/rfc6962.ts';
import { type DerivationStatement, type IngestStatement, parentReference, signStatement } from '../integrity/statement.ts';
import type { LogStore } from '../store/log-store.ts';
import { type Described, describeFile } from './integrity.ts';

/**
 * Record de-identified outputs in the log: each original gets an ingest statement (unless already
 * logged with the same content) and each output a derivation statement whose parent reference is
 * SHA-256(salt || parent leaf hash) — provable by whoever holds the salt, unlinkable to anyone else.
 * Returns the derivation's log index per pair.
 */
export async function recordDerivations(
  pairs: Array<{ input: string; output: string }>,
  log: LogStore,
  signer: NoteSigner,
  profile: { edition: string; options: string[] },
): Promise<number[]> {
  const described: Array<{ input: Described; output: Described }> = [];
  for (const p of pairs) described.push({ input: await describeFile(p.input), output: await describeFile(p.output) });
  return recordDescribedDerivations(described, log, signer, profile, 'deid-input');
}

/**
 * An ingest statement per instance, in one durable append, except where the log already holds one
 * with the same content: that record is reused. Returns the log index per item.
 */
export function recordIngests(items: ReadonlyArray<{ described: Described; source: string }>, log: LogStore, signer: NoteSigner, time = new Date().toISOString(), checkpoint: 'now' | 'soon' = 'now'): number[] {
  const index: number[] = new Array(items.length);
  const toAppend: number[] = [];
  items.forEach(({ described }, i) => {
    const hit = log.findIngest(described.ids.sopInstanceUID, described.content);
    if (hit !== undefined) index[i] = hit; else toAppend.push(i);
  });
  const appended = log.appendBatch(toAppend.map((i) => ({
    signed: signStatement({ type: 'custos/ingest/v1', instance: items[i]!.described.ids, content: items[i]!.described.content, source: items[i]!.source, time, signer: signer.name } satisfies IngestStatement, signer.key),
  })), { checkpoint });
  toAppend.forEach((i, k) => { index[i] = appended.indexes[k]!; });
  return index;
}

/** As recordDerivations, for instances already described (the gateway holds them in memory). */
export function recordDescribedDerivations(
  described: ReadonlyArray<{ input: Described; output: Described }>,
  log: LogStore,
  signer: NoteSigner,
  profile: { edition: string; options: string[] },
  source: string,
  checkpoint: 'now' | 'soon' = 'now',
): number[] {
  const time = new Date().toISOString();

  // 1. Originals: reuse an ingest record with the same content, else record one.
  const parentIndex = recordIngests(described.map(({ input }) => ({ described: input, source })), log, signer, time, checkpoint);

  // 2. Outputs: derivation statements pointing at their parent through a salted reference.
  const items = described.map(({ input, output }, i) => {
    const salt = randomBytes(32).toString('hex');
    const statement: DerivationStatement = {
      type: 'custos/derivation/v1',
      instance: output.ids,
      content: output.content,
      parent: parentReference(salt, leafHash(log.entry(parentIndex[i]!))),
      profile,
      pixelsChanged: input.content.pixelRoot !== output.content.pixelRoot,
      time,
      signer: signer.name,
    };
    return { signed: signStatement(statement, signer.key), parent: { index: parentIndex[i]!, salt } };
  });
  return log.appendBatch(items, { checkpoint }).indexes;
}
