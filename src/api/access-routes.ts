import { errorBody as error } from './schemas.ts';
import type { FastifyInstance } from 'fastify';
import type { RecipientConfig } from '../config/gateway-config.ts';
import { addUser, createToken, disableUser, issuePatientCodeFor, listTokens, listUsers, revokeToken, tokenScope } from '../auth/credentials.ts';
import { principalOf, refuse } from '../auth/guard.ts';
import { PERMISSIONS, STAFF_ROLES, TOKEN_ROLES, principalLabel } from '../auth/permissions.ts';
import { isCustosError } from '../errors.ts';
import type { Database } from '../store/database.ts';

/*
 * Managing credentials over the API (the same operations as `custos users`, `custos tokens` and
 * `custos patient-code`), and reading the audit trail. Secrets are in the answer to their creation
 * only.
 */

export interface AccessDeps {
  db: Database;
  recipients: readonly RecipientConfig[];
  deploymentKey: Buffer;
}

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);
const userItem = { type: 'object', properties: { username: { type: 'string' }, role: { type: 'string' }, sso: { type: 'boolean' }, createdAt: { type: 'string' }, disabledAt: { type: ['string', 'null'] }, lastLoginAt: { type: ['string', 'null'] } } } as const;
const tokenItem = {
  type: 'object',
  properties: {
    id: { type: 'string' }, name: { type: 'string' }, permissions: { type: 'array', items: { type: 'string' } }, recipient: { type: ['string', 'null'] }, createdBy: { type: 'string' },
    createdAt: { type: 'string' }, expiresAt: { type: 'string' }, revokedAt: { type: ['string', 'null'] }, lastUsedAt: { type: ['string', 'null'] },
  },
} as const;

