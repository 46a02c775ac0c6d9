import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { recordEvents } from '../audit/events.ts';
import { principalOf, refuse } from '../auth/guard.ts';
import { principalLabel } from '../auth/permissions.ts';
import type { RecipientConfig } from '../config/gateway-config.ts';
import { isCustosError } from '../errors.ts';
import {
  AgreementTermsSchema, VettingRecordSchema, agreementRecipient, weakerThanAgreements, agreementsOf, currentVetting, decideVetting, fillVetting, recordAgreement, redecideWithheld, vettingHistory,
} from '../policy/recipient-policy.ts';
import { weakerDeid } from '../policy/decision.ts';
import type { Database } from '../store/database.ts';
import { RecipientDefinitionSchema, type RecipientRegistry } from '../policy/recipient-registry.ts';

/*
 * Recipients' vetting and data-use agreements (docs/policy.md). Each change is a new version with
 * who made it, is audited, and sends the recipient's withheld jobs back to be decided again.
 */

export interface PolicyDeps { db: Database; registry: RecipientRegistry; wake: () => void }

/** A definition as shown: endpoint credentials (STOW-RS headers) are not. */
function redacted(d: RecipientConfig): RecipientConfig {
  return d.deliver.kind === 'stow' && d.deliver.headers ? { ...d, deliver: { ...d.deliver, headers: Object.fromEntries(Object.keys(d.deliver.headers).map((k) => [k, '(set)'])) } } : d;
}

/** 409: the recipient's de-identification would be weaker than the agreement requires. */
const refuseWeaker = (reply: FastifyReply, why: string): FastifyReply =>
  refuse(reply, 409, 'POLICY_INVALID', `the recipient's de-identification is weaker than this agreement requires (${why}): strengthen its configuration first`);

/** The body checked against a schema: the value, or a 400 naming the field. */
function parse<T>(schema: z.ZodType<T>, body: unknown, reply: FastifyReply): T | undefined {
  const r = schema.safeParse(body);
  if (r.success) return r.data;
  const i = r.error.issues[0]!;
  refuse(reply, 400, 'API_INVALID_REQUEST', `${i.path.map(String).join('.') || '(body)'}: ${i.message}`);
  return undefined;
}

