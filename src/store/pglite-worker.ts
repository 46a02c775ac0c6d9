import { closeSync, fsyncSync, openSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { CustosError } from '../errors.ts';
import { type AutovacuumSettings, autovacuumSettings, type MaintenanceDue, type TableActivity, maintenanceCommand, maintenanceDue } from './embedded-maintenance.ts';

/*
 * The embedded database on a thread of its own. PGlite is PostgreSQL compiled to WebAssembly: every
 * statement runs synchronously on the thread that calls it (measured: about 2 ms of the gateway's main
 * thread per ingest statement, 15 % of all its time). Here it runs beside the event loop that receives
 * and forwards instances; database.ts sends one message per statement and waits for its answer.
 */

export interface DbRequest { id: number; op: 'query' | 'batch' | 'maintain' | 'close'; sql?: string; params?: unknown[]; statements?: Array<{ sql: string; params: unknown[] }> }
export type DbReply =
  | { id: number; rows: unknown[] }
  | { id: number; error: { message: string; code?: string | undefined } }
  | { id: 0; opened: true }
  | { id: 0; openError: string };

const port = parentPort!;
const { dir } = workerData as { dir: string };
const { PGlite } = await import('@electric-sql/pglite');

/*
 * Durable commits. PGlite starts PostgreSQL with fsync off (-F), and its Emscripten file system
 * (NODEFS, the host directory) has no fsync of its own: a commit survived a crash of this process
 * (the bytes were in the kernel) but not a power loss. Here PostgreSQL runs with fsync on and
 * wal_sync_method=fsync (fdatasync is a no-op in Emscripten that cannot be replaced; fsync goes
 * through the file system's stream operations), and NODEFS gets the fsync it lacks: the host file's,
 * or the host directory's. Each commit then waits for its WAL on disk, as on a PostgreSQL server
 * (measured here: 0.47 ms per single-row commit against 0.24 ms without).
 */
const START_PARAMS = [...PGlite.defaultStartParams.filter((p) => p !== '-F'), '-c', 'fsync=on', '-c', 'wal_sync_method=fsync'];

interface NodeFsStream { nfd?: number; node: unknown }
interface NodeFs { stream_ops?: { fsync?: (stream: NodeFsStream) => number }; realPath?: (node: unknown) => string }

function syncHostFiles(pg: InstanceType<typeof PGlite>): void {
  const nodefs = (pg as unknown as { Module?: { NODEFS?: NodeFs } }).Module?.NODEFS;
  if (!nodefs?.stream_ops || typeof nodefs.realPath !== 'function') throw new CustosError('STORE_UNAVAILABLE', 'this PGlite version\'s file system cannot be made to sync (no NODEFS stream operations)');
  const realPath = nodefs.realPath.bind(nodefs);
  nodefs.stream_ops.fsync = (stream) => {
    if (stream.nfd !== undefined) { fsyncSync(stream.nfd); return 0; }
    const fd = openSync(realPath(stream.node), 'r'); // a directory: PostgreSQL syncs them after creating files
    try { fsyncSync(fd); } finally { closeSync(fd); }
    return 0;
  };
}

let pg: InstanceType<typeof PGlite>;
try {
  pg = await PGlite.create(dir, { startParams: START_PARAMS });
  syncHostFiles(pg);
  const setting = async (name: string): Promise<string> => String(Object.values((await pg.query<Record<string, string>>(`SHOW ${name}`)).rows[0] ?? {})[0]);
  if (await setting('fsync') !== 'on' || await setting('wal_sync_method') !== 'fsync') throw new CustosError('STORE_UNAVAILABLE', 'PostgreSQL did not take fsync=on and wal_sync_method=fsync');
  // What was written before the file system could sync (creating the database) is made durable now.
  await pg.query('CHECKPOINT');
  port.postMessage({ id: 0, opened: true } satisfies DbReply);
} catch (e) {
  port.postMessage({ id: 0, openError: (e as Error).message } satisfies DbReply);
  process.exit(0);
}

/*
 * Routine maintenance (embedded-maintenance.ts): PGlite has no autovacuum, so database.ts asks every
 * few seconds ('maintain'), and this thread reads the statistics and vacuums and analyzes the tables
 * autovacuum would. It runs as a request of its own: one arriving meanwhile waits for it.
 */
let settings: AutovacuumSettings | undefined;

async function maintain(): Promise<MaintenanceDue[]> {
  settings ??= autovacuumSettings((await pg.query<{ name: string; setting: string }>("SELECT name, setting FROM pg_settings WHERE name LIKE 'autovacuum%'")).rows);
  await pg.query('SELECT pg_stat_force_next_flush()'); // the counts of the statements just run, not of a second ago
  const { rows } = await pg.query<TableActivity>(`SELECT s.schemaname AS schema, s.relname AS "table", c.reltuples::float8 AS tuples,
      c.relpages::float8 AS pages, c.relallfrozen::float8 AS "allFrozenPages", s.n_dead_tup::float8 AS "deadTuples",
      s.n_mod_since_analyze::float8 AS "modifiedSinceAnalyze", s.n_ins_since_vacuum::float8 AS "insertedSinceVacuum",
      age(c.relfrozenxid)::float8 AS "xidAge", mxid_age(c.relminmxid)::float8 AS "multixactAge", c.reloptions AS options
    FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid ORDER BY s.relid`);
  const done: MaintenanceDue[] = [];
  for (const t of rows) {
    const due = maintenanceDue(t, settings);
    const command = maintenanceCommand(due);
    if (!command) continue;
    await pg.exec(command); // VACUUM cannot run inside a transaction block: a statement of its own
    done.push(due);
  }
  return done;
}

// Requests arrive in the order their callers were serialised; each is answered before the next runs.
let queue = Promise.resolve();
port.on('message', (req: DbRequest) => {
  queue = queue.then(async () => {
    try {
      if (req.op === 'maintain') {
        port.postMessage({ id: req.id, rows: await maintain() } satisfies DbReply);
        return;
      }
      if (req.op === 'close') {
        await pg.close();
        port.postMessage({ id: req.id, rows: [] } satisfies DbReply);
        port.close();
        return;
      }
      if (req.op === 'batch') {
        // One transaction; the answer carries the rows of its last statement. A single statement is a
        // transaction of its own: BEGIN and COMMIT around it cost two more calls into PostgreSQL
        // (measured alone: 0.25-0.29 ms per one-statement batch against 0.49 ms; the work loop sends
        // two such batches per turn).
        const only = req.statements?.length === 1 ? req.statements[0]! : undefined;
        const rows = only ? (await pg.query(only.sql, only.params)).rows : await pg.transaction(async (tx) => {
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
