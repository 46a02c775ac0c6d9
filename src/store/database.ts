import { mkdirSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { CustosError } from '../errors.ts';
import type { MaintenanceDue } from './embedded-maintenance.ts';
import { MIGRATIONS } from './migrations.ts';
import type { DbReply, DbRequest } from './pglite-worker.ts';
import { siblingModule } from '../module-url.ts';

/**
 * The gateway's database, in the PostgreSQL dialect everywhere: PGlite (PostgreSQL compiled to WASM,
 * in-process) under the data directory by default, or a PostgreSQL server given by a connection URL.
 * Both run the same SQL and the same migrations; nothing above this module knows which one it has.
 */
export interface Queryable {
  query<T = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<T[]>;
}

/** One SQL statement with its parameters. */
export interface Statement { sql: string; params?: readonly unknown[] }

export interface Database extends Queryable {
  readonly kind: 'pglite' | 'postgres';
  /**
   * Run statements in order in one transaction, as one request where the backend allows it (the
   * embedded database: one message to its thread instead of a round trip per statement, so that the
   * transaction never waits for the event loop while it holds the only connection). Resolves with
   * the rows of the last statement.
   */
  batch<T = Record<string, unknown>>(statements: readonly Statement[]): Promise<T[]>;
  /**
   * The same as query(), for a statement on the acknowledgement path (a sender waits for it): it runs
   * before any statement still waiting for the embedded database's single connection.
   */
  queryFirst<T = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  /** Run `fn` in one transaction: committed when it returns, rolled back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /**
   * Vacuum and analyze now the tables PostgreSQL's autovacuum would (embedded-maintenance.ts), and say
   * which. The embedded database does this by itself every few seconds, as it has no autovacuum; a
   * PostgreSQL server has one of its own, and nothing is done here.
   */
  maintain(): Promise<MaintenanceDue[]>;
  close(): Promise<void>;
}

/** `maintenanceIntervalMs`: how often the embedded database checks whether tables are due for maintenance. */
export type DatabaseConfig = { url?: string | undefined; dir: string; maintenanceIntervalMs?: number };

/**
 * The embedded database's check for tables due for VACUUM or ANALYZE. Autovacuum checks each database
 * once a minute (autovacuum_naptime); the check here is two short queries of the statistics (about 1 ms), and
 * more often it keeps a new database's first minute from running on plans made for empty tables.
 */
const MAINTENANCE_INTERVAL_MS = 10_000;

export async function openDatabase(cfg: DatabaseConfig): Promise<Database> {
  const db = cfg.url ? await openServer(cfg.url) : await openEmbedded(cfg.dir, cfg.maintenanceIntervalMs ?? MAINTENANCE_INTERVAL_MS);
  await migrate(db);
  return db;
}

async function openEmbedded(dir: string, maintenanceIntervalMs: number): Promise<Database> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // PGlite runs on a worker thread (pglite-worker.ts): its WebAssembly would otherwise take the event loop's time.
  const worker = new Worker(siblingModule('./pglite-worker', import.meta.url), { workerData: { dir } });
  const pending = new Map<number, { resolve: (rows: unknown[]) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  let gone: Error | undefined;
  const opened = new Promise<void>((resolve, reject) => {
    worker.on('message', (m: DbReply) => {
      if ('opened' in m) { resolve(); return; }
      if ('openError' in m) { reject(new CustosError('STORE_UNAVAILABLE', `cannot open the embedded database in ${dir}: ${m.openError}`)); return; }
      const p = pending.get(m.id);
      if (!p) return;
      pending.delete(m.id);
      if ('rows' in m) p.resolve(m.rows);
      else p.reject(Object.assign(new Error(m.error.message), m.error.code ? { code: m.error.code } : {}));
    });
    const fail = (e: Error): void => {
      gone ??= new CustosError('STORE_UNAVAILABLE', `the embedded database stopped: ${e.message}`);
      reject(gone);
      for (const p of pending.values()) p.reject(gone);
      pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`its thread exited (${code})`)));
  });
  await opened;
  const call = <T>(req: Omit<DbRequest, 'id'>): Promise<T[]> => new Promise<T[]>((resolve, reject) => {
    if (gone) { reject(gone); return; }
    const id = nextId++;
    pending.set(id, { resolve: resolve as (rows: unknown[]) => void, reject });
    worker.postMessage({ id, ...req } satisfies DbRequest);
  });
  const run = <T>(sql: string, params: readonly unknown[] = []): Promise<T[]> => call<T>({ op: 'query', sql, params: params as unknown[] });
  const batch = async <T>(statements: readonly Statement[]): Promise<T[]> => (statements.length ? call<T>({ op: 'batch', statements: statements.map((st) => ({ sql: st.sql, params: (st.params ?? []) as unknown[] })) }) : []);
  // PGlite has a single connection: transactions run one at a time, so that concurrent callers never
  // interleave; those on the acknowledgement path (queryFirst) go ahead of those still waiting.
  const waiting: { first: Array<() => void>; rest: Array<() => void> } = { first: [], rest: [] };
  let busy = false;
  const next = (): void => {
    const task = waiting.first.shift() ?? waiting.rest.shift();
    busy = task !== undefined;
    task?.();
  };
  const serial = <T>(fn: () => Promise<T>, first = false): Promise<T> => new Promise<T>((resolve, reject) => {
    (first ? waiting.first : waiting.rest).push(() => { Promise.resolve().then(fn).then(resolve, reject).finally(next); });
    if (!busy) next();
  });
  const maintain = (): Promise<MaintenanceDue[]> => serial(() => call<MaintenanceDue>({ op: 'maintain' }));
  // Routine maintenance (embedded-maintenance.ts), PGlite having no autovacuum. It waits its turn like
  // any caller, so it never lands inside another caller's transaction (a VACUUM there would fail,
  // and abort that transaction), and a check still waiting is not queued twice.
  let maintenanceWaiting = false;
  const maintenanceTimer = setInterval(() => {
    if (maintenanceWaiting || gone) return;
    maintenanceWaiting = true;
    maintain().catch((e: Error) => {
      // Not fatal: the tables are only slower and larger until the next check succeeds.
      process.stderr.write(`custos: embedded database maintenance failed: ${e.message}\n`);
    }).finally(() => { maintenanceWaiting = false; });
  }, maintenanceIntervalMs);
  maintenanceTimer.unref();
  return {
    kind: 'pglite',
    query: <T>(sql: string, params: readonly unknown[] = []) => serial(() => run<T>(sql, params)),
    queryFirst: <T>(sql: string, params: readonly unknown[] = []) => serial(() => run<T>(sql, params), true),
    batch: <T>(statements: readonly Statement[]) => serial(() => batch<T>(statements)),
    transaction: <T>(fn: (tx: Queryable) => Promise<T>) => serial(async () => {
      await run('BEGIN');
      try {
        const out = await fn({ query: run });
        await run('COMMIT');
        return out;
      } catch (e) {
        await run('ROLLBACK').catch(() => undefined);
        throw e;
      }
    }),
    maintain,
    close: () => serial(async () => {
      clearInterval(maintenanceTimer);
      if (!gone) await call({ op: 'close' }).catch(() => undefined);
      await worker.terminate();
    }),
  };
}

