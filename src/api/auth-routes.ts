import { errorBody as error } from './schemas.ts';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type {} from '@fastify/cookie';
import type {} from '@fastify/rate-limit';
import { recordEvents } from '../audit/events.ts';
import { checkPassword, createSession, endSession, redeemPatientCode, ssoUser } from '../auth/credentials.ts';
import { SESSION_COOKIE, principalOf, refuse } from '../auth/guard.ts';
import type { OidcLogin } from '../auth/oidc.ts';
import { permissionsOf, principalLabel } from '../auth/permissions.ts';
import { isCustosError } from '../errors.ts';
import type { Database } from '../store/database.ts';

/*
 * Signing in and out: staff with a password or single sign-on, patients with an access code.
 * Each gives an HttpOnly session cookie (SameSite=Lax, Secure behind TLS) and a CSRF token that
 * every change made with the session must carry. Sign-in routes are rate-limited per address.
 */

export interface AuthDeps {
  db: Database;
  oidc?: OidcLogin | undefined;
  /** Cookies only over TLS (served directly or by a proxy in front). */
  secureCookies: boolean;
  /** Sign-in attempts per address and minute (password and patient code alike). */
  signInPerMinute: number;
}

const OIDC_COOKIE = 'custos_oidc_state';
const sessionBody = { type: 'object', properties: { principal: { type: 'string' }, kind: { type: 'string' }, role: { type: 'string' }, permissions: { type: 'array', items: { type: 'string' } }, csrfToken: { type: 'string' }, expiresAt: { type: 'string' } } } as const;

