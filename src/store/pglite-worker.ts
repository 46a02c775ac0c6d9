import { parentPort, workerData } from 'node:worker_threads';

/*
 * The embedded database on a thread of its own. PGlite is PostgreSQL compiled to WebAssembly: every
 * statement runs synchronously on the thread that calls it (measured: about 2 ms of the gateway's main
 * thread per ingest statement, 15 % of all its time). Here it runs beside the event loop that receives
 * and forwards instances; database.ts sends one message per statement and waits for its answer.
 */

export interface DbRequest { id: number; op: 'query' | 'batch' | 'close'; sql?: string; params?: unknown[]; statements?: Array<{ sql: string; params: unknown[] }> }
export type DbReply =
  | { id: number; rows: unknown[] }
  | { id: number; error: { message: string; code?: string | undefined } }
  | { id: 0; opened: true }
  | { id: 0; openError: string };

const port = parentPort!;
const { dir } = workerData as { dir: string };
const { PGlite } = await import('@electric-sql/pglite');
let pg: InstanceType<typeof PGlite>;
try {
  pg = await PGlite.create(dir);
  port.postMessage({ id: 0, opened: true } satisfies DbReply);
} catch (e) {
  port.postMessage({ id: 0, openError: (e as Error).message } satisfies DbReply);
  process.exit(0);
}

// Requests arrive in the order their callers were serialised; each is answered before the next runs.
let queue = Promise.resolve();
port.on('message', (req: DbRequest) => {
  queue = queue.then(async () => {
    try {
      if (req.op === 'close') {
        await pg.close();
        port.postMessage({ id: req.id, rows: [] } satisfies DbReply);
        port.close();
        return;
      }
      if (req.op === 'batch') {
        // One transaction; the answer carries the rows of its last statement.
        const rows = await pg.transaction(async (tx) => {
          let last: unknown[] = [];
          for (const st of req.statements ?? []) last = (await tx.query(st.sql, st.params)).rows;
          return last;
        });
        port.postMessage({ id: req.id, rows } satisfies DbReply);
        return;
      }
      const res = await pg.query(req.sql!, req.params ?? []);
      port.postMessage({ id: req.id, rows: res.rows } satisfies DbReply);
    } catch (e) {
      port.postMessage({ id: req.id, error: { message: (e as Error).message, code: (e as { code?: string }).code } } satisfies DbReply);
    }
  });
});
