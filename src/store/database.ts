import { mkdirSync } from 'node:fs';
import { CustosError } from '../errors.ts';
import { MIGRATIONS } from './migrations.ts';

/**
 * The gateway's database, in the PostgreSQL dialect everywhere: PGlite (PostgreSQL compiled to WASM,
 * in-process) under the data directory by default, or a PostgreSQL server given by a connection URL.
 * Both run the same SQL and the same migrations; nothing above this module knows which one it has.
 */
export interface Queryable {
  query<T = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<T[]>;
}

export interface Database extends Queryable {
  readonly kind: 'pglite' | 'postgres';
  /** Run `fn` in one transaction: committed when it returns, rolled back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export type DatabaseConfig = { url?: string | undefined; dir: string };

export async function openDatabase(cfg: DatabaseConfig): Promise<Database> {
  const db = cfg.url ? await openServer(cfg.url) : await openEmbedded(cfg.dir);
  await migrate(db);
  return db;
}

async function openEmbedded(dir: string): Promise<Database> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const { PGlite } = await import('@electric-sql/pglite');
  let pg: InstanceType<typeof PGlite>;
  try {
    pg = await PGlite.create(dir);
  } catch (e) {
    throw new CustosError('STORE_UNAVAILABLE', `cannot open the embedded database in ${dir}: ${(e as Error).message}`);
  }
  // PGlite has a single connection: serialise transactions so that concurrent callers never interleave.
  let chain: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = chain.then(fn, fn);
    chain = run.catch(() => undefined);
    return run;
  };
  return {
    kind: 'pglite',
    query: <T>(sql: string, params: readonly unknown[] = []) => serial(async () => (await pg.query<T>(sql, params as unknown[])).rows),
    transaction: <T>(fn: (tx: Queryable) => Promise<T>) =>
      serial(() => pg.transaction(async (tx) => fn({ query: async <R>(sql: string, params: readonly unknown[] = []) => (await tx.query<R>(sql, params as unknown[])).rows }))),
    close: () => serial(() => pg.close()),
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
  return {
    kind: 'postgres',
    query: async <T>(sql: string, params: readonly unknown[] = []) => (await pool.query(sql, params as unknown[])).rows as T[],
    transaction: async <T>(fn: (tx: Queryable) => Promise<T>) => {
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
    },
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
