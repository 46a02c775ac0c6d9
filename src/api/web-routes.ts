import { existsSync, readFileSync } from 'node:fs';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';

/*
 * The browser app (web/, built into dist/web by the install): the admin console at / and the
 * patient portal at /portal/. Its pages and assets are public — they hold no data; every answer they
 * show comes from the API, which checks the session's permissions. Nothing is loaded from elsewhere.
 */

const DIST = fileURLToPath(new URL('../../dist/web/', import.meta.url));

const TYPES: Readonly<Record<string, string>> = {
  '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.html': 'text/html; charset=utf-8',
  '.svg': 'image/svg+xml', '.png': 'image/png', '.wasm': 'application/wasm', '.json': 'application/json', '.woff2': 'font/woff2',
};

/** Assets are named by their content hash (Vite): cached for a year; pages are always asked again. */
function send(reply: FastifyReply, file: string, immutable: boolean): FastifyReply {
  if (!existsSync(file)) {
    return reply.code(503).type('text/plain; charset=utf-8').send('The web app is not built. Run `npm run build:web` (npm ci does it).');
  }
  return reply.type(TYPES[extname(file)] ?? 'application/octet-stream')
    .header('cache-control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache')
    .send(readFileSync(file));
}

export function webRoutes(dist: string = DIST) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    const page = { config: { public: true as const }, schema: { hide: true } };
    app.get('/', page, (_req, reply) => send(reply, join(dist, 'index.html'), false));
    app.get('/portal', page, (_req, reply) => reply.redirect('/portal/', 308));
    app.get('/portal/', page, (_req, reply) => send(reply, join(dist, 'portal', 'index.html'), false));
    app.get('/assets/:file', page, (req, reply) => {
      const { file } = req.params as { file: string };
      // One path segment of the built names (letters, digits, dash, dot, underscore): nothing outside assets/.
      if (!/^[\w.-]{1,128}$/.test(file) || file.startsWith('.')) return reply.code(404).send({ error: 'NOT_FOUND', message: 'no such asset' });
      return send(reply, normalize(join(dist, 'assets', file)), true);
    });
  };
}
