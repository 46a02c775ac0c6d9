import { activityByHour, studyTimeline } from '../store/instance-queries.ts';
import type {} from '@fastify/swagger';
import { errorBody as error } from './schemas.ts';
import type { FastifyInstance } from 'fastify';
import { recordEvents } from '../audit/events.ts';
import { principalOf, recordAccess } from '../auth/guard.ts';
import { principalLabel } from '../auth/permissions.ts';
import type { RecipientConfig } from '../config/gateway-config.ts';
import type { Database } from '../store/database.ts';
import { JOB_STATES, deliveryLatency, instanceCount, jobCounts, listStudies } from '../store/totals.ts';
import { CUSTOS_VERSION } from '../version.ts';

/*
 * The admin REST API (JSON) under /api, described by the OpenAPI document at /api/docs. Responses
 * carry UIDs, counts, codes and times, never patient names or IDs.
 */

export interface AdminDeps {
  db: Database;
  recipients: readonly RecipientConfig[];
  started: Date;
  endpoints: { dimse: { host: string; port: number; aeTitle: string }; http: { url: string }; dataDir: string };
  logSize(): number;
  wake(): void;
}

const counts = { type: 'object', properties: Object.fromEntries(JOB_STATES.map((s) => [s, { type: 'integer' }])), additionalProperties: false } as const;
const job = {
  type: 'object',
  properties: {
    id: { type: 'integer' }, instanceId: { type: 'integer' }, recipient: { type: 'string' }, state: { type: 'string', enum: [...JOB_STATES] },
    attempts: { type: 'integer' }, nextAttemptAt: { type: 'string', format: 'date-time' }, lastErrorCode: { type: ['string', 'null'] },
    lastError: { type: ['string', 'null'] }, outputSopInstanceUid: { type: ['string', 'null'] }, updatedAt: { type: 'string', format: 'date-time' },
    /** Why the egress decision withholds it (docs/policy.md), while it is withheld. */
    withheldReasons: { type: ['array', 'null'], items: { type: 'object', additionalProperties: true } },
    /** What a delivered job was released under: consents and versions, agreement, vetting, obligations. */
    releaseBasis: { type: ['object', 'null'], additionalProperties: true },
  },
} as const;

const iso = (v: unknown): string => (v instanceof Date ? v.toISOString() : new Date(String(v)).toISOString());