export function policyRoutes(deps: PolicyDeps) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    app.setErrorHandler((e, _req, reply) => {
      if (isCustosError(e) && e.code === 'POLICY_INVALID') return refuse(reply, 409, e.code, e.message);
      if (isCustosError(e) && e.code === 'AUTH_FORBIDDEN') return refuse(reply, 403, e.code, e.message);
      if (isCustosError(e) && e.code === 'NOT_FOUND') return refuse(reply, 404, e.code, e.message);
      throw e;
    });

    const recipientOr404 = (req: FastifyRequest, reply: FastifyReply): RecipientConfig | undefined => {
      const { id } = req.params as { id: string };
      const r = deps.registry.get(id);
      if (!r) refuse(reply, 404, 'NOT_FOUND', 'no such recipient in the configuration');
      return r;
    };

    const changed = async (recipient: string, kind: 'policy.vetting' | 'policy.agreement' | 'policy.recipient', detail: Record<string, unknown>): Promise<number> => {
      await recordEvents(deps.db, [{ kind, recipient, detail }]);
      const again = await redecideWithheld(deps.db, { recipient });
      if (again) deps.wake();
      return again;
    };

    app.get('/api/recipients/:id/policy', { config: { permission: 'recipients:read' }, schema: { summary: "A recipient's purpose, vetting (with its history) and agreements" } }, async (req, reply) => {
      const r = recipientOr404(req, reply);
      if (!r) return reply;
      return {
        recipient: { id: r.id, version: deps.registry.version(r.id), purpose: r.purpose, organization: r.organization ?? r.id, models: r.models, deid: r.deid },
        vetting: await currentVetting(deps.db, r.id) ?? null,
        vettingHistory: await vettingHistory(deps.db, r.id),
        agreements: await agreementsOf(deps.db, r.id),
      };
    });

    const admin = { config: { permission: 'recipients:admin' } } as const;

    app.get('/api/recipients/:id/versions', { config: { permission: 'recipients:read' }, schema: { summary: "Every version of a recipient's definition, newest first, with who made it" } }, async (req, reply) => {
      const { id } = req.params as { id: string };
      const versions = await deps.registry.history(id);
      if (!versions.length) return refuse(reply, 404, 'NOT_FOUND', 'no such recipient');
      return versions.map((v) => ({ ...v, definition: redacted(v.definition) }));
    });

    app.put('/api/recipients/:id', { ...admin, schema: { summary: 'Add a recipient, or a new version of one (purpose, organization, models, endpoint, de-identification, match)' } }, async (req, reply) => {
      const { id } = req.params as { id: string };
      const def = parse(RecipientDefinitionSchema, { ...(req.body as object), id }, reply);
      if (!def) return reply;
      const weaker = await weakerThanAgreements(deps.db, def);
      if (weaker) return refuse(reply, 409, 'POLICY_INVALID', `this de-identification ${weaker}`);
      const v = await deps.registry.put(def, principalLabel(principalOf(req)));
      await changed(id, 'policy.recipient', { version: v.version, by: v.changedBy });
      return reply.code(v.version === 1 ? 201 : 200).send({ ...v, definition: redacted(v.definition) });
    });

    app.delete('/api/recipients/:id', { ...admin, schema: { summary: 'Remove a recipient: it receives nothing more (its queued jobs end as dead)' } }, async (req, reply) => {
      const { id } = req.params as { id: string };
      if (!deps.registry.get(id)) return refuse(reply, 404, 'NOT_FOUND', 'no such recipient');
      const v = await deps.registry.remove(id, principalLabel(principalOf(req)));
      await recordEvents(deps.db, [{ kind: 'policy.recipient', recipient: id, detail: { version: v.version, removed: true, by: v.changedBy } }]);
      deps.wake();
      return { id, version: v.version, removed: true };
    });
    app.post('/api/recipients/:id/vetting', { ...admin, schema: { summary: 'Fill in a vetting record (a draft, to be approved by another privacy officer)' } }, async (req, reply) => {
      const r = recipientOr404(req, reply);
      if (!r) return reply;
      const record = parse(VettingRecordSchema, req.body, reply);
      if (!record) return reply;
      const v = await fillVetting(deps.db, r.id, record, principalLabel(principalOf(req)));
      await changed(r.id, 'policy.vetting', { version: v.version, status: v.status, by: v.filledBy });
      return reply.code(201).send(v);
    });

    app.post('/api/recipients/:id/vetting/decision', { ...admin, schema: { summary: 'Approve, suspend or revoke the current vetting record', body: { type: 'object', properties: { status: { type: 'string', enum: ['approved', 'suspended', 'revoked'] } }, required: ['status'], additionalProperties: false } } }, async (req, reply) => {
      const r = recipientOr404(req, reply);
      if (!r) return reply;
      const { status } = req.body as { status: 'approved' | 'suspended' | 'revoked' };
      const p = principalOf(req);
      const v = await decideVetting(deps.db, r.id, status, principalLabel(p), p.kind === 'user' && p.role === 'privacy-officer');
      const again = await changed(r.id, 'policy.vetting', { version: v.version, status: v.status, by: v.decidedBy });
      return { ...v, jobsDecidedAgain: again };
    });

    app.post('/api/recipients/:id/agreements', { ...admin, schema: { summary: 'Record a data-use agreement with this recipient' } }, async (req, reply) => {
      const r = recipientOr404(req, reply);
      if (!r) return reply;
      const terms = parse(AgreementTermsSchema, req.body, reply);
      if (!terms) return reply;
      const weaker = weakerDeid(r.deid, terms.minimumDeid);
      if (weaker) return refuseWeaker(reply, weaker);
      const a = await recordAgreement(deps.db, r.id, terms, principalLabel(principalOf(req)));
      await changed(r.id, 'policy.agreement', { agreement: a.id, version: a.version, status: a.status, by: a.changedBy });
      return reply.code(201).send(a);
    });

    app.put('/api/agreements/:id', { ...admin, schema: { summary: 'A new version of an agreement (changed terms, or terminated)' } }, async (req, reply) => {
      const { id } = req.params as { id: string };
      const recipient = await agreementRecipient(deps.db, id);
      if (!recipient) return refuse(reply, 404, 'NOT_FOUND', 'no such agreement');
      const terms = parse(AgreementTermsSchema, req.body, reply);
      if (!terms) return reply;
      const r = deps.registry.get(recipient);
      const weaker = r && weakerDeid(r.deid, terms.minimumDeid);
      if (weaker) return refuseWeaker(reply, weaker);
      const a = await recordAgreement(deps.db, recipient, terms, principalLabel(principalOf(req)), id);
      const again = await changed(recipient, 'policy.agreement', { agreement: a.id, version: a.version, status: a.status, by: a.changedBy });
      return { ...a, jobsDecidedAgain: again };
    });
  };
}