async function openServer(url: string): Promise<Database> {
  const { default: pg } = await import('pg');
  // bigint (int8) as JS number: row ids and counts stay far below 2^53.
  pg.types.setTypeParser(20, (v: string) => Number(v));
  const pool = new pg.Pool({ connectionString: url, max: 8 });
  try {
    (await pool.connect()).release();
  } catch (e) {
    await pool.end();
    throw new CustosError('STORE_UNAVAILABLE', `cannot connect to the PostgreSQL server: ${(e as Error).message}`);
  }
  pool.on('error', () => undefined); // an idle client lost: the pool replaces it, queries report their own errors
  const transaction = async <T>(fn: (tx: Queryable) => Promise<T>): Promise<T> => {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      const out = await fn({ query: async <R>(sql: string, params: readonly unknown[] = []) => (await client.query(sql, params as unknown[])).rows as R[] });
      await client.query('COMMIT');
      return out;
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      client.release();
    }
  };
  const query = async <T>(sql: string, params: readonly unknown[] = []): Promise<T[]> => (await pool.query(sql, params as unknown[])).rows as T[];
  return {
    kind: 'postgres',
    query,
    queryFirst: query, // a pool of connections: nothing waits behind the work loop
    batch: async <T>(statements: readonly Statement[]) => (statements.length ? transaction(async (tx) => {
      let rows: T[] = [];
      for (const st of statements) rows = await tx.query<T>(st.sql, st.params);
      return rows;
    }) : []),
    transaction,
    maintain: async () => [], // the server's autovacuum
    close: () => pool.end(),
  };
}

/** Apply the migrations not yet applied, each in its own transaction, in order. */
async function migrate(db: Database): Promise<void> {
  await db.query('CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())');
  const done = new Set((await db.query<{ version: number }>('SELECT version FROM schema_migrations')).map((r) => Number(r.version)));
  for (const m of MIGRATIONS) {
    if (done.has(m.version)) continue;
    await db.transaction(async (tx) => {
      for (const stmt of m.sql) await tx.query(stmt);
      await tx.query('INSERT INTO schema_migrations (version) VALUES ($1) ON CONFLICT DO NOTHING', [m.version]);
    });
  }
}
