import type { FastifyInstance } from 'fastify';

/*
 * Slow-client limits for the HTTP server: a request whose body arrives slower than a minimum rate
 * (after a grace period) is cut off, so that trickling uploads cannot hold the server's sockets and
 * memory. Node's own timeouts cover the rest: headers (headersTimeout), a whole request
 * (requestTimeout) and idle connections (connectionTimeout), set where the server is made.
 */

export interface SlowRequestLimits {
  /** Below this average rate, counted from the request's start, a body upload is cut off. */
  minBytesPerSecond: number;
  /** The rate is not judged before this much time has passed. */
  graceMs: number;
  /** How often uploads are checked. */
  checkMs?: number;
}

export function installSlowRequestLimits(app: FastifyInstance, limits: SlowRequestLimits): void {
  const checkMs = limits.checkMs ?? Math.min(1000, limits.graceMs);
  app.addHook('onRequest', async (req) => {
    const raw = req.raw;
    const hasBody = Number(raw.headers['content-length'] ?? 0) > 0 || raw.headers['transfer-encoding'] !== undefined;
    if (!hasBody || raw.complete) return;
    const socket = raw.socket;
    // bytesRead counts the whole connection: measured from here, so that earlier requests on a kept-alive connection do not count.
    const start = Date.now();
    const startBytes = socket.bytesRead;
    const timer = setInterval(() => {
      if (raw.complete || socket.destroyed) { clearInterval(timer); return; }
      const elapsed = Date.now() - start;
      if (elapsed < limits.graceMs) return;
      if ((socket.bytesRead - startBytes) / (elapsed / 1000) < limits.minBytesPerSecond) {
        clearInterval(timer);
        socket.destroy(); // HTTP_TOO_SLOW: no answer can be sent mid-body on HTTP/1.1
      }
    }, checkMs);
    timer.unref();
    raw.once('end', () => clearInterval(timer));
    raw.once('close', () => clearInterval(timer));
  });
}
