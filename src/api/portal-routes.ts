import type { FastifyInstance } from 'fastify';
import { recordEvents } from '../audit/events.ts';
import { principalOf } from '../auth/guard.ts';
import { principalLabel } from '../auth/permissions.ts';
import type { Database } from '../store/database.ts';
import { accountingFor, accountingLetter } from '../audit/accounting.ts';
import type { RecipientConfig } from '../config/gateway-config.ts';

/*
 * The patient's own view, with the session an access code gave: their studies held here and, for
 * each, which recipients received de-identified copies and when. Only that patient's rows.
 */

export function portalRoutes(deps: { db: Database; recipients?: readonly RecipientConfig[]; hospital?: string }) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    app.get('/portal/api/accounting', {
      config: { permission: 'portal:read' },
      schema: { summary: "The signed-in patient's accounting of disclosures: where their images went, and transfers stopped and why; format=html gives a printable letter", querystring: { type: 'object', properties: { format: { type: 'string', enum: ['json', 'html'] } } } },
    }, async (req, reply) => {
      const p = principalOf(req);
      if (p.kind !== 'patient') throw new Error('unreachable: portal:read belongs to patients only');
      const rows = await accountingFor(deps.db, p.patientRef, deps.recipients ?? []);
      await recordEvents(deps.db, [{ kind: 'access.portal', detail: { by: principalLabel(p), accounting: rows.length } }]);
      if ((req.query as { format?: string }).format === 'html') return reply.type('text/html; charset=utf-8').send(accountingLetter(rows, deps.hospital ?? 'Custos'));
      return { disclosures: rows };
    });

    app.get('/portal/api/studies', {
      config: { permission: 'portal:read' },
      schema: {
        summary: "The signed-in patient's studies and where de-identified copies went",
        response: { 200: { type: 'array', items: { type: 'object', properties: {
          studyInstanceUid: { type: 'string' }, modalities: { type: 'array', items: { type: 'string' } }, instances: { type: 'integer' }, firstReceivedAt: { type: 'string' },
          releases: { type: 'array', items: { type: 'object', properties: { recipient: { type: 'string' }, instances: { type: 'integer' }, lastDeliveredAt: { type: 'string' } } } },
        } } } },
      },
    }, async (req) => {
      const p = principalOf(req);
      if (p.kind !== 'patient') throw new Error('unreachable: portal:read belongs to patients only');
      const studies = await deps.db.query<{ study: string; modalities: string[]; n: number; first: string }>(
        `SELECT study_instance_uid AS study, array_remove(array_agg(DISTINCT modality), NULL) AS modalities, count(*)::int AS n, min(received_at) AS first
         FROM instances WHERE patient_ref = $1 GROUP BY 1 ORDER BY 4 DESC`, [p.patientRef]);
      const releases = await deps.db.query<{ study: string; recipient: string; n: number; last: string }>(
        `SELECT i.study_instance_uid AS study, j.recipient, count(*)::int AS n, max(j.done_at) AS last FROM jobs j JOIN instances i ON i.id = j.instance_id
         WHERE i.patient_ref = $1 AND j.state = 'done' GROUP BY 1, 2 ORDER BY 2`, [p.patientRef]);
      await recordEvents(deps.db, [{ kind: 'access.portal', detail: { by: principalLabel(p), studies: studies.length } }]);
      return studies.map((s) => ({
        studyInstanceUid: s.study, modalities: s.modalities, instances: s.n, firstReceivedAt: new Date(s.first).toISOString(),
        releases: releases.filter((r) => r.study === s.study).map((r) => ({ recipient: r.recipient, instances: r.n, lastDeliveredAt: new Date(r.last).toISOString() })),
      }));
    });
  };
}
