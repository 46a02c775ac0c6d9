import type { FastifyInstance } from 'fastify';
import { principalOf, refuse } from '../auth/guard.ts';
import { principalLabel } from '../auth/permissions.ts';
import { isCustosError } from '../errors.ts';
import type { SweepScheduler } from '../pipeline/sweep-schedule.ts';
import type { WitnessSchedule } from '../pipeline/witness-schedule.ts';
import type { Database } from '../store/database.ts';

/*
 * The log's witnesses, and PACS sweeps (docs/integrity.md): the configured sweeps, their runs, and the alerts they raised
 * (findings of tampered, inserted or missing instances not yet acknowledged). Findings name study,
 * series and instance UIDs: reading them needs studies:read, like the study lists.
 */

export interface SweepRouteDeps { db: Database; scheduler: SweepScheduler; witnesses: WitnessSchedule }

const iso = (v: unknown): string | null => (v === null || v === undefined ? null : new Date(v as string).toISOString());
const findingOf = (r: Record<string, unknown>) => ({
  id: Number(r.id), sweep: Number(r.sweep_id), status: r.status, studyInstanceUid: r.study_instance_uid, seriesInstanceUid: r.series_instance_uid,
  sopInstanceUid: r.sop_instance_uid, logIndex: r.log_index === null ? null : Number(r.log_index), reason: r.reason,
  acknowledgedAt: iso(r.acknowledged_at), acknowledgedBy: r.acknowledged_by ?? null,
});

export function sweepRoutes(deps: SweepRouteDeps) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    app.get('/api/witnesses', {
      config: { permission: 'status:read' },
      schema: { summary: "The log's witnesses: the latest size each cosigned, and the last refusal (a split view, an inconsistent checkpoint or a witness ahead of the log is an incident)" },
    }, async () => deps.witnesses.witnesses);

    app.get('/api/sweeps', {
      config: { permission: 'studies:read' },
      schema: { summary: 'Configured PACS sweeps and their latest runs (counts per finding), newest first', querystring: { type: 'object', properties: { limit: { type: 'integer', minimum: 1, maximum: 1000, default: 50 } } } },
    }, async (req) => {
      const { limit } = req.query as { limit: number };
      const runs = await deps.db.query<Record<string, unknown>>('SELECT id, name, source, mode, started_at, finished_at, outcome, error, summary FROM sweeps ORDER BY id DESC LIMIT $1', [limit]);
      return {
        configured: deps.scheduler.configured.map((c) => ({ id: c.id, mode: c.mode, intervalMinutes: c.intervalMinutes, sinceDays: c.sinceDays ?? null })),
        runs: runs.map((r) => ({
          id: Number(r.id), name: r.name, source: r.source, mode: r.mode, startedAt: iso(r.started_at), finishedAt: iso(r.finished_at), outcome: r.outcome,
          error: r.error ?? null, summary: typeof r.summary === 'string' ? JSON.parse(r.summary) : r.summary ?? null,
        })),
      };
    });

    app.post('/api/sweeps/:name/run', {
      config: { permission: 'jobs:write' },
      schema: { summary: 'Start a configured sweep now (queued behind one in progress); answers with the run id', params: { type: 'object', properties: { name: { type: 'string', maxLength: 63 } }, required: ['name'] } },
    }, async (req, reply) => {
      try {
        const { id } = await deps.scheduler.run((req.params as { name: string }).name);
        return reply.code(202).send({ id });
      } catch (e) {
        if (isCustosError(e) && e.code === 'NOT_FOUND') return refuse(reply, 404, e.code, e.message);
        throw e;
      }
    });

    app.get('/api/sweeps/:id/findings', {
      config: { permission: 'studies:read' },
      schema: { summary: 'What a sweep run found that needs a look, or could not judge (authentic instances are counted, not listed)', params: { type: 'object', properties: { id: { type: 'integer' } }, required: ['id'] } },
    }, async (req, reply) => {
      const { id } = req.params as { id: number };
      const [run] = await deps.db.query('SELECT 1 FROM sweeps WHERE id = $1', [id]);
      if (!run) return refuse(reply, 404, 'NOT_FOUND', `no sweep run ${id}`);
      return (await deps.db.query<Record<string, unknown>>('SELECT * FROM sweep_findings WHERE sweep_id = $1 ORDER BY id LIMIT 10000', [id])).map(findingOf);
    });

    app.get('/api/alerts', {
      config: { permission: 'studies:read' },
      schema: { summary: 'Open integrity alerts: tampered, inserted or missing instances found by sweeps and not yet acknowledged' },
    }, async () => (await deps.db.query<Record<string, unknown>>(
      "SELECT * FROM sweep_findings WHERE acknowledged_at IS NULL AND status IN ('tampered', 'inserted', 'missing') ORDER BY id DESC LIMIT 10000")).map(findingOf));

    app.post('/api/alerts/:id/acknowledge', {
      config: { permission: 'jobs:write' },
      schema: { summary: 'Acknowledge an alert (it stays in its sweep\'s findings, with who acknowledged it)', params: { type: 'object', properties: { id: { type: 'integer' } }, required: ['id'] } },
    }, async (req, reply) => {
      const { id } = req.params as { id: number };
      const rows = await deps.db.query<Record<string, unknown>>(
        'UPDATE sweep_findings SET acknowledged_at = now(), acknowledged_by = $2 WHERE id = $1 AND acknowledged_at IS NULL RETURNING *', [id, principalLabel(principalOf(req))]);
      if (!rows[0]) return refuse(reply, 404, 'NOT_FOUND', `no open alert ${id}`);
      return findingOf(rows[0]);
    });
  };
}