export function authRoutes(deps: AuthDeps) {
  const cookie = (reply: FastifyReply, id: string, expiresAt: Date): void => {
    reply.setCookie(SESSION_COOKIE, id, { path: '/', httpOnly: true, sameSite: 'lax', secure: deps.secureCookies, expires: expiresAt });
  };
  const limit = { max: deps.signInPerMinute, timeWindow: 60_000 };
  return async function plugin(app: FastifyInstance): Promise<void> {
    app.get('/healthz', { config: { public: true }, schema: { hide: true } }, async () => ({ ok: true }));

    app.post('/auth/login', {
      config: { public: true, rateLimit: limit },
      schema: {
        summary: 'Staff sign-in with a user name and password: sets the session cookie, returns the CSRF token',
        body: { type: 'object', properties: { username: { type: 'string', maxLength: 64 }, password: { type: 'string', maxLength: 1024 } }, required: ['username', 'password'], additionalProperties: false },
        response: { 200: sessionBody, 401: error },
      },
    }, async (req, reply) => {
      const { username, password } = req.body as { username: string; password: string };
      const user = await checkPassword(deps.db, username, password);
      if (!user) {
        await recordEvents(deps.db, [{ kind: 'auth.login-failed', detail: { via: 'password', address: req.ip } }]);
        return refuse(reply, 401, 'AUTH_BAD_CREDENTIALS', 'wrong user name or password, or the account is disabled');
      }
      const s = await createSession(deps.db, { userId: user.id, via: 'password' });
      await recordEvents(deps.db, [{ kind: 'auth.login', detail: { by: `user:${user.username}`, via: 'password', address: req.ip } }]);
      cookie(reply, s.id, s.expiresAt);
      return { principal: `user:${user.username}`, kind: 'user', role: user.role, csrfToken: s.csrf, expiresAt: s.expiresAt.toISOString() };
    });

    app.get('/auth/session', {
      config: { permission: 'session:self' },
      schema: { summary: 'Who is signed in, with what permissions (and the CSRF token of a cookie session)', response: { 200: sessionBody } },
    }, async (req) => {
      const p = principalOf(req);
      return { principal: principalLabel(p), kind: p.kind, ...(p.kind === 'user' ? { role: p.role } : {}), permissions: [...permissionsOf(p)], ...(req.sessionCsrf ? { csrfToken: req.sessionCsrf } : {}) };
    });

    app.post('/auth/logout', { config: { permission: 'session:self' }, schema: { summary: 'End this session' } }, async (req, reply) => {
      const sid = req.cookies[SESSION_COOKIE];
      if (sid) await endSession(deps.db, sid);
      await recordEvents(deps.db, [{ kind: 'auth.logout', detail: { by: principalLabel(principalOf(req)) } }]);
      reply.clearCookie(SESSION_COOKIE, { path: '/' });
      return { ok: true };
    });

    app.get('/auth/oidc/login', { config: { public: true, rateLimit: limit }, schema: { summary: 'Start single sign-on: redirects to the identity provider' } }, async (_req, reply) => {
      if (!deps.oidc) return refuse(reply, 404, 'AUTH_OIDC', 'single sign-on is not configured');
      try {
        const { url, state } = await deps.oidc.start();
        reply.setCookie(OIDC_COOKIE, state, { path: '/auth/oidc', httpOnly: true, sameSite: 'lax', secure: deps.secureCookies, maxAge: 600 });
        return reply.redirect(url, 302);
      } catch (e) {
        return refuse(reply, 502, 'AUTH_OIDC', isCustosError(e) ? e.message : 'the identity provider cannot be reached');
      }
    });

    app.get('/auth/oidc/callback', { config: { public: true, rateLimit: limit }, schema: { summary: 'Single sign-on callback from the identity provider' } }, async (req, reply) => {
      if (!deps.oidc) return refuse(reply, 404, 'AUTH_OIDC', 'single sign-on is not configured');
      reply.clearCookie(OIDC_COOKIE, { path: '/auth/oidc' });
      let username: string;
      try {
        username = await deps.oidc.finish(req.url.slice(req.url.indexOf('?') + 1 || req.url.length), req.cookies[OIDC_COOKIE]);
      } catch (e) {
        await recordEvents(deps.db, [{ kind: 'auth.login-failed', detail: { via: 'oidc', address: req.ip, code: isCustosError(e) ? e.code : 'INTERNAL' } }]);
        return refuse(reply, 401, 'AUTH_OIDC', isCustosError(e) ? e.message : 'single sign-on failed');
      }
      const user = await ssoUser(deps.db, username);
      if (!user) {
        await recordEvents(deps.db, [{ kind: 'auth.login-failed', detail: { via: 'oidc', address: req.ip, code: 'AUTH_FORBIDDEN' } }]);
        return refuse(reply, 403, 'AUTH_FORBIDDEN', 'the identity provider vouched for an account that is not enabled for single sign-on here');
      }
      const s = await createSession(deps.db, { userId: user.id, via: 'oidc' });
      await recordEvents(deps.db, [{ kind: 'auth.login', detail: { by: `user:${user.username}`, via: 'oidc', address: req.ip } }]);
      cookie(reply, s.id, s.expiresAt);
      return reply.redirect('/', 303);
    });

    app.post('/portal/session', {
      config: { public: true, rateLimit: limit },
      schema: {
        summary: 'A patient signs in with the access code staff gave them (once; it expires)',
        body: { type: 'object', properties: { code: { type: 'string', maxLength: 64 } }, required: ['code'], additionalProperties: false },
        response: { 200: sessionBody, 401: error },
      },
    }, async (req, reply) => {
      const codeId = await redeemPatientCode(deps.db, (req.body as { code: string }).code);
      if (codeId === undefined) {
        await recordEvents(deps.db, [{ kind: 'auth.login-failed', detail: { via: 'patient-code', address: req.ip } }]);
        return refuse(reply, 401, 'AUTH_BAD_CREDENTIALS', 'this code is not valid: wrong, expired or already used');
      }
      const s = await createSession(deps.db, { patientCodeId: codeId });
      cookie(reply, s.id, s.expiresAt);
      return { principal: `patient-code:${codeId}`, kind: 'patient', csrfToken: s.csrf, expiresAt: s.expiresAt.toISOString() };
    });
  };
}
