import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { recordEvents } from '../audit/events.ts';
import { type CustosErrorCode, CustosError, isCustosError } from '../errors.ts';
import type { Database, Queryable } from '../store/database.ts';
import { sessionPrincipal, tokenPrincipal } from './credentials.ts';
import { type Permission, type Principal, allows, isPermission, principalLabel } from './permissions.ts';
import { sameSecret } from './secrets.ts';

/*
 * Access control at the HTTP edge. Every route declares, in its options, the one permission it
 * needs (`config: { permission: 'studies:read' }`) or that it is public (`config: { public: true }`);
 * a route that declares neither stops the server from starting. The check runs after routing, on
 * the route that matched (the decoded path), never on the raw URL.
 */

declare module 'fastify' {
  interface FastifyContextConfig {
    permission?: Permission;
    public?: true;
  }
  interface FastifyRequest {
    principal?: Principal;
    /** The session's CSRF token, when the principal came from a session cookie. */
    sessionCsrf?: string;
  }
}

export const SESSION_COOKIE = 'custos_session';
export const CSRF_HEADER = 'x-csrf-token';

export interface RouteDeclaration { method: string; url: string; permission: Permission | 'public' }

export interface GuardOptions {
  db: Database;
  /** Host names clients may use (the Host header); anything else is refused (DNS rebinding). */
  allowedHosts: readonly string[];
  /** Filled with every route as it is added: the route table. */
  routes: RouteDeclaration[];
}

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export function refuse(reply: FastifyReply, status: number, code: CustosErrorCode, message: string): FastifyReply {
  if (status === 401) reply.header('www-authenticate', 'Bearer realm="custos"');
  return reply.code(status).header('cache-control', 'no-store').send({ error: code, message });
}

const hostOnly = (h: string): string => h.toLowerCase().replace(/^\[(.*)\]$/, '$1');

/** Install the checks on `app` (before any route is added, so that every route is seen). */
export function installGuard(app: FastifyInstance, opts: GuardOptions): void {
  const hosts = new Set(opts.allowedHosts.map(hostOnly));
  // Credential look-ups go ahead of the work loop's statements: a sender's STOW-RS waits on them.
  const lookups: Queryable = { query: (sql, params) => opts.db.queryFirst(sql, params) };
  app.decorateRequest('principal', undefined);
  app.decorateRequest('sessionCsrf', undefined);

  // Unmatched paths: a plain 404 that does not echo the path back.
  app.setNotFoundHandler((_req, reply) => refuse(reply, 404, 'NOT_FOUND', 'no such route'));
  // Errors no route answered itself: a stable code for each kind of bad request, never the input
  // quoted back (a JSON parser's message quotes it), and nothing of an internal failure.
  app.setErrorHandler((e: Error & { statusCode?: number; code?: string; validation?: unknown }, req, reply) => {
    if (isCustosError(e)) return refuse(reply, e.code === 'STORE_UNAVAILABLE' ? 503 : 400, e.code, e.message);
    if (e.validation) return refuse(reply, 400, 'API_INVALID_REQUEST', e.message);
    const status = e.statusCode ?? 500;
    if (status === 413) return refuse(reply, 413, 'HTTP_BODY_TOO_LARGE', 'the request body exceeds the configured limit (http.maxRequestMiB)');
    if (status === 415) return refuse(reply, 415, 'UNSUPPORTED_MEDIA_TYPE', 'this route does not take a body of that media type');
    if (status === 429) return refuse(reply, 429, 'RATE_LIMITED', 'too many requests from this address; wait a minute');
    if (status >= 400 && status < 500) return refuse(reply, status, 'API_INVALID_REQUEST', e.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || e instanceof SyntaxError ? 'the body is not valid JSON' : 'the request is malformed');
    req.log.error({ err: e }, 'request failed');
    return refuse(reply, 500, 'INTERNAL', 'the request failed inside the gateway; it is logged');
  });

  app.addHook('onRoute', (route) => {
    const c = route.config as { permission?: unknown; public?: unknown } | undefined;
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    const declared = c?.public === true ? 'public' : typeof c?.permission === 'string' && isPermission(c.permission) ? c.permission : undefined;
    if (!declared || (c?.public === true && c.permission !== undefined)) {
      throw new CustosError('AUTH_ROUTE_UNDECLARED', `route ${methods.join(',')} ${route.url} declares no permission (config.permission) and is not declared public`);
    }
    for (const m of methods) opts.routes.push({ method: m, url: route.url, permission: declared });
  });

  app.addHook('onRequest', async (req, reply) => {
    // The Host header names this server, or a page on another site reached us by rebinding its name.
    if (!hosts.has(hostOnly(req.hostname))) return refuse(reply, 421, 'AUTH_HOST', 'this server does not answer to that host name');
    const config = req.routeOptions.config;
    if (req.is404 || config.public === true) return;
    const permission = config.permission;
    if (!permission) return refuse(reply, 403, 'AUTH_FORBIDDEN', 'this route declares no permission'); // unreachable: onRoute refuses such routes
    const auth = req.headers.authorization;
    if (auth !== undefined) {
      const m = /^Bearer +(\S+)$/i.exec(auth);
      req.principal = m ? await tokenPrincipal(lookups, m[1]!) : undefined;
      if (!req.principal) return refuse(reply, 401, 'AUTH_REQUIRED', 'the bearer token is not valid (unknown, revoked or expired)');
    } else {
      const sid = req.cookies?.[SESSION_COOKIE];
      const s = sid ? await sessionPrincipal(lookups, sid) : undefined;
      if (!s) return refuse(reply, 401, 'AUTH_REQUIRED', sid ? 'the session has ended; sign in again' : 'sign in, or send a bearer token');
      req.principal = s.principal;
      req.sessionCsrf = s.csrf;
      // A cookie rides along on cross-site requests: a change needs the session's CSRF token too.
      const csrf = req.headers[CSRF_HEADER];
      if (UNSAFE.has(req.method) && (typeof csrf !== 'string' || !sameSecret(csrf, s.csrf))) return refuse(reply, 403, 'AUTH_CSRF', `a change made with a session needs its ${CSRF_HEADER} header`);
    }
    if (!allows(req.principal, permission)) return refuse(reply, 403, 'AUTH_FORBIDDEN', `this needs the permission ${permission}`);
  });
}

/** The principal of a request that passed the guard (a route with a permission always has one). */
export function principalOf(req: FastifyRequest): Principal {
  if (!req.principal) throw new CustosError('AUTH_REQUIRED', 'no principal on a guarded route');
  return req.principal;
}

/** Record who read identified data (originals, lists with real UIDs), with what they asked for. */
export async function recordAccess(db: Queryable, req: FastifyRequest, kind: 'access.originals' | 'access.list', detail: Record<string, unknown>): Promise<void> {
  await recordEvents(db, [{ kind, detail: { by: principalLabel(principalOf(req)), ...detail } }]);
}
