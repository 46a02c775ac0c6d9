import { createHash, randomBytes } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { canonicalJSON } from './canonical-json.ts';
import type { ContentDigests } from './content.ts';
import { signEd25519, verifyEd25519 } from './ed25519.ts';
import type { SeriesMember } from './series.ts';

/** Which instance a statement is about (private: never written to the public log). */
export interface InstanceIds {
  sopClassUID: string;
  sopInstanceUID: string;
  studyInstanceUID: string;
  seriesInstanceUID: string;
  /** Slice position along the series normal (see series.ts), null when unknown. */
  position?: number | null;
}

/** "This instance, with this content, was ingested here at this time" (signed by the gateway). */
export interface IngestStatement {
  type: 'custos/ingest/v1';
  instance: InstanceIds;
  content: ContentDigests;
  source: string;
  time: string;
  signer: string;
}

/** "This de-identified output derives from a logged original", without revealing the original. */
export interface DerivationStatement {
  type: 'custos/derivation/v1';
  instance: InstanceIds;
  content: ContentDigests;
  /** SHA-256(salt || parent leaf hash): provable with the salt, unlinkable without it. */
  parent: string;
  profile: { edition: string; options: string[] };
  pixelsChanged: boolean;
  time: string;
  signer: string;
}

/** "This series held these instances, in this order" — a series root over the members' pixel roots. */
export interface SeriesStatement {
  type: 'custos/series/v1';
  series: { studyInstanceUID: string; seriesInstanceUID: string };
  members: SeriesMember[];
  root: string;
  time: string;
  signer: string;
}

/**
 * "The audit trail's records firstEvent..lastEvent (count of them) hash to digest, after the seal
 * before it (previous)": a batch of audit records committed into the log, so that a record edited
 * or deleted afterwards is detected (custos audit verify). The digest reveals nothing of the records.
 */
export interface AuditSealStatement {
  type: 'custos/audit-seal/v1';
  seq: number;
  firstEvent: number;
  lastEvent: number;
  count: number;
  digest: string;
  previous: string;
  time: string;
  signer: string;
}

/** "This de-identification receipt (its signed body's SHA-256) was issued here at this time." */
export interface ReceiptStatement {
  type: 'custos/receipt/v1';
  digest: string;
  time: string;
  signer: string;
}

/** "The recipient attested, with its registered key, that it deleted these releases" (the attestation and its signature). */
export interface DeletionAttestationStatement {
  type: 'custos/deletion-attestation/v1';
  attestation: { type: 'custos/deletion-attestation/v1'; request: number; recipient: string; releases: number[]; deletedAt: string };
  signature: string;
  time: string;
  signer: string;
}

/** Statements about one instance. */
export type InstanceStatement = IngestStatement | DerivationStatement;
export type Statement = InstanceStatement | SeriesStatement | AuditSealStatement | ReceiptStatement | DeletionAttestationStatement;

export const isInstanceStatement = (s: Statement): s is InstanceStatement => s.type === 'custos/ingest/v1' || s.type === 'custos/derivation/v1';

export interface SignedStatement { statement: Statement; signature: string }

export function statementBytes(s: Statement): Buffer {
  return Buffer.from(canonicalJSON(s), 'utf8');
}

export function signStatement(s: Statement, key: KeyObject): SignedStatement {
  return { statement: s, signature: signEd25519(key, statementBytes(s)).toString('base64') };
}

export function verifyStatement(s: SignedStatement, key: KeyObject): boolean {
  return verifyEd25519(key, statementBytes(s.statement), Buffer.from(s.signature, 'base64'));
}

export const newSalt = (): string => randomBytes(32).toString('hex');

/**
 * The log leaf of a statement: a salted commitment, so the public log reveals nothing about the
 * instance (no UIDs, names or bare pixel hashes); destroying the salt makes the entry unlinkable.
 */
export function commitment(salt: string, s: SignedStatement): Buffer {
  return createHash('sha256').update('custos/commitment/v1\0').update(Buffer.from(salt, 'hex')).update(canonicalJSON(s), 'utf8').digest();
}

/** The parent reference of a derivation: SHA-256(salt || parent leaf hash). */
export function parentReference(salt: string, parentLeafHash: Buffer): string {
  return createHash('sha256').update(Buffer.from(salt, 'hex')).update(parentLeafHash).digest('hex');
}
