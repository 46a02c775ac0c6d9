import type { FastifyInstance } from 'fastify';
import { recordEvents } from '../audit/events.ts';
import { principalOf, refuse } from '../auth/guard.ts';
import { principalLabel } from '../auth/permissions.ts';
import { isCustosError } from '../errors.ts';
import { erasePatient } from '../policy/retention.ts';
import type { BlobStore } from '../store/blob-store.ts';
import type { DataKeys } from '../store/data-keys.ts';
import { patientRefOf } from './search-params.ts';
import type { Database } from '../store/database.ts';

/*
 * Erasure of a patient's data and legal holds (docs/accountability.md). Patients are named as
 * <issuer of Patient ID>|<Patient ID> and kept only as their keyed reference.
 */

export interface RetentionDeps { db: Database; blobs: BlobStore; keys: DataKeys; deploymentKey: Buffer }

export function retentionRoutes(deps: RetentionDeps) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    app.post('/api/patients/erase', {
      config: { permission: 'patients:erase' },
      schema: {
        summary: "Erase a patient's data: their key destroyed (every copy unreadable), queued work stopped, blobs deleted; the audit trail stays and recipients holding releases are listed to be asked to delete",
        body: { type: 'object', properties: { patient: { type: 'string', minLength: 1, maxLength: 130 }, reason: { type: 'string', minLength: 3, maxLength: 2000 } }, required: ['patient', 'reason'], additionalProperties: false },
      },
    }, async (req, reply) => {
      const b = req.body as { patient: string; reason: string };
      try {
        return await erasePatient(deps.db, deps.blobs, deps.keys, patientRefOf(deps.deploymentKey, b.patient), b.reason, principalLabel(principalOf(req)));
      } catch (e) {
        if (isCustosError(e) && e.code === 'NOT_FOUND') return refuse(reply, 404, e.code, e.message);
        throw e;
      }
    });

    app.get('/api/deletion-requests', {
      config: { permission: 'recipients:read' },
      schema: { summary: 'Requests to recipients to delete releases (erasures, deletion deadlines): open, answered with a verified attestation, or overdue', querystring: { type: 'object', properties: { overdue: { type: 'boolean' } } } },
    }, async (req) => {
      const overdue = (req.query as { overdue?: boolean }).overdue === true;
      const rows = await deps.db.query<Record<string, unknown>>(
        `SELECT id, recipient, kind, cardinality(job_ids) AS releases, due_at, created_at, attempts, last_error, answered_at, log_index FROM deletion_requests
         WHERE NOT $1::boolean OR (answered_at IS NULL AND due_at < now()) ORDER BY id DESC LIMIT 1000`, [overdue]);
      return rows.map((r) => ({
        id: Number(r.id), recipient: r.recipient, kind: r.kind, releases: Number(r.releases), dueAt: new Date(r.due_at as string).toISOString(), createdAt: new Date(r.created_at as string).toISOString(),
        attempts: Number(r.attempts), lastError: r.last_error, answeredAt: r.answered_at ? new Date(r.answered_at as string).toISOString() : null, logIndex: r.log_index === null ? null : Number(r.log_index),
        overdue: !r.answered_at && new Date(r.due_at as string).getTime() < Date.now(),
      }));
    });

    app.get('/api/legal-holds', { config: { permission: 'retention:admin' }, schema: { summary: 'Legal holds in force and released' } }, async () =>
      (await deps.db.query<Record<string, unknown>>('SELECT id, patient_ref, study_instance_uid, reason, created_by, created_at, released_at, released_by FROM legal_holds ORDER BY id DESC')).map((r) => ({
        id: Number(r.id), patientRef: r.patient_ref, studyInstanceUid: r.study_instance_uid, reason: r.reason, createdBy: r.created_by, createdAt: new Date(r.created_at as string).toISOString(),
        releasedAt: r.released_at ? new Date(r.released_at as string).toISOString() : null, releasedBy: r.released_by,
      })));

    app.post('/api/legal-holds', {
      config: { permission: 'retention:admin' },
      schema: {
        summary: 'Keep a patient\'s or a study\'s data past its retention (a legal hold), until released',
        body: { type: 'object', properties: { patient: { type: 'string', minLength: 1, maxLength: 130 }, study: { type: 'string', pattern: '^[0-9]+(\\.[0-9]+)*$', maxLength: 64 }, reason: { type: 'string', minLength: 3, maxLength: 2000 } }, required: ['reason'], additionalProperties: false },
      },
    }, async (req, reply) => {
      const b = req.body as { patient?: string; study?: string; reason: string };
      if (!b.patient && !b.study) return refuse(reply, 400, 'API_INVALID_REQUEST', 'a hold names a patient or a study');
      const by = principalLabel(principalOf(req));
      const [row] = await deps.db.query<{ id: number }>('INSERT INTO legal_holds (patient_ref, study_instance_uid, reason, created_by) VALUES ($1, $2, $3, $4) RETURNING id',
        [b.patient ? patientRefOf(deps.deploymentKey, b.patient) : null, b.study ?? null, b.reason, by]);
      await recordEvents(deps.db, [{ kind: 'retention.hold', detail: { hold: Number(row!.id), placed: true, by } }]);
      return reply.code(201).send({ id: Number(row!.id) });
    });

    app.post('/api/legal-holds/:id/release', { config: { permission: 'retention:admin' }, schema: { summary: 'Release a legal hold' } }, async (req, reply) => {
      const id = Number((req.params as { id: string }).id);
      const by = principalLabel(principalOf(req));
      const rows = await deps.db.query('UPDATE legal_holds SET released_at = now(), released_by = $2 WHERE id = $1 AND released_at IS NULL RETURNING id', [Number.isInteger(id) ? id : -1, by]);
      if (!rows.length) return refuse(reply, 404, 'NOT_FOUND', 'no such hold in force');
      await recordEvents(deps.db, [{ kind: 'retention.hold', detail: { hold: id, released: true, by } }]);
      return { id, released: true };
    });
  };
}
