import { statSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { isCustosError } from '../errors.ts';
import { entryBundle, hashTile, parseTilePath, TILE_WIDTH } from '../integrity/tiles.ts';
import type { LogStore } from '../store/log-store.ts';

/**
 * Read-only HTTP view of the log in the c2sp.org/tlog-tiles layout under /log:
 *   GET /log/checkpoint, GET /log/tile/<L>/<N>[.p/<W>], GET /log/tile/entries/<N>[.p/<W>]
 * Tiles are immutable once full and cached accordingly; the checkpoint is not cached.
 * `open` re-opens the log when its checkpoint file changes (another process appended).
 */
export function logRoutes(open: () => LogStore) {
  let log = open();
  let stamp = checkpointStamp(log);
  const current = (): LogStore => {
    const now = checkpointStamp(log);
    if (now !== stamp) { log = open(); stamp = now; }
    return log;
  };
  return async function plugin(app: FastifyInstance): Promise<void> {
    app.get('/log/checkpoint', { config: { public: true } }, async (_req, reply) => {
      const l = current();
      reply.header('content-type', 'text/plain; charset=utf-8').header('cache-control', 'no-store');
      return l.checkpoint.note;
    });
    app.get('/log/tile/*', { config: { public: true } }, async (req, reply) => {
      const l = current();
      const size = l.checkpoint.body.size;
      let ref;
      try {
        ref = parseTilePath((req.params as { '*': string })['*']);
      } catch (e) {
        return reply.code(400).type('text/plain').send(isCustosError(e) ? e.message : 'bad tile path');
      }
      let body: Buffer | undefined;
      if (ref.level === 'entries') {
        const start = ref.index * TILE_WIDTH;
        if (start + ref.width <= size) body = entryBundle(Array.from({ length: ref.width }, (_, i) => l.entry(start + i)));
      } else {
        body = hashTile(l.tree, size, ref.level, ref.index, ref.width);
      }
      if (!body) return reply.code(404).type('text/plain').send('no such tile');
      reply.header('content-type', 'application/octet-stream');
      reply.header('cache-control', ref.width === TILE_WIDTH ? 'public, max-age=31536000, immutable' : 'no-store');
      return body;
    });
  };
}

function checkpointStamp(log: LogStore): string {
  try {
    const st = statSync(join(log.dir, 'checkpoint'));
    return `${st.mtimeMs}:${st.size}:${st.ino}`;
  } catch {
    return 'none';
  }
}