export function accessRoutes(deps: AccessDeps) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    // Bad requests to these routes (a taken name, an unknown permission) are AUTH_INVALID_REQUEST, 400.
    app.setErrorHandler((e, _req, reply) => {
      if (isCustosError(e) && e.code === 'AUTH_INVALID_REQUEST') return refuse(reply, 400, e.code, e.message);
      throw e;
    });

    app.get('/api/users', { config: { permission: 'users:admin' }, schema: { summary: 'Staff accounts', response: { 200: { type: 'array', items: userItem } } } },
      async () => (await listUsers(deps.db)).map((u) => ({ ...u, createdAt: iso(u.createdAt), disabledAt: iso(u.disabledAt), lastLoginAt: iso(u.lastLoginAt) })));

    app.post('/api/users', {
      config: { permission: 'users:admin' },
      schema: {
        summary: 'Add a staff account; without a password (and not SSO-only) a random one is returned, once',
        body: { type: 'object', properties: { username: { type: 'string' }, role: { type: 'string', enum: [...STAFF_ROLES] }, sso: { type: 'boolean' }, password: { type: 'string', maxLength: 1024 } }, required: ['username', 'role'], additionalProperties: false },
        response: { 201: { type: 'object', properties: { username: { type: 'string' }, role: { type: 'string' }, password: { type: 'string' } } }, 400: error },
      },
    }, async (req, reply) => {
      const b = req.body as { username: string; role: string; sso?: boolean; password?: string };
      return reply.code(201).send(await addUser(deps.db, { ...b, createdBy: principalLabel(principalOf(req)) }));
    });

    app.post('/api/users/:username/disable', {
      config: { permission: 'users:admin' },
      schema: { summary: 'Disable a staff account and end its sessions', params: { type: 'object', properties: { username: { type: 'string' } }, required: ['username'] }, response: { 404: error } },
    }, async (req, reply) => {
      const { username } = req.params as { username: string };
      if (!(await disableUser(deps.db, username, principalLabel(principalOf(req))))) return refuse(reply, 404, 'NOT_FOUND', 'no enabled account of that name');
      return { username, disabled: true };
    });

    app.get('/api/tokens', { config: { permission: 'tokens:admin' }, schema: { summary: 'API tokens (never their secrets)', response: { 200: { type: 'array', items: tokenItem } } } },
      async () => (await listTokens(deps.db)).map((t) => ({ ...t, createdAt: iso(t.createdAt), expiresAt: iso(t.expiresAt), revokedAt: iso(t.revokedAt), lastUsedAt: iso(t.lastUsedAt) })));

    app.post('/api/tokens', {
      config: { permission: 'tokens:admin' },
      schema: {
        summary: 'Create an API token with a role, a list of permissions, or for a recipient; the token is returned once',
        body: {
          type: 'object',
          properties: {
            name: { type: 'string' }, role: { type: 'string', enum: [...TOKEN_ROLES] }, permissions: { type: 'array', items: { type: 'string', enum: [...PERMISSIONS] } },
            recipient: { type: 'string' }, expiresInDays: { type: 'integer', minimum: 1, maximum: 366, default: 90 },
          },
          required: ['name'], additionalProperties: false,
        },
        response: { 201: { type: 'object', properties: { id: { type: 'string' }, token: { type: 'string' }, expiresAt: { type: 'string' } } }, 400: error },
      },
    }, async (req, reply) => {
      const b = req.body as { name: string; role?: string; permissions?: string[]; recipient?: string; expiresInDays: number };
      const scope = tokenScope(b, deps.recipients.map((r) => r.id));
      const t = await createToken(deps.db, { name: b.name, ...scope, expiresInDays: b.expiresInDays, createdBy: principalLabel(principalOf(req)) });
      return reply.code(201).send({ id: t.id, token: t.token, expiresAt: t.expiresAt.toISOString() });
    });

    app.post('/api/tokens/:id/revoke', {
      config: { permission: 'tokens:admin' },
      schema: { summary: 'Revoke an API token at once', params: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] }, response: { 404: error } },
    }, async (req, reply) => {
      const { id } = req.params as { id: string };
      if (!(await revokeToken(deps.db, id, principalLabel(principalOf(req))))) return refuse(reply, 404, 'NOT_FOUND', 'no live token with that id');
      return { id, revoked: true };
    });

    app.post('/api/patient-codes', {
      config: { permission: 'patient-codes:write' },
      schema: {
        summary: "Issue a patient a single-use access code to the portal (their Patient ID, and its issuer if the hospital uses several)",
        body: { type: 'object', properties: { patientId: { type: 'string', minLength: 1, maxLength: 64 }, issuer: { type: 'string', maxLength: 64, default: '' }, hours: { type: 'integer', minimum: 1, maximum: 720, default: 72 } }, required: ['patientId'], additionalProperties: false },
        response: { 201: { type: 'object', properties: { code: { type: 'string' }, expiresAt: { type: 'string' }, instances: { type: 'integer' } } } },
      },
    }, async (req, reply) => {
      const b = req.body as { patientId: string; issuer: string; hours: number };
      const c = await issuePatientCodeFor(deps.db, deps.deploymentKey, { ...b, createdBy: principalLabel(principalOf(req)) });
      return reply.code(201).send({ code: c.code, expiresAt: c.expiresAt.toISOString(), instances: c.instances });
    });

    app.get('/api/audit', {
      config: { permission: 'audit:read' },
      schema: {
        summary: 'The audit trail, newest first: sign-ins, credentials issued and revoked, reads of identified data, every step of every instance',
        querystring: { type: 'object', properties: { kind: { type: 'string' }, limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 }, before: { type: 'integer', minimum: 1 } } },
        response: { 200: { type: 'array', items: { type: 'object', properties: {
          id: { type: 'integer' }, at: { type: 'string' }, kind: { type: 'string' }, instanceId: { type: ['integer', 'null'] }, jobId: { type: ['integer', 'null'] }, recipient: { type: ['string', 'null'] }, detail: { type: ['object', 'null'], additionalProperties: true },
        } } } },
      },
    }, async (req) => {
      const q = req.query as { kind?: string; limit: number; before?: number };
      const rows = await deps.db.query<Record<string, unknown>>(
        `SELECT id, at, kind, instance_id, job_id, recipient, detail FROM events WHERE ($1::text IS NULL OR kind = $1 OR kind LIKE $1 || '.%')
         AND ($2::bigint IS NULL OR id < $2) ORDER BY id DESC LIMIT $3`, [q.kind ?? null, q.before ?? null, q.limit]);
      const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
      return rows.map((r) => ({ id: Number(r.id), at: new Date(r.at as string).toISOString(), kind: r.kind, instanceId: num(r.instance_id), jobId: num(r.job_id), recipient: r.recipient, detail: r.detail }));
    });
  };
}
