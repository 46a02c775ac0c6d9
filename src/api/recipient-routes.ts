import { errorBody as error } from './schemas.ts';
import type { FastifyInstance } from 'fastify';
import { recordEvents } from '../audit/events.ts';
import { principalOf, refuse } from '../auth/guard.ts';
import { principalLabel } from '../auth/permissions.ts';
import type { Database } from '../store/database.ts';

/*
 * What a recipient (an AI vendor) sees with its own token: its own releases, and where it attests
 * that it deleted them. Nothing here reaches another recipient's releases or any original.
 */


function recipientOf(req: Parameters<typeof principalOf>[0]): string {
  const p = principalOf(req);
  if (p.kind !== 'recipient') throw new Error('unreachable: releases:read-own and attestations:write belong to recipients only');
  return p.recipient;
}

export function recipientRoutes(deps: { db: Database }) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    app.get('/api/recipient/releases', {
      config: { permission: 'releases:read-own' },
      schema: {
        summary: "This recipient's releases (de-identified instances delivered to it), newest first",
        querystring: { type: 'object', properties: { limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 }, before: { type: 'integer', minimum: 1 } } },
        response: { 200: { type: 'array', items: { type: 'object', properties: {
          jobId: { type: 'integer' }, sopInstanceUid: { type: 'string' }, deliveredAt: { type: 'string' }, deletionAttestedAt: { type: ['string', 'null'] },
        } } } },
      },
    }, async (req) => {
      const q = req.query as { limit: number; before?: number };
      const rows = await deps.db.query<{ id: number; uid: string; done_at: string; deleted_at: string | null }>(
        `SELECT j.id, j.output_sop_instance_uid AS uid, j.done_at, a.deleted_at FROM jobs j LEFT JOIN deletion_attestations a ON a.job_id = j.id
         WHERE j.recipient = $1 AND j.state = 'done' AND ($2::bigint IS NULL OR j.id < $2) ORDER BY j.id DESC LIMIT $3`, [recipientOf(req), q.before ?? null, q.limit]);
      return rows.map((r) => ({ jobId: Number(r.id), sopInstanceUid: r.uid, deliveredAt: new Date(r.done_at).toISOString(), deletionAttestedAt: r.deleted_at ? new Date(r.deleted_at).toISOString() : null }));
    });

    app.get('/api/recipient/receipts', {
      config: { permission: 'releases:read-own' },
      schema: { summary: "This recipient's signed release receipts, newest first (each verifiable with custos verify-receipt and the gateway's verifier key)", querystring: { type: 'object', properties: { limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } } } },
    }, async (req) => {
      const { limit } = req.query as { limit: number };
      const rows = await deps.db.query<{ id: number; receipt: unknown; log_index: number }>('SELECT id, receipt, log_index FROM release_receipts WHERE recipient = $1 ORDER BY id DESC LIMIT $2', [recipientOf(req), limit]);
      return rows.map((r) => ({ id: Number(r.id), logIndex: Number(r.log_index), receipt: typeof r.receipt === 'string' ? JSON.parse(r.receipt) : r.receipt }));
    });

    app.post('/api/recipient/attestations', {
      config: { permission: 'attestations:write' },
      schema: {
        summary: 'Attest that this recipient deleted some of its releases (by job id)',
        body: {
          type: 'object',
          properties: { jobIds: { type: 'array', items: { type: 'integer', minimum: 1 }, minItems: 1, maxItems: 10000 }, deletedAt: { type: 'string', format: 'date-time' }, statement: { type: 'string', maxLength: 2000 } },
          required: ['jobIds', 'deletedAt'], additionalProperties: false,
        },
        response: { 201: { type: 'object', properties: { attested: { type: 'integer' }, alreadyAttested: { type: 'integer' } } }, 404: error, 400: error },
      },
    }, async (req, reply) => {
      const recipient = recipientOf(req);
      const p = principalOf(req);
      const b = req.body as { jobIds: number[]; deletedAt: string; statement?: string };
      const deletedAt = new Date(b.deletedAt);
      if (deletedAt.getTime() > Date.now() + 5 * 60_000) return refuse(reply, 400, 'AUTH_INVALID_REQUEST', 'deletedAt is in the future');
      const ids = [...new Set(b.jobIds)];
      const result = await deps.db.transaction(async (tx) => {
        const own = await tx.query<{ id: number }>(`SELECT id FROM jobs WHERE id = ANY($1::bigint[]) AND recipient = $2 AND state = 'done'`, [ids, recipient]);
        if (own.length !== ids.length) return undefined; // one that is not its own release: nothing recorded
        const added = await tx.query<{ job_id: number }>(
          `INSERT INTO deletion_attestations (recipient, token_id, job_id, deleted_at, statement) SELECT $1, $2, unnest($3::bigint[]), $4, $5
           ON CONFLICT (job_id) DO NOTHING RETURNING job_id`, [recipient, p.kind === 'recipient' ? p.tokenId : '', ids, deletedAt, b.statement ?? null]);
        await recordEvents(tx, added.map((a) => ({ kind: 'release.deletion-attested' as const, jobId: Number(a.job_id), recipient, detail: { by: principalLabel(p), deletedAt: deletedAt.toISOString() } })));
        return { attested: added.length, alreadyAttested: ids.length - added.length };
      });
      // Not found, rather than forbidden: whether another recipient's job exists is not this recipient's business.
      if (!result) return refuse(reply, 404, 'NOT_FOUND', 'some of these jobs are not releases delivered to this recipient; nothing was recorded');
      return reply.code(201).send(result);
    });
  };
}
