import type { FastifyInstance } from 'fastify';
import { refuse } from '../auth/guard.ts';
import { type DataKeys, openBlob } from '../store/data-keys.ts';
import type { Database } from '../store/database.ts';

/*
 * Defacing reviews (docs/deid.md): each CT/MR series the gateway defaced or found faceless for a
 * recipient with clean-recognizable-visual-features, its report, and the anterior surface renderings
 * before and after. The one before shows the original face: it needs originals:read.
 */

export interface DefacingRouteDeps { db: Database; keys: DataKeys }

export function defacingRoutes(deps: DefacingRouteDeps) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    app.get('/api/defacing', {
      config: { permission: 'jobs:read' },
      schema: { summary: 'Series defaced, found faceless or held back, newest first: the report (geometry, volumes, the cut), no PHI', querystring: { type: 'object', properties: { limit: { type: 'integer', minimum: 1, maximum: 1000, default: 50 } } } },
    }, async (req) => {
      const { limit } = req.query as { limit: number };
      const rows = await deps.db.query<Record<string, unknown>>('SELECT id, outcome, ears, report, created_at, before_png IS NOT NULL AS rendered FROM defacing_reviews ORDER BY id DESC LIMIT $1', [limit]);
      return rows.map((r) => ({
        id: Number(r.id), outcome: r.outcome, ears: r.ears, createdAt: new Date(r.created_at as string).toISOString(),
        report: typeof r.report === 'string' ? JSON.parse(r.report) : r.report,
        ...(r.rendered ? { renders: { before: `/api/defacing/${Number(r.id)}/before.png`, after: `/api/defacing/${Number(r.id)}/after.png` } } : {}),
      }));
    });

    const png = (which: 'before' | 'after') => async (req: { params: unknown }, reply: import('fastify').FastifyReply) => {
      const { id } = req.params as { id: number };
      const [row] = await deps.db.query<{ patient_ref: string; series_instance_uid: string; ears: boolean; png: Buffer | null }>(
        `SELECT patient_ref, series_instance_uid, ears, ${which}_png AS png FROM defacing_reviews WHERE id = $1`, [id]);
      if (!row?.png) return refuse(reply, 404, 'NOT_FOUND', `no ${which} rendering for defacing ${id}`);
      const key = await deps.keys.load(deps.db, row.patient_ref);
      const bytes = openBlob(key, Buffer.from(row.png), `defacing/${row.series_instance_uid}/${row.ears}/${which}`);
      return reply.header('content-type', 'image/png').header('cache-control', 'no-store').send(bytes);
    };
    const params = { type: 'object', properties: { id: { type: 'integer' } }, required: ['id'] } as const;
    app.get('/api/defacing/:id/before.png', {
      config: { permission: 'originals:read' },
      schema: { summary: 'The anterior surface rendering of the original series (shows the face)', params },
    }, png('before'));
    app.get('/api/defacing/:id/after.png', {
      config: { permission: 'jobs:read' },
      schema: { summary: 'The anterior surface rendering of the defaced series', params },
    }, png('after'));
  };
}