export function adminRoutes(deps: AdminDeps) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    app.get('/api/status', {
      config: { permission: 'status:read' },
      schema: {
        summary: 'Service status: endpoints, queue depth by state, totals',
        response: { 200: { type: 'object', properties: {
          version: { type: 'string' }, startedAt: { type: 'string' }, uptimeSeconds: { type: 'number' },
          dimse: { type: 'object', properties: { host: { type: 'string' }, port: { type: 'integer' }, aeTitle: { type: 'string' } } },
          http: { type: 'object', properties: { url: { type: 'string' } } },
          database: { type: 'string' }, instances: { type: 'integer' }, quarantined: { type: 'integer' }, logSize: { type: 'integer' }, jobs: counts,
        } } },
      },
    }, async () => {
      const [instances, [quar], jobs] = await Promise.all([
        instanceCount(deps.db),
        deps.db.query<{ n: number }>('SELECT count(*)::int AS n FROM quarantine'),
        jobCounts(deps.db),
      ]);
      return {
        version: CUSTOS_VERSION, startedAt: deps.started.toISOString(), uptimeSeconds: Math.round((Date.now() - deps.started.getTime()) / 1000),
        dimse: deps.endpoints.dimse, http: deps.endpoints.http, database: deps.db.kind,
        instances, quarantined: quar?.n ?? 0, logSize: deps.logSize(), jobs,
      };
    });

    app.get('/api/studies', {
      config: { permission: 'studies:read' },
      schema: {
        summary: 'Studies held by the gateway, newest first',
        querystring: { type: 'object', properties: { limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 }, offset: { type: 'integer', minimum: 0, default: 0 } } },
        response: { 200: { type: 'array', items: { type: 'object', properties: {
          studyInstanceUid: { type: 'string' }, series: { type: 'integer' }, instances: { type: 'integer' }, modalities: { type: 'array', items: { type: 'string' } },
          firstReceivedAt: { type: 'string' }, lastReceivedAt: { type: 'string' }, jobs: counts,
        } } } },
      },
    }, async (req) => {
      const { limit, offset } = req.query as { limit: number; offset: number };
      const rows = await listStudies(deps.db, { order: 'recent', limit, offset });
      await recordAccess(deps.db, req, 'access.list', { route: '/api/studies', studies: rows.length });
      const states = await deps.db.query<{ study: string; state: string; n: number }>(
        `SELECT i.study_instance_uid AS study, j.state, count(*)::int AS n FROM jobs j JOIN instances i ON i.id = j.instance_id
         WHERE i.study_instance_uid = ANY($1::text[]) GROUP BY 1, 2`, [rows.map((r) => r.study)]);
      return rows.map((r) => ({
        studyInstanceUid: r.study, series: r.series, instances: r.instances, modalities: r.modalities, firstReceivedAt: iso(r.firstReceivedAt), lastReceivedAt: iso(r.lastReceivedAt),
        jobs: Object.fromEntries(JOB_STATES.map((s) => [s, states.find((x) => x.study === r.study && x.state === s)?.n ?? 0])),
      }));
    });

    app.get('/api/studies/:study', {
      config: { permission: 'studies:read' },
      schema: { summary: "One study's timeline: each instance received, logged, and what became of it for each recipient (released, withheld with reasons, held, failed)", params: { type: 'object', properties: { study: { type: 'string', maxLength: 64 } }, required: ['study'] } },
    }, async (req, reply) => {
      const { study } = req.params as { study: string };
      const t = await studyTimeline(deps.db, study);
      if (!t) return reply.code(404).send({ error: 'NOT_FOUND', message: 'no such study here' });
      await recordAccess(deps.db, req, 'access.list', { route: '/api/studies/:study', study, instances: t.instances.length });
      return t;
    });

    app.get('/api/activity', {
      config: { permission: 'status:read' },
      schema: { summary: 'Received, released, withheld, held back and failed per hour over the last hours (default 24)', querystring: { type: 'object', properties: { hours: { type: 'integer', minimum: 1, maximum: 720, default: 24 } } } },
    }, async (req) => activityByHour(deps.db, (req.query as { hours: number }).hours));

    app.get('/api/jobs', {
      config: { permission: 'jobs:read' },
      schema: {
        summary: 'Forwarding jobs, filtered by state and recipient',
        querystring: { type: 'object', properties: {
          state: { type: 'string', enum: [...JOB_STATES] }, recipient: { type: 'string' },
          limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 }, offset: { type: 'integer', minimum: 0, default: 0 },
        } },
        response: { 200: { type: 'array', items: job } },
      },
    }, async (req) => {
      const q = req.query as { state?: string; recipient?: string; limit: number; offset: number };
      const rows = await deps.db.query<Record<string, unknown>>(
        `SELECT id, instance_id, recipient, state, attempts, next_attempt_at, last_error_code, last_error, output_sop_instance_uid, updated_at, withheld_reasons, release_basis FROM jobs
         WHERE ($1::text IS NULL OR state = $1) AND ($2::text IS NULL OR recipient = $2) ORDER BY id DESC LIMIT $3 OFFSET $4`,
        [q.state ?? null, q.recipient ?? null, q.limit, q.offset]);
      return rows.map((r) => ({
        id: Number(r.id), instanceId: Number(r.instance_id), recipient: r.recipient, state: r.state, attempts: r.attempts, nextAttemptAt: iso(r.next_attempt_at),
        lastErrorCode: r.last_error_code, lastError: r.last_error, outputSopInstanceUid: r.output_sop_instance_uid, updatedAt: iso(r.updated_at),
        withheldReasons: r.withheld_reasons === null || r.withheld_reasons === undefined ? null : typeof r.withheld_reasons === 'string' ? JSON.parse(r.withheld_reasons) : r.withheld_reasons,
        releaseBasis: r.release_basis === null || r.release_basis === undefined ? null : typeof r.release_basis === 'string' ? JSON.parse(r.release_basis) : r.release_basis,
      }));
    });

    app.post('/api/jobs/:id/retry', {
      config: { permission: 'jobs:write' },
      schema: {
        summary: 'Put a dead or held job back in the queue (attempts reset)',
        params: { type: 'object', properties: { id: { type: 'integer' } }, required: ['id'] },
        response: { 200: { type: 'object', properties: { id: { type: 'integer' }, state: { type: 'string' } } }, 404: error, 409: error },
      },
    }, async (req, reply) => {
      const { id } = req.params as { id: number };
      const [row] = await deps.db.query<{ state: string }>('SELECT state FROM jobs WHERE id = $1', [id]);
      if (!row) return reply.code(404).send({ error: 'NOT_FOUND', message: `no job ${id}` });
      if (row.state !== 'dead' && row.state !== 'held') return reply.code(409).send({ error: 'JOB_NOT_FINISHED', message: `job ${id} is ${row.state}; only dead or held jobs can be retried` });
      await deps.db.query(`UPDATE jobs SET state = 'pending', attempts = 0, next_attempt_at = now(), updated_at = now() WHERE id = $1`, [id]);
      await recordEvents(deps.db, [{ kind: 'job.requeued', jobId: id, detail: { reason: 'admin', by: principalLabel(principalOf(req)) } }]);
      deps.wake();
      return { id, state: 'pending' };
    });

    app.get('/api/recipients', {
      config: { permission: 'recipients:read' },
      schema: {
        summary: 'Configured recipients with their job counts (credentials not shown)',
        response: { 200: { type: 'array', items: { type: 'object', properties: {
          id: { type: 'string' }, description: { type: 'string' }, kind: { type: 'string', enum: ['dimse', 'stow'] }, target: { type: 'string' },
          profile: { type: 'string' }, options: { type: 'array', items: { type: 'string' } }, key: { type: 'string' }, jobs: counts,
        } } } },
      },
    }, async () => Promise.all(deps.recipients.map(async (r) => ({
      id: r.id, ...(r.description ? { description: r.description } : {}), kind: r.deliver.kind,
      target: r.deliver.kind === 'dimse' ? `${r.deliver.aeTitle}@${r.deliver.host}:${r.deliver.port}` : r.deliver.url,
      profile: r.deid.profile, options: r.deid.options, key: r.deid.key, jobs: await jobCounts(deps.db, r.id),
    }))));

    app.get('/api/quarantine', {
      config: { permission: 'quarantine:read' },
      schema: {
        summary: 'Rejected input kept in quarantine (encrypted), with the reason',
        response: { 200: { type: 'array', items: { type: 'object', properties: {
          id: { type: 'integer' }, receivedAt: { type: 'string' }, source: { type: 'string' }, callingAeTitle: { type: ['string', 'null'] },
          code: { type: 'string' }, reason: { type: 'string' }, bytes: { type: 'integer' }, sha256: { type: 'string' }, kept: { type: 'boolean' },
        } } } },
      },
    }, async () => (await deps.db.query<Record<string, unknown>>('SELECT * FROM quarantine ORDER BY id DESC LIMIT 1000')).map((r) => ({
      id: Number(r.id), receivedAt: iso(r.received_at), source: r.source, callingAeTitle: r.calling_ae, code: r.code, reason: r.reason, bytes: Number(r.bytes), sha256: r.sha256, kept: r.blob_key !== null,
    })));

    app.get('/api/instances/:id/events', {
      config: { permission: 'audit:read' },
      schema: {
        summary: 'The audit trail of one instance: received, logged, forwarded, retried…',
        params: { type: 'object', properties: { id: { type: 'integer' } }, required: ['id'] },
        response: { 200: { type: 'array', items: { type: 'object', properties: {
          at: { type: 'string' }, kind: { type: 'string' }, jobId: { type: ['integer', 'null'] }, recipient: { type: ['string', 'null'] }, detail: { type: ['object', 'null'], additionalProperties: true },
        } } } },
      },
    }, async (req) => {
      const { id } = req.params as { id: number };
      const rows = await deps.db.query<Record<string, unknown>>('SELECT at, kind, job_id, recipient, detail FROM events WHERE instance_id = $1 ORDER BY id', [id]);
      return rows.map((r) => ({ at: iso(r.at), kind: r.kind, jobId: r.job_id === null ? null : Number(r.job_id), recipient: r.recipient, detail: r.detail }));
    });

    app.get('/api/metrics', {
      config: { permission: 'status:read' },
      schema: {
        summary: 'Forwarding latency (acknowledged → delivered) over the most recent jobs, in milliseconds',
        querystring: { type: 'object', properties: { window: { type: 'integer', minimum: 1, maximum: 100000, default: 1000 } } },
        response: { 200: { type: 'object', properties: {
          forwarded: { type: 'integer' },
          latencyMs: { type: 'object', properties: { p50: { type: ['number', 'null'] }, p95: { type: ['number', 'null'] }, p99: { type: ['number', 'null'] }, max: { type: ['number', 'null'] } } },
          firstReceivedAt: { type: ['string', 'null'] }, lastDeliveredAt: { type: ['string', 'null'] },
          overdueDeletionAttestations: { type: 'integer' },
          openIntegrityAlerts: { type: 'integer' },
        } } },
      },
    }, async (req) => {
      const { window } = req.query as { window: number };
      const r = await deliveryLatency(deps.db, window);
      const [overdue] = await deps.db.query<{ n: number }>('SELECT count(*)::int AS n FROM deletion_requests WHERE answered_at IS NULL AND due_at < now()');
      const [alerts] = await deps.db.query<{ n: number }>("SELECT count(*)::int AS n FROM sweep_findings WHERE acknowledged_at IS NULL AND status IN ('tampered', 'inserted', 'missing')");
      const num = (v: unknown): number | null => (v === null || v === undefined ? null : Math.round(Number(v) * 10) / 10);
      return {
        forwarded: r?.n ?? 0, latencyMs: { p50: num(r?.p50), p95: num(r?.p95), p99: num(r?.p99), max: num(r?.max) },
        firstReceivedAt: r?.first ? iso(r.first) : null, lastDeliveredAt: r?.last ? iso(r.last) : null,
        overdueDeletionAttestations: overdue?.n ?? 0,
        openIntegrityAlerts: alerts?.n ?? 0,
      };
    });

    app.get('/api/receipts', {
      config: { permission: 'jobs:read' },
      schema: { summary: 'Signed release receipts, one per delivered batch, newest first', querystring: { type: 'object', properties: { recipient: { type: 'string' }, limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } } } },
    }, async (req) => {
      const q = req.query as { recipient?: string; limit: number };
      const rows = await deps.db.query<{ id: number; recipient: string; receipt: unknown; log_index: number }>(
        'SELECT id, recipient, receipt, log_index FROM release_receipts WHERE ($1::text IS NULL OR recipient = $1) ORDER BY id DESC LIMIT $2', [q.recipient ?? null, q.limit]);
      return rows.map((r) => ({ id: Number(r.id), recipient: r.recipient, logIndex: Number(r.log_index), receipt: typeof r.receipt === 'string' ? JSON.parse(r.receipt) : r.receipt }));
    });

    app.get('/api/docs', { config: { permission: 'status:read' }, schema: { hide: true } }, async () => app.swagger());
  };
}
